import type { RequestHandler } from 'express';

/**
 * The policy of every response but the web UI's (which sets a stricter one, src/http/ui/web-ui.ts):
 * no framing (clickjacking of Bull Board's retry and clean buttons), no plugins, no foreign <base> or
 * form targets. It restricts no script or style: Bull Board's page uses inline styles and a
 * `<base href>`, and its scripts are its own.
 */
export const DEFAULT_CSP = [
  "frame-ancestors 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "object-src 'none'",
].join('; ');

/**
 * Sets the framing and sniffing headers on every response (pages, JSON, errors): one place, so a new
 * route or Bull Board page cannot be served without them. Referrer-Policy same-origin keeps the
 * Referer the same-origin guard may fall back on, and sends nothing to other sites.
 */
export const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('Content-Security-Policy', DEFAULT_CSP);
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'same-origin');
  next();
};
