// Outbound SFTP through an egress proxy (SOCKS5 and HTTP CONNECT), per partner and from ferry.yaml, with
// real proxy processes on loopback. The partner's host name "partner.internal" resolves only inside the
// proxies, and sshd sits behind a counting TCP proxy: a delivery can only succeed through an egress
// proxy, and every connection the partner ever saw must have been relayed by one.
import type { S3Client } from '@aws-sdk/client-s3';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { lookup } from 'node:dns/promises';
import { readFile, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { openEgressSocket, type EgressProxy } from '../../src/adapters/egress-proxy.js';
import { connectSftp } from '../../src/adapters/sftp-connection.js';
import { FerryError } from '../../src/errors.js';
import { startFerry, type RunningFerry } from '../../src/main.js';
import { startConnectProxy } from '../support/connect-proxy.js';
import { writeFerryConfig, type FerryFixture } from '../support/ferry-fixture.js';
import { getFreePort } from '../support/free-port.js';
import {
  captureLogger,
  dumpRedisAsText,
  loadConfigOrThrow,
  putObjects,
  readPartnerDir,
  sweepAndWait,
} from '../support/pipeline.js';
import { s3ClientFor, startServices, type Services } from '../support/services.js';
import { startSocksProxy, type TestProxy } from '../support/socks-proxy.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

const PARTNER_HOST = 'partner.internal';
const PROXY_USER = 'ferry-egress';
const PROXY_PASSWORD = 'egress-canary-4f1b9c0d2e7a';
const WRONG_PASSWORD = 'egress-wrong-canary-8d3e21';

let services: Services;
let fixture: FerryFixture;
let s3: S3Client;
let redis: Redis;
let ferry: RunningFerry;
/** The partner's front door: sshd is only reachable by name through the egress proxies. */
let partnerDoor: TcpProxy;
let socksWithAuth: TestProxy;
let socksGlobal: TestProxy;
let connectProxy: TestProxy;
const proxies: TestProxy[] = [];
const logs = captureLogger();

const sweep = (partnerId: string) => sweepAndWait(ferry.getConfig(), partnerId);
const relayedToPartner = () => proxies.reduce((sum, p) => sum + p.relayed, 0);

/** Points a generated partner file at the partner's name and door, and adds target lines. */
async function patchPartner(id: string, lines: string[], direct = false): Promise<void> {
  const file = join(fixture.dir, 'partners', `${id}.yaml`);
  let yaml = await readFile(file, 'utf8');
  if (!direct) {
    yaml = yaml
      .replace(/^ {2}host: .*$/m, `  host: ${PARTNER_HOST}`)
      .replace(/^ {2}port: .*$/m, `  port: ${partnerDoor.port}`);
  }
  yaml = yaml.replace(/^( {2}maxConnections: .*)$/m, ['$1', ...lines.map((l) => `  ${l}`)].join('\n'));
  await writeFile(file, yaml);
}

beforeAll(async () => {
  services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  process.env.FERRY_ADMIN_PASSWORD = 'egress-admin-password';
  process.env.EGRESS_PROXY_PASSWORD = PROXY_PASSWORD;
  process.env.EGRESS_WRONG_PASSWORD = WRONG_PASSWORD;

  partnerDoor = await startTcpProxy(services.sshd.port);
  const hosts = { [PARTNER_HOST]: '127.0.0.1' };
  socksWithAuth = await startSocksProxy({ hosts, auth: { username: PROXY_USER, password: PROXY_PASSWORD } });
  socksGlobal = await startSocksProxy({ hosts });
  connectProxy = await startConnectProxy({ hosts });
  proxies.push(socksWithAuth, socksGlobal, connectProxy);
  const deadProxyPort = await getFreePort();

  fixture = await writeFerryConfig(services, {
    partners: [
      { id: 'via-socks', prefix: 'via-socks/' },
      { id: 'via-connect', prefix: 'via-connect/' },
      { id: 'via-global', prefix: 'via-global/' },
      { id: 'opt-out', prefix: 'opt-out/' },
      { id: 'dead-proxy', prefix: 'dead-proxy/', attempts: 2, backoffSeconds: 1 },
      { id: 'wrong-password', prefix: 'wrong-password/', attempts: 3 },
    ],
    worker: 'concurrency: 4, connectTimeoutSeconds: 10',
  });
  const socksUrl = (proxy: TestProxy, user?: string) =>
    user === undefined ? proxy.url : proxy.url.replace('socks5://', `socks5://${user}@`);
  await patchPartner('via-socks', [
    `proxy: "${socksUrl(socksWithAuth, PROXY_USER)}"`,
    'proxyPasswordEnv: EGRESS_PROXY_PASSWORD',
  ]);
  await patchPartner('via-connect', [`proxy: "${connectProxy.url}"`]);
  await patchPartner('via-global', []);
  await patchPartner('opt-out', ['proxy: direct'], true);
  await patchPartner('dead-proxy', [`proxy: "socks5://127.0.0.1:${deadProxyPort}"`]);
  await patchPartner('wrong-password', [
    `proxy: "${socksUrl(socksWithAuth, PROXY_USER)}"`,
    'proxyPasswordEnv: EGRESS_WRONG_PASSWORD',
  ]);
  await appendFile(join(fixture.dir, 'ferry.yaml'), `sftp: { proxy: "${socksGlobal.url}" }\n`);

  s3 = s3ClientFor(services.s3);
  redis = new Redis(services.redis.url);
  ferry = await startFerry({
    config: await loadConfigOrThrow(fixture.dir),
    role: 'all',
    env: process.env,
    logger: logs.logger,
    watch: false,
  });
});

afterAll(async () => {
  await ferry?.close();
  redis?.disconnect();
  s3?.destroy();
  await Promise.all(proxies.map((p) => p.close()));
  await partnerDoor?.close();
  await services?.stop();
});

async function expectDelivered(partnerId: string, key: string, size: number): Promise<void> {
  const [object] = await putObjects(s3, fixture.bucket, [{ key, size }]);
  const { code, summary } = await sweep(partnerId);
  expect(summary).toMatch(/^delivered 1, already delivered 0, skipped 0, quarantined 0, failed 0/);
  expect(code).toBe(0);
  const dir = await readPartnerDir(fixture.partnerDirs[partnerId]!);
  expect(dir.finals.get(key.split('/').pop()!)?.sha256).toBe(object!.sha256);
  expect(dir.temps).toEqual([]);
}

async function onlyJobOf(partnerId: string) {
  const queue = new Queue('deliver', { connection: redis, prefix: '{ferry}' });
  try {
    const jobs = await queue.getJobs(['failed', 'completed']);
    const mine = jobs.filter((j) => (j.data as { partnerId?: string }).partnerId === partnerId);
    expect(mine).toHaveLength(1);
    return mine[0]!;
  } finally {
    await queue.close();
  }
}

describe('egress through a proxy', () => {
  it('cannot reach the partner directly: its name resolves only inside the proxies', async () => {
    await expect(lookup(PARTNER_HOST)).rejects.toMatchObject({ code: 'ENOTFOUND' });
    const err = await connectSftp({
      host: PARTNER_HOST,
      port: partnerDoor.port,
      username: services.sshd.username,
      hostKeys: [services.sshd.hostKeyFingerprint],
      auth: { privateKey: await readFile(services.sshd.privateKeyPath, 'utf8') },
      readyTimeoutMs: 5_000,
      keepaliveIntervalMs: 1_000,
      keepaliveCountMax: 3,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).code).toBe('ERR_SFTP_UNREACHABLE');
    expect(partnerDoor.accepted).toBe(0);
  });

  it('delivers through a SOCKS5 proxy with username/password auth', async () => {
    const before = socksWithAuth.relayed;
    await expectDelivered('via-socks', 'via-socks/orders.csv', 256 * 1024);
    expect(socksWithAuth.relayed).toBeGreaterThan(before);
    expect(new Set(socksWithAuth.destinations)).toEqual(new Set([`${PARTNER_HOST}:${partnerDoor.port}`]));
  });

  it('delivers through an HTTP CONNECT proxy', async () => {
    const before = connectProxy.relayed;
    await expectDelivered('via-connect', 'via-connect/orders.csv', 300_001);
    expect(connectProxy.relayed).toBeGreaterThan(before);
    expect(new Set(connectProxy.destinations)).toEqual(new Set([`${PARTNER_HOST}:${partnerDoor.port}`]));
  });

  it('uses ferry.yaml sftp.proxy for a partner without its own proxy', async () => {
    const before = socksGlobal.relayed;
    await expectDelivered('via-global', 'via-global/orders.csv', 4096);
    expect(socksGlobal.relayed).toBeGreaterThan(before);
  });

  it('connects directly for a partner with proxy: direct, whatever ferry.yaml says', async () => {
    const relayed = relayedToPartner();
    const globalAccepted = socksGlobal.accepted;
    await expectDelivered('opt-out', 'opt-out/orders.csv', 4096);
    expect(relayedToPartner()).toBe(relayed);
    expect(socksGlobal.accepted).toBe(globalAccepted);
  });

  it('fails an attempt through a dead proxy as ERR_SFTP_UNREACHABLE and retries it (transient)', async () => {
    await putObjects(s3, fixture.bucket, [{ key: 'dead-proxy/orders.csv', size: 100 }]);
    const { code, summary } = await sweep('dead-proxy');
    expect(code).toBe(1);
    expect(summary).toMatch(/failed 1/);
    const job = await onlyJobOf('dead-proxy');
    expect(job.failedReason).toMatch(/ERR_SFTP_UNREACHABLE/);
    expect(job.failedReason).toMatch(/egress proxy socks5:\/\/127\.0\.0\.1:\d+/);
    expect(job.attemptsMade).toBe(2);
    expect((await readPartnerDir(fixture.partnerDirs['dead-proxy']!)).finals.size).toBe(0);
  });

  it('fails at once with ERR_PROXY_DENIED when the proxy refuses the credentials (permanent)', async () => {
    const refused = socksWithAuth.refused;
    await putObjects(s3, fixture.bucket, [{ key: 'wrong-password/orders.csv', size: 100 }]);
    const { code } = await sweep('wrong-password');
    expect(code).toBe(1);
    const job = await onlyJobOf('wrong-password');
    expect(job.failedReason).toMatch(/ERR_PROXY_DENIED/);
    expect(job.attemptsMade).toBe(1);
    expect(socksWithAuth.refused).toBe(refused + 1);
    expect((await readPartnerDir(fixture.partnerDirs['wrong-password']!)).finals.size).toBe(0);
  });

  it('sent every connection the partner ever accepted through an egress proxy', () => {
    // The opt-out partner goes straight to sshd, not through the partner's door.
    expect(partnerDoor.accepted).toBeGreaterThan(0);
    expect(partnerDoor.accepted).toBe(relayedToPartner());
  });

  it('keeps the proxy passwords out of logs and Redis', async () => {
    const everything = logs.text() + (await dumpRedisAsText(redis));
    expect(everything).not.toContain(PROXY_PASSWORD);
    expect(everything).not.toContain(WRONG_PASSWORD);
  });
});

describe('the egress proxy handshakes', () => {
  const servers: Server[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  });

  /** A TCP server on `host` that runs `onConnection` for each client; resolves with its port. */
  async function serve(host: string, onConnection: (socket: Socket) => void): Promise<number> {
    const server = createServer((socket) => {
      socket.on('error', () => socket.destroy());
      onConnection(socket);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    return (server.address() as AddressInfo).port;
  }

  /** The first bytes the opened socket yields. */
  function firstData(socket: Socket): Promise<string> {
    return new Promise((resolve, reject) => {
      socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1')));
      socket.once('error', reject);
      socket.resume();
    });
  }

  const proxyAt = (url: string, extra: Partial<EgressProxy> = {}): EgressProxy => {
    const u = new URL(url);
    return {
      protocol: u.protocol === 'http:' ? 'http' : 'socks5',
      host: u.hostname,
      port: Number(u.port),
      ...extra,
    };
  };

  it('reaches IPv4 and IPv6 literals through SOCKS5 and hands over a socket that carries the stream', async () => {
    const banner = (socket: Socket) => socket.end('SSH-2.0-test\r\n');
    const v4 = await serve('127.0.0.1', banner);
    const v6 = await serve('::1', banner);
    for (const target of [
      { host: '127.0.0.1', port: v4 },
      { host: '::1', port: v6 },
    ]) {
      const socket = await openEgressSocket(target, proxyAt(socksGlobal.url));
      expect(await firstData(socket)).toBe('SSH-2.0-test\r\n');
      socket.destroy();
    }
    expect(socksGlobal.destinations).toEqual(
      expect.arrayContaining([`127.0.0.1:${v4}`, `0:0:0:0:0:0:0:1:${v6}`]),
    );
  });

  it('keeps server bytes that arrive in the same packet as the proxy reply (SOCKS5 and CONNECT)', async () => {
    // Fake proxies that answer and send the "server banner" in one write.
    const socksPort = await serve('127.0.0.1', (socket) => {
      let seen = 0;
      socket.on('data', (chunk: Buffer) => {
        seen += chunk.length;
        // greeting (3 bytes) + request (4 + 1 + name + 2) for "partner.internal"
        if (seen >= 3 + 7 + PARTNER_HOST.length) {
          socket.write(
            Buffer.concat([Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 22]), Buffer.from('BANNER')]),
          );
        } else if (seen === 3) {
          socket.write(Buffer.from([5, 0]));
        }
      });
    });
    const httpPort = await serve('127.0.0.1', (socket) => {
      socket.once('data', () =>
        socket.write('HTTP/1.1 200 Connection Established\r\nX-Test: 1\r\n\r\nBANNER'),
      );
    });
    for (const url of [`socks5://127.0.0.1:${socksPort}`, `http://127.0.0.1:${httpPort}`]) {
      const socket = await openEgressSocket({ host: PARTNER_HOST, port: 22 }, proxyAt(url));
      expect(await firstData(socket)).toBe('BANNER');
      socket.destroy();
    }
  });

  it('sends Basic proxy credentials with CONNECT, and maps a 407 to ERR_PROXY_DENIED', async () => {
    const guarded = await startConnectProxy({
      hosts: { [PARTNER_HOST]: '127.0.0.1' },
      auth: { username: PROXY_USER, password: PROXY_PASSWORD },
    });
    proxies.push(guarded);
    const target = { host: PARTNER_HOST, port: partnerDoor.port };
    const ok = await openEgressSocket(
      target,
      proxyAt(guarded.url, { username: PROXY_USER, password: PROXY_PASSWORD }),
    );
    expect(await firstData(ok)).toMatch(/^SSH-2\.0-/);
    ok.destroy();
    const err = await openEgressSocket(
      target,
      proxyAt(guarded.url, { username: PROXY_USER, password: WRONG_PASSWORD }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FerryError);
    expect(err).toMatchObject({ code: 'ERR_PROXY_DENIED', details: { httpStatus: 407 } });
    expect((err as Error).message).not.toContain(WRONG_PASSWORD);
  });

  it('maps a proxy that cannot reach the target to ERR_SFTP_UNREACHABLE (SOCKS5 reply, HTTP 502)', async () => {
    for (const proxy of [socksGlobal, connectProxy]) {
      const err = await openEgressSocket({ host: 'nowhere.internal', port: 22 }, proxyAt(proxy.url)).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(FerryError);
      expect((err as FerryError).code).toBe('ERR_SFTP_UNREACHABLE');
      expect((err as FerryError).details).toMatchObject(
        proxy === socksGlobal ? { socksReply: 4 } : { httpStatus: 502 },
      );
    }
  });

  it('stops a handshake when aborted and closes the socket', async () => {
    // A "proxy" that accepts and never answers.
    const silentPort = await serve('127.0.0.1', () => undefined);
    const abort = new AbortController();
    const opening = openEgressSocket(
      { host: PARTNER_HOST, port: 22 },
      proxyAt(`socks5://127.0.0.1:${silentPort}`),
      {
        signal: abort.signal,
      },
    );
    abort.abort(new FerryError('ERR_SFTP_TIMEOUT', 'test timeout'));
    await expect(opening).rejects.toMatchObject({ code: 'ERR_SFTP_TIMEOUT' });
  });
});
