// `ferry deliveries` as a table a person reads at night: newest first, one line per delivery.
import type { DeliveryView } from './delivery-view.js';

const COLUMNS = [
  'UPDATED',
  'PARTNER',
  'STATUS',
  'ANSWER',
  'KEY',
  'REMOTE PATH',
  'ATT',
  'LAST ERROR',
] as const;
type Column = (typeof COLUMNS)[number];
const MAX_WIDTH: Record<Column, number> = {
  UPDATED: 20,
  PARTNER: 16,
  STATUS: 11,
  ANSWER: 12,
  KEY: 48,
  'REMOTE PATH': 40,
  ATT: 3,
  'LAST ERROR': 60,
};

/** How the table and the web UI name an `ack` value: `pending` reads as the filter that finds it. */
const ANSWER_LABEL: Record<string, string> = { pending: 'unanswered' };

/**
 * Formats deliveries as aligned columns. Text from S3 keys and errors is attacker-controlled: control
 * and bidirectional characters are shown escaped, and long values are cut with "…" (keep the ends of
 * keys and paths, where the file name is; the start of errors, where the code is). The ANSWER column
 * (the partner's `ack`) is there only when a listed delivery has one: most partners send no answers.
 */
export function formatDeliveryTable(rows: readonly DeliveryView[]): string[] {
  const answers = rows.some((d) => d.ack !== undefined);
  const columns = COLUMNS.filter((name) => answers || name !== 'ANSWER');
  const cells = rows.map((d) => {
    const values: Record<Column, string> = {
      UPDATED: d.updatedAt.replace(/\.\d{3}Z$/, 'Z'),
      PARTNER: d.partnerId,
      STATUS: d.status,
      ANSWER: d.ack === undefined ? '-' : (ANSWER_LABEL[d.ack] ?? d.ack),
      KEY: d.key,
      'REMOTE PATH': d.remotePath ?? '-',
      ATT: String(d.attempts),
      'LAST ERROR': d.lastErrorCode
        ? `${d.lastErrorCode}: ${d.lastError ?? ''}`.trim()
        : d.reason
          ? d.reason
          : '-',
    };
    return columns.map((name) => values[name]);
  });
  const fitted = cells.map((row) =>
    row.map((value, i) => {
      const name = columns[i]!;
      const text = printable(value);
      const keepEnd = name === 'KEY' || name === 'REMOTE PATH';
      return cut(text, MAX_WIDTH[name], keepEnd);
    }),
  );
  const widths = columns.map((name, i) => Math.max(name.length, ...fitted.map((row) => row[i]!.length)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns), ...fitted.map(line)];
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
    compressLevel?: number;
    csvEscape?: boolean;
    pgp?: { recipients?: string[]; signed: boolean; armor: boolean };
    shape?: {
      columns: string[];
      delimiter: string;
      lineEnding: string;
      encoding: string;
      rows?: number;
    };
  };
  /** `validate.csv`'s count, for a partner without `shape`. */
  csv?: { rows: number };
  sidecars?: { path: string }[];
}

/**
 * One short line each for what the contract did, e.g. "transform: gzip → pgp (2 recipients), csv
 * escape", "csv: checked, 3 rows" (validate.csv's count) and "sidecars: .sha256, .done" (a sidecar
 * named after the data file is shown by what it adds). Nothing when the bytes went as stored, no
 * sidecar was written and no row count was recorded. Self-contained on purpose:
 * the web UI serves this very function as a module (src/http/ui/web-ui.ts), so keep it free of imports
 * and helpers.
 */
