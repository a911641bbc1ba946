// `ferry host-key <host[:port]>`: the fingerprints to pin for every host key a server offers (what
// `ssh-keyscan host | ssh-keygen -lf -` shows), as `target.hostKeys` pins, without logging in.
import type { Socket } from 'node:net';
import { Client, type Algorithms } from 'ssh2';
import { openEgressSocket, type EgressProxy } from '../adapters/egress-proxy.js';
import { checkProxyUrl, parseProxyUrl } from '../config/schema.js';
import { resolveSecret } from '../config/secrets.js';
import { SUPPORTED_ALGORITHMS } from '../core/ssh-algorithms.js';
import { classifyError } from '../core/classify-error.js';
import { fingerprintOfKey } from '../core/host-key.js';
import {
  SCAN_KEY_TYPES,
  TOFU_WARNING,
  formatHostAddress,
  formatHostKeyScan,
  keyTypeOfBlob,
  scanFailure,
  type HostAddress,
  type KeyTypeScan,
  type PresentedHostKey,
} from '../core/host-key-scan.js';
import { FerryError } from '../errors.js';

export interface HostKeyProbeOptions extends HostAddress {
  proxy?: EgressProxy;
  /** The lists to offer; `serverHostKey` decides which of the server's keys it presents. */
  algorithms: {
    kex: readonly string[];
    cipher: readonly string[];
    hmac: readonly string[];
    serverHostKey: readonly string[];
  };
  /** Bound on TCP connect (through the proxy, if any) + key exchange up to the host key. */
  timeoutMs: number;
}

/**
 * Runs an SSH key exchange until the server presents its host key, then drops the connection: ssh2's
 * hostVerifier captures the key and refuses it, so no user name or credential is ever sent.
 *
 * Rejects with FerryError: ERR_SFTP_ALGORITHMS (no common algorithm, e.g. the server has no key of
 * the requested types), ERR_SFTP_TIMEOUT, ERR_SFTP_UNREACHABLE, ERR_PROXY_DENIED, or whatever
 * classifyError(err, 'sftp') says.
 */
export function probeHostKey(options: HostKeyProbeOptions): Promise<PresentedHostKey> {
  const where = formatHostAddress(options);
  return new Promise<PresentedHostKey>((resolve, reject) => {
    const client = new Client();
    const abort = new AbortController();
    let sock: Socket | undefined;
    let settled = false;
    const finish = (err: unknown, key?: PresentedHostKey): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      abort.abort(err);
      // ssh2 may be inside its own callback (hostVerifier): tear down once it has returned.
      setImmediate(() => {
        client.destroy();
        sock?.destroy();
      });
      if (key !== undefined) resolve(key);
      else reject(classifyError(err, 'sftp'));
    };
    const timer = setTimeout(() => {
      finish(
        new FerryError(
          'ERR_SFTP_TIMEOUT',
          `no host key from ${where} within ${options.timeoutMs} ms (connect + key exchange)`,
        ),
      );
    }, options.timeoutMs);
    client.on('error', (err) => finish(err));
    client.on('close', () => {
      finish(
        new FerryError(
          'ERR_SFTP_CONNECTION_LOST',
          `${where} closed the connection before presenting a host key`,
        ),
      );
    });

    const { kex, cipher, hmac, serverHostKey } = options.algorithms;
    const algorithms = {
      kex: [...kex],
      cipher: [...cipher],
      hmac: [...hmac],
      serverHostKey: [...serverHostKey],
      compress: ['none'],
    } as Algorithms;
    openEgressSocket({ host: options.host, port: options.port }, options.proxy, {
      signal: abort.signal,
    }).then((socket) => {
      if (settled) {
        socket.destroy();
        return;
      }
      sock = socket;
      try {
        client.connect({
          sock: socket,
          host: options.host,
          port: options.port,
          // Required by ssh2, never sent: the connection ends at the host key, before authentication.
          username: '',
          algorithms,
          readyTimeout: options.timeoutMs,
          hostVerifier: (key: Buffer): boolean => {
            finish(undefined, {
              keyType: keyTypeOfBlob(key) ?? 'unknown',
              fingerprint: fingerprintOfKey(key),
            });
            return false;
          },
        });
      } catch (err) {
        finish(err);
      }
    }, finish);
  });
}

