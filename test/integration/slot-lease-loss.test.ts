// Two workers share one partner with maxConnections: 1. Worker A loses Redis (and so its slot lease)
// while it uses its connection; worker B then takes the slot. The partner must never see two
// connections: A's pool has to give its connection up before B's slot is granted.
import { readFile, rm } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectSftp, type SftpConnection } from '../../src/adapters/sftp-connection.js';
import { createSftpPool, type SftpPool, type SlotLease } from '../../src/adapters/sftp-pool.js';
import { FerryError } from '../../src/errors.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { createRedisSemaphore, type Semaphore } from '../../src/ledger/redis-semaphore.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { startSshd, type SshdHandle } from '../support/sshd.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

const LEASE_MS = 2_000;
const MAX_CONNECTIONS = 1;
const keys = createRedisKeys('{ferry-test}');

let redisServer: RedisServerHandle;
let sshd: SshdHandle;
let privateKey: string;
let uniq = 0;
// Started per test and stopped after it, in reverse order.
let cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  [redisServer, sshd] = await Promise.all([startRedisServer(), startSshd()]);
  privateKey = await readFile(sshd.privateKeyPath, 'utf8');
});

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

afterAll(async () => {
  await Promise.all([redisServer?.stop(), sshd?.stop()]);
  if (redisServer) await rm(redisServer.dir, { recursive: true, force: true });
});

interface Worker {
  pool: SftpPool;
  semaphore: Semaphore;
  leases: SlotLease[];
}

/**
 * One worker process: its own ioredis connection (at `redisPort`), semaphore and pool. Every SFTP
 * connection goes through `partner`, the proxy that counts what the partner's server sees.
 * `onSlot` runs the moment a slot is granted, before the pool connects with it.
 */
function startWorker(options: {
  partnerId: string;
  redisPort: number;
  partner: TcpProxy;
  onSlot?: (lease: SlotLease) => void;
  /** The control: a pool that never hears about a lost lease. */
  ignoreLoss?: boolean;
}): Worker {
  const redis = new Redis(options.redisPort, '127.0.0.1');
  redis.on('error', () => undefined); // the cut link is the point of the test
  const semaphore = createRedisSemaphore(redis, keys, { leaseMs: LEASE_MS });
  const leases: SlotLease[] = [];
  const pool = createSftpPool({
    idleTimeoutMs: 60_000,
    acquireSlot: async (_partnerKey, signal) => {
      const lease = await semaphore.acquire(options.partnerId, MAX_CONNECTIONS, {
        ...(signal ? { signal } : {}),
        timeoutMs: 30_000,
      });
      leases.push(lease);
      options.onSlot?.(lease);
      return options.ignoreLoss
        ? { lost: new AbortController().signal, release: () => lease.release() }
        : lease;
    },
    connect: (): Promise<SftpConnection> =>
      connectSftp({
        host: '127.0.0.1',
        port: options.partner.port,
        username: sshd.username,
        hostKeys: [sshd.hostKeyFingerprint],
        auth: { privateKey },
        readyTimeoutMs: 10_000,
        keepaliveIntervalMs: 1_000,
        keepaliveCountMax: 3,
      }),
  });
  cleanups.push(async () => {
    await pool.close();
    semaphore.close();
    redis.disconnect();
  });
  return { pool, semaphore, leases };
}

/** Starts an upload on a connection of A's pool that stays in progress until the connection goes. */
function holdBusyUpload(pool: SftpPool, name: string): { started: Promise<void>; session: Promise<unknown> } {
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const source = new PassThrough();
  const session = pool.withSession('partner', (connection) => {
    const upload = connection.upload(`${sshd.inbound}/${name}`, source, {
      mode: 0o640,
      onProgress: () => markStarted(),
    });
    // More than one WRITE's worth (the writer sends whole writes only), and never ended.
    source.write(Buffer.alloc(1024 * 1024, 1));
    return upload;
  });
  // A session that fails before any byte is acknowledged also ends the wait; the test sees why in `session`.
  void session.catch(() => markStarted());
  return { started, session };
}

