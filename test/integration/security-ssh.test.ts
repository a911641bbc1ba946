// Per-partner SSH algorithm allow-lists and host-key type pinning, against real OpenSSH servers: one
// that offers only a legacy cipher (aes128-cbc) and one with default settings and an ed25519 host key.
import type { S3Client } from '@aws-sdk/client-s3';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SftpConnection, type SftpConnectOptions } from '../../src/adapters/sftp-connection.js';
import { parseHostKeyPin } from '../../src/core/ssh-algorithms.js';
import { FerryError } from '../../src/errors.js';
import { startFerry, type RunningFerry } from '../../src/main.js';
import { writeFerryConfig, type FerryFixture } from '../support/ferry-fixture.js';
import {
  captureLogger,
  loadConfigOrThrow,
  putObjects,
  readPartnerDir,
  sweepAndWait,
  waitFor,
} from '../support/pipeline.js';
import { s3ClientFor, startServices, type Services } from '../support/services.js';
import { readSshdLog, startSshd, type SshdHandle } from '../support/sshd.js';
import { connectToSshd } from '../support/sftp-client.js';

// Any syntactically valid fingerprint that is not the server's.
const OTHER_FINGERPRINT = 'SHA256:Zm9yLXRlc3RzLW9ubHktbm90LXRoZS1zZXJ2ZXJzLWt';

let services: Services; // its sshd offers aes128-cbc only
let modern: SshdHandle; // a default sshd with an ed25519 host key
let fixture: FerryFixture;
let s3: S3Client;
let redis: Redis;
let ferry: RunningFerry;
const open = new Set<SftpConnection>();
const logs = captureLogger();

beforeAll(async () => {
  [services, modern] = await Promise.all([
    startServices({
      buckets: ['warehouse-exports', 'ferry-audit'],
      sshd: { extraConfig: ['Ciphers aes128-cbc'] },
    }),
    startSshd(),
  ]);
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  process.env.FERRY_ADMIN_PASSWORD = 'ssh-admin-password';
  fixture = await writeFerryConfig(services, {
    partners: [
      { id: 'legacy', prefix: 'legacy/' },
      { id: 'modern', prefix: 'modern/', attempts: 3 },
    ],
  });
  const legacyFile = join(fixture.dir, 'partners', 'legacy.yaml');
  const yaml = await readFile(legacyFile, 'utf8');
  await writeFile(
    legacyFile,
    yaml.replace(
      /^( {2}maxConnections: .*)$/m,
      '$1\n  algorithms: { cipher: [aes128-gcm@openssh.com, aes128-cbc] }',
    ),
  );
  s3 = s3ClientFor(services.s3);
  redis = new Redis(services.redis.url);
  ferry = await startFerry({
    config: await loadConfigOrThrow(fixture.dir),
    role: 'worker',
    env: process.env,
    logger: logs.logger,
    watch: false,
  });
});

afterAll(async () => {
  await Promise.all([...open].map((c) => c.close()));
  await ferry?.close();
  redis?.disconnect();
  s3?.destroy();
  await Promise.all([services?.stop(), modern?.stop()]);
});

async function connect(server: SshdHandle, overrides: Partial<SftpConnectOptions>): Promise<SftpConnection> {
  const connection = await connectToSshd(server, overrides);
  open.add(connection);
  return connection;
}

function codeOf(err: unknown): string {
  expect(err).toBeInstanceOf(FerryError);
  return (err as FerryError).code;
}

/** The sshd log written since `offset`, once sshd logged the end of the refused connection. */
async function logSince(server: SshdHandle, offset: number, ending: RegExp): Promise<string> {
  return waitFor(async () => {
    const text = (await readSshdLog(server)).slice(offset);
    return ending.test(text) ? text : undefined;
  }, 'sshd to log the refused connection');
}

const AUTH_ATTEMPT = /Accepted|Failed publickey|Postponed publickey|userauth/i;

