// POST /api/events/s3: S3 and EventBridge object events from machines (a MinIO webhook target, an
// EventBridge API destination, an SNS subscription). Its own credential, role `events`: a token in
// `Authorization: Bearer`, the API-key header or the password of `Authorization: Basic` (SNS sends
// the credentials of its endpoint URL that way), never a dashboard login, so it opens nothing else and
// nothing else opens it. No session, no cookies; browsers are refused outright (see refuseBrowsers).
// An SNS subscription's confirmation is answered here too (answerSnsControl), and every SNS message's
// signature is checked before it is acted on (checkSnsSignature), unless http.events.snsSignatures: off.
import { timingSafeEqual, type KeyObject } from 'node:crypto';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { digestEventsToken, type EventsTokenSource } from '../adapters/events-token-source.js';
import type { SnsCertificates } from '../adapters/sns-certificates.js';
import type { SnsSubscriber } from '../adapters/sns-subscriber.js';
import { parseJsonBody, readObjectEvents, type ObjectEvent } from '../core/object-events.js';
import {
  checkSubscribeUrl,
  isSnsControlType,
  readSnsControlMessage,
  snsMessageTypeOf,
  type SnsControlType,
} from '../core/sns-messages.js';
import { isSnsSignatureValid, readSnsSignature } from '../core/sns-signature.js';
import { FerryError } from '../errors.js';
import type { ObjectEventCounts } from '../partners/object-event-intake.js';

export interface EventsEndpoint {
  /** The tokens accepted (a token file's are followed as it changes: rotation without restart). */
  tokens: EventsTokenSource;
  /** The API-key header that may carry the token instead of Authorization (lower-case). */
  header: string;
  maxBodyBytes: number;
  /** Fetches an SNS SubscribeURL once it passed checkSubscribeUrl. */
  sns: SnsSubscriber;
  /** http.events.snsSignatures: `verify` checks every SNS message's signature before acting on it. */
  snsSignatures: 'verify' | 'off';
  /** The certificates SNS signs with (used only with `verify`). */
  snsCertificates: SnsCertificates;
  check(events: readonly ObjectEvent[], ignored: number): Promise<ObjectEventCounts>;
  /** Told the status of every answered request (ferry_s3_event_requests_total): 401s after a rotation show there. */
  answered?: (status: number) => void;
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

/**
 * The token a request sends: `Authorization: Bearer <token>`, else the password of `Authorization: Basic`
 * (the user name is ignored: SNS sends https://user:token@host/… that way), else the API-key header.
 */
export function sentEventsToken(authorization: string, apiKey: string | undefined): string | undefined {
  const bearer = /^Bearer +(\S+) *$/i.exec(authorization)?.[1];
  if (bearer !== undefined) return bearer;
  const basic = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(authorization)?.[1];
  if (basic !== undefined) {
    const decoded = Buffer.from(basic, 'base64').toString('utf8');
    const sep = decoded.indexOf(':');
    if (sep >= 0 && sep < decoded.length - 1) return decoded.slice(sep + 1);
  }
  return apiKey;
}

/** The token check. The caller's role is `events`, kept in `res.locals.caller`. */
export function eventsAuth(tokens: EventsTokenSource, header: string, log?: Log): RequestHandler {
  return (req, res, next) => {
    const sent = sentEventsToken(req.get('authorization') ?? '', req.get(header));
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
      // Basic too: SNS sends its endpoint URL's credentials only after a 401 asks for them.
      res.setHeader('WWW-Authenticate', ['Bearer realm="ferry-events"', 'Basic realm="ferry-events"']);
      res.status(401).json({
        error: `authentication required: Authorization: Bearer <token>, ${header}, or Basic with the token as password`,
      });
    };
    tokens.digests().then(decide, next);
  };
}

/**
 * An SNS subscription's control message: a SubscriptionConfirmation is confirmed by GETting its
 * SubscribeURL when that is an AWS SNS https URL (400 ERR_SNS_SUBSCRIBE_URL otherwise, nothing fetched;
 * 502 ERR_SNS_CONFIRMATION when the GET fails); an UnsubscribeConfirmation is acknowledged. Logged with
 * the topic ARN, never the SubscribeURL (its Token confirms the subscription).
 */
