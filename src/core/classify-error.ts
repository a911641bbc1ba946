// The one place that turns library errors into Ferry's codes. Decisions read only codes, names,
// levels and HTTP statuses: message texts change between library versions and locales.
import { ERROR_CODES, FerryError, type ErrorCode } from '../errors.js';

/** Which boundary the error came from; the same errno means different things at each. */
export type ErrorSource = 'sftp' | 's3' | 'redis';

// errno codes: the host could not be reached at all.
const UNREACHABLE_ERRNO = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
// errno codes: an established connection broke.
const LOST_ERRNO = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);
const TIMEOUT_ERRNO = 'ETIMEDOUT';
// errno codes of a direct connect(2) to the partner that a local firewall rule refused.
const FIREWALL_ERRNO = new Set(['EACCES', 'EPERM']);

/** ssh2 tags client errors with a `level`. */
const SSH2_LEVELS: Readonly<Record<string, ErrorCode>> = {
  'client-authentication': 'ERR_SFTP_AUTH',
  'client-timeout': 'ERR_SFTP_TIMEOUT',
  'client-socket': 'ERR_SFTP_CONNECTION_LOST',
  'client-dns': 'ERR_SFTP_UNREACHABLE',
  // A rejected host key also surfaces as a 'handshake' error; the SFTP adapter knows when its own
  // hostVerifier said no and raises ERR_HOST_KEY_MISMATCH itself (both are permanent).
  handshake: 'ERR_SFTP_ALGORITHMS',
  protocol: 'ERR_SFTP_CONNECTION_LOST',
};

/**
 * The level the SFTP adapter puts on ssh2's DISCONNECT errors: ssh2 gives them no level and the
 * numeric reason (RFC 4253 §11.1) on `code`, where it would otherwise read as an SFTP status.
 */
export const SSH_DISCONNECT_LEVEL = 'server-disconnect';

/** Disconnect reasons that say something lasting; every other reason is a lost connection (retried). */
const DISCONNECT_REASON: Readonly<Record<number, ErrorCode>> = {
  1: 'ERR_SFTP_UNREACHABLE', // HOST_NOT_ALLOWED_TO_CONNECT: an allow-list on the partner's side
  3: 'ERR_SFTP_ALGORITHMS', // KEY_EXCHANGE_FAILED
  8: 'ERR_SFTP_ALGORITHMS', // PROTOCOL_VERSION_NOT_SUPPORTED
  13: 'ERR_SFTP_AUTH', // AUTH_CANCELLED_BY_USER
  14: 'ERR_SFTP_AUTH', // NO_MORE_AUTH_METHODS_AVAILABLE
  15: 'ERR_SFTP_AUTH', // ILLEGAL_USER_NAME
};

/**
 * Marks an ssh2 connection-level error that is a server DISCONNECT (numeric code, no level) so that
 * classifyError reads its code as a disconnect reason, not an SFTP status. Returns the same error.
 */
export function markSshDisconnect(err: unknown): unknown {
  if (err instanceof Error) {
    const e = err as Error & { code?: unknown; level?: unknown };
    if (typeof e.code === 'number' && e.level === undefined) e.level = SSH_DISCONNECT_LEVEL;
  }
  return err;
}

/** SFTP v3 status codes (draft-ietf-secsh-filexfer-02 §7), as ssh2 puts them on `code`. */
const SFTP_STATUS: Readonly<Record<number, ErrorCode>> = {
  2: 'ERR_SFTP_NO_SUCH_PATH', // SSH_FX_NO_SUCH_FILE
  3: 'ERR_SFTP_PERMISSION', // SSH_FX_PERMISSION_DENIED
  4: 'ERR_SFTP_FAILURE', // SSH_FX_FAILURE: OpenSSH's answer to a full disk, rename onto an existing file, …
  6: 'ERR_SFTP_CONNECTION_LOST', // SSH_FX_NO_CONNECTION
  7: 'ERR_SFTP_CONNECTION_LOST', // SSH_FX_CONNECTION_LOST
  8: 'ERR_SFTP_RENAME_UNSUPPORTED', // SSH_FX_OP_UNSUPPORTED
};

