import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express, { type Express } from 'express';
import type { FerryQueues } from '../queues/queues.js';
import { basicAuth, type AdminCredentials } from './basic-auth.js';

export interface HttpAppDeps {
  queues: FerryQueues;
  /** undefined only with --insecure-admin on a loopback address (checked by the caller). */
  credentials: AdminCredentials | undefined;
  /** Resolves true when Redis answers and the roles of this process are running. */
  ready(): Promise<boolean>;
}

/** Express app: /healthz and /readyz (no auth, no data), Bull Board at /admin behind basic auth. */
export function createHttpApp(deps: HttpAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    deps.ready().then(
      (ok) => res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not ready' }),
      () => res.status(503).json({ status: 'not ready' }),
    );
  });

  const board = new ExpressAdapter();
  board.setBasePath('/admin');
  const adapters = [deps.queues.sweep, deps.queues.deliver].map((q) => {
    const adapter = new BullMQAdapter(q, { allowRetries: true, readOnlyMode: false });
    return adapter;
  });
  createBullBoard({
    queues: adapters,
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'Ferry' } },
  });
  if (deps.credentials) app.use('/admin', basicAuth(deps.credentials));
  app.use('/admin', board.getRouter() as express.Router);
  return app;
}
