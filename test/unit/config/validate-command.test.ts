import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runValidate } from '../../../src/config/validate-command.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

async function validate(
  dir: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await runValidate(dir, env, (line) => lines.push(line));
  return { code, lines };
}

describe('runValidate', () => {
  it('prints one summary line and exits 0 for a valid config', async () => {
    const dir = join(FIXTURES, 'valid');
    expect(await validate(dir)).toEqual({
      code: 0,
      lines: [`config OK: 2 partners (acme, globex) in ${dir}`],
    });
  });

  it('prints one file:line:col line per problem and exits 1', async () => {
    const dir = join(FIXTURES, 'duplicates');
    expect(await validate(dir)).toEqual({
      code: 1,
      lines: [
        `${dir}/partners/b-second.yaml:2:5: id: duplicate partner id "acme": already used by ${dir}/partners/a-first.yaml`,
        `${dir}/partners/c-same-target.yaml:14:14: target.directory: same host, port and directory as partner "acme" (${dir}/partners/a-first.yaml)`,
      ],
    });
  });

  it('never prints an inline secret', async () => {
    const { code, lines } = await validate(join(FIXTURES, 'broken'));
    expect(code).toBe(1);
    expect(lines.join('\n')).not.toMatch(/hunter2-canary|canary-key-body|BEGIN OPENSSH/);
  });
});
