// Prometheus metrics of one Ferry process (each process exposes its own; Prometheus adds `instance`).
import { DelayedError } from 'bullmq';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SlotLossReason } from '../core/slot-lease-state.js';
import type { LeftoverKind } from '../core/janitor.js';
import type { SourceAfter } from '../core/source-housekeeping.js';
import type { BandwidthCapKind } from '../adapters/bandwidth-limiter.js';
import type { ObjectEventOutcome } from '../partners/object-event-intake.js';

/** How one deliver job run ended: its result's outcome, or `failed` / `retry` when it threw. */
export type DeliveryOutcome =
  'delivered' | 'already-delivered' | 'skipped' | 'superseded' | 'quarantined' | 'failed' | 'retry';

export const DELIVERY_OUTCOMES: readonly DeliveryOutcome[] = [
  'delivered',
  'already-delivered',
  'skipped',
  'superseded',
  'quarantined',
  'failed',
  'retry',
];

/** What one finished sweep of a partner found. */
export interface SweepFigures {
  seconds: number;
  /** Objects listed under the prefix. */
  seen: number;
  /** Deliveries handed to the queue (an id that already has a job is not added twice). */
  enqueued: number;
  /** Age of the oldest listed object not yet delivered (new, queued or failed); 0 when none. */
  oldestUndeliveredAgeSeconds: number;
}

export type ConfigReloadResult = 'applied' | 'rejected';

/**
 * What one read of a partner's ack directory found for a file: an answer (acknowledged, rejected), a
 * delivery found overdue, or an answer file that matches no waiting delivery.
 */
export type AckReadResult = 'acknowledged' | 'rejected' | 'overdue' | 'unmatched';
export const ACK_READ_RESULTS: readonly AckReadResult[] = [
  'acknowledged',
  'rejected',
  'overdue',
  'unmatched',
];

/** What the processors and the config watcher report. Every method is cheap and never throws. */
export interface Metrics {
  deliveryFinished(partner: string, outcome: DeliveryOutcome, bytes: number, seconds: number): void;
  sweepFinished(partner: string, figures: SweepFigures): void;
  configReloaded(result: ConfigReloadResult): void;
  /** A connection-slot lease of that partner was lost (its connection was closed). */
  slotLeaseLost(partner: string, reason: SlotLossReason): void;
  /** The janitor removed one of Ferry's leftovers (a temp file, or an overwrite's aside). */
  janitorRemoved(partner: string, kind: LeftoverKind): void;
  /** The ack poller recorded an answer, found a delivery overdue, or found an answer matching nothing (once per file). */
  ackRead(partner: string, result: AckReadResult): void;
  /** A delivery of the partner waited this long for its budget under its own or the total bandwidth cap. */
  bandwidthWaited(partner: string, cap: BandwidthCapKind, seconds: number): void;
  /** What came of one S3 event for one partner (undefined: for none). */
  eventChecked(partner: string | undefined, outcome: ObjectEventOutcome): void;
  /** POST /api/events/s3 answered with this status. */
  eventRequestAnswered(status: number): void;
}

/** The default of every processor: reports nothing. */
export const NO_METRICS: Metrics = {
  deliveryFinished: () => undefined,
  sweepFinished: () => undefined,
  configReloaded: () => undefined,
  slotLeaseLost: () => undefined,
  janitorRemoved: () => undefined,
  ackRead: () => undefined,
  bandwidthWaited: () => undefined,
  eventChecked: () => undefined,
  eventRequestAnswered: () => undefined,
};

/** The part of a BullMQ queue the queue gauges read. */
export interface CountableQueue {
  readonly name: string;
  getJobCounts(...types: QueueState[]): Promise<Record<string, number>>;
}

export type QueueState = 'waiting' | 'active' | 'delayed' | 'failed' | 'completed';
const QUEUE_STATES: readonly QueueState[] = ['waiting', 'active', 'delayed', 'failed', 'completed'];

/** Where the pending `after.source` retries are read at scrape time. */
export interface HousekeepingPendingSource {
  /** The configured partners now (only those whose `after.source` is tag or move are counted). */
  partners: () => Iterable<{ id: string; after?: { source: SourceAfter } }>;
  /** The partner's pending entries (a ZCARD; all partners' are sent together, one round trip). */
  count: (partnerId: string) => Promise<number>;
}

