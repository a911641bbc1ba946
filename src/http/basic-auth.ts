import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import { SAFE_METHODS } from './same-origin-guard.js';

/** operator: may act (retry, clean, add, edit…); viewer: may only look. */
export type DashboardRole = 'operator' | 'viewer';

export interface DashboardUser {
  user: string;
  password: string;
  role: DashboardRole;
}

/** Who the request authenticated as (set by basicAuth; an unauthenticated loopback board acts as operator). */
export interface Caller {
  user?: string;
  role: DashboardRole;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** The caller basicAuth (or its absence) recorded on the response. */
export function callerOf(res: Response): Caller {
  const caller = res.locals.caller as Caller | undefined;
  return caller ?? { role: 'operator' };
}

/** True when basicAuth accepted this request's `Authorization: Basic` header (false with --insecure-admin). */
export function authenticatedByBasic(res: Response): boolean {
  return res.locals.caller !== undefined;
}

/** A request a viewer login may not make, for the caller's log line. */
export interface RefusedAction {
  user?: string;
  role: DashboardRole;
  method: string;
  path: string;
}

/**
 * Refuses every state-changing request of a viewer login with 403 (operators and safe methods pass);
 * `onRefused` logs it. Used by Bull Board and the API alike, so the rule is the same for both.
 */
export function readOnlyForViewers(onRefused?: (refused: RefusedAction) => void): RequestHandler {
  return (req, res, next) => {
    const caller = callerOf(res);
    if (caller.role === 'operator' || SAFE_METHODS.has(req.method)) {
      next();
      return;
    }
    onRefused?.({ ...caller, method: req.method, path: req.originalUrl });
    res.status(403).json({ error: 'read-only login: this action needs an operator' });
  };
}

/**
 * HTTP basic auth against several logins, each with a role. Every login is compared, in constant time
 * (digests, so lengths leak nothing either), whatever matched before: timing tells nothing about which
 * user names exist. On success the caller is kept in `res.locals.caller`.
 */
export function basicAuth(users: readonly DashboardUser[], realm = 'ferry'): RequestHandler {
  const expected = users.map((u) => ({ user: digest(u.user), password: digest(u.password), caller: u }));
  return (req, res, next) => {
    const header = req.headers.authorization ?? '';
    const [scheme, encoded] = header.split(' ');
    if (scheme?.toLowerCase() === 'basic' && encoded) {
      const decoded = Buffer.from(encoded, 'base64').toString('utf8');
      const sep = decoded.indexOf(':');
      if (sep >= 0) {
        const user = digest(decoded.slice(0, sep));
        const password = digest(decoded.slice(sep + 1));
        let matched: DashboardUser | undefined;
        for (const e of expected) {
          const userOk = timingSafeEqual(user, e.user);
          const passwordOk = timingSafeEqual(password, e.password);
          if (userOk && passwordOk && matched === undefined) matched = e.caller;
        }
        if (matched !== undefined) {
          res.locals.caller = { user: matched.user, role: matched.role } satisfies Caller;
          next();
          return;
        }
      }
    }
    res.setHeader('WWW-Authenticate', `Basic realm="${realm}", charset="UTF-8"`);
    res.status(401).send('authentication required\n');
  };
}
