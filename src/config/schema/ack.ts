// A partner's `ack`: where its system drops answers to the delivered files, how they are named, how
// long one may take, and what is done with an answer once read. The poller is jobs/ack-poll.ts.
import { z } from 'zod';
import { parseDurationMs } from '../../core/delivery-cursor.js';
import { parseDoneFileTemplate, type DoneFileTemplate } from '../../core/sidecar-files.js';
import { normaliseRemoteDirectory } from './target.js';
import { CONTROL_CHARS } from './fields.js';

/** An answer's name from the delivered file's: `{filename}` plus something (parsed like naming.doneFile). */
const answerName = z.string().transform((source, ctx): DoneFileTemplate => {
  const parsed = parseDoneFileTemplate(source);
  if (parsed.ok) return parsed.template;
  ctx.addIssue({ code: 'custom', message: `${parsed.message} (at character ${parsed.index + 1})` });
  return z.NEVER;
});

export const remoteDirectory = z
  .string()
  .refine((d) => d.startsWith('/'), 'must be an absolute path on the partner server, e.g. /outbound/acks')
  .refine(
    (d) => !CONTROL_CHARS.test(d) && !d.split('/').includes('..'),
    'must not contain control characters or ".."',
  )
  .transform((d) => normaliseRemoteDirectory(d));

export const ackSchema = z
  .strictObject({
    directory: remoteDirectory,
    accept: answerName.prefault('{filename}.ack'),
    reject: answerName.prefault('{filename}.nack'),
    // Left out: no overdue alert (an answer is still recorded whenever it comes).
    within: z
      .string()
      .transform((text, ctx) => {
        const ms = parseDurationMs(text);
        if (ms !== undefined && ms > 0) return ms;
        ctx.addIssue({ code: 'custom', message: 'must be a duration like 90m, 2h or 1d' });
        return z.NEVER;
      })
      .optional(),
    removeAfterReading: z.boolean().default(true),
    // Answers are also read this often, not only after the partner's sweeps.
    pollEveryMinutes: z.int().min(1).max(1440).default(15),
    // A folder under `directory` (relative, one or more levels) the answers are moved to instead.
    archive: z
      .string()
      .refine(
        (d) => d !== '' && !d.startsWith('/') && !CONTROL_CHARS.test(d) && !d.split('/').includes('..'),
        'must be a folder under ack.directory, e.g. processed/ (relative, no "..")',
      )
      .transform((d) => d.replace(/\/+$/, ''))
      .optional(),
  })
  .superRefine((ack, ctx) => {
    if (ack.accept.source === ack.reject.source) {
      ctx.addIssue({ code: 'custom', message: 'must differ from ack.accept', path: ['reject'] });
    }
  });

export type AckConfig = z.output<typeof ackSchema>;
