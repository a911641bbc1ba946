// Egress proxy fields, shared by a partner's `target` (which may also say "direct") and ferry.yaml's `sftp`.
import { z } from 'zod';

/** An egress proxy: where the SSH connection's TCP stream goes first. Never holds the password. */
export interface EgressProxySetting {
  protocol: 'socks5' | 'http';
  host: string;
  port: number;
  /** For SOCKS5 username/password auth or HTTP Basic proxy auth. */
  username?: string;
  /** Where the proxy password is read at connect time: an environment variable or a file. */
  password?: { env?: string; file?: string };
}

// socks5://[user@]host:port or http://[user@]host:port; host is a name, IPv4 or [IPv6].
const PROXY_URL = /^(socks5|http):\/\/(?:([^@/:\s]+)@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})\/?$/;
const PROXY_URL_MESSAGE =
  'must be socks5://[user@]host:port or http://[user@]host:port (HTTP CONNECT), with an explicit port';

/** Why the proxy URL is unusable, or undefined. The message never echoes the URL (it may hold a password). */
export function checkProxyUrl(url: string): string | undefined {
  if (/^[A-Za-z0-9+.-]+:\/\/[^@/\s]*:[^@/\s]*@/.test(url)) {
    return 'must not contain a password: name it with proxyPasswordEnv or proxyPasswordFile';
  }
  const match = PROXY_URL.exec(url);
  if (!match) return PROXY_URL_MESSAGE;
  const port = Number(match[4]);
  if (port < 1 || port > 65535) return 'has a port outside 1-65535';
  if (match[2] !== undefined) {
    try {
      decodeURIComponent(match[2]);
    } catch {
      return 'has a user name with invalid %-escapes';
    }
  }
  return undefined;
}

/** Parses a URL that checkProxyUrl accepted. */
export function parseProxyUrl(url: string): Omit<EgressProxySetting, 'password'> {
  const [, protocol, user, host, port] = PROXY_URL.exec(url)!;
  return {
    protocol: protocol as 'socks5' | 'http',
    host: host!.startsWith('[') ? host!.slice(1, -1) : host!,
    port: Number(port),
    ...(user === undefined ? {} : { username: decodeURIComponent(user) }),
  };
}

export const proxyUrlField = z.string().check((ctx) => {
  const problem = checkProxyUrl(ctx.value);
  if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
});

// A partner may also say "direct": no proxy, whatever ferry.yaml's sftp.proxy says.
export const partnerProxyField = z.string().check((ctx) => {
  if (ctx.value === 'direct') return;
  const problem = checkProxyUrl(ctx.value);
  if (problem !== undefined) {
    const message = problem === PROXY_URL_MESSAGE ? `${problem}, or "direct"` : problem;
    ctx.issues.push({ code: 'custom', message, input: ctx.value });
  }
});

export const PROXY_FIELDS = ['proxy', 'proxyPasswordEnv', 'proxyPasswordFile'] as const;

/** Cross-field rules of proxy + proxyPasswordEnv/File (partner target and ferry.yaml `sftp`). */
export function checkProxyFields(
  value: { proxy?: string; proxyPasswordEnv?: string; proxyPasswordFile?: string },
  ctx: z.core.$RefinementCtx,
  allowDirect: boolean,
): void {
  const hasPassword = value.proxyPasswordEnv !== undefined || value.proxyPasswordFile !== undefined;
  if (value.proxyPasswordEnv !== undefined && value.proxyPasswordFile !== undefined) {
    ctx.addIssue({
      code: 'custom',
      message: 'set proxyPasswordEnv or proxyPasswordFile, not both',
      path: ['proxyPasswordFile'],
    });
  }
  const direct = allowDirect && value.proxy === 'direct';
  if (value.proxy === undefined || direct) {
    if (hasPassword) {
      ctx.addIssue({
        code: 'custom',
        message: 'only allowed with a proxy URL that names a user',
        path: [value.proxyPasswordEnv !== undefined ? 'proxyPasswordEnv' : 'proxyPasswordFile'],
      });
    }
    return;
  }
  const { username } = parseProxyUrl(value.proxy);
  if (username === undefined && hasPassword) {
    ctx.addIssue({
      code: 'custom',
      message: 'only allowed with a proxy URL that names a user (socks5://user@host:port)',
      path: [value.proxyPasswordEnv !== undefined ? 'proxyPasswordEnv' : 'proxyPasswordFile'],
    });
  }
  if (username !== undefined && !hasPassword) {
    ctx.addIssue({
      code: 'custom',
      message: 'a proxy user needs proxyPasswordEnv or proxyPasswordFile',
      path: ['proxy'],
    });
  }
}

/** Folds proxy + proxyPassword* into one setting (undefined: none configured here). */
export function toProxySetting(value: {
  proxy?: string;
  proxyPasswordEnv?: string;
  proxyPasswordFile?: string;
}): EgressProxySetting | 'direct' | undefined {
  if (value.proxy === undefined) return undefined;
  if (value.proxy === 'direct') return 'direct';
  const password =
    value.proxyPasswordEnv !== undefined
      ? { env: value.proxyPasswordEnv }
      : value.proxyPasswordFile !== undefined
        ? { file: value.proxyPasswordFile }
        : undefined;
  return { ...parseProxyUrl(value.proxy), ...(password === undefined ? {} : { password }) };
}
