// The deliveries API under /api: what the web UI and scripts read and do. Same logins as Bull Board;
// viewers may only read; writes must come from this origin (sameOriginGuard) and are audited.
import type { Job } from 'bullmq';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import type { ObjectSource } from '../core/ports.js';
import type { ReceiptStore } from '../adapters/receipt-store.js';
import type { FerryConfig } from '../config/load-config.js';
import type { PartnerConfig } from '../config/schema.js';
import { ACK_FILTER_NAMES, ackFilterOf } from '../core/ack-filter.js';
import { decodeCursor, encodeCursor, parseTimeBound, type ListCursor } from '../core/delivery-cursor.js';
import { DELIVERY_ID_FORMAT, isDeliveryId } from '../core/delivery-id.js';
import { toDeliveryView, type DeliveryView } from '../core/delivery-view.js';
import { manifestPer, type ManifestPer } from '../core/manifest-plan.js';
import { checkReason } from '../core/redelivery.js';
import { uploadKeyFor } from '../core/upload-name.js';
import { FerryError } from '../errors.js';
import type { AckIndex } from '../ledger/ack-index.js';
import type { AuditLog } from '../ledger/audit-log.js';
import { queuedJobView as queuedView, readDeliveryDetail } from '../ledger/delivery-detail.js';
import type { DeliveryStatus } from '../ledger/delivery-record.js';
import { readPartnerStats, type DeliveryListing } from '../ledger/delivery-listing.js';
import type { ManifestBatches } from '../ledger/manifest-batches.js';
import type { Redeliveries } from '../ledger/redeliveries.js';
import type { Retries } from '../ledger/retries.js';
import type { Ledger } from '../ledger/redis-ledger.js';
import type { RedisKeys } from '../ledger/redis-keys.js';
import { requestObjectDelivery } from '../ledger/request-object-delivery.js';
import type { SweepSummaries } from '../ledger/sweep-summary.js';
import type { EventTimes } from '../ledger/event-times.js';
import type { PartnerControls } from '../partners/partner-controls.js';
import { enqueueDeliveries, type FerryQueues } from '../queues/queues.js';
import type { RedisClient } from '../queues/redis-connection.js';
import { authenticatedByBasic, callerOf, readOnlyForViewers } from './basic-auth.js';
import { sameOriginGuard } from './same-origin-guard.js';

/** What the API reads and writes through; src/main.ts builds the real ones. */
export interface ApiDeps {
  getConfig(): FerryConfig;
  redis: RedisClient;
  keys: RedisKeys;
  ledger: Ledger;
  listing: DeliveryListing;
  receipts: Pick<ReceiptStore, 'read' | 'readSuperseded'>;
  queues: Pick<FerryQueues, 'deliver'>;
  partnerControls: PartnerControls;
  redeliveries: Redeliveries;
  retries: Retries;
  audit: AuditLog;
  /** Where uploads go (the partner's source bucket), never over an existing object; what a request sends. */
  source: Pick<ObjectSource, 'putNew' | 'listPages'>;
  /** Each partner's last sweep (counts, stale objects). */
  sweepSummaries: Pick<SweepSummaries, 'read'>;
  /** When each partner's last S3 event came (POST /api/events/s3); default: never. */
  eventTimes?: Pick<EventTimes, 'last'>;
  /** The answer files of partners with `ack:` that match no delivery. */
  ackIndex: Pick<AckIndex, 'unmatched'>;
  /** The manifests of partners with `manifest:` and the files waiting for the next one. */
  manifests: Pick<ManifestBatches, 'recent' | 'countOpen'>;
  now?(): Date;
  /** The clock sweeps select by, so an object is stale here exactly when it is to a sweep (default: now). */
  sweepNow?(): Date;
  /** Largest upload accepted (default 100 MiB; the body is held in memory). */
  maxUploadBytes?: number;
}

