// The least-privilege IAM policy `ferry iam-policy` generates, checked against the partner configs
// (reliability-anchors G6), and the committed deploy/iam-policy.json kept equal to the generator's output.
import { cp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  buildIamPolicy,
  runIamPolicy,
  type IamPolicy,
  type IamStatement,
} from '../../../src/commands/iam-policy-command.js';
import type { FerryConfig } from '../../../src/config/load-config.js';
import { useConfigDirs } from '../../support/config-dir.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const FP = 'SHA256:BXfYDQo9GigRWVMVtCXKJBG9z5LXQiav4rZLeMQ6Tt4';

const configs = useConfigDirs('iam');

function partnerYaml(id: string, bucket: string, prefix: string, enabled = true, marker?: string): string {
  return [
    `id: ${id}`,
    `enabled: ${enabled}`,
    "schedule: { cron: '0 2 * * *' }",
    `source: { bucket: ${bucket}, prefix: '${prefix}'${marker === undefined ? '' : `, requireMarker: ${marker}`} }`,
    'target:',
    `  host: sftp.${id}.example`,
    '  username: ferry',
    `  hostKeys: ['${FP}']`,
    `  auth: { privateKeyFile: /run/secrets/${id} }`,
    '  directory: /inbound',
    '',
  ].join('\n');
}

const configFrom = (ferryYaml: string, partners: Record<string, string>) =>
  configs.write({ ferryYaml, partners });

async function load(dir: string): Promise<FerryConfig> {
  const { config, problems } = await configs.load(dir);
  if (!config) throw new Error(problems.join('\n'));
  return config;
}

const OBJECT_ACTIONS = ['s3:GetObject', 's3:PutObject'];
const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** The least-privilege rules every generated policy must satisfy for `config`. */
function expectLeastPrivilege(policy: IamPolicy, config: FerryConfig): void {
  const enabled = [...config.partners.values()].filter((p) => p.enabled);
  const { bucket: receiptsBucket, prefix: receiptsPrefix } = config.service.receipts;
  const allowed = new Set(['s3:ListBucket', 's3:GetObject', 's3:PutObject']);
  for (const s of policy.Statement) {
    expect(s.Effect).toBe('Allow');
    for (const action of list(s.Action)) {
      expect(action).not.toContain('*');
      expect(allowed.has(action), `unexpected action ${action}`).toBe(true);
    }
    for (const resource of list(s.Resource)) {
      expect(resource).not.toBe('*');
      expect(resource).toMatch(/^arn:aws:s3:::[a-z0-9.-]+(\/.*)?$/);
    }
    if (list(s.Action).some((a) => OBJECT_ACTIONS.includes(a))) {
      for (const resource of list(s.Resource)) expect(resource).toMatch(/^arn:aws:s3:::[a-z0-9.-]+\/.+\*$/);
    }
  }

  const listing = policy.Statement.filter((s) => list(s.Action).includes('s3:ListBucket'));
  for (const s of listing) {
    expect(list(s.Action)).toEqual(['s3:ListBucket']);
    expect(list(s.Resource)).toHaveLength(1);
    expect(list(s.Resource)[0]).toMatch(/^arn:aws:s3:::[a-z0-9.-]+$/);
    expect(s.Condition?.StringLike['s3:prefix'].length).toBeGreaterThan(0);
  }
  const listablePrefixes = (bucket: string): string[] =>
    listing
      .filter((s) => list(s.Resource)[0] === `arn:aws:s3:::${bucket}`)
      .flatMap((s) => s.Condition?.StringLike['s3:prefix'] ?? []);
  const readable = (s: IamStatement) => list(s.Action).includes('s3:GetObject');
  const writable = (s: IamStatement) => list(s.Action).includes('s3:PutObject');
  const getResources = policy.Statement.filter(readable).flatMap((s) => list(s.Resource));
  const putResources = policy.Statement.filter(writable).flatMap((s) => list(s.Resource));

  // The ledger rebuild lists and reads every receipt, disabled partners' included (ledger-trust.ts).
  expect(listablePrefixes(receiptsBucket)).toContain(`${receiptsPrefix}*`);
  for (const p of enabled) {
    expect(listablePrefixes(p.source.bucket)).toContain(`${p.source.prefix}*`);
    expect(getResources).toContain(`arn:aws:s3:::${p.source.bucket}/${p.source.prefix}*`);
    expect(putResources).toContain(`arn:aws:s3:::${receiptsBucket}/${receiptsPrefix}${p.id}/*`);
  }
  // Reads only partner exports and receipts; writes only receipts and uploads (partners without a marker).
  const expectedGets = [
    ...enabled.map((p) => `arn:aws:s3:::${p.source.bucket}/${p.source.prefix}*`),
    `arn:aws:s3:::${receiptsBucket}/${receiptsPrefix}*`,
  ];
  expect(new Set(getResources)).toEqual(new Set(expectedGets));
  expect(new Set(putResources)).toEqual(
    new Set([
      ...enabled.map((p) => `arn:aws:s3:::${receiptsBucket}/${receiptsPrefix}${p.id}/*`),
      ...enabled
        .filter((p) => p.source.requireMarker === undefined)
        .map((p) => `arn:aws:s3:::${p.source.bucket}/${p.source.prefix}*`),
    ]),
  );
}