describe('algorithm allow-lists', () => {
  it('refuses a server that offers only a legacy cipher with the default lists, before any auth attempt', async () => {
    const offset = (await readSshdLog(services.sshd)).length;
    const err = await connect(services.sshd, {}).catch((e: unknown) => e);
    expect(codeOf(err)).toBe('ERR_SFTP_ALGORITHMS');
    const log = await logSince(services.sshd, offset, /Unable to negotiate/);
    expect(log).toMatch(/no matching cipher found/);
    expect(log).not.toMatch(AUTH_ATTEMPT);
  });

  it('negotiates exactly the algorithms a partner lists', async () => {
    const connection = await connect(modern, {
      algorithms: {
        kex: ['diffie-hellman-group16-sha512'],
        cipher: ['aes256-ctr'],
        hmac: ['hmac-sha2-512-etm@openssh.com'],
      },
    });
    expect(connection.negotiated).toEqual({
      kex: 'diffie-hellman-group16-sha512',
      serverHostKey: 'ssh-ed25519',
      cipher: 'aes256-ctr',
      hmac: 'hmac-sha2-512-etm@openssh.com',
    });
  });

  it('delivers to the legacy server for the partner that names the legacy cipher, with a WARN on connect', async () => {
    const [object] = await putObjects(s3, fixture.bucket, [{ key: 'legacy/orders.csv', size: 70_000 }]);
    const { code, summary } = await sweepAndWait(ferry.getConfig(), 'legacy');
    expect(summary).toMatch(/^delivered 1,/);
    expect(code).toBe(0);
    expect((await readPartnerDir(fixture.partnerDirs.legacy!)).finals.get('orders.csv')?.sha256).toBe(
      object!.sha256,
    );
    const warnings = logs
      .lines()
      .filter((l) => l.level === 'warn' && l.partnerId === 'legacy' && l.legacyAlgorithms);
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    expect(warnings[0]).toMatchObject({
      legacyAlgorithms: ['cipher:aes128-cbc'],
      negotiated: { cipher: 'aes128-cbc' },
    });
  });

  it('fails the partner on default lists against the same server at once (permanent, no retry)', async () => {
    await putObjects(s3, fixture.bucket, [{ key: 'modern/orders.csv', size: 100 }]);
    const { code } = await sweepAndWait(ferry.getConfig(), 'modern');
    expect(code).toBe(1);
    const queue = new Queue('deliver', { connection: redis, prefix: '{ferry}' });
    const [job] = (await queue.getJobs(['failed'])).filter((j) => j.data.partnerId === 'modern');
    await queue.close();
    expect(job?.failedReason).toMatch(/ERR_SFTP_ALGORITHMS/);
    expect(job?.attemptsMade).toBe(1);
    expect(logs.lines().some((l) => l.partnerId === 'modern' && l.legacyAlgorithms)).toBe(false);
  });
});

describe('host-key pins with a key type', () => {
  it('uses a well-formed stand-in fingerprint in these tests', () => {
    expect(parseHostKeyPin(OTHER_FINGERPRINT)).toEqual({ fingerprint: OTHER_FINGERPRINT });
  });

  it('connects when the pin names the server key type', async () => {
    const connection = await connect(modern, { hostKeys: [`ssh-ed25519 ${modern.hostKeyFingerprint}`] });
    expect(connection.negotiated?.serverHostKey).toBe('ssh-ed25519');
  });

  it('offers only the pinned key types: another type is refused at negotiation, before any auth attempt', async () => {
    const offset = (await readSshdLog(modern)).length;
    const err = await connect(modern, {
      hostKeys: [`ecdsa-sha2-nistp256 ${modern.hostKeyFingerprint}`],
    }).catch((e: unknown) => e);
    expect(codeOf(err)).toBe('ERR_SFTP_ALGORITHMS');
    const log = await logSince(modern, offset, /Unable to negotiate/);
    expect(log).toMatch(/no matching host key type found/);
    expect(log).not.toMatch(AUTH_ATTEMPT);
  });

  it('refuses a key whose fingerprint is pinned only under another key type', async () => {
    // ed25519 is negotiable (the second pin), but the server's fingerprint is pinned as an RSA key.
    const err = await connect(modern, {
      hostKeys: [`ssh-rsa ${modern.hostKeyFingerprint}`, `ssh-ed25519 ${OTHER_FINGERPRINT}`],
    }).catch((e: unknown) => e);
    expect(codeOf(err)).toBe('ERR_HOST_KEY_MISMATCH');
    expect((err as FerryError).details).toMatchObject({
      presented: modern.hostKeyFingerprint,
      presentedType: 'ssh-ed25519',
    });
  });

  it('keeps accepting any key type for a bare fingerprint pin', async () => {
    const connection = await connect(modern, {
      hostKeys: [modern.hostKeyFingerprint, `ecdsa-sha2-nistp256 ${OTHER_FINGERPRINT}`],
    });
    expect(connection.negotiated?.serverHostKey).toBe('ssh-ed25519');
  });
});
