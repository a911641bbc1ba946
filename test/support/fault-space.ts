// The fault-space explorer (issue 11): runs each case of the space (fault-space-cases.ts) on the real
// services, drives the deliver processor until each delivery converges, and checks PROTOCOL.md's
// invariants on what the partner, the ledger and the receipts show. Violations are one-line strings
// naming the case. A shared-session case runs a second delivery (the bystander) at once on the same
// pooled SFTP connection, held at the failpoint while the fault fires in the other (issue 14).
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { UnrecoverableError, type Job } from 'bullmq';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, randomBytes } from 'node:crypto';
import { chown, mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createDeliverProcessor, type DeliverDeps } from '../../jobs/deliver.js';
import { createJanitor } from '../../jobs/janitor.js';
import type { AlertEvent, Alerter } from '../../src/observability/alerter.js';
import type { ObjectSource } from '../../src/core/ports.js';
import { createReceiptStore, type ReceiptStore } from '../../src/adapters/receipt-store.js';
import { createS3Source } from '../../src/adapters/s3-source.js';
import { connectSftp, type SftpConnection } from '../../src/adapters/sftp-connection.js';
import { createSftpPool, type SftpPool } from '../../src/adapters/sftp-pool.js';
import { loadConfig, type FerryConfig } from '../../src/config/load-config.js';
import type { PartnerConfig } from '../../src/config/schema.js';
import { resolvePartnerAuth } from '../../src/config/secrets.js';
import { computeDeliveryId, tempNameFor } from '../../src/core/delivery-id.js';
import { configureFailpoints, onFailpointFired, type FailpointName } from '../../src/failpoints.js';
import type { DeliveryRecord } from '../../src/ledger/delivery-record.js';
import { createLedgerTrust } from '../../src/ledger/ledger-trust.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { createRedisLedger, type Ledger } from '../../src/ledger/redis-ledger.js';
import { createPathLeases } from '../../src/ledger/path-leases.js';
import { createRedisSemaphore } from '../../src/ledger/redis-semaphore.js';
import { createTempRegistry } from '../../src/ledger/temp-registry.js';
import { createLogger } from '../../src/observability/logger.js';
import type { DeliverJobData } from '../../src/queues/payloads.js';
import { createRedisConnection, type RedisClient } from '../../src/queues/redis-connection.js';
import { countPublishes } from './convergence.js';
import { installS3Faults, S3_ERRORS } from './s3-faults.js';
import { writeFerryConfig } from './ferry-fixture.js';
import { observePartnerDir, type PartnerEvent } from './partner-observer.js';
import { s3ClientFor, startServices, type Services } from './services.js';
import { startSshd, type SshdHandle } from './sshd.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
import {
  caseName,
  type Behaviour,
  type FaultCase,
  type Publish,
  type SingleCase,
  type TwoVersionsCase,
} from './fault-space-cases.js';

export interface Violation {
  /** Short and stable, for grouping (e.g. `duplicate-publish`). */
  kind: string;
  /** `<case name>: <what is wrong>`, one line. */
  message: string;
}

export interface CaseResult {
  name: string;
  violations: Violation[];
  /** Temp files kept as a failed delivery's evidence (the janitor's work, not a violation). */
  evidenceLeftovers: string[];
  /** Each delivery's end, e.g. `delivered`, `failed ERR_REMOTE_EXISTS`. */
  outcomes: string[];
  /** Whether the case's failpoint fired (points not wired into the delivery path never do). */
  fired: boolean;
  /** Shared-session cases: the pool as both deliveries held a session on it. */
  sharing?: Sharing;
}

export interface FaultSpaceExplorer {
  run(c: FaultCase): Promise<CaseResult>;
  stop(): Promise<void>;
}

/** Tries BullMQ would make (`opts.attempts`); crashes do not count, as a stalled job's do not. */
const ATTEMPTS = 8;
/** Runs of one delivery before the case counts as not converging (tries plus crashes). */
const MAX_RUNS = ATTEMPTS + 4;
const TERMINAL = new Set(['delivered', 'superseded', 'skipped', 'quarantined', 'failed']);
const SOURCE_BYTES = 3000;
const OTHER_SIZE_BYTES = 1234;
const PARTNER_NOTES = 'partner-notes.txt';
/** The shared-session cases' second delivery: another key of the same partner, nothing at its name. */
const NEIGHBOUR = 'neighbour.csv';
const TAKEN = 'taken';
/** Ferry's own temp and aside names: `.<name>.<hash>.part` / `.old`. */
const FERRY_LEFTOVER = /^\..*\.(part|old)$/;

/** The two SFTP servers: both serve the same directories, one without posix-rename. */
interface Servers {
  posix: { sshd: SshdHandle; proxy: TcpProxy };
  plain: { sshd: SshdHandle; proxy: TcpProxy };
}

/**
 * Starts redis-server, two sshds (one refusing posix-rename; each behind a TCP proxy, so a crashed
 * attempt's connection can be reset like a dead process's) and s3rver once, and builds the deliver
 * processor's deps as src/main.ts does.
 */
export async function startFaultSpaceExplorer(): Promise<FaultSpaceExplorer> {
  const services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  const stops: (() => Promise<void>)[] = [() => services.stop()];
  try {
    const plainSshd = await startSshd({
      dir: join(services.sshd.dir, '..', 'sshd-plain-rename'),
      sftpFlags: ['-P', 'posix-rename'],
    });
    stops.push(() => plainSshd.stop());
    const posixProxy = await startTcpProxy(services.sshd.port);
    stops.push(() => posixProxy.close());
    const plainProxy = await startTcpProxy(plainSshd.port);
    stops.push(() => plainProxy.close());
    const servers: Servers = {
      posix: { sshd: services.sshd, proxy: posixProxy },
      plain: { sshd: plainSshd, proxy: plainProxy },
    };
    return await buildExplorer(services, servers, async () => {
      for (const stop of stops.reverse()) await stop();
    });
  } catch (err) {
    for (const stop of stops.reverse()) await stop();
    throw err;
  }
}