export function describeContract(receipt: ContractFacts): string[] {
  const lines: string[] = [];
  const t = receipt.transform;
  if (t) {
    const steps: string[] = [];
    if (t.compress === 'gzip') {
      steps.push(t.compressLevel === undefined ? 'gzip' : 'gzip -' + t.compressLevel);
    }
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
    const s = t.shape;
    if (s) {
      const n = s.columns.length;
      const format = [
        n + (n === 1 ? ' column' : ' columns'),
        'delimiter ' + JSON.stringify(s.delimiter),
        s.lineEnding,
        s.encoding,
      ];
      if (s.rows !== undefined) format.push(s.rows + (s.rows === 1 ? ' row' : ' rows'));
      lines.push('shape: ' + format.join(', '));
    }
  }
  if (receipt.csv) {
    const n = receipt.csv.rows;
    lines.push('csv: checked, ' + n + (n === 1 ? ' row' : ' rows'));
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

/** The record fields of a partner's answer (DeliveryFacts fits). */
export interface AnswerFacts {
  ack?: string;
  ackAt?: string;
  ackFile?: string;
  ackReason?: string;
}

/**
 * The partner's answer (`ack:`) in words: "acknowledged at <at> (<file>)", "rejected at <at> (<file>):
 * <reason>" (a reason of several lines continues on the next ones), "overdue since <at>: no answer
 * yet", "unanswered: waiting for the partner's answer"; nothing when the partner sends no answers.
 * Self-contained like describeContract: the web UI serves it as a module too.
 */
export function describeAnswer(d: AnswerFacts): string[] {
  if (d.ack === undefined) return [];
  if (d.ack === 'pending') return ["unanswered: waiting for the partner's answer"];
  if (d.ack === 'overdue') return ['overdue' + (d.ackAt ? ' since ' + d.ackAt : '') + ': no answer yet'];
  const head = d.ack + (d.ackAt ? ' at ' + d.ackAt : '') + (d.ackFile ? ' (' + d.ackFile + ')' : '');
  const reason = (d.ackReason || '').split(/\r?\n/).map((line) => line.trimEnd());
  while (reason.length > 0 && reason[reason.length - 1] === '') reason.pop();
  if (reason.length === 0) return [head];
  return [head + ': ' + reason[0], ...reason.slice(1)];
}

/** The fields that tie a delivery to a `manifest:` (DeliveryDetailFacts fits). */
export interface ManifestFacts {
  /** The manifest that lists this delivered data file (the ledger record's `manifest`). */
  manifest?: string;
  /** This delivery sends the partner's manifest of that scope (its S3 object is the manifest's). */
  sendsManifest?: string;
}

/**
 * A delivery's place in the partner's manifests: "listed in w-2026-12-07" for a data file a manifest
 * lists, "this file is the manifest w-2026-12-07" for the manifest's own delivery; nothing otherwise
 * (no manifest: configured, or not listed yet). Self-contained like describeContract: the web UI serves
 * it as a module too.
 */
export function describeManifest(d: ManifestFacts): string[] {
  if (d.sendsManifest !== undefined) return ['this file is the manifest ' + d.sendsManifest];
  if (d.manifest !== undefined) return ['listed in ' + d.manifest];
  return [];
}

/** The receipt fields the detail shows (DeliveryReceipt fits). */
export interface ReceiptFacts extends ContractFacts {
  source?: { size?: number; sha256?: string };
  target?: { host: string; port: number; path: string };
  sidecars?: { path: string; kind?: string }[];
  publish?: string;
  attempts?: number;
  durationMs?: number;
  ferryVersion?: string;
  naming?: { seq: number };
  redeliveryOf?: string;
  reason?: string;
  requestedBy?: string;
  requestedAt?: string;
}

/** One delivery in full, as the API answers (src/ledger/delivery-detail.ts DeliveryDetail fits). */
export type DeliveryDetailFacts = DeliveryView & {
  sendsManifest?: string;
  receipt: ReceiptFacts | null;
  receiptError?: string;
  redelivery?: { of: string; n: number; reason: string; by: string; at: string };
  audit: readonly { at: string; user: string; action: string; reason?: string; replace?: boolean }[];
  runbookUrl?: string;
};

export interface DeliveryDetailOptions {
  /** Where the receipt is stored, e.g. `s3://ferry-audit/ferry/receipts/acme/<id>.json`. */
  receiptUrl?: string;
  /** The dashboard's public origin (`https://ferry.example.com`): makes the Bull Board link absolute. */
  boardOrigin?: string;
}

const LABEL_WIDTH = 15;

/**
 * `ferry deliveries show`: one `label  value` line per field (continuation lines indented under the
 * value), then the audit trail oldest first. Every value is passed through printable(): keys, paths,
 * errors and reasons can come from an attacker. Values are never cut: this is where the whole key is read.
 */
export function formatDeliveryDetail(d: DeliveryDetailFacts, options: DeliveryDetailOptions = {}): string[] {
  const lines: string[] = [];
  const field = (label: string, value: string | readonly string[] | undefined): void => {
    if (value === undefined) return;
    const values = typeof value === 'string' ? [value] : value;
    values.forEach((v, i) => {
      const head = i === 0 ? label.padEnd(LABEL_WIDTH) : ' '.repeat(LABEL_WIDTH);
      lines.push(`${head}  ${printable(v)}`.trimEnd());
    });
  };
  const r = d.receipt;

  field('delivery', d.id);
  field('status', d.status);
  field('partner', d.partnerId);
  field('s3 object', `s3://${d.bucket}/${d.key}`);
  field('etag', d.etag);
  // After delivery the ledger holds the delivered size; a transform makes the S3 object's differ.
  field('size', d.size === undefined ? '-' : `${d.size} bytes`);
  const sourceSize = r?.source?.size;
  if (sourceSize !== undefined && sourceSize !== d.size) field('source size', `${sourceSize} bytes`);
  field('sha256', d.sha256 ?? '-');
  field('md5', d.md5);
  field('source sha256', r?.source?.sha256);
  field('remote path', d.remotePath ?? '-');
  if (r?.target) field('sftp server', `${r.target.host}:${r.target.port}`);
  field('attempts', String(d.attempts));
  if (d.lastErrorCode !== undefined || d.lastError !== undefined) {
    field('last error', [d.lastErrorCode, d.lastError].filter((s) => s !== undefined).join(': '));
  }
  field('reason', d.reason);
  field('created at', d.createdAt);
  field('updated at', d.updatedAt);
  field('delivered at', d.deliveredAt);
  field('answer', describeAnswer(d));
  field('manifest', describeManifest(d));

  if (r) {
    const contract = describeContract(r);
    field('contract', contract.length > 0 ? contract : 'sent as stored, no sidecars');
    if (r.sidecars && r.sidecars.length > 0) {
      field(
        'sidecars',
        r.sidecars.map((s) => (s.kind === undefined ? s.path : `${s.path} (${s.kind})`)),
      );
    }
    if (r.naming) field('sequence', String(r.naming.seq));
    const how = [
      r.publish === undefined ? undefined : `publish ${r.publish}`,
      r.attempts === undefined ? undefined : `attempt ${r.attempts}`,
      r.durationMs === undefined ? undefined : `${r.durationMs} ms`,
      r.ferryVersion === undefined ? undefined : `ferry ${r.ferryVersion}`,
    ].filter((s) => s !== undefined);
    if (how.length > 0) field('published', how.join(', '));
  }

  const redelivery =
    d.redelivery ??
    (r?.redeliveryOf === undefined
      ? undefined
      : { of: r.redeliveryOf, by: r.requestedBy, reason: r.reason, at: r.requestedAt });
  if (redelivery) {
    field('redelivery of', redelivery.of);
    field(
      'requested by',
      `${redelivery.by ?? '?'}${redelivery.at === undefined ? '' : ` at ${redelivery.at}`}`,
    );
    field('request reason', redelivery.reason ?? '?');
  }

  if (r) field('receipt', options.receiptUrl ?? 'stored');
  else if (d.receiptError !== undefined) field('receipt', `unreadable: ${d.receiptError}`);
  else if (d.status === 'delivered') field('receipt', 'none found');
  else field('receipt', 'none: not delivered');
  const board = options.boardOrigin === undefined ? d.boardUrl : `${options.boardOrigin}${d.boardUrl}`;
  field('bull board', board);
  field('runbook', d.runbookUrl);

  if (d.audit.length === 0) {
    field('audit trail', 'none');
  } else {
    lines.push('audit trail (oldest first)');
    for (const a of d.audit) {
      const action = a.replace === true ? `${a.action} --replace` : a.action;
      const text = [a.at, a.user, action, a.reason].filter((s): s is string => s !== undefined && s !== '');
      lines.push(`  ${text.map(printable).join('  ')}`);
    }
  }
  return lines;
}

// Escaped by JSON.stringify already: U+0000–U+001F. Not: DEL, C1 controls, bidi overrides, line separators.
const JSON_UNSAFE = /[\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

/**
 * Pretty JSON that is safe on a terminal: the characters JSON.stringify leaves raw but a terminal may
 * act on are written as `\uXXXX` escapes, so the text still parses to the same value.
 */
export function jsonForTerminal(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    JSON_UNSAFE,
    (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`,
  );
}
