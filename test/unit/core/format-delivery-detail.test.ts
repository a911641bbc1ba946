import { describe, expect, it } from 'vitest';
import {
  formatDeliveryDetail,
  jsonForTerminal,
  type DeliveryDetailFacts,
  type ReceiptFacts,
} from '../../../src/core/format-deliveries.js';

const ID = `dlv-acme-${'a'.repeat(32)}`;

function detail(overrides: Partial<DeliveryDetailFacts> = {}): DeliveryDetailFacts {
  return {
    id: ID,
    jobId: ID,
    boardUrl: `/admin/queue/deliver/${ID}`,
    partnerId: 'acme',
    bucket: 'warehouse-exports',
    key: 'acme/orders.csv',
    etag: '0f343b0931126a20f133d67c2b018a3b',
    status: 'delivered',
    size: 812,
    sha256: 'b'.repeat(64),
    remotePath: '/inbound/orders.csv.gz',
    attempts: 1,
    createdAt: '2026-11-25T02:00:00.000Z',
    updatedAt: '2026-11-25T02:00:03.000Z',
    deliveredAt: '2026-11-25T02:00:03.000Z',
    receipt: null,
    audit: [],
    ...overrides,
  };
}

function receipt(overrides: Partial<ReceiptFacts> = {}): ReceiptFacts {
  return {
    source: { size: 1500, sha256: 'c'.repeat(64) },
    target: { host: 'sftp.acme.example', port: 22, path: '/inbound/orders.csv.gz' },
    transform: { compress: 'gzip' },
    sidecars: [
      { path: '/inbound/orders.csv.gz.md5', kind: 'checksum' },
      { path: '/inbound/orders.csv.gz.done', kind: 'done' },
    ],
    publish: 'rename',
    attempts: 1,
    durationMs: 412,
    ferryVersion: '0.1.0',
    ...overrides,
  };
}

/** The value printed after `label` (first line of the field); undefined when the field is absent. */
function valueOf(lines: string[], label: string): string | undefined {
  const line = lines.find((l) => l.startsWith(`${label.padEnd(15)}  `));
  return line?.slice(17);
}