/**
 * One life of the (simulated) worker process: the runs started together. A crash kills all of them,
 * as it would every delivery in flight in the process.
 */
interface Incarnation {
  /** The failpoint the process crashed at: every run of it is dead from then on. */
  crash?: FailpointName;
  connections: Set<SftpConnection>;
  runs: Set<RunState>;
}

/** One run of one delivery, for the shared-session choreography. */
interface RunState {
  role: Role;
  /** Has taken its SFTP session (the first time in this run). */
  checkedOut: boolean;
  connectionId?: string;
  /** Held at the case's failpoint until the fault fires (the bystander only). */
  atPoint: boolean;
  ended: boolean;
}

/** The faulted delivery, or the bystander sharing its session. */
type Role = 'faulted' | 'bystander';

/** What a shared-session case saw of the pool (src/adapters/sftp-pool.ts) while both held a session. */
export interface Sharing {
  /** The partner's open connections in the pool. */
  connections: number;
  /** Sessions running on them. */
  sessions: number;
  /** Both runs were handed the same connection (by id). */
  sameConnection: boolean;
  /** TCP connections open through the server's proxy (the janitor's and earlier ones are closed). */
  tcp: number;
}

/** The shared-session plan of the case running now. */
interface SharePlan {
  point: FailpointName;
  fired: boolean;
  /** The first moment both runs held a session. */
  sharing?: Sharing;
  /** The bystander was held at the point when the fault fired. */
  bystanderAtFault?: boolean;
}

/** A partner config per server and sidecar setting, from a fixture dir loaded as Ferry loads it. */
async function loadTemplates(services: Services, server: Servers[keyof Servers], dir: string) {
  const fixture = await writeFerryConfig(
    { ...services, sshd: server.sshd },
    {
      partners: [
        { id: 'template', port: server.proxy.port, attempts: ATTEMPTS },
        {
          id: 'template-sidecars',
          port: server.proxy.port,
          attempts: ATTEMPTS,
          extraYaml: `naming: { checksumFile: sha256, doneFile: "{filename}.done" }`,
        },
      ],
      logLevel: 'silent',
    },
    dir,
  );
  const loaded = await loadConfig(fixture.dir);
  if (!loaded.ok) throw new Error(`explorer config: ${JSON.stringify(loaded.problems)}`);
  const plain = loaded.config.partners.get('template')!;
  return {
    config: loaded.config,
    bucket: fixture.bucket,
    plain,
    sidecars: loaded.config.partners.get('template-sidecars')!,
    auth: await resolvePartnerAuth(plain.target.auth),
  };
}

