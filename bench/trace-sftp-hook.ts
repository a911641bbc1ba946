// Loaded into the worker by `small-files --trace` (node --import): counts the SFTP requests Ferry
// sends, by method, and writes them as JSON to $FERRY_TRACE_SFTP_FILE when the process exits. The
// server cannot tell us (internal-sftp logs only to syslog), so the client's calls are counted.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const METHODS = [
  'open',
  'close',
  'write',
  'read',
  'stat',
  'lstat',
  'fstat',
  'setstat',
  'fsetstat',
  'rename',
  'ext_openssh_rename',
  'unlink',
  'realpath',
  'mkdir',
  'readdir',
  'opendir',
] as const;

const out = process.env.FERRY_TRACE_SFTP_FILE;
if (out) {
  const require = createRequire(import.meta.url);
  const { SFTP } = require('ssh2/lib/protocol/SFTP.js') as {
    SFTP: { prototype: Record<string, (...args: unknown[]) => unknown> };
  };
  const counts: Record<string, number> = {};
  for (const name of METHODS) {
    const original = SFTP.prototype[name];
    if (typeof original !== 'function') continue;
    SFTP.prototype[name] = function (this: unknown, ...args: unknown[]) {
      counts[name] = (counts[name] ?? 0) + 1;
      return original.apply(this, args);
    };
  }
  process.on('exit', () => writeFileSync(out, JSON.stringify(counts)));
}