async function setUp(): Promise<{ partnerId: string; redisForA: TcpProxy; partner: TcpProxy }> {
  const partnerId = `lease-loss-${++uniq}`;
  const redisForA = await startTcpProxy(redisServer.port);
  const partner = await startTcpProxy(sshd.port);
  cleanups.push(
    () => redisForA.close(),
    () => partner.close(),
  );
  return { partnerId, redisForA, partner };
}

describe('a lost connection-slot lease', () => {
  it("closes worker A's busy connection before worker B gets the slot, so the partner never sees more than maxConnections", async () => {
    const { partnerId, redisForA, partner } = await setUp();
    const events: string[] = [];
    const a = startWorker({ partnerId, redisPort: redisForA.port, partner });
    const busy = holdBusyUpload(a.pool, `a-${partnerId}.part`);
    await busy.started;
    const leaseA = a.leases[0]!;
    leaseA.lost.addEventListener('abort', () => events.push('A lease lost'));
    expect(partner.open).toBe(1);

    // Redis unreachable for A only: its link is cut, and every reconnect is accepted but never answered.
    redisForA.setFault({ kind: 'blackhole', afterBytes: 0 });
    redisForA.resetAll();

    let atBSlot: { aLost: boolean; aReason: unknown; aOpen: number; partnerOpen: number } | undefined;
    const b = startWorker({
      partnerId,
      redisPort: redisServer.port,
      partner,
      onSlot: () => {
        events.push('B slot');
        atBSlot = {
          aLost: leaseA.lost.aborted,
          aReason: (leaseA.lost.reason as FerryError | undefined)?.details.reason,
          aOpen: a.pool.stats().open,
          partnerOpen: partner.open,
        };
      },
    });
    const served = await b.pool.withSession('partner', async (connection) => {
      events.push('B connected');
      return connection.stat(sshd.inbound);
    });
    const aFailure = await busy.session.catch((err: unknown) => err);

    expect(served).toBeDefined();
    // The local clock declared A's lease lost before Redis let it expire, hence before B's slot.
    expect(events).toEqual(['A lease lost', 'B slot', 'B connected']);
    expect(atBSlot).toEqual({ aLost: true, aReason: 'unconfirmed', aOpen: 0, partnerOpen: 0 });
    expect(aFailure).toBeInstanceOf(FerryError);
    expect(aFailure).toMatchObject({ code: 'ERR_SLOT_LOST' });
    expect((aFailure as FerryError).intent).toBe('transient');
    // Every connection the partner ever saw, counted by the proxy: never two at once.
    expect(partner.accepted).toBe(2);
    expect(partner.maxOpen).toBeLessThanOrEqual(MAX_CONNECTIONS);

    expect(await b.semaphore.count(partnerId)).toBe(1);
  });

  it('closes an idle pooled connection of worker A as soon as its lease is lost', async () => {
    const { partnerId, redisForA, partner } = await setUp();
    const a = startWorker({ partnerId, redisPort: redisForA.port, partner });
    await a.pool.withSession('partner', (connection) => connection.stat(sshd.inbound));
    expect(a.pool.stats()).toMatchObject({ open: 1, idle: 1 });
    const lost = new Promise<void>((resolve) => a.leases[0]!.lost.addEventListener('abort', () => resolve()));

    redisForA.setFault({ kind: 'blackhole', afterBytes: 0 });
    redisForA.resetAll();
    await lost;

    expect(a.pool.stats().open).toBe(0);
  });

  // The control: the same outage against a pool that keeps its connection shows what the test catches.
  it('lets the partner see two connections when a pool ignores the lost lease', async () => {
    const { partnerId, redisForA, partner } = await setUp();
    const a = startWorker({ partnerId, redisPort: redisForA.port, partner, ignoreLoss: true });
    const busy = holdBusyUpload(a.pool, `a-${partnerId}.part`);
    await busy.started;

    redisForA.setFault({ kind: 'blackhole', afterBytes: 0 });
    redisForA.resetAll();
    const b = startWorker({ partnerId, redisPort: redisServer.port, partner });
    await b.pool.withSession('partner', (connection) => connection.stat(sshd.inbound));

    expect(partner.maxOpen).toBe(2);
    // End A's upload so its pool can close.
    await a.pool.evict('partner');
    partner.resetAll();
    await busy.session.catch(() => undefined);
  });
});
