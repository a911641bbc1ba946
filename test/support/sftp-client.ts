// Ferry's SFTP adapter logged in to a harness sshd with its key: what adapter-level tests connect with.
import { readFile } from 'node:fs/promises';
import {
  connectSftp,
  type SftpConnectOptions,
  type SftpConnection,
} from '../../src/adapters/sftp-connection.js';
import type { SshdHandle } from './sshd.js';

/** Connects to `server` as its SFTP user, host key pinned; `overrides` replace any option. */
export async function connectToSshd(
  server: SshdHandle,
  overrides: Partial<SftpConnectOptions> = {},
): Promise<SftpConnection> {
  return connectSftp({
    host: server.host,
    port: server.port,
    username: server.username,
    hostKeys: [server.hostKeyFingerprint],
    auth: { privateKey: await readFile(server.privateKeyPath, 'utf8') },
    readyTimeoutMs: 10_000,
    keepaliveIntervalMs: 1_000,
    keepaliveCountMax: 3,
    ...overrides,
  });
}
