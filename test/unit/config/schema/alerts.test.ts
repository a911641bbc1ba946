// ferry.yaml `alerts` and a partner's own `alerts`: validation with file:line:col, secrets by reference only.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { alertReceiverFor } from '../../../../src/observability/alerter.js';
import { formatProblem, loadConfig, type ConfigResult } from '../../../../src/config/load-config.js';
import { makeTempDir } from '../../../support/temp-dir.js';

const SLACK_TOKEN = 'slackTokenCanary9f3e2d1c';
const PARTNER = [
  'id: acme',
  'schedule: { cron: "0 2 * * *" }',
  'source: { bucket: warehouse-exports, prefix: acme/ }',
  'target:',
  '  host: sftp.acme.example',
  '  username: ferry',
  '  hostKeys: ["SHA256:BXfYDQo9GigRWVMVtCXKJBG9z5LXQiav4rZLeMQ6Tt4"]',
  '  auth: { privateKeyFile: /run/secrets/acme }',
  '  directory: /inbound',
].join('\n');

const tempDirs: string[] = [];
afterEach(async () => {
  await Promise.all(tempDirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** Loads a config dir with `alerts` (YAML lines) in ferry.yaml and optionally in partners/acme.yaml. */
async function load(
  serviceAlerts: string[],
  partnerAlerts: string[] = [],
): Promise<ConfigResult & { printed: string[] }> {
  const dir = await makeTempDir('alerts-config');
  tempDirs.push(dir);
  await mkdir(join(dir, 'partners'));
  await writeFile(
    join(dir, 'ferry.yaml'),
    ['receipts: { bucket: ferry-audit }', ...serviceAlerts, ''].join('\n'),
  );
  await writeFile(join(dir, 'partners', 'acme.yaml'), [PARTNER, ...partnerAlerts, ''].join('\n'));
  const result = await loadConfig(dir, {});
  const printed = result.ok ? [] : result.problems.map((p) => formatProblem(p).replace(`${dir}/`, ''));
  return { ...result, printed };
}

describe('alerts in ferry.yaml', () => {
  it('has no alerts without the section, and defaults timeout and dedup window', async () => {
    const none = await load([]);
    expect(none.ok && none.config.service.alerts).toBeUndefined();
    const result = await load(['alerts: { webhookEnv: FERRY_ALERT_WEBHOOK, secretEnv: FERRY_ALERT_SECRET }']);
    expect(result.ok && result.config.service.alerts).toEqual({
      receiver: { webhook: { env: 'FERRY_ALERT_WEBHOOK' }, secret: { env: 'FERRY_ALERT_SECRET' } },
      timeoutSeconds: 10,
      dedupMinutes: 60,
      runbookBaseUrl: 'https://github.com/ferry-dev/ferry/blob/main/docs/runbooks/',
    });
  });

  it('takes a literal URL without a token, a webhook file, and a fractional dedup window', async () => {
    const literal = await load([
      'alerts: { webhook: "https://alerts.example.com/ferry", dedupMinutes: 0.1 }',
    ]);
    expect(literal.ok && literal.config.service.alerts).toEqual({
      receiver: { webhook: { url: 'https://alerts.example.com/ferry' } },
      timeoutSeconds: 10,
      dedupMinutes: 0.1,
      runbookBaseUrl: 'https://github.com/ferry-dev/ferry/blob/main/docs/runbooks/',
    });
    const file = await load([
      'alerts: { webhookFile: secrets/webhook, secretFile: secrets/hmac, timeoutSeconds: 3 }',
    ]);
    expect(file.ok && file.config.service.alerts?.receiver).toEqual({
      webhook: { file: 'secrets/webhook' },
      secret: { file: 'secrets/hmac' },
    });
  });

  it('reports each problem at its place, never echoing a URL', async () => {
    const result = await load([
      'alerts:',
      `  webhook: "https://hooks.slack.com/services/T0/B0/${SLACK_TOKEN}"`,
      '  webhookEnv: FERRY_ALERT_WEBHOOK',
      '  secretEnv: "not a name"',
      '  timeoutSeconds: 0',
      '  dedupMinutes: -1',
      '  retries: 3',
    ]);
    expect(result.printed).toEqual([
      'ferry.yaml:3:12: alerts.webhook: is a service that puts its token in the URL: put the URL in an environment variable or a file (webhookEnv or webhookFile)',
      'ferry.yaml:5:14: alerts.secretEnv: must be an environment variable name like ACME_SFTP_KEY',
      'ferry.yaml:6:19: alerts.timeoutSeconds: must be greater than 0',
      'ferry.yaml:7:17: alerts.dedupMinutes: must be at least 0',
      'ferry.yaml:8:3: alerts.retries: unknown field',
    ]);
    expect(result.printed.join('\n')).not.toContain(SLACK_TOKEN);
  });

  it('takes a runbook base URL of its own, and refuses one that is not a plain http(s) URL', async () => {
    const own = await load(['alerts: { runbookBaseUrl: "https://wiki.example.com/ferry/runbooks/" }']);
    expect(own.ok && own.config.service.alerts?.runbookBaseUrl).toBe(
      'https://wiki.example.com/ferry/runbooks/',
    );
    const bad = await load(['alerts:', '  runbookBaseUrl: "ftp://wiki.example.com/runbooks/"']);
    expect(bad.printed).toEqual([
      'ferry.yaml:3:19: alerts.runbookBaseUrl: must be an http:// or https:// URL',
    ]);
    const query = await load(['alerts:', '  runbookBaseUrl: "https://wiki.example.com/r?token=x"']);
    expect(query.printed).toEqual([
      'ferry.yaml:3:19: alerts.runbookBaseUrl: must not hold a user, password, ?query or #fragment (the runbook file name is appended)',
    ]);
  });

  it('refuses two webhook sources, two key sources, and a key without a webhook', async () => {
    const both = await load([
      'alerts:',
      '  webhookEnv: A',
      '  webhookFile: b',
      '  secretEnv: C',
      '  secretFile: d',
    ]);
    expect(both.printed).toEqual([
      'ferry.yaml:4:16: alerts.webhookFile: only one of webhook, webhookEnv, webhookFile may be set (webhookEnv is already set)',
      'ferry.yaml:6:15: alerts.secretFile: set secretEnv or secretFile, not both',
    ]);
    const lonely = await load(['alerts: { secretEnv: C }']);
    expect(lonely.printed).toEqual([
      'ferry.yaml:2:22: alerts.secretEnv: only allowed with webhook, webhookEnv, webhookFile (the key signs what is sent there)',
    ]);
  });

  it('refuses an inline signing key like any other inline secret', async () => {
    const result = await load(['alerts:', '  webhookEnv: HOOK', '  secret: hunter2-canary']);
    expect(result.printed).toEqual([
      'ferry.yaml:4:3: alerts.secret: secrets must be references (passwordEnv, passwordFile, privateKeyFile, privateKeyEnv, passphraseEnv)',
    ]);
    expect(result.printed.join('\n')).not.toContain('hunter2-canary');
  });
});

describe('alerts in a partner file', () => {
  it('overrides the global receiver for that partner only', async () => {
    const result = await load(
      ['alerts: { webhookEnv: GLOBAL_HOOK, secretEnv: GLOBAL_KEY, dedupMinutes: 5 }'],
      ['alerts: { webhook: "https://acme-ops.example.com/ferry" }'],
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(alertReceiverFor(result.config, 'acme')).toEqual({
      webhook: { url: 'https://acme-ops.example.com/ferry' },
    });
    expect(alertReceiverFor(result.config, 'globex')).toEqual({
      webhook: { env: 'GLOBAL_HOOK' },
      secret: { env: 'GLOBAL_KEY' },
    });
    expect(alertReceiverFor(result.config, undefined)).toEqual(alertReceiverFor(result.config, 'globex'));
  });

  it('uses the global receiver when the partner names none, and none when neither does', async () => {
    const global = await load(['alerts: { webhookEnv: GLOBAL_HOOK }']);
    expect(global.ok && alertReceiverFor(global.config, 'acme')).toEqual({ webhook: { env: 'GLOBAL_HOOK' } });
    const none = await load(['alerts: { dedupMinutes: 5 }']);
    expect(none.ok && alertReceiverFor(none.config, 'acme')).toBeUndefined();
  });

  it('needs a webhook and takes no service-wide settings', async () => {
    const result = await load([], ['alerts:', '  secretEnv: KEY', '  dedupMinutes: 1']);
    expect(result.printed).toEqual([
      'partners/acme.yaml:11:3: alerts: needs one of webhook, webhookEnv, webhookFile',
      'partners/acme.yaml:11:14: alerts.secretEnv: only allowed with webhook, webhookEnv, webhookFile (the key signs what is sent there)',
      'partners/acme.yaml:12:3: alerts.dedupMinutes: unknown field',
    ]);
  });
});

describe('an empty alerts section', () => {
  it('is reported at its place instead of crashing the loader', async () => {
    const partner = await load([], ['alerts:']);
    expect(partner.printed).toEqual(['partners/acme.yaml:10:1: alerts: must be a mapping']);
    const service = await load(['alerts:']);
    expect(service.printed).toEqual(['ferry.yaml:2:1: alerts: must be a mapping']);
  });
});
