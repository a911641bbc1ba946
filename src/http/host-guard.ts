import type { RequestHandler } from 'express';
import { createHostCheck, type HostPolicy } from '../core/allowed-hosts.js';

export interface HostGuardOptions extends HostPolicy {
  /** Called for each refused request (for the log). */
  onRefused?: (refused: { host: string | undefined; path: string }) => void;
}

/**
 * Answers 421 Misdirected Request to a request whose Host header names no host this dashboard is
 * configured for (src/core/allowed-hosts.ts): the DNS-rebinding defence, on reads and writes alike.
 */
export function hostGuard(options: HostGuardOptions): RequestHandler {
  const check = createHostCheck(options);
  return (req, res, next) => {
    const verdict = check(req.headers.host);
    if (verdict.ok) {
      next();
      return;
    }
    options.onRefused?.({ host: req.headers.host, path: req.originalUrl });
    res.status(421).type('text/plain').send(`misdirected request: ${verdict.message}\n`);
  };
}
