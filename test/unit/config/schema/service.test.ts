// ferry.yaml `janitor`: off by default (the delivery path must register its temp files first), a
// minimum age of at least 10 minutes, an interval of at least a minute.
import { describe, expect, it } from 'vitest';
import { serviceSchema } from '../../../../src/config/schema/service.js';
import { MINIMAL_FERRY_YAML, useConfigDirs } from '../../../support/config-dir.js';

const configs = useConfigDirs('janitor-config');

// Line 1 is the receipts bucket; `janitor:` is on line 2.
const load = (janitor: string) => configs.load({ ferryYaml: `${MINIMAL_FERRY_YAML}janitor: ${janitor}\n` });

describe('janitor settings', () => {
  it('are on, 60 minutes and 15 minutes when left out', async () => {
    const { config, problems } = await configs.load({});
    expect(problems).toEqual([]);
    expect(config?.service.janitor).toEqual({ enabled: true, minAgeMinutes: 60, intervalMinutes: 15 });
  });

  it('are read when given', async () => {
    const { config } = await load('{ enabled: true, minAgeMinutes: 240, intervalMinutes: 5 }');
    expect(config?.service.janitor).toEqual({ enabled: true, minAgeMinutes: 240, intervalMinutes: 5 });
  });

  it.each([
    ['a minimum age under 10 minutes', '{ minAgeMinutes: 5 }', 'janitor.minAgeMinutes'],
    ['a fractional interval', '{ intervalMinutes: 0.5 }', 'janitor.intervalMinutes'],
    ['an unknown field', '{ enable: true }', 'janitor'],
  ])('refuse %s at its file:line:col', async (_label, yaml, field) => {
    const { problems } = await load(yaml);
    expect(problems).toEqual([
      expect.stringMatching(new RegExp(`^ferry\\.yaml:2:\\d+: ${field.replace('.', '\\.')}`)),
    ]);
  });
});

describe('serviceSchema', () => {
  it('needs only receipts.bucket', () => {
    const service = serviceSchema.parse({ receipts: { bucket: 'ferry-audit' } });
    expect(service.redis).toEqual({ url: 'redis://127.0.0.1:6379', prefix: '{ferry}' });
    expect(service.http).toEqual({ host: '127.0.0.1', port: 3000 });
    expect(service.receipts.prefix).toBe('ferry/receipts/');
  });

  it('defaults the admin user when only a password reference is given', () => {
    const service = serviceSchema.parse({
      receipts: { bucket: 'ferry-audit' },
      http: { adminPasswordEnv: 'FERRY_ADMIN_PASSWORD' },
    });
    expect(service.http).toEqual({
      host: '127.0.0.1',
      port: 3000,
      adminUser: 'admin',
      adminPassword: { env: 'FERRY_ADMIN_PASSWORD' },
    });
  });
});