export interface ApiRouterOptions {
  /** The dashboard logins; undefined only with --insecure-admin on loopback. */
  auth: RequestHandler | undefined;
  trustedOrigins: readonly string[];
  logger?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

const LIST_STATUSES = new Set<string>([
  'queued',
  'publishing',
  'delivered',
  'quarantined',
  'skipped',
  'superseded',
  'failed',
]);
const MAX_LIMIT = 200;
const QUEUED_SCAN = 1000;

class ApiProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function createApiRouter(deps: ApiDeps, options: ApiRouterOptions): express.Router {
  const router = express.Router();
  const log = options.logger;
  const now = () => deps.now?.() ?? new Date();
  if (options.auth) router.use(options.auth);
  router.use(
    readOnlyForViewers((refused) => log?.warn(refused, 'api action refused: viewers are read-only')),
  );
  router.use(
    sameOriginGuard({
      trustedOrigins: options.trustedOrigins,
      basicAuthenticated: authenticatedByBasic,
      onRefused: (reason) => log?.warn({ reason }, 'api action refused: cross-site request'),
    }),
  );
  const json = express.json({ limit: '16kb' });

  router.get('/me', (_req, res) => {
    const caller = callerOf(res);
    res.json({ user: caller.user ?? null, role: caller.role });
  });

  router.get(
    '/deliveries',
    handle(async (req, res) => {
      const config = deps.getConfig();
      const partner = queryText(req, 'partner');
      if (partner !== undefined && !config.partners.has(partner)) {
        throw new ApiProblem(400, `unknown partner ${partner}`);
      }
      const status = queryText(req, 'status');
      const ack = status === undefined ? undefined : ackFilterOf(status);
      if (status !== undefined && ack === undefined && !LIST_STATUSES.has(status)) {
        throw new ApiProblem(
          400,
          `status must be one of ${[...LIST_STATUSES, ...ACK_FILTER_NAMES].join(', ')}`,
        );
      }
      const q = queryText(req, 'q');
      if (q !== undefined && q.length > 256) throw new ApiProblem(400, 'q is longer than 256 characters');
      const since = timeBound(req, 'since');
      const until = timeBound(req, 'until');
      const limitText = queryText(req, 'limit') ?? '50';
      const limit = Number(limitText);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
        throw new ApiProblem(400, `limit must be 1-${MAX_LIMIT}`);
      }
      const cursorText = queryText(req, 'cursor');
      const cursor = cursorText === undefined ? undefined : decodeCursor(cursorText);
      if (cursorText !== undefined && cursor === undefined) throw new ApiProblem(400, 'cursor is not valid');
      const partners = partner === undefined ? [...config.partners.keys()] : [partner];

      if (status === 'queued') {
        if (cursor && cursor.kind !== 'queued') throw new ApiProblem(400, 'cursor is not valid');
        const page = await listQueued(deps, {
          partners,
          q,
          since,
          until,
          limit,
          offset: cursor?.offset ?? 0,
        });
        res.json(page);
        return;
      }
      if (cursor && cursor.kind !== 'ledger') throw new ApiProblem(400, 'cursor is not valid');
      const page = await deps.listing.list({
        partners,
        ...(ack !== undefined ? { ack } : status === undefined ? {} : { status: status as DeliveryStatus }),
        ...(q === undefined ? {} : { q }),
        ...(since === undefined ? {} : { since }),
        ...(until === undefined ? {} : { until }),
        limit,
        ...(cursor === undefined ? {} : { cursor }),
      });
      const total =
        status === undefined && (q ?? '') === '' && cursor === undefined
          ? await deps.listing.count({
              partners,
              ...(since === undefined ? {} : { since }),
              ...(until === undefined ? {} : { until }),
            })
          : undefined;
      res.json({
        items: page.records.map(toDeliveryView),
        nextCursor: page.next === null ? null : encodeCursor(page.next),
        ...(total === undefined ? {} : { total }),
      });
    }),
  );

  router.get(
    '/deliveries/:id',
    handle(async (req, res) => {
      const id = deliveryIdOf(req);
      const service = deps.getConfig().service;
      const runbookBaseUrl = service.alerts?.runbookBaseUrl;
      const detail = await readDeliveryDetail(
        {
          ...deps,
          deliverQueue: deps.queues.deliver,
          receiptsLocation: service.receipts,
          ...(runbookBaseUrl === undefined ? {} : { runbookBaseUrl }),
        },
        id,
      );
      if (!detail) throw new ApiProblem(404, `no delivery ${id}`);
      res.json(detail);
    }),
  );