/** Where the age of the oldest delivery waiting for its partner's answer is read at scrape time. */
export interface AckWaitingSource {
  /** The configured partners now (only those with `ack:` are read). */
  partners: () => Iterable<{ id: string; ack?: object }>;
  /** When the partner's oldest waiting delivery was delivered (epoch ms); undefined when none waits. */
  oldestWaitingMs: (partnerId: string) => Promise<number | undefined>;
}

/** Where the age of the oldest delivered file no manifest lists yet is read at scrape time. */
export interface ManifestWaitingSource {
  /** The configured partners now (only those with `manifest:` are read). */
  partners: () => Iterable<{ id: string; manifest?: object }>;
  /** When the partner's oldest file not yet in a manifest was delivered (epoch ms); undefined when none. */
  oldestOpenMs: (partnerId: string) => Promise<number | undefined>;
}

export interface MetricsSources {
  /** Queues whose job counts are read at scrape time (at most once per `queueCountsTtlMs`). */
  queues?: readonly CountableQueue[];
  /** Open SFTP connections per partner, read at scrape time (worker processes). */
  openConnections?: () => Iterable<readonly [partner: string, open: number]>;
  /** Daily SLA state per partner with `expect` (0 ok/none, 1 pending, 2 warning, 3 missed or missing export), read at scrape time. */
  slaStates?: () => Iterable<readonly [partner: string, state: number]>;
  /** Pending `after.source` retries per partner, read like the queue counts (cached, timed out). */
  housekeepingPending?: HousekeepingPendingSource;
  /** The oldest delivery waiting for an answer per partner with `ack:`, read like the queue counts. */
  ackWaiting?: AckWaitingSource;
  /** `manifest:` partners' files not yet listed (ferry_manifest_oldest_unlisted_age_seconds). */
  manifestWaiting?: ManifestWaitingSource;
  /** How long queue counts are reused between scrapes (default 5 s). */
  queueCountsTtlMs?: number;
  /** A scrape gives up on queue counts after this long (Redis away) and leaves them out (default 2 s). */
  queueCountsTimeoutMs?: number;
  /** Node.js process metrics (CPU, memory, event loop lag, GC), prefixed `ferry_` (default true). */
  processMetrics?: boolean;
  /** Milliseconds clock for the queue-count cache (tests). */
  nowMs?: () => number;
  /** Told when queue counts could not be read for a scrape. */
  onCollectError?: (err: unknown) => void;
}

/** The metrics of this process: what the processors report, plus a Prometheus text rendering. */
export interface FerryMetrics extends Metrics {
  /** The Content-Type of `render()`'s output (Prometheus text format 0.0.4). */
  readonly contentType: string;
  /** Every series in Prometheus text format; reads the scrape-time sources. */
  render(): Promise<string>;
}

