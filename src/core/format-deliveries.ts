// `ferry deliveries` as a table a person reads at night: newest first, one line per delivery.
import type { DeliveryView } from './delivery-view.js';

const COLUMNS = ['UPDATED', 'PARTNER', 'STATUS', 'KEY', 'REMOTE PATH', 'ATT', 'LAST ERROR'] as const;
const MAX_WIDTH: Record<(typeof COLUMNS)[number], number> = {
  UPDATED: 20,
  PARTNER: 16,
  STATUS: 11,
  KEY: 48,
  'REMOTE PATH': 40,
  ATT: 3,
  'LAST ERROR': 60,
};

/**
 * Formats deliveries as aligned columns. Text from S3 keys and errors is attacker-controlled: control
 * and bidirectional characters are shown escaped, and long values are cut with "…" (keep the ends of
 * keys and paths, where the file name is; the start of errors, where the code is).
 */
export function formatDeliveryTable(rows: readonly DeliveryView[]): string[] {
  const cells = rows.map((d) => [
    d.updatedAt.replace(/\.\d{3}Z$/, 'Z'),
    d.partnerId,
    d.status,
    d.key,
    d.remotePath ?? '-',
    String(d.attempts),
    d.lastErrorCode ? `${d.lastErrorCode}: ${d.lastError ?? ''}`.trim() : d.reason ? d.reason : '-',
  ]);
  const fitted = cells.map((row) =>
    row.map((value, i) => {
      const name = COLUMNS[i]!;
      const text = printable(value);
      const keepEnd = name === 'KEY' || name === 'REMOTE PATH';
      return cut(text, MAX_WIDTH[name], keepEnd);
    }),
  );
  const widths = COLUMNS.map((name, i) => Math.max(name.length, ...fitted.map((row) => row[i]!.length)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(COLUMNS), ...fitted.map(line)];
}

/** Escapes control and bidirectional characters so a hostile key cannot rewrite the terminal. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu, (c) => {
    const code = c.codePointAt(0)!;
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

function cut(text: string, max: number, keepEnd: boolean): string {
  const chars = [...text];
  if (chars.length <= max) return text;
  return keepEnd
    ? `…${chars.slice(chars.length - max + 1).join('')}`
    : `${chars.slice(0, max - 1).join('')}…`;
}
