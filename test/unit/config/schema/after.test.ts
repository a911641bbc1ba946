// `after.source` in partner files: schema, the cross-partner move-target check, and the IAM actions it adds.
import { describe, expect, it } from 'vitest';
import { buildIamPolicy } from '../../../../src/commands/iam-policy-command.js';
import { useConfigDirs } from '../../../support/config-dir.js';

// Lines 1-7; the `after` block under test starts on line 8.
const partnerHead = (id: string, prefix: string) => `id: ${id}
schedule: { cron: '0 * * * *' }
source: { bucket: warehouse-exports, prefix: '${prefix}' }
target: { host: sftp.${id}.example, username: ferry, directory: /in,
  hostKeys: ['SHA256:BXfYDQo9GigRWVMVtCXKJBG9z5LXQiav4rZLeMQ6Tt4'],
  auth: { privateKeyFile: /run/secrets/${id} } }
after:
`;

const configs = useConfigDirs('source-housekeeping-config');

const load = (partners: Record<string, { prefix: string; after: string }>) =>
  configs.load({
    partners: Object.fromEntries(
      Object.entries(partners).map(([id, p]) => [`${id}.yaml`, partnerHead(id, p.prefix) + p.after]),
    ),
  });

describe('after.source', () => {
  it('accepts none, tag and a move template', async () => {
    const { result } = await load({
      a: { prefix: 'a/', after: '  source: none\n' },
      b: { prefix: 'b/', after: '  source: tag\n' },
      c: { prefix: 'c/', after: "  source: { move: 'archive/{key}' }\n" },
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.partners.get('a')?.after).toEqual({ source: 'none' });
    expect(result.config.partners.get('b')?.after).toEqual({ source: 'tag' });
    expect(result.config.partners.get('c')?.after).toEqual({ source: { move: 'archive/{key}' } });
  });

  it('reports a bad mode or template at its file:line:col', async () => {
    const { problems } = await load({
      a: { prefix: 'a/', after: '  source: delete\n' },
      b: { prefix: 'b/', after: "  source: { move: '../{key}' }\n" },
    });
    expect(problems).toEqual([
      'partners/a.yaml:8:11: after.source: must be none, tag, or { move: "archive/{key}" }',
      'partners/b.yaml:8:19: after.source.move: must not contain ".." segments',
    ]);
  });

  it('refuses a move target inside any partner source prefix of the bucket', async () => {
    const { problems } = await load({
      a: { prefix: 'exports/a/', after: "  source: { move: 'exports/done/{name}' }\n" },
      b: { prefix: 'exports/', after: '  source: none\n' },
    });
    expect(problems).toEqual([
      'partners/a.yaml:8:19: after.source.move: moved objects would land inside the source prefix of "b" and be delivered again',
    ]);
  });
});

describe('ferry iam-policy with after.source', () => {
  it('grants tagging and delete/archive writes only to the partners that use them', async () => {
    const { result } = await load({
      plain: { prefix: 'plain/', after: '  source: none\n' },
      tagged: { prefix: 'tagged/', after: '  source: tag\n' },
      moved: { prefix: 'moved/', after: "  source: { move: 'archive/moved/{key}' }\n" },
    });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const extra = buildIamPolicy(result.config).Statement.filter((s) =>
      ['TagDeliveredExports', 'MoveDeliveredExports', 'WriteArchivedExports'].includes(s.Sid),
    );
    expect(extra.map(({ Sid, Action, Resource }) => ({ Sid, Action, Resource }))).toEqual([
      {
        Sid: 'TagDeliveredExports',
        Action: ['s3:GetObjectTagging', 's3:PutObjectTagging'],
        Resource: ['arn:aws:s3:::warehouse-exports/tagged/*'],
      },
      {
        Sid: 'MoveDeliveredExports',
        Action: ['s3:DeleteObject', 's3:GetObjectTagging'],
        Resource: ['arn:aws:s3:::warehouse-exports/moved/*'],
      },
      {
        Sid: 'WriteArchivedExports',
        Action: ['s3:PutObject', 's3:PutObjectTagging'],
        Resource: ['arn:aws:s3:::warehouse-exports/archive/moved/*'],
      },
    ]);
    expect(JSON.stringify(buildIamPolicy(result.config))).not.toContain('plain/*"],"Sid":"Tag');
  });
});