/** Delivery durations: 10 ms (an already-delivered check) to 1 h (a large file over a slow link). */
export const DELIVERY_DURATION_BUCKETS = [
  0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
];
/** Sweep durations: a small prefix lists in ~10 ms, a prefix of millions of objects in minutes. */
export const SWEEP_DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** Builds a registry of `ferry_*` instruments; nothing is shared between two calls (tests start many). */
export function createMetrics(sources: MetricsSources = {}): FerryMetrics {
  const registry = new Registry();
  const registers = [registry];
  const nowMs = sources.nowMs ?? Date.now;

  const deliveries = new Counter({
    name: 'ferry_deliveries_total',
    help: 'Deliver job runs by how they ended (failed: BullMQ will not retry it; retry: it will).',
    labelNames: ['partner', 'outcome'] as const,
    registers,
  });
  const deliveredBytes = new Counter({
    name: 'ferry_delivered_bytes_total',
    help: 'Bytes uploaded to partners by delivered runs.',
    labelNames: ['partner'] as const,
    registers,
  });
  const deliveryDuration = new Histogram({
    name: 'ferry_delivery_duration_seconds',
    help: 'Duration of delivered runs, from job start (slot wait included) to the ledger record.',
    labelNames: ['partner'] as const,
    buckets: DELIVERY_DURATION_BUCKETS,
    registers,
  });
  const sweepDuration = new Histogram({
    name: 'ferry_sweep_duration_seconds',
    help: 'Duration of completed sweeps: listing, ledger lookups and enqueueing.',
    labelNames: ['partner'] as const,
    buckets: SWEEP_DURATION_BUCKETS,
    registers,
  });
  const sweepSeen = new Gauge({
    name: 'ferry_sweep_objects_seen',
    help: "Objects listed under the partner's prefix by the last sweep this process ran.",
    labelNames: ['partner'] as const,
    registers,
  });
  const sweepEnqueued = new Counter({
    name: 'ferry_sweep_objects_enqueued_total',
    help: 'Deliveries sweeps handed to the queue (one that already has a job is not added twice).',
    labelNames: ['partner'] as const,
    registers,
  });
  const oldestUndelivered = new Gauge({
    name: 'ferry_oldest_undelivered_age_seconds',
    help: 'Age, at that sweep, of the oldest object the last sweep this process ran found undelivered (0: none).',
    labelNames: ['partner'] as const,
    registers,
  });
  const lastSweep = new Gauge({
    name: 'ferry_sweep_last_finished_timestamp_seconds',
    help: 'When the last sweep this process ran finished (Unix time): tells which process has the freshest sweep gauges.',
    labelNames: ['partner'] as const,
    registers,
  });
  const configReloads = new Counter({
    name: 'ferry_config_reloads_total',
    help: 'Config reloads after a change on disk: applied, or rejected (the previous config keeps running).',
    labelNames: ['result'] as const,
    registers,
  });
  const slotLeasesLost = new Counter({
    name: 'ferry_slot_leases_lost_total',
    help: 'Connection-slot leases this process lost (not-held: the slot was reclaimed; unconfirmed: Redis did not answer renewals for a lease period); each closed a connection.',
    labelNames: ['partner', 'reason'] as const,
    registers,
  });
  const janitorRemoved = new Counter({
    name: 'ferry_janitor_removed_total',
    help: "Ferry's own leftovers the janitor removed from partners' servers: part (temp files of attempts that will never resume), old (an overwrite's aside left by a crash).",
    labelNames: ['partner', 'kind'] as const,
    registers,
  });
  const acks = new Counter({
    name: 'ferry_acks_total',
    help: "Partners' answers read from their ack directories (acknowledged, rejected), deliveries found overdue (no answer within ack.within), and answer files that match no waiting delivery (unmatched, counted once per file).",
    labelNames: ['partner', 'result'] as const,
    registers,
  });
  const bandwidthWait = new Counter({
    name: 'ferry_bandwidth_wait_seconds_total',
    help: "Seconds the partner's deliveries waited for budget under a bandwidth cap (cap: partner = its own target.maxBytesPerSecond, total = defaults.target.maxBytesPerSecond), summed over concurrent deliveries: a rate near the number of deliveries in flight means the cap sets the pace.",
    labelNames: ['partner', 'cap'] as const,
    registers,
  });
  const events = new Counter({
    name: 'ferry_s3_events_total',
    help: 'S3 events posted to /api/events/s3, by what came of each for each partner whose source holds its key (enqueued, delayed until settled, sweep started, ignored: seen, gone or not eligible); without a partner: unmatched (no partner with events: true holds the key), skipped (not an object creation).',
    labelNames: ['partner', 'outcome'] as const,
    registers,
  });
  const eventRequests = new Counter({
    name: 'ferry_s3_event_requests_total',
    help: 'Requests to /api/events/s3 by HTTP status (202 checked, 200 an SNS confirmation answered, 400 not an event, 401 no valid token, 403 a browser or an SNS signature that does not verify, 413 too large, 502 SNS unreachable, 503 Redis or S3 away).',
    labelNames: ['status'] as const,
    registers,
  });
  // Reloads are rare: show both series from the start, so `increase()` sees the first rejection.
  for (const result of ['applied', 'rejected'] as const) configReloads.inc({ result }, 0);

  const ttlMs = sources.queueCountsTtlMs ?? 5000;
  const timeoutMs = sources.queueCountsTimeoutMs ?? 2000;
  const queues = sources.queues ?? [];
  if (queues.length > 0) {
    const readCounts = cachedRead(
      () =>
        Promise.all(
          queues.map(
            async (q) => [q.name, await q.getJobCounts(...QUEUE_STATES)] as [string, Record<string, number>],
          ),
        ),
      'queue counts',
      ttlMs,
      timeoutMs,
      nowMs,
    );
    new Gauge({
      name: 'ferry_queue_jobs',
      help: 'Jobs in each BullMQ queue by state (read from Redis, cached a few seconds; the same in every process).',
      labelNames: ['queue', 'state'] as const,
      registers,
      async collect() {
        this.reset();
        try {
          for (const [queue, counts] of await readCounts()) {
            for (const state of QUEUE_STATES) this.set({ queue, state }, counts[state] ?? 0);
          }
        } catch (err) {
          // Left out rather than stale: an absent series is what Prometheus alerts can see.
          sources.onCollectError?.(err);
        }
      },
    });
  }

  const pending = sources.housekeepingPending;
  if (pending) {
    const readPending = cachedRead(
      () => {
        // Only partners that tag or move have anything to redo: a scrape costs one ZCARD per such partner.
        const ids = [...pending.partners()]
          .filter((p) => (p.after?.source ?? 'none') !== 'none')
          .map((p) => p.id);
        return Promise.all(ids.map(async (id) => [id, await pending.count(id)] as [string, number]));
      },
      'housekeeping pending counts',
      ttlMs,
      timeoutMs,
      nowMs,
    );
    new Gauge({
      name: 'ferry_source_housekeeping_pending',
      help: 'after.source steps (tag, move) that failed after a delivery and wait to be redone, per partner that tags or moves (read from Redis, cached a few seconds; the same in every process).',
      labelNames: ['partner'] as const,
      registers,
      async collect() {
        this.reset();
        try {
          for (const [partner, count] of await readPending()) this.set({ partner }, count);
        } catch (err) {
          sources.onCollectError?.(err);
        }
      },
    });
  }

  // Ages of the oldest thing a partner still waits for, read from Redis at scrape time: one read per
  // partner that has the option, cached a few seconds, the same in every process.
  const oldestAgeGauge = (
    name: string,
    help: string,
    what: string,
    partnerIds: () => string[],
    oldestMs: (partnerId: string) => Promise<number | undefined>,
  ): void => {
    const readOldest = cachedRead(
      () =>
        Promise.all(partnerIds().map(async (id) => [id, await oldestMs(id)] as [string, number | undefined])),
      what,
      ttlMs,
      timeoutMs,
      nowMs,
    );
    new Gauge({
      name,
      help,
      labelNames: ['partner'] as const,
      registers,
      async collect() {
        this.reset();
        try {
          const now = nowMs();
          for (const [partner, oldest] of await readOldest()) {
            this.set({ partner }, oldest === undefined ? 0 : Math.max(0, (now - oldest) / 1000));
          }
        } catch (err) {
          sources.onCollectError?.(err);
        }
      },
    });
  };
  const ackWaiting = sources.ackWaiting;
  if (ackWaiting) {
    oldestAgeGauge(
      'ferry_ack_oldest_waiting_age_seconds',
      "Age of the oldest delivered file still waiting for its partner's answer, per partner with ack: (0: none waits; read from Redis, cached a few seconds; the same in every process).",
      'oldest waiting answers',
      () => [...ackWaiting.partners()].filter((p) => p.ack !== undefined).map((p) => p.id),
      ackWaiting.oldestWaitingMs,
    );
  }
  const manifestWaiting = sources.manifestWaiting;
  if (manifestWaiting) {
    oldestAgeGauge(
      'ferry_manifest_oldest_unlisted_age_seconds',
      'Age of the oldest delivered file no manifest lists yet, per partner with manifest: (0: none; read from Redis, cached a few seconds; the same in every process).',
      'oldest files not in a manifest',
      () => [...manifestWaiting.partners()].filter((p) => p.manifest !== undefined).map((p) => p.id),
      manifestWaiting.oldestOpenMs,
    );
  }

  const openConnections = sources.openConnections;
  if (openConnections) {
    new Gauge({
      name: 'ferry_sftp_connections_open',
      help: "SFTP connections this process's pool holds open per partner, idle or busy.",
      labelNames: ['partner'] as const,
      registers,
      collect() {
        this.reset();
        for (const [partner, open] of openConnections()) this.inc({ partner }, open);
      },
    });
  }

  const slaStates = sources.slaStates;
  if (slaStates) {
    new Gauge({
      name: 'ferry_sla_state',
      help: "Today's delivery SLA per partner with `expect`: 0 ok (or no SLA today), 1 pending, 2 warning, 3 missed or missing export.",
      labelNames: ['partner'] as const,
      registers,
      collect() {
        this.reset();
        for (const [partner, state] of slaStates()) this.set({ partner }, state);
      },
    });
  }

  if (sources.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'ferry_' });

  return {
    contentType: registry.contentType,
    render: () => registry.metrics(),
    deliveryFinished(partner, outcome, bytes, seconds) {
      deliveries.inc({ partner, outcome });
      if (bytes > 0) deliveredBytes.inc({ partner }, bytes);
      if (outcome === 'delivered') deliveryDuration.observe({ partner }, Math.max(0, seconds));
    },
    sweepFinished(partner, figures) {
      sweepDuration.observe({ partner }, Math.max(0, figures.seconds));
      sweepSeen.set({ partner }, figures.seen);
      sweepEnqueued.inc({ partner }, figures.enqueued);
      oldestUndelivered.set({ partner }, Math.max(0, figures.oldestUndeliveredAgeSeconds));
      lastSweep.set({ partner }, nowMs() / 1000);
    },
    configReloaded(result) {
      configReloads.inc({ result });
    },
    slotLeaseLost(partner, reason) {
      slotLeasesLost.inc({ partner, reason });
    },
    janitorRemoved(partner, kind) {
      janitorRemoved.inc({ partner, kind });
    },
    ackRead(partner, result) {
      acks.inc({ partner, result });
    },
    eventChecked(partner, outcome) {
      events.inc({ partner: partner ?? '', outcome });
    },
    eventRequestAnswered(status) {
      eventRequests.inc({ status: String(status) });
    },
    bandwidthWaited(partner, cap, seconds) {
      if (seconds > 0) bandwidthWait.inc({ partner, cap }, seconds);
    },
  };
}