  router.post(
    '/deliveries/:id/redeliver',
    json,
    handle(async (req, res) => {
      const deliveryId = deliveryIdOf(req);
      const reason = reasonOf(req);
      const replace = replaceOf(req);
      const user = userOf(res);
      const outcome = await deps.redeliveries.request({
        deliveryId,
        reason,
        by: user,
        replace,
      });
      if (!outcome.ok) throw new ApiProblem(outcome.problem === 'not-found' ? 404 : 409, outcome.message);
      log?.info(
        {
          audit: true,
          action: 'redeliver',
          user,
          reason,
          ...(replace ? { replace } : {}),
          deliveryId: outcome.deliveryId,
          trackingId: outcome.deliveryId,
          redeliveryOf: outcome.of,
        },
        'redelivery requested',
      );
      res.status(202).json({ jobId: outcome.jobId, deliveryId: outcome.deliveryId });
    }),
  );

  router.post(
    '/deliveries/:id/retry',
    json,
    handle(async (req, res) => {
      const deliveryId = deliveryIdOf(req);
      const reason = reasonOf(req);
      const user = userOf(res);
      const outcome = await deps.retries.retry({ deliveryId, reason, by: user });
      if (!outcome.ok) throw new ApiProblem(outcome.problem === 'not-found' ? 404 : 409, outcome.message);
      log?.info(
        {
          audit: true,
          action: 'retry',
          user,
          reason,
          partnerId: outcome.partnerId,
          deliveryId: outcome.deliveryId,
          trackingId: outcome.deliveryId,
          how: outcome.how,
        },
        'retry requested',
      );
      res.status(202).json({ jobId: outcome.jobId, deliveryId: outcome.deliveryId, how: outcome.how });
    }),
  );

  router.get(
    '/partners',
    handle(async (_req, res) => {
      const config = deps.getConfig();
      const at = now();
      const runtime = await deps.partnerControls.runtime(config, at);
      const partners = await Promise.all(
        runtime.map(async (p) => {
          const partner = config.partners.get(p.id);
          return {
            ...p,
            ...(await readPartnerStats(deps.redis, deps.keys, p.id, at)),
            lastSweep: (await deps.sweepSummaries.read(p.id)) ?? null,
            events: {
              on: partner?.events === true,
              lastEventAt: (await deps.eventTimes?.last(p.id)) ?? null,
            },
            // Only partners that send answers have any: the field's absence says "no ack: configured".
            ...(partner?.ack === undefined ? {} : { unmatchedAnswers: await deps.ackIndex.unmatched(p.id) }),
            // Likewise, absent without `manifest:`.
            ...(partner?.manifest === undefined
              ? {}
              : { manifest: await readManifestSummary(deps, partner) }),
          };
        }),
      );
      res.json({ partners });
    }),
  );

  for (const action of ['pause', 'resume'] as const) {
    router.post(
      `/partners/:id/${action}`,
      json,
      handle(async (req, res) => {
        const partner = deps.getConfig().partners.get(String(req.params.id));
        if (!partner) throw new ApiProblem(404, `unknown partner ${String(req.params.id)}`);
        const reason = reasonOf(req);
        const user = userOf(res);
        if (action === 'pause') await deps.partnerControls.pause(partner.id, user, reason);
        else await deps.partnerControls.resume(partner.id, user, reason);
        await deps.audit.append({ at: now().toISOString(), user, action, reason, partnerId: partner.id });
        log?.info(
          { audit: true, action, user, reason, partnerId: partner.id },
          `partner ${action}d by operator`,
        );
        res.json({ pause: await deps.partnerControls.pauseState(partner) });
      }),
    );
  }

