import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_NEEDS_CHECKOUT, demoRefusal } from '../../../src/core/demo-refusal.js';
import { lookUpS3rver } from '../../../src/local-services/s3rver.js';

// The look-ups are real: from this checkout (s3rver installed) and from an empty directory, where
// Node's own resolution fails as it does in the production image (no devDependencies).
describe('demoRefusal', () => {
  let empty: string;
  beforeAll(async () => {
    empty = await mkdtemp(join(tmpdir(), 'ferry-no-s3rver-'));
  });
  afterAll(async () => {
    await rm(empty, { recursive: true, force: true });
  });

  it('lets the demo start where s3rver is installed (a source checkout)', () => {
    const lookup = lookUpS3rver();
    expect(lookup).toMatchObject({
      found: true,
      manifestPath: expect.stringMatching(/\/s3rver\/package\.json$/),
    });
    expect(demoRefusal(lookup)).toBeUndefined();
  });

  it('refuses with the one-line pointer to a source checkout where require.resolve finds no s3rver', () => {
    const lookup = lookUpS3rver(createRequire(join(empty, 'index.js')).resolve);
    expect(lookup.found).toBe(false);
    expect(demoRefusal(lookup)).toBe(
      'ferry demo is a development command: run it from a source checkout (npm ci && npx ferry demo); it needs s3rver, redis-server and sshd',
    );
  });

  it('refuses the same way when a dynamic import() finds no s3rver', async () => {
    const error: unknown = await import(join(empty, 'node_modules', 's3rver', 'index.js')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'ERR_MODULE_NOT_FOUND' });
    expect(demoRefusal({ found: false, error })).toBe(DEMO_NEEDS_CHECKOUT);
  });

  it('rethrows any other look-up error: a broken checkout says what broke', () => {
    const error = Object.assign(new Error('EACCES: permission denied, open s3rver/package.json'), {
      code: 'EACCES',
    });
    expect(() => demoRefusal({ found: false, error })).toThrow(error);
  });
});