/** AWS SDK v3 service and client error names. */
const S3_NAMES: Readonly<Record<string, ErrorCode>> = {
  NoSuchKey: 'ERR_SOURCE_GONE',
  NotFound: 'ERR_SOURCE_GONE',
  // A missing bucket is a configuration problem, not a vanished object: skipping would hide it.
  NoSuchBucket: 'ERR_CONFIG_INVALID',
  PreconditionFailed: 'ERR_SOURCE_CHANGED',
  AccessDenied: 'ERR_S3_ACCESS_DENIED',
  CredentialsProviderError: 'ERR_S3_CREDENTIALS',
  InvalidAccessKeyId: 'ERR_S3_CREDENTIALS',
  SignatureDoesNotMatch: 'ERR_S3_CREDENTIALS',
  ExpiredToken: 'ERR_S3_CREDENTIALS',
  InvalidToken: 'ERR_S3_CREDENTIALS',
  SlowDown: 'ERR_S3_UNAVAILABLE',
  TimeoutError: 'ERR_S3_UNAVAILABLE',
  RequestTimeout: 'ERR_S3_UNAVAILABLE',
  RequestTimeoutException: 'ERR_S3_UNAVAILABLE',
  ServiceUnavailable: 'ERR_S3_UNAVAILABLE',
  InternalError: 'ERR_S3_UNAVAILABLE',
  ThrottlingException: 'ERR_S3_UNAVAILABLE',
};

// Errors that already carry a Ferry code: PermanentError (jobs/job-errors.ts, an UnrecoverableError) and the
// plain Error that toJobError builds for transient codes, e.g. after crossing a process boundary.
const CODED_ERROR_NAMES = new Set(['UnrecoverableError', 'PermanentError', 'FerryError']);

const MAX_CAUSE_DEPTH = 5;

/**
 * Maps any thrown value to a FerryError whose code decides retry, skip or fail (see ERROR_CODES).
 * Decisions use only `code`, `name`, ssh2's `level` and `$metadata.httpStatusCode`, never message
 * text. A FerryError is returned as is; an error that matches nothing becomes ERR_UNKNOWN (transient).
 * When a wrapper matches nothing, its `cause` chain is classified instead. The original is kept as
 * `cause`.
 */
export function classifyError(err: unknown, source: ErrorSource): FerryError {
  if (err instanceof FerryError) return err;
  let current: unknown = err;
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && isObject(current); depth += 1) {
    const found = classifyOne(current, source);
    if (found !== undefined) return wrap(found, err, source);
    current = current.cause;
  }
  return build('ERR_UNKNOWN', err, source);
}

type Match = ErrorCode | FerryError;

function classifyOne(err: ErrorLike, source: ErrorSource): Match | undefined {
  if (err instanceof FerryError) return err;
  const code = err.code;
  const name = typeof err.name === 'string' ? err.name : undefined;
  if (typeof code === 'string' && isErrorCode(code) && name !== undefined && CODED_ERROR_NAMES.has(name)) {
    return fromCodedError(err, code);
  }
  // A watchdog or caller that aborts with a FerryError reason: that reason is the real error.
  if (name === 'AbortError' && err.cause instanceof FerryError) return err.cause;

  switch (source) {
    case 'sftp':
      return classifySftp(err, code);
    case 's3':
      return classifyS3(err, code, name);
    case 'redis':
      return classifyRedis(code, name);
  }
}

function classifySftp(err: ErrorLike, code: unknown): ErrorCode | undefined {
  // errno first: ssh2 puts level 'client-socket' on a refused connection too, and "unreachable" says more.
  // (ssh2 reports remote path problems as numeric SFTP statuses, never as errno strings.)
  if (typeof code === 'string') {
    if (UNREACHABLE_ERRNO.has(code) || FIREWALL_ERRNO.has(code)) return 'ERR_SFTP_UNREACHABLE';
    if (LOST_ERRNO.has(code)) return 'ERR_SFTP_CONNECTION_LOST';
    if (code === TIMEOUT_ERRNO) return 'ERR_SFTP_TIMEOUT';
  }
  if (err.level === SSH_DISCONNECT_LEVEL) {
    return (
      (typeof code === 'number' ? lookup(DISCONNECT_REASON, code) : undefined) ?? 'ERR_SFTP_CONNECTION_LOST'
    );
  }
  if (typeof err.level === 'string') {
    const fromLevel = lookup(SSH2_LEVELS, err.level);
    if (fromLevel !== undefined) return fromLevel;
  }
  if (typeof code === 'number') return lookup(SFTP_STATUS, code);
  return undefined;
}