  // `ferry redeliver <partner> <key>`: a delivered version again, or a stale one for the first time.
  router.post(
    '/partners/:id/redeliver',
    json,
    handle(async (req, res) => {
      const partner = deps.getConfig().partners.get(String(req.params.id));
      if (!partner) throw new ApiProblem(404, `unknown partner ${String(req.params.id)}`);
      const body = (req.body ?? {}) as { key?: unknown; etag?: unknown };
      if (typeof body.key !== 'string' || body.key === '') throw new ApiProblem(400, 'key is required');
      if (body.etag !== undefined && (typeof body.etag !== 'string' || body.etag === '')) {
        throw new ApiProblem(400, 'etag must be a non-empty string');
      }
      const reason = reasonOf(req);
      const outcome = await requestObjectDelivery(
        {
          redeliveries: deps.redeliveries,
          source: deps.source,
          audit: deps.audit,
          enqueue: (p, job) => enqueueDeliveries(deps.queues.deliver, p, [job]),
          ...(log ? { log } : {}),
        },
        {
          partner,
          key: body.key,
          reason,
          by: userOf(res),
          replace: replaceOf(req),
          etag: body.etag,
          now: deps.sweepNow?.() ?? new Date(),
        },
      );
      if (!outcome.ok) throw new ApiProblem(outcome.problem === 'not-found' ? 404 : 409, outcome.message);
      res.status(202).json({ jobId: outcome.jobId, deliveryId: outcome.deliveryId, kind: outcome.kind });
    }),
  );

  router.post(
    '/upload',
    express.raw({ type: () => true, limit: deps.maxUploadBytes ?? 100 * 1024 * 1024 }),
    handle(async (req, res) => {
      if (req.is('multipart/form-data')) {
        throw new ApiProblem(415, 'send the file as the raw request body with ?partner=&name=');
      }
      const partnerId = queryText(req, 'partner');
      const name = queryText(req, 'name');
      if (partnerId === undefined || name === undefined) {
        throw new ApiProblem(400, 'partner and name are required');
      }
      const partner = deps.getConfig().partners.get(partnerId);
      if (!partner) throw new ApiProblem(404, `unknown partner ${partnerId}`);
      // As in `ferry iam-policy`, which grants a disabled partner no PutObject: the file would only fail there.
      if (!partner.enabled) {
        throw new ApiProblem(
          409,
          `partner ${partner.id} is disabled: enable it before uploading files for it`,
        );
      }
      const checked = uploadKeyFor(name, partner.source, { partner, now: now() });
      if (!checked.ok) throw new ApiProblem(400, checked.message);
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (body.length === 0) {
        throw new ApiProblem(400, 'the file is empty (zero-byte objects are never delivered)');
      }
      // Conditional put: an export of the same name waiting for its sweep is never replaced.
      const written = await deps.source.putNew(partner.source.bucket, checked.key, body, 'text/csv');
      if (written === 'exists') {
        throw new ApiProblem(
          409,
          `s3://${partner.source.bucket}/${checked.key} already exists; it was not overwritten (choose another name)`,
        );
      }
      const user = userOf(res);
      await deps.audit.append({
        at: now().toISOString(),
        user,
        action: 'upload',
        reason: `uploaded ${checked.key} (${body.length} bytes)`,
        partnerId: partner.id,
      });
      log?.info(
        {
          audit: true,
          action: 'upload',
          user,
          partnerId: partner.id,
          s3Key: checked.key,
          bytes: body.length,
        },
        'file uploaded for delivery',
      );
      res.status(201).json({ bucket: partner.source.bucket, key: checked.key });
    }),
  );

