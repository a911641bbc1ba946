import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { describeContract } from '../../../src/core/format-deliveries.js';
import { DESCRIBE_CONTRACT_JS } from '../../../src/http/ui/web-ui.js';

const target = { path: '/inbound/orders.csv.gz.pgp' };

describe('describeContract', () => {
  it('says nothing when the bytes went as stored and no sidecar was written', () => {
    expect(describeContract({ target })).toEqual([]);
    expect(describeContract({ target, transform: { compress: 'none' }, sidecars: [] })).toEqual([]);
  });

  it('says what shape made of the CSV, with the rows when the receipt knows them', () => {
    const shape = {
      columns: ['OrderID', 'Amount', 'Partner'],
      header: true,
      delimiter: ';',
      quote: 'minimal',
      lineEnding: 'crlf',
      encoding: 'windows-1252',
    };
    expect(describeContract({ transform: { compress: 'gzip', shape: { ...shape, rows: 1042 } } })).toEqual([
      'transform: gzip',
      'shape: 3 columns, delimiter ";", crlf, windows-1252, 1042 rows',
    ]);
    // A recovered delivery's receipt: the rows were counted by the attempt that wrote the file.
    expect(
      describeContract({ transform: { compress: 'none', shape: { ...shape, columns: ['A'] } } }),
    ).toEqual(['shape: 1 column, delimiter ";", crlf, windows-1252']);
  });

  it('says how many data rows validate.csv counted, after the transform, when the receipt has them', () => {
    expect(describeContract({ target, csv: { rows: 3 } })).toEqual(['csv: checked, 3 rows']);
    expect(
      describeContract({
        target,
        transform: { compress: 'gzip' },
        csv: { rows: 1 },
        sidecars: [{ path: '/inbound/orders.csv.gz.pgp.done' }],
      }),
    ).toEqual(['transform: gzip', 'csv: checked, 1 row', 'sidecars: .done']);
  });

  it('lists the transform steps in the order applied, then the csv escape', () => {
    expect(
      describeContract({
        target,
        transform: {
          compress: 'gzip',
          csvEscape: true,
          pgp: { recipients: ['A'.repeat(40), 'B'.repeat(40)], signed: false, armor: false },
        },
      }),
    ).toEqual(['transform: gzip → pgp (2 recipients), csv escape']);
    expect(describeContract({ transform: { compress: 'gzip' } })).toEqual(['transform: gzip']);
    expect(describeContract({ transform: { compress: 'gzip', compressLevel: 1 } })).toEqual([
      'transform: gzip -1',
    ]);
    expect(
      describeContract({
        transform: { compress: 'none', pgp: { recipients: ['A'], signed: true, armor: true } },
      }),
    ).toEqual(['transform: pgp (1 recipient, signed, armored)']);
    // A recovered delivery's receipt does not know the recipients.
    expect(
      describeContract({ transform: { compress: 'none', pgp: { signed: false, armor: false } } }),
    ).toEqual(['transform: pgp']);
    expect(describeContract({ transform: { compress: 'none', csvEscape: true } })).toEqual([
      'transform: csv escape',
    ]);
  });

  it('shows a sidecar named after the data file by what it adds, another by its name', () => {
    expect(
      describeContract({
        target,
        sidecars: [
          { path: '/inbound/orders.csv.gz.pgp.sha256' },
          { path: '/inbound/orders.csv.gz.pgp.done' },
        ],
      }),
    ).toEqual(['sidecars: .sha256, .done']);
    expect(
      describeContract({
        target,
        sidecars: [{ path: '/inbound/orders.md5' }, { path: '/inbound/_SUCCESS' }],
      }),
    ).toEqual(['sidecars: orders.md5, _SUCCESS']);
  });

  it('is self-contained, as the web UI serves its source as a module', () => {
    expect(DESCRIBE_CONTRACT_JS.startsWith(`export ${describeContract.toString()}\n`)).toBe(true);
    // Evaluated alone in a fresh context (no imports, no module scope), it gives the same lines.
    const standalone = runInNewContext(
      `${describeContract.toString()}\ndescribeContract;`,
      {},
    ) as typeof describeContract;
    const receipt = {
      target,
      transform: { compress: 'gzip', pgp: { recipients: ['A'], signed: false, armor: true } },
      sidecars: [{ path: '/inbound/orders.csv.gz.pgp.sha256' }],
    };
    expect(standalone(receipt)).toEqual(describeContract(receipt));
    expect(standalone(receipt)).toEqual([
      'transform: gzip → pgp (1 recipient, armored)',
      'sidecars: .sha256',
    ]);
  });
});
