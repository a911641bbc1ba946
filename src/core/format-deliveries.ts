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

/** The receipt fields that say what a partner's contract did to a delivery (DeliveryReceipt fits). */
export interface ContractFacts {
  target?: { path: string };
  transform?: {
    compress: string;
    csvEscape?: boolean;
    pgp?: { recipients?: string[]; signed: boolean; armor: boolean };
  };
  sidecars?: { path: string }[];
}

/**
 * One short line each for what the contract did, e.g. "transform: gzip → pgp (2 recipients), csv
 * escape" and "sidecars: .sha256, .done" (a sidecar named after the data file is shown by what it
 * adds). Nothing when the bytes went as stored and no sidecar was written. Self-contained on purpose:
 * the web UI embeds this very function (src/http/ui/app-js.ts), so keep it free of imports and helpers.
 */
export function describeContract(receipt: ContractFacts): string[] {
  const lines: string[] = [];
  const t = receipt.transform;
  if (t) {
    const steps: string[] = [];
    if (t.compress === 'gzip') steps.push('gzip');
    if (t.pgp) {
      const details: string[] = [];
      const n = t.pgp.recipients ? t.pgp.recipients.length : undefined;
      if (n !== undefined) details.push(n + (n === 1 ? ' recipient' : ' recipients'));
      if (t.pgp.signed) details.push('signed');
      if (t.pgp.armor) details.push('armored');
      steps.push(details.length > 0 ? 'pgp (' + details.join(', ') + ')' : 'pgp');
    }
    const parts = steps.length > 0 ? [steps.join(' → ')] : [];
    if (t.csvEscape) parts.push('csv escape');
    if (parts.length > 0) lines.push('transform: ' + parts.join(', '));
  }
  if (receipt.sidecars && receipt.sidecars.length > 0) {
    const base = (path: string): string => path.slice(path.lastIndexOf('/') + 1);
    const data = receipt.target ? base(receipt.target.path) : '';
    const names = receipt.sidecars.map((s) => {
      const name = base(s.path);
      return data !== '' && name.startsWith(data + '.') ? name.slice(data.length) : name;
    });
    lines.push('sidecars: ' + names.join(', '));
  }
  return lines;
}