async function buildExplorer(
  services: Services,
  servers: Servers,
  stopServers: () => Promise<void>,
): Promise<FaultSpaceExplorer> {
  const configRoot = join(services.sshd.dir, '..', 'explorer-config');
  const templates = {
    posix: await loadTemplates(services, servers.posix, join(configRoot, 'posix')),
    plain: await loadTemplates(services, servers.plain, join(configRoot, 'plain')),
  };
  const base = templates.posix.config;

  const logger = createLogger({ level: 'silent' });
  const redis: RedisClient = createRedisConnection(base.service.redis, 'worker');
  const keys = createRedisKeys(base.service.redis.prefix);
  const ledger = createRedisLedger(redis, keys);
  const semaphore = createRedisSemaphore(redis, keys, { leaseMs: 60_000 });
  const s3 = s3ClientFor(services.s3);
  // Ferry's own client answers If-Match as S3 does (s3rver ignores it): a re-exported key's old
  // version cannot be read any more (412 → ERR_SOURCE_CHANGED).
  const ferryS3 = s3ClientFor(services.s3);
  installS3Faults(ferryS3).add({
    match: (call) => call.command === 'GetObjectCommand' && call.ifMatch !== undefined,
    act: async (call) => {
      const now = await s3.send(new HeadObjectCommand({ Bucket: call.bucket, Key: call.key }));
      return now.ETag === call.ifMatch ? 'pass' : S3_ERRORS.preconditionFailed;
    },
  });
  const source = createS3Source(ferryS3);
  const receipts = createReceiptStore(source, base.service.receipts);
  const trust = createLedgerTrust({
    redis,
    keys,
    ledger,
    source,
    receipts,
    receiptsLocation: base.service.receipts,
    logger,
  });
  trust.start();
  await trust.whenTrusted();

  // One pooled connection per server, reused across cases (every partner logs in as the same user):
  // a partner with maxConnections 1 (the slot cap and the pool's limit, as src/main.ts sets both), so
  // deliveries running at once share it, up to target.maxFilesInFlight sessions.
  const serverOf = (key: string): keyof Servers => (key === 'plain' ? 'plain' : 'posix');
  const pool: SftpPool = createSftpPool({
    idleTimeoutMs: 60_000,
    limits: (key) => ({
      connections: 1,
      sessionsPerConnection: templates[serverOf(key)].plain.target.maxFilesInFlight,
    }),
    acquireSlot: (key, signal) =>
      semaphore.acquire(`explorer-${key}`, 1, { ...(signal ? { signal } : {}), timeoutMs: 60_000 }),
    connect: (key) => {
      const server = servers[serverOf(key)];
      return connectSftp({
        host: '127.0.0.1',
        port: server.proxy.port,
        username: server.sshd.username,
        hostKeys: [server.sshd.hostKeyFingerprint],
        auth: templates[serverOf(key)].auth,
        readyTimeoutMs: 10_000,
        keepaliveIntervalMs: 10_000,
        keepaliveCountMax: 3,
      });
    },
  });

  // The process running now (cases run one at a time; a shared-session case runs two deliveries in
  // it). A crash kills it: from then on its adapters refuse every call and its connections are reset,
  // as a dead process would leave things.
  const fresh = (): Incarnation => ({ connections: new Set(), runs: new Set() });
  let current = fresh();
  // Which run a call comes from (failpoints and sessions are shared by the runs of one process).
  const runOf = new AsyncLocalStorage<RunState>();
  let plan: SharePlan | undefined;
  // Runs waiting on each other (shared-session cases): re-checked whenever a run's state changes.
  const waits = new Set<{ ready: () => boolean; resolve: () => void }>();
  const poke = (): void => {
    for (const w of [...waits]) {
      if (!w.ready()) continue;
      waits.delete(w);
      w.resolve();
    }
  };
  const waitFor = (ready: () => boolean): Promise<void> =>
    ready() ? Promise.resolve() : new Promise((resolve) => waits.add({ ready, resolve }));
  const others = (run: RunState): RunState[] => [...current.runs].filter((r) => r !== run);
  const inFlight = (role: Role): boolean => [...current.runs].some((r) => r.role === role && !r.ended);
  // Failpoints that fired during the current case (a point not wired into the path never fires).
  const fired: string[] = [];
  const unsubscribe = onFailpointFired((point, kind) => {
    fired.push(`${point}=${kind}`);
    if (plan?.point === point) {
      plan.fired = true;
      plan.bystanderAtFault = [...current.runs].some((r) => r.role === 'bystander' && r.atPoint);
      poke();
    }
    if (kind !== 'crash') return;
    current.crash = point;
    servers.posix.proxy.resetAll();
    servers.plain.proxy.resetAll();
  });
  const alive = <T extends object>(target: T): T => gateAfterCrash(target, () => current.crash);
  /**
   * Shared-session cases: the point fires in the faulted delivery only, once the bystander is held at
   * the same point (or has ended), and the bystander goes on once it fired: both are in flight then.
   */
  const onlyFaulted = async (point: FailpointName): Promise<boolean> => {
    const run = runOf.getStore();
    const p = plan;
    if (!run || !p) return true;
    const armed = point === p.point && !p.fired;
    if (run.role === 'bystander') {
      if (armed) {
        run.atPoint = true;
        poke();
        await waitFor(() => p.fired || !inFlight('faulted'));
        run.atPoint = false;
      }
      return false;
    }
    if (armed) {
      await waitFor(() => others(run).every((r) => r.ended || r.atPoint));
    }
    return true;
  };
  /**
   * Shared-session cases: a run that takes its session waits for the other run to hold one too (or to
   * have ended), so both deliveries really are on the connection at once; the pool's stats then.
   */
  const meetOnSession = async (run: RunState, connection: SftpConnection, key: keyof Servers) => {
    if (!plan || run.checkedOut) return;
    run.checkedOut = true;
    run.connectionId = connection.id;
    const rest = others(run);
    if (!plan.sharing && rest.length > 0 && rest.every((r) => r.checkedOut && !r.ended)) {
      const stats = pool.stats().byPartner[key];
      plan.sharing = {
        connections: stats?.open ?? 0,
        sessions: stats?.sessions ?? 0,
        sameConnection: rest.every((r) => r.connectionId === connection.id),
        tcp: servers[key].proxy.open,
      };
    }
    poke();
    await waitFor(() => others(run).every((r) => r.ended || r.checkedOut || r.atPoint));
  };

  let config: FerryConfig = base;
  const alerts: AlertEvent[] = [];
  const alerter: Alerter = {
    notify: (event) => {
      if (!current.crash) alerts.push(event);
    },
  };
  const deps: DeliverDeps = {
    getConfig: () => config,
    source: alive(source),
    ledger: alive(ledger),
    receipts: alive(receipts),
    trust,
    pathLeases: alive(createPathLeases(redis, keys)),
    temps: alive(createTempRegistry(redis, keys)),
    withSession: (partner, fn) => {
      const key = partner.target.port === servers.plain.proxy.port ? 'plain' : 'posix';
      return pool.withSession(key, async (connection) => {
        current.connections.add(connection);
        const run = runOf.getStore();
        if (run) await meetOnSession(run, connection, key);
        return fn(alive(connection));
      });
    },
    logger,
    now: () => new Date(),
    ferryVersion: 'fault-space-explorer',
    alerts: alerter,
  };
  const processor = createDeliverProcessor(deps);

  let seq = 0;
  const ctx: RunContext = {
    services,
    s3Put: (bucket, key, body) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body })),
    source,
    ledger,
    receipts,
    alerts,
    bucket: templates.posix.bucket,
    newPartner: async (c) => {
      seq += 1;
      const id = `fs${seq}-${randomBytes(3).toString('hex')}`;
      const dir = join(services.sshd.inbound, id);
      await mkdir(join(dir, TAKEN), { recursive: true });
      const owner = await stat(services.sshd.inbound);
      await chown(dir, owner.uid, owner.gid);
      await chown(join(dir, TAKEN), owner.uid, owner.gid);
      const server = templates[c.publish === 'rename-plain' ? 'plain' : 'posix'];
      const template = c.sidecars ? server.sidecars : server.plain;
      const partner: PartnerConfig = {
        ...template,
        id,
        source: { ...template.source, prefix: `${id}/` },
        target: {
          ...template.target,
          directory: dir,
          publish: targetPublish(c.publish),
          onExisting: c.onExisting,
        },
      };
      config = { ...base, partners: new Map([[id, partner]]) };
      return { partner, dir, chownToSftpUser: (path) => chown(path, owner.uid, owner.gid) };
    },
    janitor: async (partner) => {
      await createJanitor({
        getConfig: () => config,
        withSession: (p, fn) =>
          pool.withSession(p.target.port === servers.plain.proxy.port ? 'plain' : 'posix', fn),
        registry: createTempRegistry(redis, keys),
        logger,
        now: () => new Date(Date.now() + 2 * 24 * 3600 * 1000),
      }).run(partner);
    },
    runTogether: async (requests) => {
      const life = fresh();
      current = life;
      const runOne = async ({ data, attemptsMade, timestamp, role }: RunRequest): Promise<RunOutcome> => {
        const run: RunState = { role, checkedOut: false, atPoint: false, ended: false };
        life.runs.add(run);
        const job = {
          id: data.deliveryId,
          data,
          attemptsMade,
          opts: { attempts: ATTEMPTS },
          timestamp,
          token: undefined,
        } as unknown as Job;
        try {
          await runOf.run(run, () => processor(job));
          // A run that outlived the crash (a bystander past its last call) was never completed either.
          return life.crash ? { kind: 'crashed' } : { kind: 'returned' };
        } catch (err) {
          if (life.crash) return { kind: 'crashed' };
          return { kind: err instanceof UnrecoverableError ? 'permanent' : 'retryable', err };
        } finally {
          run.ended = true;
          poke();
        }
      };
      try {
        const outcomes = await Promise.all(requests.map(runOne));
        if (life.crash) {
          // The dead process's connections must be gone before the restart takes one from the pool.
          await Promise.all(
            [...life.connections].map((c) => new Promise<void>((resolve) => c.onClose(resolve))),
          );
        }
        return outcomes;
      } finally {
        current = fresh();
      }
    },
    shareSession: (point) => {
      plan = { point, fired: false };
      return plan;
    },
    arm: (spec) => configureFailpoints(spec, plan ? onlyFaulted : undefined),
  };

  return {
    run: async (c) => {
      alerts.length = 0;
      fired.length = 0;
      plan = undefined;
      configureFailpoints(undefined);
      try {
        const result = c.kind === 'single' ? await runSingle(ctx, c) : await runTwoVersions(ctx, c);
        return { ...result, fired: fired.length > 0 };
      } finally {
        plan = undefined;
        configureFailpoints(undefined);
      }
    },
    stop: async () => {
      unsubscribe();
      await pool.close();
      await trust.close();
      redis.disconnect();
      s3.destroy();
      ferryS3.destroy();
      await stopServers();
    },
  };
}

