import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Creates a fresh private directory such as `/tmp/ferry-<label>-XXXXXX` (mode 0700). */
export function makeTempDir(label: string): Promise<string> {
  const safeLabel = label.replace(/[^A-Za-z0-9_.-]+/g, '-') || 'tmp';
  return mkdtemp(join(tmpdir(), `ferry-${safeLabel}-`));
}