describe('formatDeliveryDetail', () => {
  it('prints the receipt facts of a delivered file: checksums, contract, sidecars, where the receipt is', () => {
    const lines = formatDeliveryDetail(detail({ md5: 'd'.repeat(32), receipt: receipt() }), {
      receiptUrl: `s3://ferry-audit/ferry/receipts/acme/${ID}.json`,
    });
    expect(lines).toEqual([
      `delivery         ${ID}`,
      'status           delivered',
      'partner          acme',
      's3 object        s3://warehouse-exports/acme/orders.csv',
      'etag             0f343b0931126a20f133d67c2b018a3b',
      'size             812 bytes',
      'source size      1500 bytes',
      `sha256           ${'b'.repeat(64)}`,
      `md5              ${'d'.repeat(32)}`,
      `source sha256    ${'c'.repeat(64)}`,
      'remote path      /inbound/orders.csv.gz',
      'sftp server      sftp.acme.example:22',
      'attempts         1',
      'created at       2026-11-25T02:00:00.000Z',
      'updated at       2026-11-25T02:00:03.000Z',
      'delivered at     2026-11-25T02:00:03.000Z',
      'contract         transform: gzip',
      '                 sidecars: .md5, .done',
      'sidecars         /inbound/orders.csv.gz.md5 (checksum)',
      '                 /inbound/orders.csv.gz.done (done)',
      'published        publish rename, attempt 1, 412 ms, ferry 0.1.0',
      `receipt          s3://ferry-audit/ferry/receipts/acme/${ID}.json`,
      `bull board       /admin/queue/deliver/${ID}`,
      'audit trail      none',
    ]);
  });

  it('shows a quarantined CSV with the row and column of its reason, and says no receipt exists', () => {
    const lines = formatDeliveryDetail(
      detail({
        status: 'quarantined',
        reason: 'csv: row 5, column 4: missing column: the row has 3, at least 4 expected',
        deliveredAt: undefined,
        sha256: undefined,
        remotePath: undefined,
      }),
    );
    expect(valueOf(lines, 'reason')).toBe(
      'csv: row 5, column 4: missing column: the row has 3, at least 4 expected',
    );
    expect(valueOf(lines, 'sha256')).toBe('-');
    expect(valueOf(lines, 'remote path')).toBe('-');
    expect(valueOf(lines, 'delivered at')).toBeUndefined();
    expect(valueOf(lines, 'receipt')).toBe('none: not delivered');
    expect(valueOf(lines, 'contract')).toBeUndefined();
  });

  it('shows the last error code and message, and an unreadable receipt with its error', () => {
    const lines = formatDeliveryDetail(
      detail({
        status: 'failed',
        lastErrorCode: 'ERR_SFTP_AUTH',
        lastError: 'all configured authentication methods failed',
        receiptError: 'ERR_RECEIPT_INVALID: receipt s3://ferry-audit/x.json is not a receipt',
      }),
    );
    expect(valueOf(lines, 'last error')).toBe('ERR_SFTP_AUTH: all configured authentication methods failed');
    expect(valueOf(lines, 'receipt')).toBe(
      'unreadable: ERR_RECEIPT_INVALID: receipt s3://ferry-audit/x.json is not a receipt',
    );
  });

  it('links a failed delivery to its runbook after the Bull Board link, and prints none without one', () => {
    const url = 'https://github.com/ferry-dev/ferry/blob/main/docs/runbooks/auth-refused.md';
    const lines = formatDeliveryDetail(
      detail({ status: 'failed', lastErrorCode: 'ERR_SFTP_AUTH', runbookUrl: url }),
    );
    expect(lines[lines.indexOf(`bull board       /admin/queue/deliver/${ID}`) + 1]).toBe(
      `runbook          ${url}`,
    );
    expect(valueOf(formatDeliveryDetail(detail({})), 'runbook')).toBeUndefined();
  });

  it('shows who asked for a redelivery and why, from the request or else from the receipt', () => {
    const request = {
      of: ID,
      n: 2,
      reason: 'partner lost it, OPS-42',
      by: 'alice',
      at: '2026-11-25T09:00:00Z',
    };
    const fromRequest = formatDeliveryDetail(detail({ id: `${ID}-r2`, redelivery: request }));
    expect(valueOf(fromRequest, 'redelivery of')).toBe(ID);
    expect(valueOf(fromRequest, 'requested by')).toBe('alice at 2026-11-25T09:00:00Z');
    expect(valueOf(fromRequest, 'request reason')).toBe('partner lost it, OPS-42');

    const fromReceipt = formatDeliveryDetail(
      detail({
        id: `${ID}-r2`,
        receipt: receipt({ redeliveryOf: ID, requestedBy: 'bob', reason: 'resend please' }),
      }),
    );
    expect(valueOf(fromReceipt, 'redelivery of')).toBe(ID);
    expect(valueOf(fromReceipt, 'requested by')).toBe('bob');
    expect(valueOf(fromReceipt, 'request reason')).toBe('resend please');
    expect(valueOf(formatDeliveryDetail(detail()), 'redelivery of')).toBeUndefined();
  });

  it('lists the audit trail oldest first, as given', () => {
    const lines = formatDeliveryDetail(
      detail({
        audit: [
          { at: '2026-11-25T08:00:00Z', user: 'alice', action: 'retry' },
          { at: '2026-11-25T09:00:00Z', user: 'bob', action: 'redeliver', reason: 'partner lost it' },
        ],
      }),
    );
    expect(lines.slice(-3)).toEqual([
      'audit trail (oldest first)',
      '  2026-11-25T08:00:00Z  alice  retry',
      '  2026-11-25T09:00:00Z  bob  redeliver  partner lost it',
    ]);
  });

  it('makes the Bull Board link absolute when the dashboard origin is known', () => {
    const lines = formatDeliveryDetail(detail(), { boardOrigin: 'https://ferry.example.com' });
    expect(valueOf(lines, 'bull board')).toBe(`https://ferry.example.com/admin/queue/deliver/${ID}`);
  });

  it('escapes terminal control and bidi characters in every attacker-controlled value', () => {
    const hostile = 'acme/\u001b]0;pwned\u0007\u202eexe.csv\r\nfake: line';
    const lines = formatDeliveryDetail(
      detail({
        key: hostile,
        remotePath: `/inbound/${hostile}`,
        lastError: `no such file ${hostile}`,
        reason: `csv: row 2, column 1: ${hostile}`,
        receipt: receipt({ sidecars: [{ path: `/inbound/${hostile}.done`, kind: 'done' }] }),
        audit: [
          { at: '2026-11-25T09:00:00Z', user: 'mallory\u001b[2J', action: 'redeliver', reason: hostile },
        ],
      }),
    );
    const text = lines.join('\n');
    // eslint-disable-next-line no-control-regex -- looking for control characters is the point
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u);
    expect(valueOf(lines, 's3 object')).toBe(
      's3://warehouse-exports/acme/\\x1b]0;pwned\\x07\\u202eexe.csv\\x0d\\x0afake: line',
    );
    expect(text).toContain('mallory\\x1b[2J');
    // One line per field: a newline in a key cannot forge a field of its own.
    expect(lines.filter((l) => l.startsWith('fake'))).toEqual([]);
  });
});

describe('jsonForTerminal', () => {
  it('escapes what JSON.stringify leaves raw (C1 controls, bidi overrides) and still parses to the same value', () => {
    const value = { key: 'a\u009b31mb\u202ec\u2028d', esc: '\u001b[2J' };
    const text = jsonForTerminal(value);
    expect(text).toContain('a\\u009b31mb\\u202ec\\u2028d');
    expect(text).toContain('\\u001b[2J');
    // eslint-disable-next-line no-control-regex -- looking for control characters is the point
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u202a-\u202e]/u);
    expect(JSON.parse(text)).toEqual(value);
  });
});