/**
 * Wraps an adapter so that, once the current attempt has crashed, every method call rejects with the
 * crash (and `alive` reads false): a dead process makes no more requests, writes no ledger entry and
 * cleans nothing up, whatever its error paths would try.
 */
function gateAfterCrash<T extends object>(target: T, crashed: () => FailpointName | undefined): T {
  return new Proxy(target, {
    get(obj, prop) {
      const value: unknown = Reflect.get(obj, prop, obj);
      if (prop === 'alive' && crashed()) return false;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]): unknown => {
        const point = crashed();
        if (point) {
          const refused = Promise.reject(
            new Error(`the attempt crashed at ${point}: a dead process makes no calls`),
          );
          refused.catch(() => undefined); // a fire-and-forget caller must not see an unhandled rejection
          return refused;
        }
        return (value as (...a: unknown[]) => unknown).apply(obj, args);
      };
    },
  });
}

interface RunRequest {
  data: DeliverJobData;
  attemptsMade: number;
  timestamp: number;
  role: Role;
}

type RunOutcome =
  { kind: 'returned' } | { kind: 'crashed' } | { kind: 'permanent' | 'retryable'; err: unknown };

interface RunContext {
  services: Services;
  s3Put(bucket: string, key: string, body: Buffer): Promise<unknown>;
  source: ObjectSource;
  ledger: Ledger;
  receipts: ReceiptStore;
  alerts: AlertEvent[];
  bucket: string;
  newPartner(c: FaultCase): Promise<{
    partner: PartnerConfig;
    dir: string;
    chownToSftpUser: (path: string) => Promise<void>;
  }>;
  /** Runs the deliveries at once in one (simulated) process: a crash in one kills them all. */
  runTogether(requests: RunRequest[]): Promise<RunOutcome[]>;
  /**
   * Makes the case a shared-session one: runs of role "bystander" never fire a failpoint and are held
   * at `point` until it fires in the faulted delivery.
   */
  shareSession(point: FailpointName): SharePlan;
  /** configureFailpoints(spec), scoped to the faulted delivery in a shared-session case. */
  arm(spec: string): void;
  /** A janitor pass over the partner's directory as if two days had passed (every leftover is old). */
  janitor(partner: PartnerConfig): Promise<void>;
}

/** One delivery's retry loop, as BullMQ would drive it (no backoff delays: nothing waits on a clock). */
class DeliveryDriver {
  attemptsMade = 0;
  runs = 0;
  done = false;
  lastError: unknown;
  /** What each run ended with: `ok`, `crash`, or the error's code. */
  readonly history: string[] = [];
  private readonly timestamp = Date.now();

  constructor(
    private readonly ctx: RunContext,
    readonly data: DeliverJobData,
    readonly role: Role = 'faulted',
  ) {}

  /** One run; returns false once the delivery needs no more runs. */
  async step(): Promise<boolean> {
    if (this.done) return false;
    const [outcome] = await this.ctx.runTogether([this.request()]);
    return this.record(outcome!);
  }

  /** One run of each delivery that needs one, all at once in one process; false once none does. */
  static async stepTogether(ctx: RunContext, drivers: DeliveryDriver[]): Promise<boolean> {
    const due = drivers.filter((d) => !d.done);
    if (due.length === 0) return false;
    const outcomes = await ctx.runTogether(due.map((d) => d.request()));
    due.forEach((d, i) => d.record(outcomes[i]!));
    return drivers.some((d) => !d.done);
  }

  private request(): RunRequest {
    return { data: this.data, attemptsMade: this.attemptsMade, timestamp: this.timestamp, role: this.role };
  }

  private record(outcome: RunOutcome): boolean {
    this.runs += 1;
    this.history.push(
      outcome.kind === 'returned' ? 'ok' : outcome.kind === 'crashed' ? 'crash' : errorCodeOf(outcome.err),
    );
    if (outcome.kind === 'returned' || outcome.kind === 'permanent') this.done = true;
    if (outcome.kind === 'retryable' || outcome.kind === 'permanent') this.lastError = outcome.err;
    if (outcome.kind === 'retryable') {
      this.attemptsMade += 1;
      if (this.attemptsMade >= ATTEMPTS) this.done = true; // BullMQ fails the job for good
    }
    if (this.runs >= MAX_RUNS) this.done = true;
    return !this.done;
  }
}