async function answerSnsControl(
  sns: SnsSubscriber,
  type: SnsControlType,
  body: unknown,
  res: express.Response,
  log?: Log,
): Promise<void> {
  const read = readSnsControlMessage(type, body);
  if (!read.ok) {
    res.status(400).json({ error: read.problem });
    return;
  }
  const message = read.message;
  const topicArn = message.topicArn;
  if (message.type === 'UnsubscribeConfirmation') {
    log?.info({ topicArn }, 'SNS subscription removed (UnsubscribeConfirmation)');
    res.status(200).json({ type: message.type, topicArn });
    return;
  }
  const checked = checkSubscribeUrl(message.subscribeUrl);
  if (!checked.ok) {
    log?.warn(
      { topicArn, host: checked.host, code: 'ERR_SNS_SUBSCRIBE_URL', problem: checked.problem },
      'SNS subscription confirmation refused: the SubscribeURL is not an AWS SNS https URL, nothing fetched',
    );
    res.status(400).json({
      error: `${checked.problem}: Ferry confirms only https://sns.<region>.amazonaws.com URLs (code ERR_SNS_SUBSCRIBE_URL)`,
    });
    return;
  }
  try {
    const { subscriptionArn } = await sns.confirm(checked.url);
    log?.info({ topicArn, subscriptionArn }, 'SNS subscription confirmed');
    res.status(200).json({ type: message.type, topicArn, confirmed: true });
  } catch (err) {
    const code = err instanceof FerryError ? err.code : 'ERR_SNS_CONFIRMATION';
    log?.warn({ topicArn, code, err: (err as Error).message }, 'SNS subscription confirmation failed');
    res
      .status(502)
      .json({ error: `${(err as Error).message} (code ${code}); the subscription stays pending` });
  }
}

/**
 * Checks the signature of an SNS message (a body whose `Type` is one SNS posts; true for any other
 * body) and answers the refusal itself: 403 ERR_SNS_SIGNATURE when it is missing or does not verify
 * (SNS does not retry a 4xx, and a forged message never verifies), 502 ERR_SNS_CERTIFICATE when the
 * certificate cannot be fetched (SNS retries a 5xx). Both are logged with the topic ARN and the
 * reason. True when it verifies.
 */
async function checkSnsSignature(
  certificates: SnsCertificates,
  body: unknown,
  res: express.Response,
  log?: Log,
): Promise<boolean> {
  // An SNS message is told by its body, not by the header a sender may leave out.
  const type = snsMessageTypeOf(body);
  if (type === undefined) return true;
  const fields = body as Record<string, unknown>;
  const refuse = (problem: string, topicArn: string | undefined, host: string | undefined): false => {
    log?.warn(
      { topicArn, type, host, code: 'ERR_SNS_SIGNATURE', problem },
      'SNS message refused: its signature does not verify, nothing done',
    );
    res.status(403).json({ error: `${problem} (code ERR_SNS_SIGNATURE)` });
    return false;
  };
  const read = readSnsSignature(type, fields);
  if (!read.ok) return refuse(read.problem, read.topicArn, read.host);
  const { signed } = read;
  let key: KeyObject;
  try {
    key = await certificates.publicKey(signed.certUrl);
  } catch (err) {
    const code = err instanceof FerryError ? err.code : 'ERR_SNS_CERTIFICATE';
    log?.warn(
      { topicArn: signed.topicArn, type, host: signed.certUrl.hostname, code, err: (err as Error).message },
      'SNS message not checked: its signing certificate could not be fetched',
    );
    res.status(502).json({ error: `${(err as Error).message} (code ${code}); SNS sends the message again` });
    return false;
  }
  if (!isSnsSignatureValid(signed, key)) {
    return refuse(
      `SNS ${type} signature does not verify with ${signed.certUrl.hostname}'s certificate`,
      signed.topicArn,
      signed.certUrl.hostname,
    );
  }
  return true;
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
  if (endpoint.answered) {
    router.use((_req, res, next) => {
      res.once('finish', () => endpoint.answered?.(res.statusCode));
      next();
    });
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
      const snsType = req.get('x-amz-sns-message-type');
      const json = parseJsonBody(text);
      const answer = async (): Promise<void> => {
        if (!json.ok) {
          res.status(400).json({ error: json.message });
          return;
        }
        if (endpoint.snsSignatures === 'verify') {
          if (!(await checkSnsSignature(endpoint.snsCertificates, json.body, res, log))) return;
        }
        if (isSnsControlType(snsType)) {
          await answerSnsControl(endpoint.sns, snsType, json.body, res, log);
          return;
        }
        const parsed = readObjectEvents(json.body);
        if (!parsed.ok) {
          res.status(400).json({ error: parsed.message });
          return;
        }
        res.status(202).json(await endpoint.check(parsed.events, parsed.ignored));
      };
      answer().catch(next);
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
