// Egress proxies: a partner's target.proxy and ferry.yaml's sftp.proxy.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FINGERPRINT as FP,
  issuesOf as messagesOf,
  partnerInput as partnerWith,
} from '../../../support/partner-input.js';
import { loadConfig } from '../../../../src/config/load-config.js';
import { checkProxyUrl, partnerSchema, serviceSchema } from '../../../../src/config/schema.js';
import { egressProxyFor } from '../../../../src/main.js';
import { printedProblems as printed, useConfigDirs } from '../../../support/config-dir.js';

const CANARY = 'proxy-pass-canary-19ab';

/** The shared minimal partner, with fields of its target set or replaced. */
const partnerInput = (target: Record<string, unknown> = {}) => partnerWith({ target });

const configs = useConfigDirs('security-config');

const configDir = (ferryYaml: string, partners: Record<string, string> = {}) =>
  configs.write({ ferryYaml, partners });

/** A partner file with `extra` lines at the end of its target. */
const partnerYaml = (extra: string) =>
  [
    'id: acme',
    "schedule: { cron: '0 2 * * *' }",
    'source: { bucket: warehouse-exports, prefix: acme/ }',
    'target:',
    '  host: sftp.acme.example',
    '  username: ferry',
    `  hostKeys: ['${FP}']`,
    '  auth: { privateKeyFile: /run/secrets/acme }',
    '  directory: /inbound',
    extra,
    '',
  ].join('\n');

describe('target.proxy', () => {
  it('parses socks5 and http proxies, with a user and a password reference', () => {
    const socks = partnerSchema.parse(
      partnerInput({ proxy: 'socks5://ferry%40acme@10.0.0.5:1080', proxyPasswordEnv: 'EGRESS_PASSWORD' }),
    );
    expect(socks.target.proxy).toEqual({
      protocol: 'socks5',
      host: '10.0.0.5',
      port: 1080,
      username: 'ferry@acme',
      password: { env: 'EGRESS_PASSWORD' },
    });
    expect(socks.target).not.toHaveProperty('proxyPasswordEnv');
    const http = partnerSchema.parse(partnerInput({ proxy: 'http://[fd00::5]:3128' }));
    expect(http.target.proxy).toEqual({ protocol: 'http', host: 'fd00::5', port: 3128 });
    expect(partnerSchema.parse(partnerInput({ proxy: 'direct' })).target.proxy).toBe('direct');
    expect(partnerSchema.parse(partnerInput()).target).not.toHaveProperty('proxy');
  });

  it.each([
    ['socks5://proxy.internal', /with an explicit port/],
    ['https://proxy.internal:443', /must be socks5:\/\/\[user@\]host:port or http:/],
    ['socks4://proxy.internal:1080', /must be socks5/],
    ['http://proxy.internal:3128/path', /must be socks5/],
    ['socks5://proxy.internal:70000', /port outside 1-65535/],
    [
      `socks5://ferry:${CANARY}@proxy.internal:1080`,
      /must not contain a password: name it with proxyPasswordEnv/,
    ],
  ])('rejects %s without echoing it', (url, message) => {
    const messages = messagesOf(partnerSchema, partnerInput({ proxy: url }));
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(message);
    expect(messages[0]).not.toContain(CANARY);
    expect(checkProxyUrl(url)).toBeDefined();
  });

  it('pairs a proxy user with exactly one password reference', () => {
    expect(messagesOf(partnerSchema, partnerInput({ proxy: 'socks5://ferry@proxy.internal:1080' }))).toEqual([
      'target.proxy: a proxy user needs proxyPasswordEnv or proxyPasswordFile',
    ]);
    expect(
      messagesOf(
        partnerSchema,
        partnerInput({ proxy: 'socks5://proxy.internal:1080', proxyPasswordEnv: 'X' }),
      ),
    ).toEqual([
      'target.proxyPasswordEnv: only allowed with a proxy URL that names a user (socks5://user@host:port)',
    ]);
    expect(messagesOf(partnerSchema, partnerInput({ proxyPasswordFile: '/run/secrets/x' }))).toEqual([
      'target.proxyPasswordFile: only allowed with a proxy URL that names a user',
    ]);
    expect(
      messagesOf(
        partnerSchema,
        partnerInput({ proxy: 'socks5://u@p:1080', proxyPasswordEnv: 'X', proxyPasswordFile: '/x' }),
      ),
    ).toEqual(['target.proxyPasswordFile: set proxyPasswordEnv or proxyPasswordFile, not both']);
  });

  it('rejects an inline proxy password field as an inline secret', async () => {
    const dir = await configDir('receipts: { bucket: ferry-audit }\n', {
      'acme.yaml': partnerYaml(
        ['  proxy: socks5://ferry@proxy.internal:1080', `  proxyPassword: ${CANARY}`].join('\n'),
      ),
    });
    const result = await loadConfig(dir, {});
    const lines = printed(result, dir);
    expect(lines).toContain(
      'partners/acme.yaml:11:3: target.proxyPassword: secrets must be references (passwordEnv, passwordFile, privateKeyFile, privateKeyEnv, passphraseEnv)',
    );
    expect(lines.join('\n')).not.toContain(CANARY);
  });
});

describe('ferry.yaml sftp.proxy', () => {
  it('is the default egress for partners without their own; proxy: direct opts out', async () => {
    const dir = await configDir(
      'receipts: { bucket: ferry-audit }\nsftp: { proxy: "socks5://egress@10.0.0.9:1080", proxyPasswordFile: secrets/egress }\n',
      {
        'acme.yaml': partnerYaml(''),
        'beta.yaml': partnerYaml('  proxy: direct').replace(/acme/g, 'beta'),
        'gamma.yaml': partnerYaml('  proxy: "http://10.0.0.10:3128"').replace(/acme/g, 'gamma'),
      },
    );
    const result = await loadConfig(dir, {});
    if (!result.ok) throw new Error(printed(result, dir).join('\n'));
    const { service, partners } = result.config;
    expect(service.sftp).toEqual({
      proxy: {
        protocol: 'socks5',
        host: '10.0.0.9',
        port: 1080,
        username: 'egress',
        password: { file: join(dir, 'secrets/egress') },
      },
    });
    expect(egressProxyFor(partners.get('acme')!, service.sftp)).toBe(service.sftp?.proxy);
    expect(egressProxyFor(partners.get('beta')!, service.sftp)).toBeUndefined();
    expect(egressProxyFor(partners.get('gamma')!, service.sftp)).toEqual({
      protocol: 'http',
      host: '10.0.0.10',
      port: 3128,
    });
  });

  it('resolves a relative partner proxyPasswordFile against the config directory', async () => {
    const dir = await configDir('receipts: { bucket: ferry-audit }\n', {
      'acme.yaml': partnerYaml('  proxy: "socks5://u@p.internal:1080"\n  proxyPasswordFile: secrets/p'),
    });
    const result = await loadConfig(dir, {});
    if (!result.ok) throw new Error(printed(result, dir).join('\n'));
    expect(result.config.partners.get('acme')!.target.proxy).toMatchObject({
      password: { file: join(dir, 'secrets/p') },
    });
  });

  it('does not accept "direct" globally', () => {
    expect(
      messagesOf(serviceSchema, { receipts: { bucket: 'ferry-audit' }, sftp: { proxy: 'direct' } }),
    ).toEqual([expect.stringMatching(/^sftp\.proxy: must be socks5/)]);
  });
});