interface PartnerWatch {
  /**
   * Resolves once the partner has acted on everything that appeared so far: retries come after a
   * backoff in production, so an eager partner has always taken a published file before the next run.
   */
  quiesce(): Promise<void>;
  /** Quiesces, stops watching and returns every event. */
  settle(): Promise<PartnerEvent[]>;
}

/** Watches the partner directory; with "pickup", moves every final file into taken/ as it appears. */
async function watchPartner(dir: string, publish: Publish, behaviour: Behaviour): Promise<PartnerWatch> {
  let moves = Promise.resolve();
  let taken = 0;
  // A final name appears complete by rename (MOVED_TO) or link (CREATE) in rename mode; in direct
  // mode it is complete once closed after writing.
  const appears: readonly PartnerEvent['event'][] =
    publish !== 'direct' ? ['MOVED_TO', 'CREATE', 'CLOSE_WRITE'] : ['MOVED_TO', 'CLOSE_WRITE'];
  const observer = await observePartnerDir(dir, {
    onEvent: (e) => {
      if (behaviour !== 'pickup' || e.name.startsWith('.') || e.name === TAKEN) return;
      if (!appears.includes(e.event)) return;
      moves = moves.then(async () => {
        taken += 1;
        const to = join(dir, TAKEN, `${String(taken).padStart(3, '0')}-${e.name}`);
        await rename(join(dir, e.name), to).catch(() => undefined); // already taken, or replaced
      });
    },
  });
  const quiesce = async (): Promise<void> => {
    await observer.sync();
    await moves;
  };
  return {
    quiesce,
    settle: async () => {
      await quiesce();
      const events = observer.events();
      await observer.stop();
      return events;
    },
  };
}

function targetPublish(publish: Publish): 'rename' | 'direct' {
  return publish === 'direct' ? 'direct' : 'rename';
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function jobDataFor(ctx: RunContext, partnerId: string, key: string): Promise<DeliverJobData> {
  const head = await ctx.source.head(ctx.bucket, key);
  if (!head) throw new Error(`explorer: ${key} not in S3`);
  const identity = { partnerId, bucket: ctx.bucket, key, etag: head.etag };
  return {
    v: 1,
    deliveryId: computeDeliveryId(identity),
    ...identity,
    size: head.size,
    lastModified: head.lastModified.toISOString(),
  };
}

/** What the partner holds for one name: its bytes at the final name, or the last copy taken away. */
interface PartnerView {
  files: Map<string, Buffer>;
  /** taken/ copies by final name, oldest first. */
  taken: Map<string, Buffer[]>;
  leftovers: string[];
}

async function viewPartner(dir: string): Promise<PartnerView> {
  const files = new Map<string, Buffer>();
  const leftovers: string[] = [];
  for (const name of await readdir(dir)) {
    if (name === TAKEN) continue;
    if (FERRY_LEFTOVER.test(name)) leftovers.push(name);
    files.set(name, await readFile(join(dir, name)));
  }
  const taken = new Map<string, Buffer[]>();
  for (const entry of (await readdir(join(dir, TAKEN))).sort()) {
    const name = entry.slice(entry.indexOf('-') + 1);
    const list = taken.get(name) ?? [];
    list.push(await readFile(join(dir, TAKEN, entry)));
    taken.set(name, list);
  }
  return { files, taken, leftovers };
}

/** The partner's copy of `name`: the file at the final name, else the last one taken away. */
function latestCopy(view: PartnerView, name: string): Buffer | undefined {
  return view.files.get(name) ?? view.taken.get(name)?.at(-1);
}

function describeEnd(record: DeliveryRecord | undefined): string {
  if (!record) return 'no ledger record';
  const status = record.status as string;
  return status === 'failed' ? `failed ${record.lastErrorCode ?? '(no code)'}` : status;
}

function errorCodeOf(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err) return String(err.code);
  return err instanceof Error ? err.name : String(err);
}

/** Checks shared by every delivery: terminal, receipt and bytes behind `delivered`, alerts. */
async function checkDelivery(
  ctx: RunContext,
  out: Violation[],
  name: string,
  label: string,
  driver: DeliveryDriver,
  record: DeliveryRecord | undefined,
  source: Buffer,
  view: PartnerView,
  dataName: string,
  sidecars: boolean,
  /** A later version replaced this one at the final name: its bytes need not be there any more. */
  replaced = false,
): Promise<void> {
  const v = (kind: string, detail: string) => out.push({ kind, message: `${name}: ${label}${detail}` });
  const status = record?.status as string | undefined;
  if (status === undefined || !TERMINAL.has(status)) {
    v(
      'not-terminal',
      `ended ${describeEnd(record)} after ${driver.runs} runs (last error ${errorCodeOf(driver.lastError)})`,
    );
    return;
  }
  if (status === 'failed' && !record?.lastErrorCode) v('failed-without-code', 'failed without an error code');
  if (
    (status === 'failed' || status === 'quarantined') &&
    !ctx.alerts.some((a) => a.deliveryId === driver.data.deliveryId)
  ) {
    v('no-alert', `ended ${describeEnd(record)} without an alert`);
  }
  if (status !== 'delivered') return;
  const receipt = await ctx.receipts.read(driver.data.partnerId, driver.data.deliveryId);
  if (!receipt) v('delivered-without-receipt', 'delivered but no receipt');
  const recorded = receipt?.sha256 ?? record?.sha256;
  if (recorded !== sha256(source)) {
    v(
      'receipt-other-bytes',
      `delivered with sha256 ${recorded?.slice(0, 12)} but the source is ${sha256(source).slice(0, 12)}`,
    );
  }
  const copies = [
    ...(view.files.has(dataName) ? [view.files.get(dataName)!] : []),
    ...(view.taken.get(dataName) ?? []),
  ];
  if (replaced) return;
  if (copies.length === 0) v('delivered-nothing', 'delivered but the partner has no file');
  else if (!copies.some((c) => sha256(c) === recorded)) {
    v('delivered-other-bytes', 'delivered but the partner holds other bytes');
  }
  if (sidecars && recorded !== undefined) {
    const checksum = latestCopy(view, `${dataName}.sha256`)?.toString('utf8');
    if (checksum === undefined) v('sidecar-missing', `delivered without ${dataName}.sha256`);
    else if (checksum !== `${recorded}  ${dataName}\n`) {
      v('sidecar-wrong', `${dataName}.sha256 holds another digest`);
    }
    if (latestCopy(view, `${dataName}.done`) === undefined) {
      v('sidecar-missing', `delivered without ${dataName}.done`);
    }
  }
}