function classifyS3(err: ErrorLike, code: unknown, name: string | undefined): ErrorCode | undefined {
  if (name !== undefined) {
    const fromName = lookup(S3_NAMES, name);
    if (fromName !== undefined) return fromName;
  }
  if (
    typeof code === 'string' &&
    (UNREACHABLE_ERRNO.has(code) || LOST_ERRNO.has(code) || code === TIMEOUT_ERRNO)
  ) {
    return 'ERR_S3_UNAVAILABLE';
  }
  const status = httpStatusOf(err);
  if (status === undefined) return undefined;
  if (status === 404) return 'ERR_SOURCE_GONE';
  if (status === 412) return 'ERR_SOURCE_CHANGED';
  if (status === 403) return 'ERR_S3_ACCESS_DENIED';
  if (status === 429 || status >= 500) return 'ERR_S3_UNAVAILABLE';
  return undefined;
}

function classifyRedis(code: unknown, name: string | undefined): ErrorCode | undefined {
  // ioredis: retries exhausted while disconnected, or a command aborted because the connection closed.
  if (name === 'MaxRetriesPerRequestError' || name === 'AbortError') return 'ERR_REDIS_UNAVAILABLE';
  if (
    typeof code === 'string' &&
    (UNREACHABLE_ERRNO.has(code) || LOST_ERRNO.has(code) || code === TIMEOUT_ERRNO)
  ) {
    return 'ERR_REDIS_UNAVAILABLE';
  }
  return undefined;
}

/** Turns a match found on `err` (or on one of its causes) into the FerryError to return. */
function wrap(found: Match, original: unknown, source: ErrorSource): FerryError {
  if (found instanceof FerryError) {
    return new FerryError(found.code, found.message, { cause: original, details: found.details });
  }
  return build(found, original, source);
}

function build(code: ErrorCode, original: unknown, source: ErrorSource): FerryError {
  const text = messageOf(original);
  const message = text === undefined ? `${source} error` : `${source} error: ${text}`;
  return new FerryError(code, message, { cause: original, details: factsOf(original, source) });
}

/** Facts that help an operator; only identifiers, never message text that could hold secrets. */
function factsOf(original: unknown, source: ErrorSource): Record<string, unknown> {
  const facts: Record<string, unknown> = { source };
  if (!isObject(original)) return facts;
  if (typeof original.name === 'string') facts.errorName = original.name;
  if (typeof original.code === 'string' || typeof original.code === 'number') facts.errorCode = original.code;
  if (typeof original.level === 'string') facts.level = original.level;
  const status = httpStatusOf(original);
  if (status !== undefined) facts.httpStatus = status;
  return facts;
}

/** Rebuilds a FerryError from an error that already names its code (PermanentError and friends). */
function fromCodedError(err: ErrorLike, code: ErrorCode): FerryError {
  const text = typeof err.message === 'string' ? err.message : '';
  // PermanentError and toJobError prefix "CODE: "; drop it so the code does not appear twice.
  const message = text.startsWith(`${code}: `) ? text.slice(code.length + 2) : text;
  const details = isObject(err.details) ? (err.details as Record<string, unknown>) : {};
  return new FerryError(code, message, { cause: err.cause, details });
}

function messageOf(original: unknown): string | undefined {
  if (isObject(original) && typeof original.message === 'string' && original.message.length > 0) {
    return original.message;
  }
  if (typeof original === 'string' && original.length > 0) return original;
  return undefined;
}

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  level?: unknown;
  cause?: unknown;
  details?: unknown;
  $metadata?: unknown;
}

function isObject(value: unknown): value is ErrorLike {
  return typeof value === 'object' && value !== null;
}

/** Own keys only, so a name like "constructor" cannot pick up Object.prototype members. */
function lookup<K extends string | number>(
  table: Readonly<Record<K, ErrorCode>>,
  key: K,
): ErrorCode | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

function httpStatusOf(err: ErrorLike): number | undefined {
  const metadata = err.$metadata;
  if (!isObject(metadata)) return undefined;
  const status = (metadata as { httpStatusCode?: unknown }).httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}
