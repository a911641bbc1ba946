// Composition root: the only place that builds real adapters and hands them to the processors.
import type { S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { createServer, type RequestListener, type Server } from 'node:http';
import { isIP } from 'node:net';
import { Worker, type Job, type MinimalJob } from 'bullmq';
import { createDeliverProcessor } from '../jobs/deliver.js';
import { createAckPoller } from '../jobs/ack-poll.js';
import { createManifestPublisher } from '../jobs/manifest-publish.js';
import { createJanitor } from '../jobs/janitor.js';
import { createSweepProcessor } from '../jobs/sweep.js';
import { createAlerter, type Alerter } from './observability/alerter.js';
import { openEventsTokens } from './adapters/events-token-source.js';
import { createReceiptStore } from './adapters/receipt-store.js';
import { createSnsCertificates, type CertFetchLike } from './adapters/sns-certificates.js';
import { createSnsSubscriber, type FetchLike } from './adapters/sns-subscriber.js';
import { createS3Client, createS3Source } from './adapters/s3-source.js';
import { connectSftp } from './adapters/sftp-connection.js';
import { createSftpPool, type SftpPool } from './adapters/sftp-pool.js';
import type { ConfigResult, FerryConfig } from './config/load-config.js';
import { formatProblem, formatWarning } from './config/load-config.js';
import type { EgressProxySetting, PartnerConfig, ServiceConfig } from './config/schema.js';
import { resolvePartnerAuth, resolveSecret } from './config/secrets.js';
import type { ObjectEvent } from './core/object-events.js';
import { checkObjectEvents } from './partners/object-event-intake.js';
import { createEventTimes } from './ledger/event-times.js';
import { legacyAlgorithmsIn } from './core/ssh-algorithms.js';
import { watchConfig } from './config/watch-config.js';
import { partnerOfDeliveryId } from './core/delivery-id.js';
import { sweepFailedAlert } from './core/failure-alerts.js';
import { computeBackoffMs } from './core/backoff.js';
import { FerryError } from './errors.js';
import type { DashboardUser } from './http/basic-auth.js';
import { createHttpApp, createMetricsApp, createStartingApp } from './http/create-app.js';
import { createAckIndex } from './ledger/ack-index.js';
import { createAuditLog } from './ledger/audit-log.js';
import { createDeliveryListing } from './ledger/delivery-listing.js';
import { createHousekeepingPending } from './ledger/housekeeping-pending.js';
import { createNameSequence } from './ledger/name-sequence.js';
import { createPathLeases } from './ledger/path-leases.js';
import { adoptOpenIntents } from './ledger/adopt-open-intents.js';
import { createRedeliveries } from './ledger/redeliveries.js';
import { createSweepSummaries } from './ledger/sweep-summary.js';
import { createRetries } from './ledger/retries.js';
import { createManifestBatches } from './ledger/manifest-batches.js';
import { createBandwidthBucket } from './ledger/bandwidth-bucket.js';
import { createPartnerThrottles } from './adapters/bandwidth-limiter.js';
import { createRedisKeys } from './ledger/redis-keys.js';
import { createTempRegistry } from './ledger/temp-registry.js';
import { createLedgerTrust } from './ledger/ledger-trust.js';
import { createRedisLedger } from './ledger/redis-ledger.js';
import { createRedisSemaphore, slotLossReasonOf } from './ledger/redis-semaphore.js';
import type { Logger } from './observability/logger.js';
import { createMetrics } from './observability/metrics.js';
import {
  createPartnerControls,
  deliveryHoldFor,
  type DeliveryHoldOptions,
} from './partners/partner-controls.js';
import { createSlaTracker, startSlaChecker, type SlaChecker } from './partners/sla-tracker.js';
import { slaStateGaugeValue } from './core/sla.js';
import { QUEUE } from './queues/names.js';
import { createQueues, enqueueDeliveries, requestSweep } from './queues/queues.js';
import { watchRedisAvailability } from './queues/redis-availability.js';
import {
  assertRedisPolicy,
  createRedisConnection,
  describeRedisTarget,
  type RedisClient,
} from './queues/redis-connection.js';
import { isRedisConnectionError } from './core/redis-wait.js';
import { untilAborted } from './core/until-aborted.js';
import { syncSchedulers } from './queues/sync-schedulers.js';
import { FERRY_VERSION } from './version.js';

export type Role = 'all' | 'scheduler' | 'worker' | 'web';

export interface StartOptions {
  config: FerryConfig;
  role: Role;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  /** Serve Bull Board without credentials (only on a loopback address). */
  insecureAdmin?: boolean;
  /** Watch config/partners for changes (default true). */
  watch?: boolean;
  /**
   * Gives up a start that is still waiting for Redis (a stop signal): startFerry then rejects with
   * the signal's reason, having opened nothing that outlives it.
   */
  signal?: AbortSignal;
  /**
   * Test seams: replace a real client (e.g. an S3 client with fault-injecting middleware); the clock of
   * delivery windows, SLAs and delivery times; how often held deliveries and SLAs are looked at.
   */
  overrides?: {
    s3Client?: S3Client;
    now?: () => Date;
    /** The clock sweeps select by (minAgeSeconds, maxAgeDays); default: the real one. */
    sweepNow?: () => Date;
    partnerControls?: DeliveryHoldOptions & { slaIntervalMs?: number };
    /** The GET of an SNS SubscribeURL (default: the global fetch), so tests need no internet. */
    snsFetch?: FetchLike;
    /** The GET of an SNS SigningCertURL (default: the global fetch), so tests sign with a key of their own. */
    snsCertFetch?: CertFetchLike;
  };
}

export interface RunningFerry {
  /** The bound HTTP port when the web role runs. */
  httpPort?: number;
  /** The bound port of the metrics listener when ferry.yaml sets `metrics.port`. */
  metricsPort?: number;
  getConfig(): FerryConfig;
  /**
   * Stops taking jobs, lets in-flight deliveries finish, closes connections. While Redis is
   * unreachable nothing in flight can record its outcome: it stops at once instead and names the
   * deliveries it left (each resumes from its ledger record when a worker takes its job over).
   */
  close(): Promise<ShutdownOutcome>;
  /** Worker role: resolves once the ledger is trusted (see src/ledger/ledger-trust.ts). */
  ledgerTrusted(): Promise<void>;
  /** This process's alerter, for errors caught outside startFerry (e.g. unhandled rejections in src/cli.ts). */
  alerts: Alerter;
}

export interface ShutdownOutcome {
  /** Deliveries that were in flight when Redis was unreachable and were left to be taken over. */
  abandoned: string[];
}

/**
 * The egress proxy a partner's connections use: its own `target.proxy`, else ferry.yaml `sftp.proxy`;
 * `proxy: direct` opts a partner out of the global one.
 */
export function egressProxyFor(
  partner: PartnerConfig,
  sftp: ServiceConfig['sftp'],
): EgressProxySetting | undefined {
  const own = partner.target.proxy;
  if (own === 'direct') return undefined;
  return own ?? sftp?.proxy;
}

/** A key for "same partner, same connection settings": pooled connections never outlive a config change. */
export function connectionKeyFor(partner: PartnerConfig, sftp?: ServiceConfig['sftp']): string {
  const t = partner.target;
  const h = createHash('sha256')
    .update(
      JSON.stringify([
        t.host,
        t.port,
        t.username,
        t.hostKeys,
        t.auth,
        t.algorithms ?? null,
        egressProxyFor(partner, sftp) ?? null,
      ]),
    )
    .digest('hex')
    .slice(0, 12);
  return `${partner.id}#${h}`;
}

/** Starts the requested roles of Ferry in this process. */
export async function startFerry(options: StartOptions): Promise<RunningFerry> {
  const { env, logger, role } = options;
  let config = options.config;
  const getConfig = () => config;
  const runs = (r: Exclude<Role, 'all'>) => role === 'all' || role === r;
  const svc = config.service;
  // Refuse bad settings before opening any connection, so a refused start exits cleanly.
  const users = runs('web') ? await dashboardUsers(config, env, options.insecureAdmin === true) : undefined;
  const eventsSettings = runs('web') ? svc.http.events : undefined;
  // A token file is followed as it changes (rotation without restart); a variable is fixed for the process.
  const eventsTokens = eventsSettings
    ? await openEventsTokens(eventsSettings.token, env, { logger })
    : undefined;
  if (eventsSettings?.snsSignatures === 'off') {
    // Said at every start: the events token alone then vouches for SNS messages.
    logger.warn(
      { setting: 'http.events.snsSignatures' },
      'SNS message signatures are not verified (http.events.snsSignatures: off)',
    );
  }

  const redis = createRedisConnection(svc.redis, 'worker');
  const redisWait = watchRedisAvailability(redis, { where: describeRedisTarget(svc.redis), logger });
  // The wait is reported once (redisWait); each client's own "cannot connect" would repeat it every 2 s.
  const warnUnlessUnreachable = (what: string) => (err: Error) => {
    if (!isRedisConnectionError(err.message)) logger.warn({ err: err.message }, what);
  };
  // The web role listens at once: /healthz, and /readyz and every other route 503 with the reason,
  // while the process waits for Redis (the dashboard comes once it answers).
  let started = false;
  let server: Server | undefined;
  let httpPort: number | undefined;
  let webApp: RequestListener = createStartingApp(() => redisWait.reason() ?? 'starting');
  if (runs('web')) {
    server = await listen((req, res) => webApp(req, res), svc.http.port, svc.http.host);
    const address = server.address();
    httpPort = typeof address === 'object' && address ? address.port : svc.http.port;
    logger.info({ url: `http://${svc.http.host}:${httpPort}/admin` }, 'Bull Board listening');
  }
  try {
    await redisWait.whenReady(options.signal);
    await untilAborted(assertRedisPolicy(redis), options.signal);
  } catch (err) {
    // Nothing has run or been written yet: close what listens, drop the connection.
    if (server) await closeServer(server);
    redisWait.close();
    redis.disconnect();
    throw err;
  }
  const queues = createQueues(redis, svc.redis.prefix);
  queues.sweep.on('error', warnUnlessUnreachable('sweep queue error'));
  queues.deliver.on('error', warnUnlessUnreachable('deliver queue error'));

  const keys = createRedisKeys(svc.redis.prefix);
  const ledger = createRedisLedger(redis, keys);
  const housekeepingPending = createHousekeepingPending(redis, keys);
  const tempRegistry = createTempRegistry(redis, keys);
  // A crashed process's connection slots come back after this lease.
  const semaphore = createRedisSemaphore(redis, keys, { leaseMs: svc.worker.slotLeaseSeconds * 1000 });
  const source = createS3Source(options.overrides?.s3Client ?? createS3Client(svc.s3));
  const receipts = createReceiptStore(source, svc.receipts);
  const trust = createLedgerTrust({
    redis,
    keys,
    ledger,
    source,
    receipts,
    receiptsLocation: svc.receipts,
    logger,
  });

  const clock = options.overrides?.now ?? (() => new Date());
  const controlOptions = options.overrides?.partnerControls ?? {};
  const partnerControls = createPartnerControls(redis, keys);
  const slaTracker = createSlaTracker(redis, keys, ledger);
  const audit = createAuditLog(redis, keys);
  const sweepSummaries = createSweepSummaries(redis, keys);
  const ackIndex = createAckIndex(redis, keys);
  const manifestBatches = createManifestBatches(redis, keys);
  const manifests = createManifestPublisher({
    batches: manifestBatches,
    source,
    receipts: svc.receipts,
    ledger,
    enqueueDeliveries: (partner, jobs) => enqueueDeliveries(queues.deliver, partner, jobs),
    jobState: (id) => queues.deliver.getJobState(id),
    now: clock,
  });
  const redeliveries = createRedeliveries({
    redis,
    keys,
    ledger,
    audit,
    receipts,
    source,
    getConfig,
    enqueue: (partner, job) => enqueueDeliveries(queues.deliver, partner, [job]),
  });
  const retries = createRetries({
    ledger,
    audit,
    deliverQueue: queues.deliver,
    source,
    getConfig,
    enqueue: (partner, job) => enqueueDeliveries(queues.deliver, partner, [job]),
    now: clock,
  });
  let slaChecker: SlaChecker | undefined;

  const closers: (() => Promise<void>)[] = [];
  /** Delivery jobs this process is running, named when a stop has to leave them. */
  const inFlight = new Set<string>();
  // Every role alerts (a rejected reload is seen by each process; Redis dedup makes it one alert).
  const alerts = createAlerter({ getConfig, redis, keys, logger, env, version: FERRY_VERSION });
  closers.push(() => alerts.close());
  let pool: SftpPool | undefined;
  const workers: Worker[] = [];
  const metrics = createMetrics({
    queues: [queues.sweep, queues.deliver],
    ...(runs('worker') ? { openConnections: () => openConnectionsByPartner(getConfig(), pool) } : {}),
    ...(runs('scheduler')
      ? {
          slaStates: () =>
            [...(slaChecker?.states() ?? [])].map(
              ([id, status]) => [id, slaStateGaugeValue(status)] as const,
            ),
        }
      : {}),
    housekeepingPending: {
      partners: () => getConfig().partners.values(),
      count: (partnerId) => housekeepingPending.count(partnerId),
    },
    ackWaiting: {
      partners: () => getConfig().partners.values(),
      oldestWaitingMs: (partnerId) => ackIndex.oldestWaitingMs(partnerId),
    },
    manifestWaiting: {
      partners: () => getConfig().partners.values(),
      oldestOpenMs: (partnerId) => manifestBatches.oldestOpenMs(partnerId),
    },
    onCollectError: (err) =>
      logger.warn({ err: (err as Error).message }, 'metrics: Redis counts unavailable'),
  });
  // Bandwidth caps: which caps apply and their rates are read from the live config at every chunk and
  // lease, so a reload that adds, changes or removes a cap applies to transfers in flight.
  const partnerThrottle = createPartnerThrottles({
    bucket: createBandwidthBucket(redis),
    keys,
    settings: getConfig,
    onWait: (partnerId, cap, seconds) => metrics.bandwidthWaited(partnerId, cap, seconds),
  });
  const throttleFor = (partner: PartnerConfig, signal: AbortSignal) => partnerThrottle(partner.id, signal);

  if (runs('worker')) {
    const keyOf = (p: PartnerConfig) => connectionKeyFor(p, getConfig().service.sftp);
    const partnersByKey = () => new Map([...getConfig().partners.values()].map((p) => [keyOf(p), p]));
    const w = svc.worker;
    // The pool closes the connection itself when a slot's lease is lost; this only counts it.
    const countedLoss = <L extends { lost: AbortSignal }>(partnerId: string, lease: L): L => {
      lease.lost.addEventListener(
        'abort',
        () => metrics.slotLeaseLost(partnerId, slotLossReasonOf(lease.lost.reason)),
        { once: true },
      );
      return lease;
    };
    const sftpPool = createSftpPool({
      idleTimeoutMs: w.idleTimeoutSeconds * 1000,
      logger,
      acquireSlot: async (partnerKey, signal) => {
        const partner = partnersByKey().get(partnerKey);
        if (!partner) throw new FerryError('ERR_PARTNER_UNKNOWN', `no partner for connection ${partnerKey}`);
        const lease = await semaphore.acquire(partner.id, partner.target.maxConnections, {
          signal,
          timeoutMs: 10 * 60_000,
        });
        return countedLoss(partner.id, lease);
      },
      tryAcquireSlot: async (partnerKey) => {
        const partner = partnersByKey().get(partnerKey);
        if (!partner) return undefined;
        const lease = await semaphore.tryAcquire(partner.id, partner.target.maxConnections);
        return lease && countedLoss(partner.id, lease);
      },
      limits: (partnerKey) => {
        const partner = partnersByKey().get(partnerKey);
        return {
          connections: partner?.target.maxConnections ?? 1,
          sessionsPerConnection: partner?.target.maxFilesInFlight ?? 1,
        };
      },
      wantedElsewhere: async (partnerKey) => {
        const partner = partnersByKey().get(partnerKey);
        return partner !== undefined && (await semaphore.wantedElsewhere(partner.id));
      },
      connect: async (partnerKey) => {
        const partner = partnersByKey().get(partnerKey);
        if (!partner) throw new FerryError('ERR_PARTNER_UNKNOWN', `no partner for connection ${partnerKey}`);
        const auth = await resolvePartnerAuth(partner.target.auth, env);
        const proxy = egressProxyFor(partner, getConfig().service.sftp);
        const connection = await connectSftp({
          host: partner.target.host,
          port: partner.target.port,
          username: partner.target.username,
          hostKeys: partner.target.hostKeys,
          auth,
          ...(partner.target.algorithms === undefined ? {} : { algorithms: partner.target.algorithms }),
          ...(proxy === undefined
            ? {}
            : {
                proxy: {
                  protocol: proxy.protocol,
                  host: proxy.host,
                  port: proxy.port,
                  ...(proxy.username === undefined ? {} : { username: proxy.username }),
                  // Read at connect time, like the SFTP credentials: a rotated secret needs no reload.
                  ...(proxy.password === undefined
                    ? {}
                    : { password: await resolveSecret(proxy.password, env) }),
                },
              }),
          readyTimeoutMs: w.connectTimeoutSeconds * 1000,
          keepaliveIntervalMs: w.keepaliveIntervalSeconds * 1000,
          keepaliveCountMax: w.keepaliveCountMax,
          // sshd answers keepalives even when its sftp-server hangs: only a request deadline notices.
          requestTimeoutMs: w.stallTimeoutSeconds * 1000,
          log: logger.child({ partnerId: partner.id }),
        });
        const legacy = legacyAlgorithmsIn(partner.target.algorithms);
        if (legacy.length > 0) {
          logger.warn(
            {
              partnerId: partner.id,
              connectionId: connection.id,
              legacyAlgorithms: legacy,
              negotiated: connection.negotiated,
            },
            'SFTP connection allows legacy SSH algorithms named in the partner config',
          );
        }
        return connection;
      },
    });
    pool = sftpPool;

    const sweepWorker = new Worker(
      QUEUE.sweep,
      createSweepProcessor({
        getConfig,
        source,
        ledger,
        enqueueDeliveries: (partner, jobs) => enqueueDeliveries(queues.deliver, partner, jobs),
        logger,
        now: options.overrides?.sweepNow ?? (() => new Date()),
        metrics,
        isPaused: async (partner) => (await partnerControls.pauseState(partner)).paused,
        recordFound: (partner, ids) => slaTracker.recordFound(partner, ids, clock()),
        housekeepingPending,
        alerts,
        sweepSummaries,
        janitor: createJanitor({
          getConfig,
          withSession: (partner, fn, signal) => sftpPool.withSession(keyOf(partner), fn, signal),
          registry: tempRegistry,
          logger,
          now: clock,
          metrics,
          adoptOpenIntents: (partnerId) => adoptOpenIntents(redis, keys, tempRegistry, partnerId),
        }),
        acks: createAckPoller({
          getConfig,
          withSession: (partner, fn, signal) => sftpPool.withSession(keyOf(partner), fn, signal),
          ackIndex,
          receipts,
          alerts,
          metrics,
          logger,
          now: clock,
          ferryVersion: FERRY_VERSION,
        }),
        manifests,
      }),
      { connection: redis, prefix: svc.redis.prefix, concurrency: 2 },
    );
    const deliverJob = createDeliverProcessor({
      getConfig,
      source,
      ledger,
      receipts,
      trust,
      pathLeases: createPathLeases(redis, keys),
      temps: tempRegistry,
      withSession: (partner, fn) => sftpPool.withSession(keyOf(partner), fn),
      logger,
      now: clock,
      ferryVersion: FERRY_VERSION,
      metrics,
      alerts,
      holdFor: (partner, now) => deliveryHoldFor(partnerControls, partner, now, controlOptions),
      redeliveryRequest: (id) => redeliveries.get(id),
      nameSequence: createNameSequence(redis, keys),
      housekeepingPending,
      ackIndex,
      throttle: throttleFor,
      manifests: {
        join: (partnerId, id, at) => manifestBatches.join(partnerId, id, at),
        ended: async (partner, id) => {
          if ((await manifestBatches.stopWaiting(partner.id, [id])) > 0) return;
          if ((await manifestBatches.oldestOpenMs(partner.id)) === undefined) return;
          // The last delivery the next manifest waited for: check now rather than at the next period.
          await requestSweep(queues.sweep, partner.id, 'manifest', `manifest-check-${partner.id}`);
        },
        sent: (partnerId, scope) => manifestBatches.settled(partnerId, scope),
      },
    });
    const deliverWorker = new Worker(
      QUEUE.deliver,
      async (job: Job) => {
        const id = job.id ?? '?';
        inFlight.add(id);
        try {
          return await deliverJob(job);
        } finally {
          inFlight.delete(id);
        }
      },
      {
        connection: redis,
        prefix: svc.redis.prefix,
        concurrency: w.concurrency,
        lockDuration: w.lockDurationSeconds * 1000,
        stalledInterval: w.stalledIntervalSeconds * 1000,
        maxStalledCount: w.maxStalledCount,
        settings: {
          backoffStrategy: (attemptsMade: number, _type?: string, _err?: Error, job?: MinimalJob) => {
            const partnerId = (job?.data as { partnerId?: unknown } | undefined)?.partnerId;
            const partner = typeof partnerId === 'string' ? getConfig().partners.get(partnerId) : undefined;
            return computeBackoffMs(
              attemptsMade,
              partner?.retry ?? { backoffSeconds: 30, maxBackoffSeconds: 3600 },
            );
          },
        },
      },
    );
    // A sweep that failed for good (bucket missing, listing denied, credentials wrong, …) holds back every
    // delivery of its partner. Only failures the processor classified: a stalled sweep is worker-stalled.
    sweepWorker.on('failed', (job, err) => {
      if (!job || !['PermanentError', 'FerryError', 'UnrecoverableError'].includes(err.name)) return;
      job
        .getState()
        .then((state) => {
          if (state === 'failed') alerts.notify(sweepFailedAlert({ jobId: job.id, data: job.data, err }));
        })
        .catch((e: unknown) => logger.warn({ err: (e as Error).message }, 'sweep failure not alerted'));
    });
    for (const worker of [sweepWorker, deliverWorker]) {
      worker.on('error', warnUnlessUnreachable('worker error'));
      worker.on('stalled', (jobId) => {
        logger.warn({ jobId, alert: true }, 'job stalled: its worker stopped renewing the lock');
        const partnerId = partnerOfDeliveryId(jobId);
        alerts.notify({
          kind: 'worker-stalled',
          ...(partnerId === undefined ? {} : { partnerId, deliveryId: jobId }),
          message: `${worker.name} job ${jobId} stalled: its worker stopped renewing the lock; another worker takes it over`,
        });
      });
      // Failures the processor never saw (a job that stalled more than maxStalledCount times) still alert.
      worker.on('failed', (job, err) => {
        if (!job || err.name === 'UnrecoverableError' || err.name === 'FerryError') return; // the processor logged it
        void job.getState().then((state) => {
          // A processor's PermanentError (its class name is its own) also ends here: it logged and alerted already.
          if (state !== 'failed' || err.name === 'PermanentError') return;
          logger.error(
            { jobId: job.id, queue: worker.name, err: err.message, alert: true, errCode: 'ERR_JOB_STALLED' },
            'job failed for good outside its processor',
          );
          const data = job.data as { partnerId?: unknown; key?: unknown } | undefined;
          alerts.notify({
            kind: 'worker-stalled',
            errCode: 'ERR_JOB_STALLED',
            ...(typeof data?.partnerId === 'string' ? { partnerId: data.partnerId } : {}),
            ...(partnerOfDeliveryId(job.id) === undefined ? {} : { deliveryId: job.id }),
            ...(typeof data?.key === 'string' ? { s3Key: data.key } : {}),
            message: `${worker.name} job ${job.id ?? '?'} failed for good: it lost its worker more than maxStalledCount times`,
          });
        });
      });
      workers.push(worker);
    }
  }

  if (runs('scheduler')) {
    await untilAborted(syncSchedulers(queues.sweep, config, logger), options.signal);
    // Re-assert the schedulers now and then: a Redis that restarted without persistence has none.
    const resync = setInterval(() => {
      syncSchedulers(queues.sweep, getConfig(), logger).catch((err: unknown) =>
        logger.warn({ err: (err as Error).message }, 'scheduler resync failed'),
      );
    }, 60_000);
    resync.unref();
    closers.push(() => Promise.resolve(clearInterval(resync)));
    // Every scheduler evaluates the SLAs; a Redis mark per partner, day and kind makes each alert go out once.
    const checker = startSlaChecker({
      getConfig,
      tracker: slaTracker,
      redis,
      keys,
      alerts,
      logger,
      now: clock,
      isPaused: async (partner) => (await partnerControls.pauseState(partner)).paused,
      ...(controlOptions.slaIntervalMs === undefined ? {} : { intervalMs: controlOptions.slaIntervalMs }),
    });
    slaChecker = checker;
    closers.unshift(() => checker.close());
  }

  if (options.watch !== false) {
    const watcher = watchConfig(config.dir, env, (result: ConfigResult) => {
      metrics.configReloaded(result.ok ? 'applied' : 'rejected');
      if (!result.ok) {
        logger.error(
          { problems: result.problems.map(formatProblem), alert: true, errCode: 'ERR_CONFIG_INVALID' },
          'config reload rejected; the previous config keeps running',
        );
        const problems = result.problems.map(formatProblem);
        alerts.notify({
          kind: 'config-reload-rejected',
          errCode: 'ERR_CONFIG_INVALID',
          message: `${problems.length} problem(s), the previous config keeps running: ${problems.slice(0, 3).join('; ')}`,
        });
        return;
      }
      const previous = config;
      config = result.config;
      logger.info({ partners: [...config.partners.keys()] }, 'config reloaded');
      if (result.warnings?.length) {
        logger.warn({ warnings: result.warnings.map(formatWarning) }, 'reloaded config has warnings');
      }
      for (const [id, p] of previous.partners) {
        const next = config.partners.get(id);
        const before = connectionKeyFor(p, previous.service.sftp);
        if (pool && (!next || connectionKeyFor(next, config.service.sftp) !== before)) {
          void pool.evict(before);
        }
      }
      if (runs('scheduler')) {
        syncSchedulers(queues.sweep, config, logger).catch((err: unknown) =>
          logger.error({ err: (err as Error).message }, 'scheduler sync failed'),
        );
      }
    });
    closers.push(() => Promise.resolve(watcher.close()));
  }

  const eventTimes = createEventTimes(redis, keys);
  if (runs('web')) {
    const sweepClock = options.overrides?.sweepNow ?? (() => new Date());
    const events =
      eventsSettings && eventsTokens !== undefined
        ? {
            tokens: eventsTokens,
            sns: createSnsSubscriber(
              options.overrides?.snsFetch === undefined ? {} : { fetch: options.overrides.snsFetch },
            ),
            snsSignatures: eventsSettings.snsSignatures,
            snsCertificates: createSnsCertificates(
              options.overrides?.snsCertFetch === undefined ? {} : { fetch: options.overrides.snsCertFetch },
            ),
            header: eventsSettings.header,
            maxBodyBytes: eventsSettings.maxBodyBytes,
            answered: (status: number) => metrics.eventRequestAnswered(status),
            check: (found: readonly ObjectEvent[], ignored: number) =>
              checkObjectEvents(
                {
                  getConfig,
                  source,
                  ledger,
                  enqueueDeliveries: (partner, jobs, delayMs) =>
                    enqueueDeliveries(queues.deliver, partner, jobs, delayMs),
                  // One waiting sweep per partner however many events ask.
                  enqueueSweep: (partner) =>
                    requestSweep(queues.sweep, partner.id, 'schedule', `events-sweep-${partner.id}`),
                  recordFound: (partner, ids) => slaTracker.recordFound(partner, ids, clock()),
                  recordEvent: (partnerId, at) => eventTimes.record(partnerId, at),
                  eventChecked: (partnerId, outcome) => metrics.eventChecked(partnerId, outcome),
                  now: sweepClock,
                  logger,
                },
                found,
                ignored,
              ),
          }
        : undefined;
    webApp = createHttpApp({
      ...(events ? { events } : {}),
      queues,
      users,
      trustedOrigins: svc.http.trustedOrigins ?? [],
      listenHost: svc.http.host,
      logger,
      unavailable: () => redisWait.reason(),
      notReady: async () => redisWait.reason() ?? (started ? await pingFailure(redis) : 'starting'),
      metrics,
      api: {
        getConfig,
        redis,
        keys,
        ledger,
        listing: createDeliveryListing(redis, keys, ledger),
        receipts,
        queues,
        partnerControls,
        redeliveries,
        retries,
        audit,
        source,
        sweepSummaries,
        eventTimes,
        ackIndex,
        manifests: manifestBatches,
        now: clock,
        ...(options.overrides?.sweepNow ? { sweepNow: options.overrides.sweepNow } : {}),
      },
    });
  }

  let metricsServer: Server | undefined;
  let metricsPort: number | undefined;
  if (svc.metrics) {
    const { host, port } = svc.metrics;
    metricsServer = await listen(createMetricsApp(metrics), port, host);
    const address = metricsServer.address();
    metricsPort = typeof address === 'object' && address ? address.port : port;
    logger.info({ url: `http://${host}:${metricsPort}/metrics` }, 'metrics listening');
  }

  if (runs('worker')) trust.start();
  started = true;

  let closing: Promise<ShutdownOutcome> | undefined;
  return {
    httpPort,
    metricsPort,
    getConfig,
    ledgerTrusted: () => trust.whenTrusted(),
    alerts,
    close() {
      closing ??= (async (): Promise<ShutdownOutcome> => {
        for (const s of [server, metricsServer]) if (s) await closeServer(s);
        // Every step of a graceful stop talks to Redis; when it is away, none of them would end.
        let stopWaiting = () => {};
        const redisAway = new Promise<'redis-away'>((resolve) => {
          stopWaiting = redisWait.onDown(() => resolve('redis-away'));
          if (redisWait.reason() !== undefined) resolve('redis-away');
        });
        const graceful = (async () => {
          // worker.close() waits for active jobs: in-flight deliveries finish (or are released on a hard kill).
          await Promise.all(workers.map((w) => w.close()));
          await pool?.close();
          for (const c of closers) await c();
          await trust.close();
          semaphore.close();
          await queues.close();
          return 'finished' as const;
        })();
        const how = await Promise.race([graceful, redisAway]);
        stopWaiting();
        redisWait.close();
        if (how === 'finished') {
          await redis.quit().catch(() => undefined);
          return { abandoned: [] };
        }
        const abandoned = [...inFlight];
        void pool?.close().catch(() => undefined);
        redis.disconnect();
        return { abandoned };
      })();
      return closing;
    },
  };
}

/** Undefined when Redis answers PING within 2 s; else why not (/readyz). */
async function pingFailure(redis: RedisClient): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('Redis did not answer PING within 2 s'), 2000);
  });
  try {
    return await Promise.race([
      redis.ping().then((r: string) => (r === 'PONG' ? undefined : `Redis answered PING with ${r}`)),
      late,
    ]);
  } catch (err) {
    return `Redis PING failed: ${(err as Error).message}`;
  } finally {
    clearTimeout(timer);
  }
}