/**
 * Publish counts and writes under final names (invariants 2 and 3), from the observer's events:
 * every name the partner sees may appear at most `allowed` times (0 when nothing may be published).
 */
function checkPublishes(
  out: Violation[],
  name: string,
  events: PartnerEvent[],
  publish: Publish,
  allowed: number,
): void {
  for (const [file, count] of countPublishes(events, targetPublish(publish))) {
    if (file.startsWith('.') || count <= allowed) continue;
    out.push(
      allowed === 0
        ? {
            kind: 'published-when-not-delivering',
            message: `${name}: ${file} was published ${count} times although the delivery must not publish`,
          }
        : {
            kind: 'duplicate-publish',
            message: `${name}: ${file} was published ${count} times (at most ${allowed})`,
          },
    );
  }
  if (publish === 'direct') return;
  const written = new Set(
    events.filter((e) => e.event === 'CLOSE_WRITE' && !e.name.startsWith('.')).map((e) => e.name),
  );
  for (const file of written) {
    out.push({
      kind: 'final-opened-for-writing',
      message: `${name}: ${file} was written under its final name (CLOSE_WRITE); it must appear only by rename`,
    });
  }
}

function checkLeftovers(
  out: Violation[],
  evidence: string[],
  name: string,
  view: PartnerView,
  records: (DeliveryRecord | undefined)[],
  seeded: ReadonlyMap<string, Buffer> = new Map(),
): void {
  const failedWithIntent = records.some((r) => r?.status === 'failed' && r.sha256 !== undefined);
  for (const leftover of view.leftovers) {
    if (failedWithIntent && leftover.endsWith('.part')) evidence.push(`${name}: ${leftover}`);
    else {
      // The starting state's garbage temp, never touched (e.g. publish: direct writes no temp).
      const untouched = seeded.get(leftover)?.equals(view.files.get(leftover) ?? Buffer.alloc(0)) === true;
      out.push({
        kind: untouched ? 'leftover-temp-of-earlier-attempt' : 'leftover-temp',
        message: `${name}: ${leftover} left after the delivery ended ${records.map(describeEnd).join(', ')}`,
      });
    }
  }
}

