// The keys a partner's `transform.pgp` names are read and checked when the config loads, so a wrong,
// expired or locked key is a config error at its file:line:col, not a failed delivery at 3 a.m.
import { isAbsolute, resolve } from 'node:path';
import { readPgpKeys } from '../adapters/transform-stream.js';
import type { ConfigProblem } from './config-problem.js';
import { locatePath, type YamlSource } from './parse-yaml-source.js';
import type { PartnerConfig } from './schema.js';

/** One problem per unusable key of each partner with `transform.pgp`, placed at the field that names it. */
export async function checkTransformKeys(
  partners: ReadonlyArray<{ file: string; partner: PartnerConfig; source: YamlSource }>,
  dir: string,
  env: NodeJS.ProcessEnv,
  now: Date = new Date(),
): Promise<ConfigProblem[]> {
  const problems: ConfigProblem[] = [];
  for (const { file, partner, source } of partners) {
    const pgp = resolveTransformFiles(partner, dir).transform?.pgp;
    if (pgp === undefined) continue;
    const found = await readPgpKeys(pgp, env, now);
    for (const p of found.problems) {
      const path = ['transform', 'pgp', p.field];
      const { line, col } = locatePath(source, path);
      problems.push({ file, line, col, path: path.join('.'), message: p.message });
    }
  }
  return problems;
}

/** Relative key and passphrase files are relative to the config directory, like the SFTP secrets. */
export function resolveTransformFiles(partner: PartnerConfig, dir: string): PartnerConfig {
  const pgp = partner.transform?.pgp;
  if (pgp === undefined) return partner;
  const out = { ...pgp };
  for (const key of ['recipientKeysFile', 'signingKeyFile', 'passphraseFile'] as const) {
    const ref = out[key];
    if (ref !== undefined && !isAbsolute(ref)) out[key] = resolve(dir, ref);
  }
  return { ...partner, transform: { ...partner.transform!, pgp: out } };
}
