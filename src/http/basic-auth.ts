import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

export interface AdminCredentials {
  user: string;
  password: string;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** HTTP basic auth with constant-time comparison (of digests, so lengths leak nothing either). */
export function basicAuth(credentials: AdminCredentials, realm = 'ferry'): RequestHandler {
  const expectedUser = digest(credentials.user);
  const expectedPassword = digest(credentials.password);
  return (req, res, next) => {
    const header = req.headers.authorization ?? '';
    const [scheme, encoded] = header.split(' ');
    if (scheme?.toLowerCase() === 'basic' && encoded) {
      const decoded = Buffer.from(encoded, 'base64').toString('utf8');
      const sep = decoded.indexOf(':');
      if (sep >= 0) {
        const userOk = timingSafeEqual(digest(decoded.slice(0, sep)), expectedUser);
        const passwordOk = timingSafeEqual(digest(decoded.slice(sep + 1)), expectedPassword);
        if (userOk && passwordOk) return next();
      }
    }
    res.setHeader('WWW-Authenticate', `Basic realm="${realm}", charset="UTF-8"`);
    res.status(401).send('authentication required\n');
  };
}