async function runSingle(ctx: RunContext, c: SingleCase): Promise<Omit<CaseResult, 'fired'>> {
  const name = caseName(c);
  const { partner, dir, chownToSftpUser } = await ctx.newPartner(c);
  const dataName = 'export.csv';
  const key = `${partner.id}/${dataName}`;
  const source = randomBytes(SOURCE_BYTES);
  await ctx.s3Put(ctx.bucket, key, source);
  const data = await jobDataFor(ctx, partner.id, key);
  const neighbourSource = randomBytes(SOURCE_BYTES + 11);
  let neighbour: DeliveryDriver | undefined;
  if (c.bystander) {
    await ctx.s3Put(ctx.bucket, `${partner.id}/${NEIGHBOUR}`, neighbourSource);
    neighbour = new DeliveryDriver(
      ctx,
      await jobDataFor(ctx, partner.id, `${partner.id}/${NEIGHBOUR}`),
      'bystander',
    );
  }

  // The partner's starting state: its own notes, and whatever the case puts at the final name.
  const notes = randomBytes(100);
  const seeded = new Map<string, Buffer>([[PARTNER_NOTES, notes]]);
  if (c.start === 'same-size') seeded.set(dataName, randomBytes(SOURCE_BYTES));
  if (c.start === 'other-size') seeded.set(dataName, randomBytes(OTHER_SIZE_BYTES));
  if (c.start === 'temp-leftover') {
    seeded.set(tempNameFor(dataName, data.deliveryId), randomBytes(SOURCE_BYTES / 2));
  }
  for (const [file, bytes] of seeded) {
    await writeFile(join(dir, file), bytes, { mode: 0o640 });
    await chownToSftpUser(join(dir, file));
  }

  const watch = await watchPartner(dir, c.publish, c.behaviour);
  const plan = neighbour && c.failpoint !== 'none' ? ctx.shareSession(c.failpoint) : undefined;
  if (c.failpoint !== 'none') ctx.arm(`${c.failpoint}=${c.action}`);
  const driver = new DeliveryDriver(ctx, data);
  const drivers = neighbour ? [driver, neighbour] : [driver];
  try {
    while (await DeliveryDriver.stepTogether(ctx, drivers)) await watch.quiesce();
  } finally {
    configureFailpoints(undefined);
  }
  const allEvents = await watch.settle();
  await ctx.janitor(partner); // "no orphans after the janitor"
  const wholeView = await viewPartner(dir);
  const isNeighbours = (file: string) =>
    file === NEIGHBOUR || file.startsWith(`${NEIGHBOUR}.`) || file.startsWith(`.${NEIGHBOUR}.`);
  const events = allEvents.filter((e) => !isNeighbours(e.name));
  const view = viewOnly(wholeView, (file) => !isNeighbours(file));
  const record = await ctx.ledger.get(data.deliveryId);

  const violations: Violation[] = [];
  const evidence: string[] = [];
  const partnerFile = seeded.get(dataName);
  // What the config says must happen (invariant 3).
  const expected: 'delivered' | 'failed ERR_REMOTE_EXISTS' | 'skipped' =
    partnerFile === undefined || c.onExisting === 'overwrite'
      ? 'delivered'
      : c.onExisting === 'fail'
        ? 'failed ERR_REMOTE_EXISTS'
        : 'skipped';
  await checkDelivery(ctx, violations, name, '', driver, record, source, view, dataName, c.sidecars);
  const ended = describeEnd(record);
  if (TERMINAL.has(record?.status ?? '') && ended !== expected) {
    const detail = record?.lastError ? ` (${record.lastError.slice(0, 140)})` : '';
    violations.push({
      kind: 'unexpected-end',
      message: `${name}: ended ${ended} where the config says ${expected}${detail}`,
    });
  }
  if (expected !== 'delivered' && partnerFile !== undefined) {
    const now = view.files.get(dataName);
    if (!now || !now.equals(partnerFile)) {
      violations.push({
        kind: 'partner-file-touched',
        message: `${name}: the partner's own ${dataName} was ${now ? 'changed' : 'removed'} (onExisting ${c.onExisting})`,
      });
    }
  }
  if (!view.files.get(PARTNER_NOTES)?.equals(notes)) {
    violations.push({
      kind: 'partner-file-touched',
      message: `${name}: the partner's own ${PARTNER_NOTES} was changed or removed`,
    });
  }
  // publish: direct has no evidence but the file itself: a fault between the close of the file written
  // in place and its record, with a partner that takes the file at once, leaves nothing to tell a
  // complete file from a fragment, so the retry writes it again (complete both times). The documented
  // cost of direct (docs/exactly-once.md "What publish: direct gives up"); with a partner that leaves files it is read back.
  // A fault inside the upload once every byte is written (after_fsync, before the close) closes the
  // file too — the failing upload closes its handle, or the server does when the connection dies — and
  // the retry writes it again: taken by the partner, or (throw) removed as the failed upload's fragment.
  // After a crash a partner that leaves files gets it read back instead.
  const directWindow =
    c.publish === 'direct' &&
    ((c.behaviour === 'pickup' && (c.failpoint === 'after_temp_upload' || c.failpoint === 'after_verify')) ||
      (c.failpoint === 'after_fsync' && (c.behaviour === 'pickup' || c.action === 'throw:1')));
  const allowed = expected === 'delivered' ? (directWindow ? 2 : 1) : 0;
  checkPublishes(violations, name, events, c.publish, allowed);
  checkLeftovers(violations, evidence, name, view, [record], seeded);
  const outcomes = [`${ended} (runs: ${driver.history.join(' → ')})`];
  if (neighbour) {
    const neighbourEvents = allEvents.filter((e) => isNeighbours(e.name));
    const neighbourView = viewOnly(wholeView, isNeighbours);
    outcomes.push(
      ...(await checkNeighbour(
        ctx,
        violations,
        evidence,
        c,
        neighbour,
        neighbourSource,
        neighbourEvents,
        neighbourView,
        plan,
      )),
    );
  }
  return {
    name,
    violations,
    evidenceLeftovers: evidence,
    outcomes,
    ...(plan?.sharing ? { sharing: plan.sharing } : {}),
  };
}

/**
 * The shared-session case's bystander: delivered exactly once with its bytes, receipt and record, no
 * temp of it left, on the faulted delivery's connection at the same time. A thrown fault in the other
 * delivery must not fail it; a crash kills it too (the same process), and it converges after the
 * restart like the faulted one.
 */
async function checkNeighbour(
  ctx: RunContext,
  out: Violation[],
  evidence: string[],
  c: SingleCase,
  neighbour: DeliveryDriver,
  source: Buffer,
  events: PartnerEvent[],
  view: PartnerView,
  plan: SharePlan | undefined,
): Promise<string[]> {
  const name = caseName(c);
  const record = await ctx.ledger.get(neighbour.data.deliveryId);
  await checkDelivery(
    ctx,
    out,
    name,
    'the bystander ',
    neighbour,
    record,
    source,
    view,
    NEIGHBOUR,
    c.sidecars,
  );
  const ended = describeEnd(record);
  if (TERMINAL.has(record?.status ?? '') && ended !== 'delivered') {
    const detail = record?.lastError ? ` (${record.lastError.slice(0, 140)})` : '';
    out.push({ kind: 'bystander-not-delivered', message: `${name}: the bystander ended ${ended}${detail}` });
  }
  if (c.action === 'throw:1' && neighbour.history.some((h) => h !== 'ok')) {
    out.push({
      kind: 'bystander-disturbed',
      message: `${name}: the bystander's runs went ${neighbour.history.join(' → ')} though only the other delivery on its connection failed`,
    });
  }
  // A crash stops the bystander where it is held (the same point): direct's exposure applies to it too.
  const directWindow =
    c.action === 'crash:1' &&
    c.publish === 'direct' &&
    c.behaviour === 'pickup' &&
    ['after_fsync', 'after_temp_upload', 'after_verify'].includes(c.failpoint);
  checkPublishes(out, name, events, c.publish, directWindow ? 2 : 1);
  checkLeftovers(out, evidence, `${name} (bystander)`, view, [record]);
  const sharing = plan?.sharing;
  if (!sharing || sharing.connections !== 1 || sharing.sessions !== 2 || !sharing.sameConnection) {
    out.push({
      kind: 'not-shared',
      message: `${name}: the two deliveries did not share one SFTP connection (${describeSharing(sharing)})`,
    });
  }
  return [
    `bystander ${ended} (runs: ${neighbour.history.join(' → ')})`,
    `${describeSharing(sharing)}; ${!plan?.fired ? 'the point never fired' : plan.bystanderAtFault ? 'the bystander was held at the point when it fired' : 'the bystander was not at the point when it fired'}`,
  ];
}

