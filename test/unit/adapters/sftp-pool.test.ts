import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SftpConnection } from '../../../src/adapters/sftp-connection.js';
import { createSftpPool, type SftpPoolOptions, type SlotLease } from '../../../src/adapters/sftp-pool.js';
import { FerryError } from '../../../src/errors.js';

interface FakeConnection extends SftpConnection {
  readonly partnerKey: string;
  closeCalls: number;
  /** Simulates the server dropping the connection. */
  die(): void;
}

function fakeConnection(partnerKey: string, n: number): FakeConnection {
  let alive = true;
  const listeners: Array<() => void> = [];
  const die = (): void => {
    if (!alive) return;
    alive = false;
    for (const listener of listeners.splice(0)) listener();
  };
  const unused = (): Promise<never> => Promise.reject(new Error('not used by the pool'));
  return {
    id: `fake-${partnerKey}-${n}`,
    partnerKey,
    closeCalls: 0,
    get alive() {
      return alive;
    },
    supportsPosixRename: true,
    stat: unused,
    upload: unused,
    rename: unused,
    posixRename: unused,
    remove: unused,
    sha256Of: unused,
    readHead: unused,
    list: unused,
    onClose(listener) {
      if (alive) listeners.push(listener);
      else listener();
    },
    close() {
      this.closeCalls++;
      die();
      return Promise.resolve();
    },
    die,
  };
}

/** A fake cross-process semaphore (optionally capped) and connection factory that record what happened. */
function fakes(options: { capacity?: number; failConnect?: boolean } = {}) {
  const capacity = options.capacity ?? Infinity;
  let held = 0;
  const queue: Array<() => void> = [];
  const connections: FakeConnection[] = [];
  // One controller per lease granted, in order: aborting one is how a test loses that slot.
  const losers: AbortController[] = [];
  const lease = (): SlotLease => {
    let released = false;
    const lost = new AbortController();
    losers.push(lost);
    return {
      lost: lost.signal,
      release: () => {
        if (!released) {
          released = true;
          held--;
          queue.shift()?.();
        }
        return Promise.resolve();
      },
    };
  };
  /** A slot only when one is free now, as the Redis semaphore's tryAcquire. */
  const tryAcquireSlot = vi.fn((): Promise<SlotLease | undefined> => {
    if (held >= capacity) return Promise.resolve(undefined);
    held++;
    return Promise.resolve(lease());
  });
  const acquireSlot = vi.fn((_partnerKey: string, signal?: AbortSignal): Promise<SlotLease> => {
    if (held < capacity) {
      held++;
      return Promise.resolve(lease());
    }
    return new Promise<SlotLease>((resolve, reject) => {
      const grant = (): void => {
        held++;
        resolve(lease());
      };
      queue.push(grant);
      signal?.addEventListener('abort', () => {
        const index = queue.indexOf(grant);
        if (index >= 0) queue.splice(index, 1);
        reject(signal.reason as Error);
      });
    });
  });
  const connect = vi.fn((partnerKey: string): Promise<SftpConnection> => {
    if (options.failConnect) return Promise.reject(new FerryError('ERR_SFTP_AUTH', 'bad key'));
    const connection = fakeConnection(partnerKey, connections.length + 1);
    connections.push(connection);
    return Promise.resolve(connection);
  });
  /** Loses the n-th slot granted (0-based), as the Redis semaphore does when its lease cannot be kept. */
  const loseSlot = (n: number): void =>
    losers[n]!.abort(new FerryError('ERR_SLOT_LOST', 'lease lost', { details: { reason: 'unconfirmed' } }));
  return { acquireSlot, tryAcquireSlot, connect, connections, held: () => held, loseSlot };
}

function poolWith(f: ReturnType<typeof fakes>, overrides: Partial<SftpPoolOptions> = {}) {
  return createSftpPool({
    connect: f.connect,
    acquireSlot: f.acquireSlot,
    idleTimeoutMs: 30_000,
    ...overrides,
  });
}

