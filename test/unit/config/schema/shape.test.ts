import { describe, expect, it } from 'vitest';
import { renderShapeTemplate } from '../../../../src/core/shape-values.js';
import { useConfigDirs } from '../../../support/config-dir.js';
import { partnerYamlHead } from '../../../support/partner-input.js';

// Lines 1-6; the shape block under test starts on line 7.
const PARTNER = partnerYamlHead();

const configs = useConfigDirs('shape-config');
const load = (lines: string) => configs.loadPartner('acme', PARTNER + lines);

const COLUMNS = `shape:
  columns:
    - { from: order_id, as: OrderID }
    - { value: "{partner}", as: Partner }
`;

describe('shape', () => {
  it('reads the columns with the defaults of every option', async () => {
    const { partner, problems } = await load(COLUMNS);
    expect(problems).toEqual([]);
    const shape = partner?.shape;
    expect(shape).toMatchObject({
      header: true,
      delimiter: ',',
      quote: 'minimal',
      lineEnding: 'lf',
      encoding: 'utf-8',
      unmappable: 'fail',
    });
    expect(shape?.trailer).toBeUndefined();
    expect(shape?.columns[0]).toEqual({ from: 'order_id', as: 'OrderID' });
    const value = shape?.columns[1]?.value;
    expect(
      value &&
        renderShapeTemplate(value, {
          partnerId: 'acme',
          deliveryId: 'dlv-acme-1',
          key: 'acme/a.csv',
          lastModified: new Date(0),
          timezone: 'UTC',
        }),
    ).toBe('acme');
  });

  it('reads every option as the issue writes it', async () => {
    const { partner, problems } = await load(`${COLUMNS}  header: false
  delimiter: ";"
  quote: all
  lineEnding: crlf
  encoding: windows-1252
  unmappable: replace
  trailer: "TRL|{rows}"
`);
    expect(problems).toEqual([]);
    expect(partner?.shape).toMatchObject({
      header: false,
      delimiter: ';',
      quote: 'all',
      lineEnding: 'crlf',
      encoding: 'windows-1252',
      unmappable: 'replace',
      trailer: { source: 'TRL|{rows}' },
    });
  });

  it.each([
    ['shape:\n  columns: []\n', 'partners/acme.yaml:8:12', 'must list at least one column'],
    ['shape:\n  columns:\n    - { as: X }\n', 'partners/acme.yaml:9:7', 'needs exactly one of from'],
    [
      'shape:\n  columns:\n    - { from: a, value: b, as: X }\n',
      'partners/acme.yaml:9:7',
      'needs exactly one of from',
    ],
    ['shape:\n  columns:\n    - { from: a }\n', 'partners/acme.yaml:9:7', 'as'],
    ['shape:\n  columns:\n    - { from: a, as: X, to: y }\n', 'partners/acme.yaml:9:25', 'unknown'],
    [
      'shape:\n  columns:\n    - { value: "{nope}", as: X }\n',
      'partners/acme.yaml:9:16',
      'unknown token {nope}',
    ],
    [
      'shape:\n  columns:\n    - { value: "{rows}", as: X }\n',
      'partners/acme.yaml:9:16',
      'only in the trailer',
    ],
    [
      'shape:\n  columns:\n    - { from: a, as: X }\n    - { from: b, as: X }\n',
      'partners/acme.yaml:10:22',
      'repeats the column name "X" of columns[0]',
    ],
    [`${COLUMNS}  delimiter: ";;"\n`, 'partners/acme.yaml:11:14', 'must be one character'],
    [`${COLUMNS}  quote: some\n`, 'partners/acme.yaml:11:10', 'minimal'],
    [`${COLUMNS}  lineEnding: cr\n`, 'partners/acme.yaml:11:15', 'crlf'],
    [`${COLUMNS}  encoding: latin1\n`, 'partners/acme.yaml:11:13', 'windows-1252'],
    [`${COLUMNS}  unmappable: skip\n`, 'partners/acme.yaml:11:15', 'replace'],
    [`${COLUMNS}  trailer: "TRL|{rows"\n`, 'partners/acme.yaml:11:12', 'unbalanced "{"'],
    [`${COLUMNS}  trailr: x\n`, 'partners/acme.yaml:11:3', 'unknown'],
    [
      'shape:\n  encoding: iso-8859-1\n  columns:\n    - { value: "5 €", as: Fee }\n',
      'partners/acme.yaml:10:16',
      'iso-8859-1 has no U+20AC "€" (every file would fail; use unmappable: replace or another encoding)',
    ],
    [
      'shape:\n  encoding: windows-1252\n  columns:\n    - { from: city, as: Miasto_Łódź }\n',
      'partners/acme.yaml:10:25',
      'windows-1252 has no U+0141 "Ł"',
    ],
  ])('reports %j at its file:line:col', async (lines, at, message) => {
    const { problems } = await load(lines);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(at);
    expect(problems[0]).toContain(message);
  });

  it('checks `from` against validate.csv.header when the source header is declared', async () => {
    const { problems } = await load(`validate:
  csv: { header: [order_id, total] }
${COLUMNS}    - { from: amount, as: Amount }
`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('partners/acme.yaml:13:15');
    expect(problems[0]).toContain('source column "amount" is not in validate.csv.header (order_id, total)');
  });
});