function describeSharing(s: Sharing | undefined): string {
  if (!s) return 'never both on a session at once';
  return `pool: ${s.sessions} sessions on ${s.connections} connection(s), ${s.sameConnection ? 'the same' : 'different'} connection by id, ${s.tcp} TCP connection(s) at the proxy`;
}

/** The part of the partner's directory whose names `keep` accepts. */
function viewOnly(view: PartnerView, keep: (file: string) => boolean): PartnerView {
  return {
    files: new Map([...view.files].filter(([file]) => keep(file))),
    taken: new Map([...view.taken].filter(([file]) => keep(file))),
    leftovers: view.leftovers.filter(keep),
  };
}

async function runTwoVersions(ctx: RunContext, c: TwoVersionsCase): Promise<Omit<CaseResult, 'fired'>> {
  const name = caseName(c);
  const { partner, dir } = await ctx.newPartner(c);
  const dataName = 'export.csv';
  const key = `${partner.id}/${dataName}`;
  const v1Bytes = randomBytes(SOURCE_BYTES);
  const v2Bytes = randomBytes(SOURCE_BYTES + 17);
  await ctx.s3Put(ctx.bucket, key, v1Bytes);
  const v1 = new DeliveryDriver(ctx, await jobDataFor(ctx, partner.id, key));

  const watch = await watchPartner(dir, c.publish, c.behaviour);
  configureFailpoints(`${c.failpoint}=${c.action}`);
  try {
    await v1.step();
    await watch.quiesce();
  } finally {
    configureFailpoints(undefined);
  }
  // The re-export: S3's LastModified has a one-second grain, so v2 is written in a later second.
  const v1Modified = Date.parse(v1.data.lastModified!);
  await waitUntil(v1Modified + 1000);
  await ctx.s3Put(ctx.bucket, key, v2Bytes);
  const v2 = new DeliveryDriver(ctx, await jobDataFor(ctx, partner.id, key));

  const order = c.order === 'v2-first' ? [v2, v1] : [v1, v2];
  for (let round = 0; round < MAX_RUNS && !(v1.done && v2.done); round++) {
    for (const driver of order) {
      await driver.step();
      await watch.quiesce();
    }
  }
  const events = await watch.settle();
  await ctx.janitor(partner);
  const view = await viewPartner(dir);
  const [r1, r2] = await Promise.all([
    ctx.ledger.get(v1.data.deliveryId),
    ctx.ledger.get(v2.data.deliveryId),
  ]);

  const violations: Violation[] = [];
  const evidence: string[] = [];
  const v2Shown = latestCopy(view, dataName)?.equals(v2Bytes) === true;
  await checkDelivery(ctx, violations, name, 'v1 ', v1, r1, v1Bytes, view, dataName, c.sidecars, v2Shown);
  await checkDelivery(ctx, violations, name, 'v2 ', v2, r2, v2Bytes, view, dataName, c.sidecars);
  if (r2?.status !== 'delivered') {
    violations.push({
      kind: 'newest-not-delivered',
      message: `${name}: v2 ended ${describeEnd(r2)}, not delivered`,
    });
  }
  // A replaced version ends superseded (or skipped: its source changed), or delivered before v2 was.
  const v1End = describeEnd(r1);
  if (!['superseded', 'skipped', 'delivered'].includes(v1End)) {
    violations.push({
      kind: 'older-version-not-settled',
      message: `${name}: v1 ended ${v1End} after v2 replaced it (expected superseded)${r1?.lastError ? ` (${r1.lastError.slice(0, 140)})` : ''}`,
    });
  }
  const latest = latestCopy(view, dataName);
  if (!latest?.equals(v2Bytes)) {
    const holds = latest === undefined ? 'nothing' : latest.equals(v1Bytes) ? "v1's bytes" : 'other bytes';
    violations.push({
      kind: 'older-published-after-newer',
      message: `${name}: the partner ends with ${holds}, not v2's`,
    });
  }
  const takenCopies = view.taken.get(dataName) ?? [];
  const firstV2 = takenCopies.findIndex((b) => b.equals(v2Bytes));
  if (firstV2 >= 0 && takenCopies.slice(firstV2).some((b) => b.equals(v1Bytes))) {
    violations.push({
      kind: 'older-published-after-newer',
      message: `${name}: the partner took v1 after v2`,
    });
  }
  // v1 may have been published before v2 (then replaced): one publish per version delivered. direct:
  // v1's bytes were written in place (the publish, in that mode) before the fault after its close; v1
  // then ends superseded, never recorded delivered, and v2 writes the name once more.
  const delivered = [r1, r2].filter((r) => r?.status === 'delivered').length;
  const v1WroteInPlace =
    c.publish === 'direct' && (c.failpoint === 'after_temp_upload' || c.failpoint === 'after_verify');
  checkPublishes(violations, name, events, c.publish, Math.max(1, delivered) + (v1WroteInPlace ? 1 : 0));
  checkLeftovers(violations, evidence, name, view, [r1, r2]);
  return {
    name,
    violations,
    evidenceLeftovers: evidence,
    outcomes: [
      `v1 ${describeEnd(r1)} (runs: ${v1.history.join(' → ')})`,
      `v2 ${describeEnd(r2)} (runs: ${v2.history.join(' → ')})`,
    ],
  };
}

/** Waits for the wall clock (S3's LastModified is second-grained; nothing else can be awaited). */
async function waitUntil(ms: number): Promise<void> {
  const left = ms - Date.now();
  if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
}

/** Violations grouped by kind: count and one example each. */
export function summarizeViolations(
  results: CaseResult[],
): { kind: string; count: number; example: string }[] {
  const byKind = new Map<string, { count: number; example: string }>();
  for (const v of results.flatMap((r) => r.violations)) {
    const entry = byKind.get(v.kind) ?? { count: 0, example: v.message };
    entry.count += 1;
    byKind.set(v.kind, entry);
  }
  return [...byKind].map(([kind, e]) => ({ kind, ...e })).sort((a, b) => b.count - a.count);
}
