import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express, { type ErrorRequestHandler, type Express, type RequestHandler, type Response } from 'express';
import type { FerryQueues } from '../queues/queues.js';
import { createApiRouter, type ApiDeps } from './api-routes.js';
import {
  authenticatedByBasic,
  basicAuth,
  callerOf,
  readOnlyForViewers,
  type DashboardUser,
} from './basic-auth.js';
import { hostGuard } from './host-guard.js';
import { createEventsRouter, type EventsEndpoint } from './events-route.js';
import { redactJobData } from './redact-job-data.js';
import { SAFE_METHODS, sameOriginGuard } from './same-origin-guard.js';
import { securityHeaders } from './security-headers.js';
import { createWebUiRouter } from './ui/web-ui.js';

export interface HttpAppDeps {
  queues: FerryQueues;
  /** Dashboard logins; undefined only with --insecure-admin on a loopback address (checked by the caller). */
  users: readonly DashboardUser[] | undefined;
  /** The dashboard's public origins: their names are answered (see hostGuard), and they may send writes. */
  trustedOrigins?: readonly string[];
  /** The listen address (`http.host`): answered by name besides trustedOrigins, localhost and IPs. */
  listenHost: string;
  /** Audit trail: who changed what on the dashboard, and what was refused. */
  logger?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /**
   * Why this process cannot serve yet (Redis unreachable, roles still starting); undefined when Redis
   * answers (PING) and the roles of this process are running. /readyz serves it.
   */
  notReady(): Promise<string | undefined>;
  /** The same from what is known without asking Redis; every route but the probes answers 503 while set. */
  unavailable?(): string | undefined;
  /** Served at /metrics behind the dashboard logins (a viewer may read it). */
  metrics?: MetricsSource;
  /** The deliveries API at /api (src/http/api-routes.ts); absent: no API. */
  api?: ApiDeps;
  /** POST /api/events/s3 with its own token (src/http/events-route.ts); absent: 404 there. */
  events?: EventsEndpoint;
}

/**
 * What the web role serves until Redis answers and the dashboard is built: /healthz 200 (the process
 * is alive), /readyz and every other route 503 with the reason.
 */
export function createStartingApp(reason: () => string): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(securityHeaders);
  app.get('/healthz', alive);
  app.get('/readyz', (_req, res) => {
    res.status(503).json({ status: 'not ready', reason: reason() });
  });
  app.use((_req, res) => answerUnavailable(res, reason()));
  return app;
}

/** /healthz: the process is alive (no Redis needed, no data). */
const alive: RequestHandler = (_req, res) => {
  res.json({ status: 'ok' });
};

function answerUnavailable(res: Response, reason: string): void {
  res
    .status(503)
    .set('Retry-After', '5')
    .json({ error: `ERR_REDIS_UNAVAILABLE: ${reason}` });
}

/** What /metrics serves: Prometheus text from src/observability/metrics.ts. */
export interface MetricsSource {
  readonly contentType: string;
  render(): Promise<string>;
}

/**
 * Express app: /healthz and /readyz (no auth, no data), Bull Board at /admin and /metrics behind basic auth.
 * Every response carries the no-framing headers (securityHeaders); every route but the probes and
 * /metrics answers only a Host this dashboard is configured for (hostGuard: 421 otherwise).
 * Operators get a board that can retry, clean, add and edit; viewers get a read-only board (Bull
 * Board's readOnlyMode) at the same URL, and every non-GET request of theirs is refused with 403
 * before it reaches Bull Board. State-changing requests must come from the dashboard's own origin
 * (sameOriginGuard). Job data is shown redacted to its id fields on both boards.
 */
