import { FerryError } from '../errors.js';
import type { SftpConnection } from './sftp-connection.js';

export interface SlotLease {
  /**
   * Aborts once the slot may belong to someone else (see the Redis semaphore): the pool then stops
   * using the connection at once, closing it even in the middle of a request.
   */
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

export interface SftpPoolOptions {
  /** Builds a new connection for that partner. */
  connect(partnerKey: string): Promise<SftpConnection>;
  /**
   * Cross-process cap on connections per partner (a Redis semaphore). The pool holds one slot per
   * open connection, idle or busy, and releases it only after that connection is closed.
   */
  acquireSlot(partnerKey: string, signal?: AbortSignal): Promise<SlotLease>;
  /**
   * A slot only if one is free now (one Redis round trip, no waiting), else undefined. With it, a
   * checkout that could share a connection first tries to open another one: sessions spread over the
   * partner's connections before they pile onto one.
   */
  tryAcquireSlot?(partnerKey: string): Promise<SlotLease | undefined>;
  /**
   * The partner's caps: `connections` (target.maxConnections, the most this process tries to open) and
   * `sessionsPerConnection` (target.maxFilesInFlight: deliveries one connection carries at once, each
   * with its own requests in flight). Without it: one session per connection.
   */
  limits?(partnerKey: string): { connections: number; sessionsPerConnection: number };
  idleTimeoutMs: number;
  /**
   * True while another process waits for one of this partner's slots: an idle connection then gives
   * its slot back at once instead of after `idleTimeoutMs` (checked every `wantedCheckMs`, default 1 s).
   */
  wantedElsewhere?(partnerKey: string): Promise<boolean>;
  wantedCheckMs?: number;
  logger?: { debug(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

export interface SftpPool {
  /**
   * Runs `fn` with a connection to that partner: an idle one if there is one, else a new one while a
   * slot is free, else one that has room for another session (`limits`), else the first that does.
   */
  withSession<T>(
    partnerKey: string,
    fn: (session: SftpConnection) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T>;
  /** Close idle connections for a partner (e.g. config changed); busy ones are closed when returned. */
  evict(partnerKey: string): Promise<void>;
  /** Close everything (shutdown): waits for sessions in use to be returned, closes them, releases slots. */
  close(): Promise<void>;
  stats(): {
    open: number;
    idle: number;
    /** Sessions running on the open connections. */
    sessions: number;
    byPartner: Record<string, { open: number; idle: number; sessions: number }>;
  };
}

interface Entry {
  readonly partnerKey: string;
  readonly connection: SftpConnection;
  readonly lease: SlotLease;
  /** Sessions running on it now; 0 = idle. */
  users: number;
  /** Close instead of keeping idle when returned (evicted, or the pool is closing). */
  retireOnReturn: boolean;
  retired: boolean;
  /** Set when the slot lease was lost: the connection was closed under the session using it. */
  slotLost?: FerryError;
  idleTimer?: ReturnType<typeof setTimeout>;
}

/**
 * A checkout waiting for a slot; a connection of the same partner that is returned or gets room
 * meanwhile is handed to it (with the waiter already counted among its users).
 */
interface Waiter {
  readonly partnerKey: string;
  done: boolean;
  give(entry: Entry): void;
  cancel(err: Error): void;
  /**
   * Starts asking the semaphore for a slot; a no-op once started. A checkout that found the partner's
   * connections here at their cap waits for room without asking (no Redis polling) until one closes.
   */
  askForSlot(): void;
}

/**
 * Errors after which the connection is not trusted again. A stalled transfer may be a stalled
 * server, and an aborted upload leaves writes outstanding on the connection. Other sessions on it
 * finish (or fail on their own); it takes no new ones and closes when the last is returned.
 */
const DISCARD_CODES = new Set([
  'ERR_SFTP_CONNECTION_LOST',
  'ERR_SFTP_TIMEOUT',
  'ERR_TRANSFER_STALLED',
  'ERR_SLOT_LOST',
]);

/**
 * Keeps authenticated SFTP connections per partner inside one worker process (a handshake costs
 * ~60 ms locally and ~8 RTT remotely; a reused connection ~1 ms per small file). A connection carries
 * up to `sessionsPerConnection` sessions at once: SFTP multiplexes requests by id, so several
 * deliveries' requests are in flight together on one channel, and a far-away partner's round trips
 * overlap instead of adding up. A connection that dies fails exactly the sessions on it. A checkout
 * that finds the partner's connections here full and at its cap waits for room on one of them without
 * asking Redis for a slot, until one of them closes. Each open
 * connection holds one cross-process slot from `acquireSlot`, released once the connection is
 * closed: after `idleTimeoutMs` idle, when it dies, when `fn` fails with a connection-level error,
 * on `evict` or on `close`. When the slot's lease is lost the connection is closed at once, busy or
 * not: the partner's cap only holds if no connection outlives its slot.
 */
export function createSftpPool(options: SftpPoolOptions): SftpPool {
  const { logger } = options;
  const entries = new Map<string, Set<Entry>>();
  const waiters = new Set<Waiter>();
  const cleanups = new Set<Promise<void>>();
  // Per partner: connections being opened (slot taken, not yet registered).
  const opening = new Map<string, number>();
  const limitsOf = (partnerKey: string) =>
    options.limits?.(partnerKey) ?? { connections: Infinity, sessionsPerConnection: 1 };
  let closed = false;
  let closing: Promise<void> | undefined;
  // Checkouts between taking a slot and registering their connection; close() waits for them too.
  let connecting = 0;
  // Wakes close() whenever a busy connection is returned or a connect attempt ends.
  let onReturned: (() => void) | undefined;
  const wakeClose = (): void => onReturned?.();

  const entriesOf = (partnerKey: string): Set<Entry> => {
    let set = entries.get(partnerKey);
    if (!set) {
      set = new Set();
      entries.set(partnerKey, set);
    }
    return set;
  };

  /** Forgets the entry, then closes the connection and gives the slot back (in the background). */
  const retire = (entry: Entry, reason: string): void => {
    if (entry.retired) return;
    entry.retired = true;
    clearTimeout(entry.idleTimer);
    const set = entries.get(entry.partnerKey);
    set?.delete(entry);
    if (set?.size === 0) entries.delete(entry.partnerKey);
    wakeRoomWaiters(entry.partnerKey);
    logger?.debug(
      { partnerKey: entry.partnerKey, connectionId: entry.connection.id, reason },
      'sftp connection retired',
    );
    const cleanup = (async () => {
      try {
        await entry.connection.close();
      } catch (err) {
        logger?.warn(
          { partnerKey: entry.partnerKey, connectionId: entry.connection.id, err },
          'sftp close failed',
        );
      }
      try {
        await entry.lease.release();
      } catch (err) {
        logger?.warn({ partnerKey: entry.partnerKey, err }, 'sftp slot release failed');
      }
    })();
    cleanups.add(cleanup);
    void cleanup.finally(() => cleanups.delete(cleanup));
  };

  const makeIdle = (entry: Entry): void => {
    clearTimeout(entry.idleTimer);
    entry.idleTimer = setTimeout(() => retire(entry, 'idle-timeout'), options.idleTimeoutMs);
    entry.idleTimer.unref?.();
  };

  const usable = (entry: Entry): boolean =>
    !entry.retired && !entry.retireOnReturn && entry.connection.alive && !entry.lease.lost.aborted;

  /**
   * Gives the room a connection has (returned, or just opened) to local checkouts waiting for a slot
   * of its partner, so they do not wait on a slot of our own.
   */
  const handOff = (entry: Entry): void => {
    const room = limitsOf(entry.partnerKey).sessionsPerConnection;
    for (const waiter of waiters) {
      if (entry.users >= room || !usable(entry)) return;
      if (waiter.partnerKey !== entry.partnerKey || waiter.done) continue;
      waiters.delete(waiter);
      entry.users++;
      clearTimeout(entry.idleTimer);
      entry.idleTimer = undefined;
      waiter.give(entry);
    }
  };

  const checkin = (entry: Entry, discard: boolean): void => {
    entry.users--;
    if (entry.retired) return;
    if (!entry.connection.alive) retire(entry, 'dead');
    else if (discard || closed || entry.retireOnReturn) {
      // Sessions still on it finish first; none joins it meanwhile.
      entry.retireOnReturn = true;
      if (entry.users === 0) retire(entry, discard ? 'connection-error' : 'returned-while-closing');
    } else {
      handOff(entry);
      if (entry.users === 0) makeIdle(entry);
    }
    wakeClose();
  };

  // Idle connections hold cross-process slots: hand one back per partner and tick when others wait.
  let checkingWanted = false;
  const wantedTimer =
    options.wantedElsewhere &&
    setInterval(() => {
      if (checkingWanted || closed) return;
      const idleByPartner = new Map<string, Entry>();
      for (const [partnerKey, set] of entries) {
        const idle = [...set].find((e) => e.users === 0 && !e.retired);
        if (idle) idleByPartner.set(partnerKey, idle);
      }
      if (idleByPartner.size === 0) return;
      checkingWanted = true;
      void Promise.all(
        [...idleByPartner].map(async ([partnerKey, entry]) => {
          if ((await options.wantedElsewhere!(partnerKey)) && entry.users === 0 && !entry.retired) {
            retire(entry, 'wanted-elsewhere');
          }
        }),
      )
        .catch(() => undefined) // Redis away: the idle timeout still applies
        .finally(() => {
          checkingWanted = false;
        });
    }, options.wantedCheckMs ?? 1000);
  if (wantedTimer) wantedTimer.unref();

  const takeIdle = (partnerKey: string): Entry | undefined => {
    for (const entry of entries.get(partnerKey) ?? []) {
      if (entry.users > 0 || entry.retired || entry.retireOnReturn) continue;
      if (!entry.connection.alive) {
        retire(entry, 'dead');
        continue;
      }
      clearTimeout(entry.idleTimer);
      entry.idleTimer = undefined;
      entry.users = 1;
      return entry;
    }
    return undefined;
  };

  /** The least-loaded connection of the partner with room for another session. */
  const withRoom = (partnerKey: string): Entry | undefined => {
    const room = limitsOf(partnerKey).sessionsPerConnection;
    let best: Entry | undefined;
    for (const entry of entries.get(partnerKey) ?? []) {
      if (entry.users >= room || !usable(entry)) continue;
      if (!best || entry.users < best.users) best = entry;
    }
    return best;
  };

  const connectionsOf = (partnerKey: string): number =>
    (entries.get(partnerKey)?.size ?? 0) + (opening.get(partnerKey) ?? 0);

  const poolClosed = (): FerryError =>
    new FerryError('ERR_SFTP_CONNECTION_LOST', 'the SFTP connection pool is closed', {
      details: { pool: 'closed' },
    });

  /** Waits for a slot, unless a connection for the same partner is returned first. */
  const waitForSlotOrHandOff = (
    partnerKey: string,
    signal: AbortSignal | undefined,
  ): Promise<{ entry: Entry } | { lease: SlotLease }> =>
    new Promise((resolve, reject) => {
      const stopWaiting = new AbortController();
      const onAbort = (): void => waiter.cancel(toError(signal?.reason));
      const finish = (): boolean => {
        if (waiter.done) return false;
        waiter.done = true;
        waiters.delete(waiter);
        signal?.removeEventListener('abort', onAbort);
        return true;
      };
      const waiter: Waiter = {
        partnerKey,
        done: false,
        askForSlot: () => undefined, // set below
        give(entry) {
          if (!finish()) return;
          stopWaiting.abort(
            new FerryError('ERR_SLOT_TIMEOUT', 'slot no longer needed: a connection was reused'),
          );
          resolve({ entry });
        },
        cancel(err) {
          if (!finish()) return;
          stopWaiting.abort(err);
          reject(err);
        },
      };
      let asked = false;
      waiter.askForSlot = () => {
        if (asked || waiter.done) return;
        asked = true;
        const slotSignal = signal ? AbortSignal.any([signal, stopWaiting.signal]) : stopWaiting.signal;
        options.acquireSlot(partnerKey, slotSignal).then(
          (lease) => {
            if (finish()) {
              startOpening(partnerKey); // counted from here so close() also waits for this connect
              resolve({ lease });
            }
            // Too late: we were handed a connection or cancelled; give this slot straight back.
            else void lease.release().catch(() => undefined);
          },
          (err: unknown) => {
            if (finish()) reject(toError(err));
          },
        );
      };
      if (signal?.aborted) {
        reject(toError(signal.reason));
        return;
      }
      waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (connectionsOf(partnerKey) < limitsOf(partnerKey).connections) waiter.askForSlot();
    });

  /** A connection of the partner closed or failed to open: checkouts waiting for room ask for a slot. */
  const wakeRoomWaiters = (partnerKey: string): void => {
    if (connectionsOf(partnerKey) >= limitsOf(partnerKey).connections) return;
    for (const waiter of [...waiters]) if (waiter.partnerKey === partnerKey) waiter.askForSlot();
  };

  /** The slot may be someone else's now: close the connection, in use or not, and never reuse it. */
  const onSlotLost = (entry: Entry): void => {
    if (entry.retired) return;
    const reason = entry.lease.lost.reason as unknown;
    const partnerId =
      reason instanceof FerryError && typeof reason.details.partnerId === 'string'
        ? reason.details.partnerId
        : undefined;
    entry.slotLost = new FerryError(
      'ERR_SLOT_LOST',
      `connection slot lost: SFTP connection ${entry.connection.id} was closed`,
      {
        cause: reason,
        details: { partnerKey: entry.partnerKey, partnerId, connectionId: entry.connection.id },
      },
    );
    logger?.warn(
      {
        partnerKey: entry.partnerKey,
        partnerId,
        connectionId: entry.connection.id,
        sessions: entry.users,
        reason: reason instanceof FerryError ? reason.details.reason : undefined,
      },
      'sftp connection slot lost: closing the connection',
    );
    retire(entry, entry.users > 0 ? 'slot-lost-while-busy' : 'slot-lost');
    wakeClose();
  };

  const startOpening = (partnerKey: string): void => {
    connecting++;
    opening.set(partnerKey, (opening.get(partnerKey) ?? 0) + 1);
  };
  const doneOpening = (partnerKey: string): void => {
    connecting--;
    const n = (opening.get(partnerKey) ?? 1) - 1;
    if (n > 0) opening.set(partnerKey, n);
    else opening.delete(partnerKey);
  };

  /** A free slot now, when the partner has fewer connections here than its cap; never waits. */
  const trySlot = async (partnerKey: string): Promise<SlotLease | undefined> => {
    if (!options.tryAcquireSlot || connectionsOf(partnerKey) >= limitsOf(partnerKey).connections) {
      return undefined;
    }
    const lease = await options.tryAcquireSlot(partnerKey).catch(() => undefined); // Redis away: share
    if (lease && closed) {
      await releaseQuietly(lease, partnerKey);
      return undefined;
    }
    if (lease) startOpening(partnerKey);
    return lease;
  };

  const checkout = async (partnerKey: string, signal: AbortSignal | undefined): Promise<Entry> => {
    if (closed) throw poolClosed();
    signal?.throwIfAborted();
    const idle = takeIdle(partnerKey);
    if (idle) {
      logger?.debug({ partnerKey, connectionId: idle.connection.id }, 'sftp connection reused');
      return idle;
    }
    if (withRoom(partnerKey)) {
      const lease = await trySlot(partnerKey);
      if (lease) return open(partnerKey, lease);
      const shared = withRoom(partnerKey); // again: the await let others in
      if (shared) {
        shared.users++;
        return shared;
      }
    }
    const got = await waitForSlotOrHandOff(partnerKey, signal);
    if ('entry' in got) return got.entry;
    return open(partnerKey, got.lease);
  };

  /** Opens a connection on a slot just taken (counted in `opening`); the caller is its first session. */
  const open = async (partnerKey: string, lease: SlotLease): Promise<Entry> => {
    let connection: SftpConnection;
    try {
      if (closed) throw poolClosed();
      connection = await options.connect(partnerKey);
    } catch (err) {
      doneOpening(partnerKey);
      wakeRoomWaiters(partnerKey);
      await releaseQuietly(lease, partnerKey);
      wakeClose();
      throw err;
    }
    doneOpening(partnerKey);
    const entry: Entry = { partnerKey, connection, lease, users: 1, retireOnReturn: false, retired: false };
    entriesOf(partnerKey).add(entry);
    connection.onClose(() => {
      // Connections in use are retired when a session on them is returned; an idle one is dropped now.
      if (entry.users === 0) retire(entry, 'closed-while-idle');
    });
    logger?.debug({ partnerKey, connectionId: connection.id }, 'sftp connection opened');
    if (closed) {
      retire(entry, 'opened-while-closing');
      wakeClose();
      throw poolClosed();
    }
    if (lease.lost.aborted) {
      onSlotLost(entry); // lost while connecting
      throw entry.slotLost!;
    }
    lease.lost.addEventListener('abort', () => onSlotLost(entry), { once: true });
    handOff(entry); // room for checkouts that queued while it was being opened
    return entry;
  };

  const releaseQuietly = async (lease: SlotLease, partnerKey: string): Promise<void> => {
    try {
      await lease.release();
    } catch (err) {
      logger?.warn({ partnerKey, err }, 'sftp slot release failed');
    }
  };

  return {
    async withSession(partnerKey, fn, signal) {
      const entry = await checkout(partnerKey, signal);
      let discard = false;
      try {
        return await fn(entry.connection);
      } catch (err) {
        discard = isConnectionLevel(err);
        // The request failed because the pool closed the connection: say why.
        if (discard && entry.slotLost) {
          throw new FerryError('ERR_SLOT_LOST', entry.slotLost.message, {
            cause: err,
            details: entry.slotLost.details,
          });
        }
        throw err;
      } finally {
        checkin(entry, discard);
      }
    },

    async evict(partnerKey) {
      for (const entry of [...(entries.get(partnerKey) ?? [])]) {
        if (entry.users > 0) entry.retireOnReturn = true;
        else retire(entry, 'evicted');
      }
      await Promise.all([...cleanups]);
    },

    close() {
      closing ??= (async () => {
        closed = true;
        if (wantedTimer) clearInterval(wantedTimer);
        for (const waiter of [...waiters]) waiter.cancel(poolClosed());
        for (;;) {
          for (const set of [...entries.values()]) {
            for (const entry of [...set]) if (entry.users === 0) retire(entry, 'pool-closed');
          }
          if (entries.size === 0 && connecting === 0) break;
          // Busy sessions are retired by checkin once their fn settles.
          await new Promise<void>((resolve) => {
            onReturned = resolve;
          });
          onReturned = undefined;
        }
        while (cleanups.size > 0) await Promise.all([...cleanups]);
      })();
      return closing;
    },

    stats() {
      let open = 0;
      let idle = 0;
      let sessions = 0;
      const byPartner: Record<string, { open: number; idle: number; sessions: number }> = {};
      for (const [partnerKey, set] of entries) {
        const idleHere = [...set].filter((entry) => entry.users === 0).length;
        const sessionsHere = [...set].reduce((sum, entry) => sum + entry.users, 0);
        byPartner[partnerKey] = { open: set.size, idle: idleHere, sessions: sessionsHere };
        open += set.size;
        idle += idleHere;
        sessions += sessionsHere;
      }
      return { open, idle, sessions, byPartner };
    },
  };
}

function isConnectionLevel(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && DISCARD_CODES.has(code);
}

function toError(reason: unknown): Error {
  return reason instanceof Error
    ? reason
    : Object.assign(new Error('aborted', { cause: reason }), { name: 'AbortError' });
}