async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
}

/** Starts an HTTP listener; rejects when the port cannot be bound. */
function listen(app: RequestListener, port: number, host: string): Promise<Server> {
  return new Promise<Server>((resolve, reject) => {
    const s = createServer(app);
    s.once('error', reject);
    s.listen(port, host, () => resolve(s));
  });
}

/** Open pooled SFTP connections per configured partner (0 when none); pool keys are `<partnerId>#<hash>`. */
function openConnectionsByPartner(config: FerryConfig, pool: SftpPool | undefined): Map<string, number> {
  const open = new Map([...config.partners.keys()].map((id) => [id, 0]));
  for (const [key, stats] of Object.entries(pool?.stats().byPartner ?? {})) {
    const id = key.slice(0, key.indexOf('#'));
    open.set(id, (open.get(id) ?? 0) + stats.open);
  }
  return open;
}

/**
 * Every dashboard login with its password read now: operators (adminUser and `operators`) may act,
 * viewers (viewerUser and `viewers`) only look. undefined = no auth (--insecure-admin on loopback).
 */
async function dashboardUsers(
  config: FerryConfig,
  env: NodeJS.ProcessEnv,
  insecure: boolean,
): Promise<DashboardUser[] | undefined> {
  const http = config.service.http;
  const users: DashboardUser[] = [];
  if (http.adminUser && http.adminPassword) {
    users.push({
      user: http.adminUser,
      role: 'operator',
      password: await resolveSecret(http.adminPassword, env),
    });
  }
  for (const login of http.operators ?? []) {
    users.push({ user: login.user, role: 'operator', password: await resolveSecret(login.password, env) });
  }
  if (http.viewerUser && http.viewerPassword) {
    users.push({
      user: http.viewerUser,
      role: 'viewer',
      password: await resolveSecret(http.viewerPassword, env),
    });
  }
  for (const login of http.viewers ?? []) {
    users.push({ user: login.user, role: 'viewer', password: await resolveSecret(login.password, env) });
  }
  if (users.length > 0) return users;
  const loopback =
    http.host === 'localhost' ||
    http.host === '::1' ||
    (isIP(http.host) === 4 && http.host.startsWith('127.'));
  if (insecure && loopback) return undefined;
  throw new FerryError(
    'ERR_CONFIG_INVALID',
    insecure
      ? `--insecure-admin is only allowed on a loopback address (http.host is ${http.host})`
      : 'the web role needs admin credentials (a dashboard login): set FERRY_ADMIN_USER and FERRY_ADMIN_PASSWORD (or http.adminUser + adminPasswordEnv/File, or http.operators), or pass --insecure-admin on a loopback address',
  );
}