export function createHttpApp(deps: HttpAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(securityHeaders);
  const log = deps.logger;

  // Probes and metrics are scraped by IP or by the orchestrator's own names: open to any Host.
  app.get('/healthz', alive);
  app.get('/readyz', (_req, res) => {
    deps.notReady().then(
      (reason) =>
        reason === undefined
          ? res.json({ status: 'ready' })
          : res.status(503).json({ status: 'not ready', reason }),
      (err: unknown) => res.status(503).json({ status: 'not ready', reason: (err as Error).message }),
    );
  });

  if (deps.metrics) {
    if (deps.users) app.use('/metrics', basicAuth(deps.users));
    app.get('/metrics', serveMetrics(deps.metrics));
  }

  app.use(
    hostGuard({
      trustedOrigins: deps.trustedOrigins ?? [],
      listenHost: deps.listenHost,
      onRefused: (refused) => log?.warn(refused, 'request refused: Host is not this dashboard'),
    }),
  );

  // Until Redis answers (and while it is away) nothing below can do anything but hang: say why at once.
  app.use((_req, res, next) => {
    const reason = deps.unavailable?.();
    if (reason === undefined) return next();
    answerUnavailable(res, reason);
  });

  // Object events from S3/EventBridge: their own token, before (and never behind) the dashboard logins.
  app.use('/api/events', createEventsRouter(deps.events, deps.logger));

  // The web UI (GET / and /ui/*), behind the same logins; it reads and writes through /api.
  app.use(createWebUiRouter(deps.users ? basicAuth(deps.users) : undefined));

  if (deps.api) {
    app.use(
      '/api',
      createApiRouter(deps.api, {
        auth: deps.users ? basicAuth(deps.users) : undefined,
        trustedOrigins: deps.trustedOrigins ?? [],
        ...(deps.logger ? { logger: deps.logger } : {}),
      }),
    );
  }

  const operatorBoard = createBoard(deps.queues, false);
  const viewerBoard = createBoard(deps.queues, true);

  if (deps.users) app.use('/admin', basicAuth(deps.users));
  app.use(
    '/admin',
    readOnlyForViewers((refused) => log?.warn(refused, 'dashboard action refused: viewers are read-only')),
  );
  app.use(
    '/admin',
    sameOriginGuard({
      trustedOrigins: deps.trustedOrigins ?? [],
      basicAuthenticated: authenticatedByBasic,
      onRefused: (reason) => log?.warn({ reason }, 'dashboard action refused: cross-site request'),
    }),
  );
  const audit: RequestHandler = (req, res, next) => {
    if (!SAFE_METHODS.has(req.method)) {
      const caller = callerOf(res);
      res.once('finish', () =>
        log?.info(
          {
            user: caller.user ?? '(no auth)',
            method: req.method,
            path: req.originalUrl,
            status: res.statusCode,
          },
          'dashboard action',
        ),
      );
    }
    next();
  };
  app.use('/admin', audit);
  app.use('/admin', (req, res, next) => {
    const board = callerOf(res).role === 'operator' ? operatorBoard : viewerBoard;
    board(req, res, next);
  });

  // Our own 404 and 500: Express's default pages would replace the policy with `default-src 'none'`,
  // which says nothing about framing.
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('not found\n');
  });
  const onError: ErrorRequestHandler = (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res
        .status(status)
        .type('text/plain')
        .send(`${(err as Error).message}\n`);
      return;
    }
    log?.warn({ err: (err as Error).message, path: req.originalUrl }, 'http request failed');
    res.status(500).type('text/plain').send('internal error\n');
  };
  app.use(onError);
  return app;
}

/**
 * The metrics listener (ferry.yaml `metrics.port`, any role): /metrics without auth, for Prometheus on
 * an internal network, and /healthz. Nothing else: no dashboard, no job data.
 */
export function createMetricsApp(metrics: MetricsSource): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', alive);
  app.get('/metrics', serveMetrics(metrics));
  return app;
}

function serveMetrics(metrics: MetricsSource): RequestHandler {
  return (_req, res) => {
    metrics.render().then(
      (text) => res.type(metrics.contentType).send(text),
      () => res.status(500).type('text/plain').send('metrics unavailable\n'),
    );
  };
}

/** One Bull Board over Ferry's queues, mounted at /admin; read-only for viewers. */
function createBoard(queues: FerryQueues, readOnly: boolean): express.Router {
  const board = new ExpressAdapter();
  board.setBasePath('/admin');
  const adapters = [queues.sweep, queues.deliver].map((q) => {
    const adapter = new BullMQAdapter(q, { allowRetries: !readOnly, readOnlyMode: readOnly });
    adapter.setFormatter('data', (data: unknown) => redactJobData(q.name, data));
    return adapter;
  });
  createBullBoard({
    queues: adapters,
    serverAdapter: board,
    options: { uiConfig: { boardTitle: readOnly ? 'Ferry (read-only)' : 'Ferry' } },
  });
  return board.getRouter() as express.Router;
}
