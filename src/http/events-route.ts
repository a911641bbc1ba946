// POST /api/events/s3: S3 and EventBridge object events from machines (a MinIO webhook target, an
// EventBridge API destination, an SNS subscription). Its own credential, role `events`: a token in
// `Authorization: Bearer` or the API-key header, never a dashboard login, so it opens nothing else and
// nothing else opens it. No session, no cookies; browsers are refused outright (see refuseBrowsers).
import { timingSafeEqual } from 'node:crypto';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { digestEventsToken, type EventsTokenSource } from '../adapters/events-token-source.js';
import { parseObjectEvents, type ObjectEvent } from '../core/object-events.js';
import type { ObjectEventCounts } from '../partners/object-event-intake.js';

export interface EventsEndpoint {
  /** The tokens accepted (a token file's are followed as it changes: rotation without restart). */
  tokens: EventsTokenSource;
  /** The API-key header that may carry the token instead of Authorization (lower-case). */
  header: string;
  maxBodyBytes: number;
  check(events: readonly ObjectEvent[], ignored: number): Promise<ObjectEventCounts>;
}

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * True when `sent` is one of the tokens: digests compared in constant time (equal lengths whatever was
 * sent, so neither a token's length nor its prefix leaks), every one of them, so which matched does not
 * show either.
 */
export function matchesEventsToken(sent: string, expected: readonly Buffer[]): boolean {
  const digest = digestEventsToken(sent);
  let match = false;
  for (const one of expected) match = timingSafeEqual(digest, one) || match;
  return match;
}

/** The token check. The caller's role is `events`, kept in `res.locals.caller`. */
export function eventsAuth(tokens: EventsTokenSource, header: string, log?: Log): RequestHandler {
  return (req, res, next) => {
    const authorization = req.get('authorization') ?? '';
    const bearer = /^Bearer +(\S+) *$/i.exec(authorization)?.[1];
    const sent = bearer ?? req.get(header);
    const decide = (expected: readonly Buffer[]): void => {
      if (sent !== undefined && matchesEventsToken(sent, expected)) {
        res.locals.caller = { role: 'events' };
        next();
        return;
      }
      log?.warn(
        { path: req.originalUrl, credential: sent === undefined ? 'none' : 'wrong' },
        'event request refused: no valid events token',
      );
      res.setHeader('WWW-Authenticate', 'Bearer realm="ferry-events"');
      res.status(401).json({ error: `authentication required: Authorization: Bearer <token> or ${header}` });
    };
    tokens.digests().then(decide, next);
  };
}

/**
 * CSRF by refusal, not exemption: a browser says where it comes from (every modern one sends
 * Sec-Fetch-Site; every one sends Origin on a cross-origin POST); MinIO, EventBridge, SNS and curl
 * send neither. So a request carrying one is a browser's and is refused, whatever its content type,
 * before its credential or body is looked at. (Not Sec-Fetch-Mode: Node's fetch sends it too.)
 */
export const refuseBrowsers: RequestHandler = (req, res, next) => {
  const sign = ['sec-fetch-site', 'origin'].find((h) => req.get(h) !== undefined);
  if (sign === undefined) {
    next();
    return;
  }
  res.status(403).json({ error: `browsers may not send events (the request has ${sign})` });
};

/** The router for /api/events; undefined endpoint (no `http.events`): every request answers 404. */
export function createEventsRouter(endpoint: EventsEndpoint | undefined, log?: Log): express.Router {
  const router = express.Router();
  if (endpoint === undefined) {
    router.use((_req, res) => {
      res.status(404).json({ error: 'the events endpoint is off: configure http.events in ferry.yaml' });
    });
    return router;
  }
  // Any content type: SNS sends text/plain, EventBridge and MinIO application/json; the text is parsed here.
  const body = express.text({ type: () => true, limit: endpoint.maxBodyBytes });
  router.post(
    '/s3',
    refuseBrowsers,
    eventsAuth(endpoint.tokens, endpoint.header, log),
    body,
    (req, res, next) => {
      const text = typeof req.body === 'string' ? req.body : '';
      const parsed = parseObjectEvents(text);
      if (!parsed.ok) {
        res.status(400).json({ error: parsed.message });
        return;
      }
      endpoint.check(parsed.events, parsed.ignored).then((counts) => res.status(202).json(counts), next);
    },
  );
  router.use((_req, res) => {
    res.status(404).json({ error: 'not found: events are POSTed to /api/events/s3' });
  });
  const onError: ErrorRequestHandler = (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const status = (err as { status?: unknown }).status;
    if (status === 413) {
      res.status(413).json({ error: `body larger than http.events.maxBodyBytes (${endpoint.maxBodyBytes})` });
      return;
    }
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).json({ error: (err as Error).message });
      return;
    }
    log?.warn({ err: (err as Error).message, path: req.originalUrl }, 'event request failed');
    res
      .status(503)
      .set('Retry-After', '5')
      .json({ error: 'events could not be checked now; send them again' });
  };
  router.use(onError);
  return router;
}