  router.use((_req, res) => {
    res.status(404).json({ error: 'no such API route' });
  });
  const onError: ErrorRequestHandler = (err: unknown, req, res, _next) => {
    const status = (err as { status?: unknown; type?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      // body-parser: malformed JSON, too large…
      res.status(status).json({ error: (err as Error).message });
      return;
    }
    const code = err instanceof FerryError ? err.code : undefined;
    log?.warn({ err: (err as Error).message, errCode: code, path: req.originalUrl }, 'api request failed');
    res
      .status(code === 'ERR_REDIS_UNAVAILABLE' || code === 'ERR_S3_UNAVAILABLE' ? 503 : 500)
      .json({ error: code ? `${code}: ${(err as Error).message}` : 'internal error' });
  };
  router.use(onError);
  return router;
}

/** A partner's `manifest:` in `GET /api/partners`. */
export interface ManifestSummary {
  per: ManifestPer;
  /** Delivered files no manifest lists yet: the next manifest takes them. */
  filesWaiting: number;
  /** The newest manifest taken; `status` is its delivery's ledger status, once it has one. */
  last?: {
    scope: string;
    name: string;
    files: number;
    createdAt: string;
    deliveryId?: string;
    status?: DeliveryStatus;
  };
}

async function readManifestSummary(deps: ApiDeps, partner: PartnerConfig): Promise<ManifestSummary> {
  const [filesWaiting, [last]] = await Promise.all([
    deps.manifests.countOpen(partner.id),
    deps.manifests.recent(partner.id, 1),
  ]);
  const summary: ManifestSummary = { per: manifestPer(partner), filesWaiting };
  if (last === undefined) return summary;
  const { record, deliveryId } = last;
  const status =
    deliveryId === undefined ? undefined : (await deps.ledger.getStatuses([deliveryId])).get(deliveryId);
  summary.last = {
    scope: record.scope,
    name: record.name,
    files: record.lines.length,
    createdAt: record.createdAt,
    ...(deliveryId === undefined ? {} : { deliveryId }),
    ...(status === undefined ? {} : { status }),
  };
  return summary;
}

/** Wraps an async route: ApiProblem → its status and message as JSON; anything else → the error handler. */
/** The `:id` of a delivery route; 400 for what cannot be a delivery id (as `ferry deliveries show` refuses it). */
function deliveryIdOf(req: Request): string {
  const id = String(req.params.id);
  if (!isDeliveryId(id)) {
    throw new ApiProblem(400, `${JSON.stringify(id)} is not a delivery id (${DELIVERY_ID_FORMAT})`);
  }
  return id;
}

function handle(fn: (req: Request, res: Response) => Promise<void>): RequestHandler {
  return (req, res, next) => {
    fn(req, res).catch((err: unknown) => {
      if (err instanceof ApiProblem) {
        res.status(err.status).json({ error: err.message });
        return;
      }
      next(err);
    });
  };
}

function queryText(req: Request, name: string): string | undefined {
  const value = (req.query as Record<string, unknown>)[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new ApiProblem(400, `${name} must be given once`);
  return value;
}

function timeBound(req: Request, name: string): number | undefined {
  const text = queryText(req, name);
  if (text === undefined) return undefined;
  const ms = parseTimeBound(text, new Date());
  if (ms === undefined) throw new ApiProblem(400, `${name} must be an ISO date-time or a duration like 24h`);
  return ms;
}

function reasonOf(req: Request): string {
  const checked = checkReason((req.body as { reason?: unknown } | undefined)?.reason);
  if (!checked.ok) throw new ApiProblem(400, checked.message);
  return checked.reason;
}

/** `replace` in a redeliver request: absent or a boolean (a string "true" is refused, not guessed at). */
function replaceOf(req: Request): boolean {
  const value = (req.body as { replace?: unknown } | undefined)?.replace;
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new ApiProblem(400, 'replace must be true or false');
  return value;
}

function userOf(res: Response): string {
  return callerOf(res).user ?? '(no auth)';
}

/**
 * Waiting and delayed deliver jobs (the first 1,000 of each state), newest first: the ledger only
 * knows a delivery once it starts. Paged by offset into the filtered list.
 */
async function listQueued(
  deps: ApiDeps,
  o: {
    partners: readonly string[];
    q: string | undefined;
    since: number | undefined;
    until: number | undefined;
    limit: number;
    offset: number;
  },
): Promise<{ items: DeliveryView[]; nextCursor: string | null; total: number }> {
  const jobs = (await deps.queues.deliver.getJobs(
    ['waiting', 'delayed', 'prioritized'],
    0,
    QUEUED_SCAN - 1,
  )) as Job[];
  const partners = new Set(o.partners);
  const needle = (o.q ?? '').toLowerCase();
  const views = jobs
    .map(queuedView)
    .filter((v): v is DeliveryView => v !== undefined)
    .filter((v) => {
      const t = Date.parse(v.updatedAt);
      return (
        partners.has(v.partnerId) &&
        (o.since === undefined || t >= o.since) &&
        (o.until === undefined || t <= o.until) &&
        (needle === '' || v.key.toLowerCase().includes(needle) || v.id.toLowerCase().includes(needle))
      );
    })
    .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt) || b.id.localeCompare(a.id));
  const items = views.slice(o.offset, o.offset + o.limit);
  const end = o.offset + items.length;
  const next: ListCursor | null = end < views.length ? { kind: 'queued', offset: end } : null;
  return { items, nextCursor: next === null ? null : encodeCursor(next), total: views.length };
}
