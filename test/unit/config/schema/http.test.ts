// ferry.yaml http: dashboard logins (operators, viewers, FERRY_VIEWER_*) and trusted origins.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../../src/config/load-config.js';
import { serviceSchema } from '../../../../src/config/schema.js';
import { printedProblems as printed, useConfigDirs } from '../../../support/config-dir.js';
import { issuesOf as messagesOf } from '../../../support/partner-input.js';

const CANARY = 'proxy-pass-canary-19ab';

const configs = useConfigDirs('security-config');

const configDir = (ferryYaml: string, partners: Record<string, string> = {}) =>
  configs.write({ ferryYaml, partners });

describe('dashboard logins', () => {
  it('reads operators and viewers lists and keeps the single admin login an operator', () => {
    const service = serviceSchema.parse({
      receipts: { bucket: 'ferry-audit' },
      http: {
        adminPasswordEnv: 'FERRY_ADMIN_PASSWORD',
        operators: [{ user: 'ops', passwordFile: '/run/secrets/ops' }],
        viewers: [{ user: 'audit', passwordEnv: 'AUDIT_PASSWORD' }],
        trustedOrigins: ['https://ferry.example.com/', 'http://10.0.0.1:8080'],
      },
    });
    expect(service.http).toEqual({
      host: '127.0.0.1',
      port: 3000,
      adminUser: 'admin',
      adminPassword: { env: 'FERRY_ADMIN_PASSWORD' },
      operators: [{ user: 'ops', password: { file: '/run/secrets/ops' } }],
      viewers: [{ user: 'audit', password: { env: 'AUDIT_PASSWORD' } }],
      trustedOrigins: ['https://ferry.example.com', 'http://10.0.0.1:8080'],
    });
  });

  it('rejects logins without a password reference, with two, with ":" in the name, or used twice', () => {
    const messages = messagesOf(serviceSchema, {
      receipts: { bucket: 'ferry-audit' },
      http: {
        viewerUser: 'audit',
        operators: [
          { user: 'ops' },
          { user: 'a:b', passwordEnv: 'X' },
          { user: 'two', passwordEnv: 'X', passwordFile: '/x' },
        ],
        trustedOrigins: ['https://ferry.example.com/admin'],
      },
    });
    expect(messages).toEqual(
      expect.arrayContaining([
        'http.viewerUser: needs viewerPasswordEnv or viewerPasswordFile (or FERRY_VIEWER_PASSWORD in the environment)',
        'http.operators.0: needs passwordEnv or passwordFile',
        'http.operators.1.user: must not contain ":"',
        'http.operators.2.passwordFile: set passwordEnv or passwordFile, not both',
        expect.stringMatching(/^http\.trustedOrigins\.0: must be an origin/),
      ]),
    );
    expect(
      messagesOf(serviceSchema, {
        receipts: { bucket: 'ferry-audit' },
        http: {
          adminPasswordEnv: 'A',
          viewers: [
            { user: 'admin', passwordEnv: 'B' },
            { user: 'x', passwordEnv: 'C' },
            { user: 'x', passwordEnv: 'D' },
          ],
        },
      }),
    ).toEqual([
      'http.viewers.0.user: this user name is already used by another login',
      'http.viewers.2.user: this user name is already used by another login',
    ]);
  });

  it('takes the viewer login from FERRY_VIEWER_USER and FERRY_VIEWER_PASSWORD, never the password value', async () => {
    const dir = await configDir(
      'receipts: { bucket: ferry-audit }\nhttp: { viewerPasswordFile: secrets/v }\n',
    );
    const result = await loadConfig(dir, {
      FERRY_VIEWER_USER: 'auditor',
      FERRY_VIEWER_PASSWORD: CANARY,
      FERRY_ADMIN_PASSWORD: 'admin-canary',
    });
    if (!result.ok) throw new Error(printed(result, dir).join('\n'));
    expect(result.config.service.http).toEqual({
      host: '127.0.0.1',
      port: 3000,
      adminUser: 'admin',
      adminPassword: { env: 'FERRY_ADMIN_PASSWORD' },
      viewerUser: 'auditor',
      viewerPassword: { env: 'FERRY_VIEWER_PASSWORD' },
    });
    expect(JSON.stringify(result.config)).not.toContain(CANARY);
  });

  it('defaults the viewer user name and resolves relative password files', async () => {
    const dir = await configDir(
      'receipts: { bucket: ferry-audit }\nhttp: { viewerPasswordFile: secrets/v, viewers: [{ user: b, passwordFile: secrets/b }] }\n',
    );
    const result = await loadConfig(dir, {});
    if (!result.ok) throw new Error(printed(result, dir).join('\n'));
    expect(result.config.service.http).toMatchObject({
      viewerUser: 'viewer',
      viewerPassword: { file: join(dir, 'secrets/v') },
      viewers: [{ user: 'b', password: { file: join(dir, 'secrets/b') } }],
    });
  });
});
