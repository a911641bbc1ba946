// Config holds references to secrets, never the secrets: the files end up in git, tickets and logs.
import { isMap, isScalar, isSeq } from 'yaml';
import { formatPath, type ConfigProblem } from './config-problem.js';
import { keyText, positionOf, type YamlPath, type YamlSource } from './parse-yaml-source.js';

export const INLINE_SECRET_MESSAGE =
  'secrets must be references (passwordEnv, passwordFile, privateKeyFile, privateKeyEnv, passphraseEnv)';

// Compared after lower-casing and dropping "_"/"-", as suffixes: adminPassword and client_secret count too.
const SECRET_KEY_WORDS = ['password', 'privatekey', 'passphrase', 'secret', 'secretaccesskey', 'token'];

export interface InlineSecret {
  path: YamlPath;
  problem: ConfigProblem;
}

/** True for a key that names a secret value (e.g. `password`), false for a reference (`passwordEnv`). */
export function isSecretKey(key: string): boolean {
  const normal = key.toLowerCase().replace(/[-_]/g, '');
  return SECRET_KEY_WORDS.some((word) => normal.endsWith(word));
}

/**
 * Every inline secret in the document: a key that names a secret, or a PEM block as a value.
 * The problem names the field only; the value is never copied anywhere.
 */
export function findInlineSecrets(source: YamlSource): InlineSecret[] {
  const found: InlineSecret[] = [];
  const report = (path: YamlPath, offset: number): void => {
    const { line, col } = positionOf(source, offset);
    found.push({
      path,
      problem: { file: source.file, line, col, path: formatPath(path), message: INLINE_SECRET_MESSAGE },
    });
  };
  const walk = (node: unknown, path: YamlPath): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = keyText(pair.key);
        const keyRange = isScalar(pair.key) ? pair.key.range : undefined;
        if (isSecretKey(key) && keyRange) report([...path, key], keyRange[0]);
        else walk(pair.value, [...path, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, [...path, i]));
    } else if (isScalar(node) && typeof node.value === 'string' && node.range) {
      if (node.value.trimStart().startsWith('-----BEGIN')) report(path, node.range[0]);
    }
  };
  walk(source.doc.contents, []);
  return found;
}