describe('ferry iam-policy', () => {
  it('grants a multi-partner config only list-prefix, get-exports, uploads, put-receipts per partner and list/get-receipts', async () => {
    const dir = await configFrom('receipts: { bucket: ferry-audit, prefix: audit/receipts/ }\n', {
      'acme.yaml': partnerYaml('acme', 'warehouse-exports', 'acme/daily/'),
      'globex.yaml': partnerYaml('globex', 'warehouse-exports', 'globex/'),
      'initech.yaml': partnerYaml('initech', 'initech-exports', 'out/', true, '_SUCCESS'),
      'dormant.yaml': partnerYaml('dormant', 'dormant-exports', 'x/', false),
    });
    const config = await load(dir);
    const policy = buildIamPolicy(config);
    expectLeastPrivilege(policy, config);
    const text = JSON.stringify(policy);
    expect(text).not.toContain('DeleteObject');
    expect(text).not.toContain('dormant');
    // A partner behind a marker takes no uploads (src/core/upload-name.ts), so no PutObject on its exports.
    expect(policy.Statement.find((s) => s.Sid === 'UploadToPartnerPrefixes')?.Resource).toEqual([
      'arn:aws:s3:::warehouse-exports/acme/daily/*',
      'arn:aws:s3:::warehouse-exports/globex/*',
    ]);
    // One ListBucket statement per bucket, each with the prefixes of that bucket only.
    expect(
      policy.Statement.filter((s) => s.Action === 's3:ListBucket').map((s) => [
        s.Resource,
        s.Condition?.StringLike['s3:prefix'],
      ]),
    ).toEqual([
      ['arn:aws:s3:::ferry-audit', ['audit/receipts/*']],
      ['arn:aws:s3:::initech-exports', ['out/*']],
      ['arn:aws:s3:::warehouse-exports', ['acme/daily/*', 'globex/*']],
    ]);
  });

  it('grants the upload PutObject only for partners that take uploads: no statement when none does', async () => {
    const receipts = 'receipts: { bucket: ferry-audit, prefix: r/ }\n';
    const uploadsOf = async (partners: Record<string, string>) =>
      buildIamPolicy(await load(await configFrom(receipts, partners))).Statement.filter((s) =>
        list(s.Resource).some(
          (r) => r.startsWith('arn:aws:s3:::exports/') && list(s.Action).includes('s3:PutObject'),
        ),
      );
    // Behind a marker a partner takes no uploads (src/core/upload-name.ts); a disabled one takes none either.
    expect(
      await uploadsOf({
        'marked.yaml': partnerYaml('marked', 'exports', 'marked/', true, '_SUCCESS'),
        'off.yaml': partnerYaml('off', 'exports', 'off/', false),
      }),
    ).toEqual([]);
    expect(
      await uploadsOf({
        'marked.yaml': partnerYaml('marked', 'exports', 'marked/', true, '_SUCCESS'),
        'open.yaml': partnerYaml('open', 'exports', 'open/'),
      }),
    ).toEqual([
      {
        Sid: 'UploadToPartnerPrefixes',
        Effect: 'Allow',
        Action: 's3:PutObject',
        Resource: ['arn:aws:s3:::exports/open/*'],
      },
    ]);
  });

  it('lets the ledger rebuild list and read the receipts even with no partner enabled', async () => {
    const dir = await configFrom('receipts: { bucket: ferry-audit, prefix: audit/ }\n', {
      'dormant.yaml': partnerYaml('dormant', 'dormant-exports', 'x/', false),
    });
    expect(buildIamPolicy(await load(dir)).Statement).toEqual([
      {
        Sid: 'ListConfiguredPrefixes1',
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: 'arn:aws:s3:::ferry-audit',
        Condition: { StringLike: { 's3:prefix': ['audit/*'] } },
      },
      {
        Sid: 'ReadAllReceipts',
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: ['arn:aws:s3:::ferry-audit/audit/*'],
      },
    ]);
  });

  it('writes IAM wildcard characters in prefixes literally', async () => {
    const dir = await configFrom('receipts: { bucket: ferry-audit }\n', {
      'odd.yaml': partnerYaml('odd', 'warehouse-exports', 'we*ird?/$x/'),
    });
    const policy = buildIamPolicy(await load(dir));
    const text = JSON.stringify(policy);
    expect(text).toContain('warehouse-exports/we${*}ird${?}/${$}x/*');
    expect(text).toContain('"we${*}ird${?}/${$}x/*"');
  });

  it('lists a whole bucket without a condition only for a partner whose prefix is ""', async () => {
    const dir = await configFrom('receipts: { bucket: ferry-audit }\n', {
      'all.yaml': partnerYaml('all', 'all-exports', ''),
    });
    const policy = buildIamPolicy(await load(dir));
    const whole = policy.Statement.find((s) => s.Resource === 'arn:aws:s3:::all-exports');
    expect(whole).toEqual({
      Sid: expect.any(String),
      Effect: 'Allow',
      Action: 's3:ListBucket',
      Resource: 'arn:aws:s3:::all-exports',
    });
    expect(JSON.stringify(policy)).toContain('"arn:aws:s3:::all-exports/*"');
  });

  it('matches the committed deploy/iam-policy.json for config/ferry.yaml and the example partner', async () => {
    const dir = await configs.write({ ferryYaml: null });
    await cp(join(REPO, 'config', 'ferry.yaml'), join(dir, 'ferry.yaml'));
    await cp(join(REPO, 'config', 'partners', '_example.yaml'), join(dir, 'partners', 'example.yaml'));
    const lines: string[] = [];
    expect(
      await runIamPolicy(
        dir,
        {},
        (l) => lines.push(l),
        () => undefined,
      ),
    ).toBe(0);
    const generated = JSON.parse(lines.join('\n')) as IamPolicy;
    const committed = JSON.parse(
      await readFile(join(REPO, 'deploy', 'iam-policy.json'), 'utf8'),
    ) as IamPolicy;
    expect(committed).toEqual(generated);
    expectLeastPrivilege(committed, await load(dir));
  });

  it('prints the config problems and exits 1 for an invalid config', async () => {
    const dir = await configFrom('receipts: {}\n', {});
    const out: string[] = [];
    const err: string[] = [];
    expect(
      await runIamPolicy(
        dir,
        {},
        (l) => out.push(l),
        (l) => err.push(l),
      ),
    ).toBe(1);
    expect(out).toEqual([]);
    expect(err.join('\n')).toMatch(/receipts\.bucket: required/);
  });
});
