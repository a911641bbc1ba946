import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Client, type SFTPWrapper } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer } from '../support/redis-server.js';
import { s3ClientFor, startServices, type Services } from '../support/services.js';
import { readSshdLog, type SshdHandle } from '../support/sshd.js';
import { makeTempDir } from '../support/temp-dir.js';

let services: Services;

beforeAll(async () => {
  services = await startServices({ buckets: ['exports'] });
});

afterAll(async () => {
  await services?.stop();
});

/** OpenSSH's fingerprint format: base64 sha256 of the raw key blob, without '=' padding. */
function fingerprintOf(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** Connects with the harness key; `accept` decides on the presented host key fingerprint. */
function connectSsh(sshd: SshdHandle, accept: (fingerprint: string) => boolean): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.once('ready', () => resolve(client));
    client.once('error', reject);
    client.connect({
      host: sshd.host,
      port: sshd.port,
      username: sshd.username,
      privateKey: readFileSync(sshd.privateKeyPath),
      hostVerifier: (key: Buffer) => accept(fingerprintOf(key)),
      readyTimeout: 10_000,
    });
  });
}

async function uploadViaSftp(client: Client, remotePath: string, data: string): Promise<void> {
  const sftp = await new Promise<SFTPWrapper>((resolve, reject) =>
    client.sftp((error, session) => (error ? reject(error) : resolve(session))),
  );
  await new Promise<void>((resolve, reject) =>
    sftp.writeFile(remotePath, data, (error) => (error ? reject(error) : resolve())),
  );
  sftp.end();
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

describe('redis-server', () => {
  it('answers PING and runs with AOF and noeviction', async () => {
    const redis = new Redis(services.redis.url);
    try {
      expect(await redis.ping()).toBe('PONG');
      expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await redis.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    } finally {
      await redis.quit();
    }
  });

  it('keeps data across stop and start on the same port', async () => {
    const before = new Redis(services.redis.url);
    await before.set('harness:survivor', 'still here');
    await before.quit();

    const oldPid = services.redis.pid;
    await services.redis.stop();
    expect(processExists(oldPid)).toBe(false);
    await services.redis.start();

    const after = new Redis(services.redis.url);
    try {
      expect(services.redis.pid).not.toBe(oldPid);
      expect(await after.get('harness:survivor')).toBe('still here');
    } finally {
      await after.quit();
    }
  });

  it('fails to start with the log tail when its port is taken', async () => {
    const dir = await makeTempDir('redis-clash');
    try {
      const attempt = startRedisServer({ dir, port: services.redis.port });
      await expect(attempt).rejects.toMatchObject({ name: 'ServiceStartError', exitedEarly: true });
      await expect(attempt).rejects.toThrow(join(dir, 'redis.log'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('sshd', () => {
  it('serves SFTP to a non-root user with the generated key and a pinned host key', async () => {
    const { sshd } = services;
    const uid = Number(execFileSync('id', ['-u', sshd.username], { encoding: 'utf8' }).trim());
    expect(uid).not.toBe(0);
    expect((await stat(sshd.privateKeyPath)).mode & 0o777).toBe(0o600);

    const client = await connectSsh(sshd, (fingerprint) => fingerprint === sshd.hostKeyFingerprint);
    try {
      await uploadViaSftp(client, `${sshd.inbound}/hello.csv`, 'id,name\n1,ferry\n');
    } finally {
      client.end();
    }

    const local = join(sshd.inbound, 'hello.csv');
    expect(await readFile(local, 'utf8')).toBe('id,name\n1,ferry\n');
    expect((await stat(local)).uid).toBe(uid);
    expect(await readSshdLog(sshd)).toContain(`Accepted publickey for ${sshd.username}`);
  });

  it('presents a different host key after a restart with newHostKey', async () => {
    const { sshd } = services;
    const oldFingerprint = sshd.hostKeyFingerprint;
    await sshd.start({ newHostKey: true });
    expect(sshd.hostKeyFingerprint).not.toBe(oldFingerprint);

    await expect(connectSsh(sshd, (fingerprint) => fingerprint === oldFingerprint)).rejects.toThrow();
    const client = await connectSsh(sshd, (fingerprint) => fingerprint === sshd.hostKeyFingerprint);
    client.end();
  });
});

describe('s3rver', () => {
  it('stores objects and paginates ListObjectsV2', async () => {
    const s3 = s3ClientFor(services.s3);
    try {
      for (const key of ['exports/a.csv', 'exports/b.csv', 'exports/c.csv']) {
        await s3.send(new PutObjectCommand({ Bucket: 'exports', Key: key, Body: `${key}\n` }));
      }
      const first = await s3.send(new ListObjectsV2Command({ Bucket: 'exports', MaxKeys: 2 }));
      expect(first.IsTruncated).toBe(true);
      expect(first.Contents?.map((object) => object.Key)).toEqual(['exports/a.csv', 'exports/b.csv']);

      const second = await s3.send(
        new ListObjectsV2Command({
          Bucket: 'exports',
          MaxKeys: 2,
          ContinuationToken: first.NextContinuationToken,
        }),
      );
      expect(second.IsTruncated).toBe(false);
      expect(second.Contents?.map((object) => object.Key)).toEqual(['exports/c.csv']);
    } finally {
      s3.destroy();
    }
  });
});

describe('stop()', () => {
  it('ends every service process, including open SSH sessions', async () => {
    const client = await connectSsh(
      services.sshd,
      (fingerprint) => fingerprint === services.sshd.hostKeyFingerprint,
    );
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.on('error', () => {}); // the server going away is the point
    const pids = [services.redis.pid, services.sshd.pid, services.s3.pid];

    await services.stop();

    await closed;
    for (const pid of pids) expect(processExists(pid)).toBe(false);
  });
});
