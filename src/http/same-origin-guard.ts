import type { RequestHandler, Response } from 'express';

/** Methods that change nothing: open to viewers and to any origin. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface SameOriginGuardOptions {
  /** Origins besides the request's own Host that may send state-changing requests (a reverse proxy's). */
  trustedOrigins: readonly string[];
  /** True when the request logged in with an `Authorization: Basic` header (basicAuth accepted it). */
  basicAuthenticated(res: Response): boolean;
  /** Called for each refused request (for the audit log). */
  onRefused?: (reason: string) => void;
}

/**
 * CSRF protection for the dashboard's state-changing routes, without tokens (Bull Board's UI cannot
 * send one). Browsers with basic-auth credentials cached will attach them to a cross-site request,
 * so a non-GET request is accepted only when what the browser says about its origin is ours:
 *  1. `Sec-Fetch-Site` present (modern browsers, HTTPS or localhost): it must be `same-origin`;
 *  2. else `Origin` present (every browser on cross-origin POST/PUT/PATCH/DELETE): its host must be the
 *     request's `Host`, or the origin one of `trustedOrigins` ("null" never matches);
 *  3. else `Referer` present: the same check on its origin;
 *  4. else no browser metadata at all: accepted only from a client that logged in with an
 *     `Authorization: Basic` header (curl, scripts: they hold the password). Without a login
 *     (--insecure-admin) nothing proves the request is not a browser's, so it is refused.
 * Bull Board's own UI sends same-origin fetches, so it passes rule 1 or 2. (There are no session
 * cookies: Basic auth is the only login.) The Host header itself is checked before (host-guard.ts),
 * so an attacker's name that re-resolves to Ferry cannot pass as "the request's own Host".
 */
export function sameOriginGuard(options: SameOriginGuardOptions): RequestHandler {
  const trusted = new Set(options.trustedOrigins);
  const matches = (origin: string, host: string | undefined): boolean => {
    if (trusted.has(origin)) return true;
    if (!URL.canParse(origin)) return false;
    const url = new URL(origin);
    return host !== undefined && (url.protocol === 'http:' || url.protocol === 'https:') && url.host === host;
  };
  return (req, res, next) => {
    if (SAFE_METHODS.has(req.method)) {
      next();
      return;
    }
    const site = req.get('sec-fetch-site');
    const origin = req.get('origin');
    const referer = req.get('referer');
    const host = req.get('host');
    let refused: string | undefined;
    if (site !== undefined) {
      if (site !== 'same-origin') refused = `Sec-Fetch-Site is ${site}`;
    } else if (origin !== undefined) {
      if (!matches(origin, host)) refused = 'Origin is not this dashboard';
    } else if (referer !== undefined) {
      const refererOrigin = URL.canParse(referer) ? new URL(referer).origin : 'null';
      if (!matches(refererOrigin, host)) refused = 'Referer is not this dashboard';
    } else if (!options.basicAuthenticated(res)) {
      refused =
        'no Origin, Referer or Sec-Fetch-Site header and no Basic login: without a login, send the Origin of this dashboard';
    }
    if (refused === undefined) {
      next();
      return;
    }
    options.onRefused?.(refused);
    res.status(403).json({ error: 'cross-site request refused', reason: refused });
  };
}
