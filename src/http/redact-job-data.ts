// Bull Board shows job data to everyone who can log in. Ferry's jobs carry ids only, but a job added or
// edited by hand can carry anything: show the id fields Ferry reads, and only say how much else is there.
import { safeText } from '../observability/logger.js';
import { QUEUE } from '../queues/names.js';

/** The fields each queue's processor reads (src/queues/payloads.ts). */
const SHOWN_FIELDS: Readonly<Record<string, readonly string[]>> = {
  [QUEUE.deliver]: ['v', 'deliveryId', 'partnerId', 'bucket', 'key', 'etag', 'size', 'redelivery', 'replace'],
  [QUEUE.sweep]: ['v', 'partnerId', 'reason'],
};

const MAX_SHOWN_LENGTH = 1024;

/**
 * The job data as the dashboard shows it: known id fields only (strings with control and bidi
 * characters escaped and cut at 1 KiB, numbers as they are), anything else counted in `_hidden`.
 */
export function redactJobData(queueName: string, data: unknown): Record<string, unknown> {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { _hidden: 'job data is not an object' };
  }
  const shown = SHOWN_FIELDS[queueName] ?? [];
  const out: Record<string, unknown> = {};
  let hidden = 0;
  for (const [field, value] of Object.entries(data)) {
    if (!shown.includes(field)) {
      hidden += 1;
      continue;
    }
    if (typeof value === 'number' || typeof value === 'boolean') out[field] = value;
    else if (typeof value === 'string') out[field] = safeText(value.slice(0, MAX_SHOWN_LENGTH));
    else out[field] = `[hidden: ${value === null ? 'null' : typeof value}]`;
  }
  if (hidden > 0) out._hidden = `${hidden} other field${hidden === 1 ? '' : 's'}`;
  return out;
}