/**
 * Reads every host key type the server offers, one handshake per type, all at once (like
 * ssh-keyscan). Kex, cipher and MAC lists are everything ssh2 supports: a legacy server still shows
 * its keys (`ferry test-connection` then tells whether Ferry's configured algorithms can talk to it).
 */
export function scanHostKeys(
  address: HostAddress,
  options: { proxy?: EgressProxy; timeoutMs: number },
): Promise<KeyTypeScan[]> {
  return Promise.all(
    SCAN_KEY_TYPES.map(async ({ keyType, algorithms }): Promise<KeyTypeScan> => {
      try {
        const key = await probeHostKey({
          ...address,
          ...(options.proxy === undefined ? {} : { proxy: options.proxy }),
          algorithms: { ...SUPPORTED_ALGORITHMS, serverHostKey: algorithms },
          timeoutMs: options.timeoutMs,
        });
        return { keyType, key };
      } catch (err) {
        const e = classifyError(err, 'sftp');
        return { keyType, error: { code: e.code, message: e.message } };
      }
    }),
  );
}

export interface HostKeyCommandOptions {
  address: HostAddress;
  timeoutMs: number;
  proxy?: EgressProxy;
  out(line: string): void;
  err(line: string): void;
}

/**
 * `ferry host-key`: prints the pins and a YAML snippet on stdout, the trust-on-first-use warning on
 * stderr. Exit 0 when at least one key was read; otherwise throws the FerryError that explains why.
 */
export async function runHostKeyCommand(o: HostKeyCommandOptions): Promise<number> {
  const scans = await scanHostKeys(o.address, {
    timeoutMs: o.timeoutMs,
    ...(o.proxy === undefined ? {} : { proxy: o.proxy }),
  });
  if (!scans.some((scan) => scan.key !== undefined)) throw scanFailure(o.address, scans);
  for (const line of formatHostKeyScan(o.address, scans)) o.out(line);
  o.err('');
  for (const line of TOFU_WARNING) o.err(line);
  return 0;
}

/**
 * The egress proxy named on the command line (`--proxy socks5://[user@]host:port`), its password read
 * from the variable `--proxy-password-env` names. Throws ERR_CONFIG_INVALID for a bad URL (without
 * echoing it: it may hold a password), ERR_SECRET_MISSING for an unset variable.
 */
export async function proxyFromFlags(
  url: string | undefined,
  passwordEnv: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<EgressProxy | undefined> {
  if (url === undefined) {
    if (passwordEnv !== undefined) {
      throw new FerryError('ERR_CONFIG_INVALID', '--proxy-password-env needs --proxy');
    }
    return undefined;
  }
  if (URL.canParse(url) && new URL(url).password !== '') {
    throw new FerryError(
      'ERR_CONFIG_INVALID',
      '--proxy must not contain a password: use --proxy-password-env VAR',
    );
  }
  const problem = checkProxyUrl(url);
  if (problem !== undefined) throw new FerryError('ERR_CONFIG_INVALID', `--proxy ${problem}`);
  const proxy: EgressProxy = parseProxyUrl(url);
  if (proxy.username === undefined) {
    if (passwordEnv !== undefined) {
      throw new FerryError('ERR_CONFIG_INVALID', '--proxy-password-env needs a proxy URL that names a user');
    }
    return proxy;
  }
  if (passwordEnv === undefined) {
    throw new FerryError('ERR_CONFIG_INVALID', 'a proxy user needs --proxy-password-env VAR');
  }
  return { ...proxy, password: await resolveSecret({ env: passwordEnv }, env) };
}