/** Lets the pool's background close/release promises settle. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('createSftpPool', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reuses an idle connection for the same partner', async () => {
    const f = fakes();
    const pool = poolWith(f);

    const first = await pool.withSession('p1', (session) => Promise.resolve(session.id));
    const second = await pool.withSession('p1', (session) => Promise.resolve(session.id));

    expect(second).toBe(first);
    expect(f.connect).toHaveBeenCalledTimes(1);
    expect(f.held()).toBe(1);
    expect(pool.stats()).toEqual({
      open: 1,
      idle: 1,
      sessions: 0,
      byPartner: { p1: { open: 1, idle: 1, sessions: 0 } },
    });
    await pool.close();
  });

  it('opens one connection per concurrent session and per partner', async () => {
    const f = fakes();
    const pool = poolWith(f);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));

    const sessions = Promise.all([
      pool.withSession('p1', () => gate),
      pool.withSession('p1', () => gate),
      pool.withSession('p2', () => gate),
    ]);
    await settle();
    expect(pool.stats()).toEqual({
      open: 3,
      idle: 0,
      sessions: 3,
      byPartner: { p1: { open: 2, idle: 0, sessions: 2 }, p2: { open: 1, idle: 0, sessions: 1 } },
    });
    release();
    await sessions;

    expect(f.held()).toBe(3);
    expect(pool.stats().idle).toBe(3);
    await pool.close();
  });

  it('closes an idle connection and releases its slot after the idle timeout', async () => {
    vi.useFakeTimers();
    const f = fakes();
    const pool = poolWith(f, { idleTimeoutMs: 10_000 });
    await pool.withSession('p1', () => Promise.resolve());

    await vi.advanceTimersByTimeAsync(9_999);
    expect(f.connections[0]!.closeCalls).toBe(0);
    await vi.advanceTimersByTimeAsync(1);

    expect(f.connections[0]!.closeCalls).toBe(1);
    expect(f.held()).toBe(0);
    expect(pool.stats().open).toBe(0);
  });

  it('gives an idle connection and its slot back within a check when another process waits for the partner', async () => {
    vi.useFakeTimers();
    const f = fakes();
    let wanted = new Set<string>();
    const pool = poolWith(f, {
      wantedElsewhere: (partnerKey) => Promise.resolve(wanted.has(partnerKey)),
      wantedCheckMs: 1000,
    });
    await pool.withSession('p1', () => Promise.resolve());
    await pool.withSession('p2', () => Promise.resolve());

    await vi.advanceTimersByTimeAsync(1000);
    expect(f.held()).toBe(2); // nobody waits: both stay pooled

    wanted = new Set(['p1']);
    await vi.advanceTimersByTimeAsync(1000);
    expect(f.connections[0]!.closeCalls).toBe(1);
    expect(f.connections[1]!.closeCalls).toBe(0);
    expect(f.held()).toBe(1);
    expect(pool.stats().byPartner).toEqual({ p2: { open: 1, idle: 1, sessions: 0 } });
    await pool.close();
  });

  it('restarts the idle timer each time a connection is reused', async () => {
    vi.useFakeTimers();
    const f = fakes();
    const pool = poolWith(f, { idleTimeoutMs: 10_000 });
    await pool.withSession('p1', () => Promise.resolve());
    await vi.advanceTimersByTimeAsync(8_000);
    await pool.withSession('p1', () => Promise.resolve());

    await vi.advanceTimersByTimeAsync(8_000);

    expect(f.connections[0]!.closeCalls).toBe(0);
    expect(f.connect).toHaveBeenCalledTimes(1);
    await pool.close();
  });

  it('drops a connection that dies while idle and releases its slot', async () => {
    const f = fakes();
    const pool = poolWith(f);
    await pool.withSession('p1', () => Promise.resolve());

    f.connections[0]!.die();
    await settle();

    expect(f.held()).toBe(0);
    expect(pool.stats().open).toBe(0);
    await pool.withSession('p1', () => Promise.resolve());
    expect(f.connect).toHaveBeenCalledTimes(2);
    await pool.close();
  });

  it('does not return a connection that died while in use', async () => {
    const f = fakes();
    const pool = poolWith(f);

    await pool.withSession('p1', () => {
      f.connections[0]!.die();
      return Promise.resolve();
    });
    await settle();

    expect(f.held()).toBe(0);
    expect(pool.stats().open).toBe(0);
    const next = await pool.withSession('p1', (session) => Promise.resolve(session.id));
    expect(next).toBe(f.connections[1]!.id);
    await pool.close();
  });

  it('releases the slot when connecting fails', async () => {
    const f = fakes({ failConnect: true });
    const pool = poolWith(f);

    await expect(pool.withSession('p1', () => Promise.resolve())).rejects.toMatchObject({
      code: 'ERR_SFTP_AUTH',
    });

    expect(f.held()).toBe(0);
    expect(pool.stats().open).toBe(0);
    await pool.close();
  });

  it('closes the connection when the session fails with a connection-level error', async () => {
    const f = fakes();
    const pool = poolWith(f);
    const lost = new FerryError('ERR_SFTP_CONNECTION_LOST', 'reset');

    await expect(pool.withSession('p1', () => Promise.reject(lost))).rejects.toBe(lost);
    await settle();

    expect(f.connections[0]!.closeCalls).toBe(1);
    expect(f.held()).toBe(0);
    await pool.close();
  });

  it('keeps the connection after an error that is about the file, not the connection', async () => {
    const f = fakes();
    const pool = poolWith(f);
    const denied = new FerryError('ERR_SFTP_PERMISSION', 'denied');

    await expect(pool.withSession('p1', () => Promise.reject(denied))).rejects.toBe(denied);

    expect(f.connections[0]!.closeCalls).toBe(0);
    expect(pool.stats().idle).toBe(1);
    await pool.close();
  });

  it('hands a returned connection to a session waiting for a slot of the same partner', async () => {
    const f = fakes({ capacity: 1 });
    const pool = poolWith(f);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));

    const first = pool.withSession('p1', (session) => gate.then(() => session.id));
    await settle();
    const second = pool.withSession('p1', (session) => Promise.resolve(session.id));
    await settle();
    release();

    expect(await second).toBe(await first);
    expect(f.connect).toHaveBeenCalledTimes(1);
    expect(f.held()).toBe(1);
    await pool.close();
    expect(f.held()).toBe(0);
  });

  it('rejects with the abort reason while waiting for a slot', async () => {
    const f = fakes({ capacity: 0 });
    const pool = poolWith(f);
    const controller = new AbortController();
    const reason = new FerryError('ERR_SLOT_TIMEOUT', 'gave up');

    const waiting = pool.withSession('p1', () => Promise.resolve(), controller.signal);
    controller.abort(reason);

    await expect(waiting).rejects.toBe(reason);
    expect(f.connect).not.toHaveBeenCalled();
    await pool.close();
  });

  it('evict closes idle connections now and busy ones when they are returned', async () => {
    const f = fakes();
    const pool = poolWith(f);
    await pool.withSession('p1', () => Promise.resolve());
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const busy = pool.withSession('p1', () => gate);
    const other = pool.withSession('p1', () => gate);
    await settle();

    await pool.evict('p1');
    expect(f.connections.filter((c) => c.closeCalls > 0)).toHaveLength(0);
    release();
    await Promise.all([busy, other]);
    await settle();

    expect(f.connections.every((c) => c.closeCalls === 1)).toBe(true);
    expect(f.held()).toBe(0);
    await pool.close();
  });

  it('close waits for sessions in use, then closes every connection and releases every slot', async () => {
    const f = fakes();
    const pool = poolWith(f);
    await pool.withSession('p2', () => Promise.resolve());
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const inUse = pool.withSession('p1', () => gate.then(() => 'done'));
    await settle();

    let closed = false;
    const closing = pool.close().then(() => {
      closed = true;
    });
    await settle();
    expect(closed).toBe(false);
    expect(f.connections.find((c) => c.partnerKey === 'p2')!.closeCalls).toBe(1);

    release();
    expect(await inUse).toBe('done');
    await closing;

    expect(f.connections.every((c) => c.closeCalls === 1)).toBe(true);
    expect(f.held()).toBe(0);
    expect(pool.stats().open).toBe(0);
  });

  it('closes an idle connection as soon as its slot is lost, and opens a new one next time', async () => {
    const f = fakes();
    const pool = poolWith(f);
    await pool.withSession('p1', () => Promise.resolve());

    f.loseSlot(0);
    await settle();

    expect(f.connections[0]!.closeCalls).toBe(1);
    expect(f.held()).toBe(0);
    expect(pool.stats().open).toBe(0);
    const next = await pool.withSession('p1', (session) => Promise.resolve(session.id));
    expect(next).toBe(f.connections[1]!.id);
    await pool.close();
  });

  it('closes a busy connection when its slot is lost, failing the session with ERR_SLOT_LOST', async () => {
    const f = fakes();
    const warnings: object[] = [];
    const pool = poolWith(f, {
      logger: { debug: () => undefined, warn: (obj) => warnings.push(obj) },
    });
    // A request in flight fails when its connection closes, as a real one does.
    const session = pool.withSession('p1', (conn) => {
      const pending = new Promise<never>((_resolve, reject) =>
        conn.onClose(() => reject(new FerryError('ERR_SFTP_CONNECTION_LOST', 'closed'))),
      );
      f.loseSlot(0);
      return pending;
    });

    const err = await session.catch((e: unknown) => e);

    expect(err).toBeInstanceOf(FerryError);
    expect(err).toMatchObject({ code: 'ERR_SLOT_LOST', cause: { code: 'ERR_SFTP_CONNECTION_LOST' } });
    expect((err as FerryError).intent).toBe('transient');
    expect(f.connections[0]!.closeCalls).toBe(1);
    expect(warnings).toContainEqual(
      expect.objectContaining({ partnerKey: 'p1', connectionId: f.connections[0]!.id, sessions: 1 }),
    );
    await settle();
    expect(f.held()).toBe(0);
    expect(pool.stats().open).toBe(0);
    await pool.close();
  });

  it('stops counting a busy connection as open the moment its slot is lost', async () => {
    const f = fakes();
    const pool = poolWith(f);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const session = pool.withSession('p1', () => gate);
    await settle();

    f.loseSlot(0);

    expect(pool.stats().open).toBe(0);
    expect(f.connections[0]!.closeCalls).toBe(1);
    release();
    await session; // a session that finished its work before noticing keeps its result
    await settle();
    expect(f.held()).toBe(0);
    await pool.close();
  });

  it('does not hand a connection whose slot was lost to a session waiting for a slot', async () => {
    const f = fakes({ capacity: 1 });
    const pool = poolWith(f);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first = pool.withSession('p1', () => gate);
    await settle();
    const second = pool.withSession('p1', (session) => Promise.resolve(session.id));
    await settle();

    f.loseSlot(0);
    release();
    await first;

    expect(await second).toBe(f.connections[1]!.id);
    await pool.close();
    expect(f.held()).toBe(0);
  });

  it('closes a connection whose slot was lost while it was being opened', async () => {
    const f = fakes();
    const connect = f.connect.getMockImplementation()!;
    const pool = poolWith(f, {
      connect: async (partnerKey) => {
        const connection = await connect(partnerKey);
        f.loseSlot(0);
        return connection;
      },
    });

    await expect(pool.withSession('p1', () => Promise.resolve())).rejects.toMatchObject({
      code: 'ERR_SLOT_LOST',
    });
    await settle();

    expect(f.connections[0]!.closeCalls).toBe(1);
    expect(f.held()).toBe(0);
    expect(pool.stats().open).toBe(0);
    await pool.close();
  });

  it('refuses new sessions once closed', async () => {
    const f = fakes();
    const pool = poolWith(f);
    await pool.close();

    await expect(pool.withSession('p1', () => Promise.resolve())).rejects.toMatchObject({
      code: 'ERR_SFTP_CONNECTION_LOST',
    });
    expect(f.acquireSlot).not.toHaveBeenCalled();
  });
});

describe('createSftpPool: several sessions on one connection (maxFilesInFlight)', () => {
  /** A session that runs until the test ends it: `done()` resolves its fn, `fail(err)` rejects it. */
  function heldSession(pool: ReturnType<typeof createSftpPool>, partnerKey = 'p1') {
    let done!: () => void;
    let fail!: (err: Error) => void;
    let connectionId: string | undefined;
    let result!: Promise<string>;
    const started = new Promise<void>((startedResolve) => {
      result = pool.withSession(partnerKey, (session) => {
        connectionId = session.id;
        startedResolve();
        return new Promise<string>((resolve, reject) => {
          done = () => resolve(session.id);
          fail = reject;
        });
      });
    });
    return {
      started,
      get result() {
        return result;
      },
      get connectionId() {
        return connectionId;
      },
      done: () => done(),
      fail: (err: Error) => fail(err),
    };
  }
  const limits = (connections: number, sessionsPerConnection: number) => () => ({
    connections,
    sessionsPerConnection,
  });

  it('carries up to sessionsPerConnection sessions on one connection when no other slot is free', async () => {
    const f = fakes({ capacity: 1 });
    const pool = poolWith(f, { tryAcquireSlot: f.tryAcquireSlot, limits: limits(4, 3) });

    const sessions = [heldSession(pool), heldSession(pool), heldSession(pool), heldSession(pool)];
    await Promise.all(sessions.slice(0, 3).map((x) => x.started));
    await settle();
    expect(f.connect).toHaveBeenCalledTimes(1);
    expect(pool.stats()).toMatchObject({ open: 1, sessions: 3 });
    expect(sessions[3]!.connectionId).toBeUndefined(); // the fourth waits for room

    sessions[0]!.done();
    await sessions[3]!.started;
    expect(sessions[3]!.connectionId).toBe(f.connections[0]!.id);
    for (const x of sessions.slice(1)) x.done();
    await Promise.all(sessions.map((x) => x.result));
    expect(pool.stats()).toMatchObject({ open: 1, idle: 1, sessions: 0 });
    expect(f.held()).toBe(1);
    await pool.close();
  });

  it('spreads sessions over new connections while a slot is free, then shares them', async () => {
    const f = fakes({ capacity: 2 });
    const pool = poolWith(f, { tryAcquireSlot: f.tryAcquireSlot, limits: limits(2, 2) });

    const sessions = [heldSession(pool), heldSession(pool), heldSession(pool), heldSession(pool)];
    await Promise.all(sessions.map((x) => x.started));
    expect(f.connect).toHaveBeenCalledTimes(2);
    expect(pool.stats().byPartner['p1']).toEqual({ open: 2, idle: 0, sessions: 4 });
    const perConnection = new Map<string, number>();
    for (const x of sessions) {
      perConnection.set(x.connectionId!, (perConnection.get(x.connectionId!) ?? 0) + 1);
    }
    expect([...perConnection.values()]).toEqual([2, 2]);

    for (const x of sessions) x.done();
    await Promise.all(sessions.map((x) => x.result));
    await pool.close();
    expect(f.held()).toBe(0);
  });

  it('fails exactly the sessions on a connection that dies; the others finish and keep theirs', async () => {
    const f = fakes({ capacity: 2 });
    const pool = poolWith(f, { tryAcquireSlot: f.tryAcquireSlot, limits: limits(2, 2) });
    const sessions = [heldSession(pool), heldSession(pool), heldSession(pool), heldSession(pool)];
    await Promise.all(sessions.map((x) => x.started));
    const [dying, healthy] = [f.connections[0]!, f.connections[1]!];

    dying.die();
    const lost = new FerryError('ERR_SFTP_CONNECTION_LOST', 'connection lost');
    for (const x of sessions) {
      if (x.connectionId === dying.id) x.fail(lost);
      else x.done();
    }
    const outcomes = await Promise.allSettled(sessions.map((x) => x.result));
    const failedOn = sessions.filter((_, i) => outcomes[i]!.status === 'rejected').map((x) => x.connectionId);
    expect(failedOn).toEqual([dying.id, dying.id]);
    await settle();
    expect(pool.stats().byPartner['p1']).toEqual({ open: 1, idle: 1, sessions: 0 });
    expect(healthy.closeCalls).toBe(0);
    expect(f.held()).toBe(1);

    // The next session never lands on the dead connection.
    await expect(pool.withSession('p1', (session) => Promise.resolve(session.id))).resolves.toBe(healthy.id);
    await pool.close();
  });

  it('lets the other sessions finish after one fails with a connection-level error, then closes it', async () => {
    const f = fakes({ capacity: 1 });
    const pool = poolWith(f, { tryAcquireSlot: f.tryAcquireSlot, limits: limits(1, 3) });
    const [a, b] = [heldSession(pool), heldSession(pool)];
    await Promise.all([a.started, b.started]);

    a.fail(new FerryError('ERR_TRANSFER_STALLED', 'no progress'));
    await expect(a.result).rejects.toMatchObject({ code: 'ERR_TRANSFER_STALLED' });
    expect(f.connections[0]!.closeCalls).toBe(0); // b is still writing on it

    // A new session does not join the connection that is being given up: it waits for its slot.
    const c = heldSession(pool);
    b.done();
    await expect(b.result).resolves.toBe(f.connections[0]!.id);
    await c.started;
    expect(f.connections[0]!.closeCalls).toBe(1);
    expect(c.connectionId).toBe(f.connections[1]!.id);
    c.done();
    await c.result;
    await pool.close();
    expect(f.held()).toBe(0);
  });

  it('waits for room without asking for a slot while the partner is at its cap here, and asks once a connection closes', async () => {
    const f = fakes({ capacity: 1 });
    const pool = poolWith(f, { tryAcquireSlot: f.tryAcquireSlot, limits: limits(1, 2) });
    const [a, b] = [heldSession(pool), heldSession(pool)];
    await Promise.all([a.started, b.started]);
    const asked = f.acquireSlot.mock.calls.length;

    const c = heldSession(pool); // the connection is full and is the partner's one: wait for room
    await settle();
    expect(f.acquireSlot.mock.calls.length).toBe(asked);
    expect(c.connectionId).toBeUndefined();

    f.connections[0]!.die(); // the connection goes: c now asks for a slot and opens a new one
    a.fail(new FerryError('ERR_SFTP_CONNECTION_LOST', 'lost'));
    b.fail(new FerryError('ERR_SFTP_CONNECTION_LOST', 'lost'));
    await Promise.allSettled([a.result, b.result]);
    await c.started;
    expect(f.acquireSlot.mock.calls.length).toBe(asked + 1);
    expect(c.connectionId).toBe(f.connections[1]!.id);
    c.done();
    await c.result;
    await pool.close();
    expect(f.held()).toBe(0);
  });

  it('shares its connections instead of opening more than the partner allows, even with slots free', async () => {
    const f = fakes({ capacity: 10 });
    const pool = poolWith(f, { tryAcquireSlot: f.tryAcquireSlot, limits: limits(2, 4) });
    const sessions: Array<ReturnType<typeof heldSession>> = [];
    for (let i = 0; i < 8; i++) {
      const session = heldSession(pool);
      await session.started;
      sessions.push(session);
    }
    expect(pool.stats()).toMatchObject({ open: 2, sessions: 8 });
    expect(f.tryAcquireSlot).toHaveBeenCalledTimes(1); // only while fewer than 2 were open
    for (const x of sessions) x.done();
    await Promise.all(sessions.map((x) => x.result));
    await pool.close();
  });
});