/**
 * Redis counts for a scrape (queue jobs, pending housekeeping): reused for `ttlMs`, one read in flight
 * at a time whatever the number of concurrent scrapes, and abandoned after `timeoutMs` (BullMQ's
 * connections wait for Redis forever).
 */
function cachedRead<T>(
  read: () => Promise<T>,
  what: string,
  ttlMs: number,
  timeoutMs: number,
  nowMs: () => number,
): () => Promise<T> {
  let cached: { at: number; value: T } | undefined;
  let inFlight: Promise<T> | undefined;
  return () => {
    if (cached && nowMs() - cached.at < ttlMs) return Promise.resolve(cached.value);
    inFlight ??= withTimeout(read(), what, timeoutMs).then(
      (value) => {
        cached = { at: nowMs(), value };
        inFlight = undefined;
        return value;
      },
      (err: unknown) => {
        inFlight = undefined;
        throw err;
      },
    );
    return inFlight;
  };
}

function withTimeout<T>(promise: Promise<T>, what: string, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The part of a BullMQ job `measureDeliveries` reads. */
interface MeasuredJob {
  data: unknown;
  attemptsMade: number;
  opts: { attempts?: number };
}

/**
 * Wraps the deliver processor (outside its error classification, so a thrown error is already what
 * BullMQ acts on): each run reports its outcome, bytes and duration under the job's partner, or
 * `unknown` for a partner that is not configured (job data is untrusted: no free-form label values).
 * A run that lost its job lock reports nothing; the run that owns the job reports it.
 */
export function measureDeliveries<
  J extends MeasuredJob,
  R extends { outcome: DeliveryOutcome; bytes: number },
>(
  processor: (job: J) => Promise<R>,
  metrics: Pick<Metrics, 'deliveryFinished'>,
  isConfiguredPartner: (id: string) => boolean,
  nowMs: () => number = () => performance.now(),
): (job: J) => Promise<R> {
  return async (job) => {
    const started = nowMs();
    const partnerId = (job.data as { partnerId?: unknown } | null)?.partnerId;
    const partner = typeof partnerId === 'string' && isConfiguredPartner(partnerId) ? partnerId : 'unknown';
    const report = (outcome: DeliveryOutcome, bytes: number): void => {
      metrics.deliveryFinished(partner, outcome, bytes, (nowMs() - started) / 1000);
    };
    try {
      const result = await processor(job);
      report(result.outcome, result.bytes);
      return result;
    } catch (err) {
      const outcome = failedOutcome(err, job);
      if (outcome) report(outcome, 0);
      throw err;
    }
  };
}

function failedOutcome(err: unknown, job: MeasuredJob): DeliveryOutcome | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (code === 'ERR_JOB_LOCK_LOST' || err instanceof DelayedError) return undefined; // not finished
  if (code === 'ERR_KEY_HOSTILE' || code === 'ERR_CSV_INVALID') return 'quarantined';
  // BullMQ's own test for "no more attempts", by name: PermanentError (jobs/job-errors.ts) keeps its
  // class name, and this module stays free of the job boundary's classes.
  const name = typeof err === 'object' && err !== null ? (err as { name?: unknown }).name : undefined;
  const permanent = name === 'UnrecoverableError' || name === 'PermanentError';
  return permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1) ? 'failed' : 'retry';
}
