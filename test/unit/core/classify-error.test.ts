import { UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { classifyError, markSshDisconnect, type ErrorSource } from '../../../src/core/classify-error.js';
import { FerryError, type ErrorCode } from '../../../src/errors.js';
import { PermanentError, toJobError } from '../../../jobs/job-errors.js';

// Errors shaped like the libraries' own: Node errno errors, ssh2 (level / numeric SFTP status),
// AWS SDK v3 (name + $metadata) and ioredis.
function errnoError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:22`), { code, errno: -1, syscall: 'connect' });
}
function ssh2Level(level: string): Error {
  return Object.assign(new Error('x'), { level });
}
function sftpStatus(code: number): Error {
  return Object.assign(new Error('x'), { code });
}
// ssh2's DISCONNECT error as the adapter passes it on: numeric reason on `code`, no level of ssh2's own.
function disconnect(reason: number): unknown {
  return markSshDisconnect(Object.assign(new Error('disconnected'), { code: reason }));
}
function awsError(name: string, httpStatusCode?: number): Error {
  const err = new Error(name);
  err.name = name;
  return Object.assign(err, {
    $fault: httpStatusCode !== undefined && httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: httpStatusCode === undefined ? {} : { httpStatusCode },
  });
}
function named(name: string): Error {
  const err = new Error('x');
  err.name = name;
  return err;
}

type Row = [label: string, err: unknown, source: ErrorSource, expected: ErrorCode];

const ERRNO_ROWS: Row[] = [
  ...['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'].flatMap((code): Row[] => [
    [code, errnoError(code), 'sftp', 'ERR_SFTP_UNREACHABLE'],
    [code, errnoError(code), 's3', 'ERR_S3_UNAVAILABLE'],
    [code, errnoError(code), 'redis', 'ERR_REDIS_UNAVAILABLE'],
  ]),
  ...['ECONNRESET', 'EPIPE', 'ECONNABORTED'].flatMap((code): Row[] => [
    [code, errnoError(code), 'sftp', 'ERR_SFTP_CONNECTION_LOST'],
    [code, errnoError(code), 's3', 'ERR_S3_UNAVAILABLE'],
    [code, errnoError(code), 'redis', 'ERR_REDIS_UNAVAILABLE'],
  ]),
  ['ETIMEDOUT', errnoError('ETIMEDOUT'), 'sftp', 'ERR_SFTP_TIMEOUT'],
  ['ETIMEDOUT', errnoError('ETIMEDOUT'), 's3', 'ERR_S3_UNAVAILABLE'],
  ['ETIMEDOUT', errnoError('ETIMEDOUT'), 'redis', 'ERR_REDIS_UNAVAILABLE'],
  // connect(2) refused by a local firewall rule: the partner cannot be reached (no SFTP path is involved).
  ['EACCES from connect', errnoError('EACCES'), 'sftp', 'ERR_SFTP_UNREACHABLE'],
  ['EPERM from connect', errnoError('EPERM'), 'sftp', 'ERR_SFTP_UNREACHABLE'],
];

const SSH2_ROWS: Row[] = [
  ['level client-authentication', ssh2Level('client-authentication'), 'sftp', 'ERR_SFTP_AUTH'],
  ['level client-timeout', ssh2Level('client-timeout'), 'sftp', 'ERR_SFTP_TIMEOUT'],
  ['level client-socket', ssh2Level('client-socket'), 'sftp', 'ERR_SFTP_CONNECTION_LOST'],
  ['level client-dns', ssh2Level('client-dns'), 'sftp', 'ERR_SFTP_UNREACHABLE'],
  ['level handshake', ssh2Level('handshake'), 'sftp', 'ERR_SFTP_ALGORITHMS'],
  ['level protocol', ssh2Level('protocol'), 'sftp', 'ERR_SFTP_CONNECTION_LOST'],
  [
    'level client-socket with ECONNREFUSED (errno wins)',
    Object.assign(errnoError('ECONNREFUSED'), { level: 'client-socket' }),
    'sftp',
    'ERR_SFTP_UNREACHABLE',
  ],
  ['SFTP status 2 NO_SUCH_FILE', sftpStatus(2), 'sftp', 'ERR_SFTP_NO_SUCH_PATH'],
  // A server DISCONNECT's reason shares `code` with SFTP statuses: 2 and 3 are not path or permission.
  ['DISCONNECT 2 PROTOCOL_ERROR', disconnect(2), 'sftp', 'ERR_SFTP_CONNECTION_LOST'],
  ['DISCONNECT 3 KEY_EXCHANGE_FAILED', disconnect(3), 'sftp', 'ERR_SFTP_ALGORITHMS'],
  ['DISCONNECT 1 HOST_NOT_ALLOWED_TO_CONNECT', disconnect(1), 'sftp', 'ERR_SFTP_UNREACHABLE'],
  ['DISCONNECT 12 TOO_MANY_CONNECTIONS', disconnect(12), 'sftp', 'ERR_SFTP_CONNECTION_LOST'],
  ['DISCONNECT 14 NO_MORE_AUTH_METHODS', disconnect(14), 'sftp', 'ERR_SFTP_AUTH'],
  ['DISCONNECT 99 (unknown reason)', disconnect(99), 'sftp', 'ERR_SFTP_CONNECTION_LOST'],
  ['SFTP status 3 PERMISSION_DENIED', sftpStatus(3), 'sftp', 'ERR_SFTP_PERMISSION'],
  ['SFTP status 4 FAILURE (e.g. disk full)', sftpStatus(4), 'sftp', 'ERR_SFTP_FAILURE'],
  ['SFTP status 6 NO_CONNECTION', sftpStatus(6), 'sftp', 'ERR_SFTP_CONNECTION_LOST'],
  ['SFTP status 7 CONNECTION_LOST', sftpStatus(7), 'sftp', 'ERR_SFTP_CONNECTION_LOST'],
  ['SFTP status 8 OP_UNSUPPORTED', sftpStatus(8), 'sftp', 'ERR_SFTP_RENAME_UNSUPPORTED'],
  ['SFTP status 1 EOF (unmapped)', sftpStatus(1), 'sftp', 'ERR_UNKNOWN'],
  ['unknown ssh2 level', ssh2Level('something-new'), 'sftp', 'ERR_UNKNOWN'],
  ['a level that is an Object.prototype member', ssh2Level('toString'), 'sftp', 'ERR_UNKNOWN'],
  // ssh2-sftp-client's string codes (Ferry no longer uses it) mean nothing to ssh2: unknown, transient.
  ...['ERR_BAD_AUTH', 'ERR_NOT_CONNECTED', 'ERR_BAD_PATH', 'ENOENT', 'ENOTDIR'].map((code): Row => [
    `old ssh2-sftp-client code ${code}`,
    Object.assign(new Error('x'), { code }),
    'sftp',
    'ERR_UNKNOWN',
  ]),
];

const S3_ROWS: Row[] = [
  ['NoSuchKey 404', awsError('NoSuchKey', 404), 's3', 'ERR_SOURCE_GONE'],
  ['NotFound (HeadObject) 404', awsError('NotFound', 404), 's3', 'ERR_SOURCE_GONE'],
  ['a bare 404', awsError('UnknownError', 404), 's3', 'ERR_SOURCE_GONE'],
  ['NoSuchBucket (config, not a vanished object)', awsError('NoSuchBucket', 404), 's3', 'ERR_CONFIG_INVALID'],
  ['PreconditionFailed 412', awsError('PreconditionFailed', 412), 's3', 'ERR_SOURCE_CHANGED'],
  ['a bare 412', awsError('UnknownError', 412), 's3', 'ERR_SOURCE_CHANGED'],
  ['AccessDenied 403', awsError('AccessDenied', 403), 's3', 'ERR_S3_ACCESS_DENIED'],
  ['a bare 403', awsError('UnknownError', 403), 's3', 'ERR_S3_ACCESS_DENIED'],
  ['InvalidAccessKeyId 403', awsError('InvalidAccessKeyId', 403), 's3', 'ERR_S3_CREDENTIALS'],
  ['SignatureDoesNotMatch 403', awsError('SignatureDoesNotMatch', 403), 's3', 'ERR_S3_CREDENTIALS'],
  ['ExpiredToken 400', awsError('ExpiredToken', 400), 's3', 'ERR_S3_CREDENTIALS'],
  ['CredentialsProviderError', awsError('CredentialsProviderError'), 's3', 'ERR_S3_CREDENTIALS'],
  ['SlowDown 503', awsError('SlowDown', 503), 's3', 'ERR_S3_UNAVAILABLE'],
  ['InternalError 500', awsError('InternalError', 500), 's3', 'ERR_S3_UNAVAILABLE'],
  ['a bare 502', awsError('UnknownError', 502), 's3', 'ERR_S3_UNAVAILABLE'],
  ['429', awsError('UnknownError', 429), 's3', 'ERR_S3_UNAVAILABLE'],
  ['TimeoutError (no response)', awsError('TimeoutError'), 's3', 'ERR_S3_UNAVAILABLE'],
  ['RequestTimeout 400', awsError('RequestTimeout', 400), 's3', 'ERR_S3_UNAVAILABLE'],
  [
    'a plain object, not an Error',
    { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } },
    's3',
    'ERR_SOURCE_GONE',
  ],
  ['an unmapped 400', awsError('InvalidArgument', 400), 's3', 'ERR_UNKNOWN'],
  ['a name that is an Object.prototype member', awsError('constructor'), 's3', 'ERR_UNKNOWN'],
];

const REDIS_ROWS: Row[] = [
  ['MaxRetriesPerRequestError', named('MaxRetriesPerRequestError'), 'redis', 'ERR_REDIS_UNAVAILABLE'],
  ['an ioredis AbortError (connection closed)', named('AbortError'), 'redis', 'ERR_REDIS_UNAVAILABLE'],
  ['a ReplyError (unmapped)', named('ReplyError'), 'redis', 'ERR_UNKNOWN'],
];

const OTHER_ROWS: Row[] = [
  ['a plain Error', new Error('boom'), 'sftp', 'ERR_UNKNOWN'],
  ['a thrown string', 'boom', 's3', 'ERR_UNKNOWN'],
  ['undefined', undefined, 'redis', 'ERR_UNKNOWN'],
  ['null', null, 'sftp', 'ERR_UNKNOWN'],
  ['an AbortError without a Ferry reason', named('AbortError'), 's3', 'ERR_UNKNOWN'],
  ['an ssh2 level seen at the s3 boundary', ssh2Level('client-authentication'), 's3', 'ERR_UNKNOWN'],
  ['an SFTP status seen at the redis boundary', sftpStatus(3), 'redis', 'ERR_UNKNOWN'],
  ['an AWS name seen at the sftp boundary', awsError('AccessDenied', 403), 'sftp', 'ERR_UNKNOWN'],
];

describe('classifyError', () => {
  it.each([...ERRNO_ROWS, ...SSH2_ROWS, ...S3_ROWS, ...REDIS_ROWS, ...OTHER_ROWS])(
    'maps %s at the %s boundary to %s',
    (_label, err, source, expected) => {
      const classified = classifyError(err, source);
      expect(classified).toBeInstanceOf(FerryError);
      expect(classified.code).toBe(expected);
      expect(classified.cause).toBe(err);
    },
  );

  it('returns a FerryError unchanged', () => {
    const err = new FerryError('ERR_SIZE_MISMATCH', 'short');
    expect(classifyError(err, 'sftp')).toBe(err);
  });

  it('keeps the code of a PermanentError and drops its duplicated code prefix', () => {
    const err = new PermanentError('ERR_HOST_KEY_MISMATCH', 'presented SHA256:abc', {
      details: { pinned: 1 },
    });
    const classified = classifyError(err, 'sftp');
    expect(classified.code).toBe('ERR_HOST_KEY_MISMATCH');
    expect(classified.intent).toBe('permanent');
    expect(classified.message).toBe('presented SHA256:abc');
    expect(classified.details).toEqual({ pinned: 1 });
    expect(classified.cause).toBe(err);
  });

  it('keeps the code of a bullmq UnrecoverableError that carries a Ferry code', () => {
    const err = Object.assign(new UnrecoverableError('ERR_SFTP_AUTH: denied'), { code: 'ERR_SFTP_AUTH' });
    expect(classifyError(err, 's3').code).toBe('ERR_SFTP_AUTH');
  });

  it('keeps the code of a transient error rebuilt by toJobError', () => {
    const err = toJobError(new FerryError('ERR_SFTP_FAILURE', 'disk full'));
    expect(classifyError(err, 'redis').code).toBe('ERR_SFTP_FAILURE');
  });

  it('keeps ERR_TEMP_BUSY transient across a job boundary, so the delivery retries once the janitor is done', () => {
    const classified = classifyError(toJobError(new FerryError('ERR_TEMP_BUSY', 'claimed')), 'redis');
    expect(classified.code).toBe('ERR_TEMP_BUSY');
    expect(classified.intent).toBe('transient');
  });

  it('ignores an unknown code on an UnrecoverableError', () => {
    const err = Object.assign(new UnrecoverableError('x'), { code: 'ERR_NOT_OURS' });
    expect(classifyError(err, 'sftp').code).toBe('ERR_UNKNOWN');
  });

  it('turns an AbortError whose reason is ERR_TRANSFER_STALLED into that error, keeping the AbortError as cause', () => {
    const stalled = new FerryError('ERR_TRANSFER_STALLED', 'no bytes for 30 s');
    const abort = Object.assign(named('AbortError'), { code: 'ABORT_ERR', cause: stalled });
    const classified = classifyError(abort, 'sftp');
    expect(classified.code).toBe('ERR_TRANSFER_STALLED');
    expect(classified.message).toBe('no bytes for 30 s');
    expect(classified.cause).toBe(abort);
  });

  it('classifies a wrapper by its cause when the wrapper itself says nothing', () => {
    const wrapper = new Error('upload failed', { cause: sftpStatus(3) });
    const classified = classifyError(wrapper, 'sftp');
    expect(classified.code).toBe('ERR_SFTP_PERMISSION');
    expect(classified.cause).toBe(wrapper);
  });

  it('stops following a cause chain that loops', () => {
    const a: Error & { cause?: unknown } = new Error('a');
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(classifyError(a, 'sftp').code).toBe('ERR_UNKNOWN');
  });

  it('decides on codes only: the same message with different codes classifies differently', () => {
    const message = 'All configured authentication methods failed';
    expect(
      classifyError(Object.assign(new Error(message), { level: 'client-authentication' }), 'sftp').code,
    ).toBe('ERR_SFTP_AUTH');
    expect(classifyError(new Error(message), 'sftp').code).toBe('ERR_UNKNOWN');
  });

  it('keeps the original message as text and the identifying facts as details', () => {
    const classified = classifyError(errnoError('ECONNREFUSED'), 'sftp');
    expect(classified.message).toBe('sftp error: connect ECONNREFUSED 127.0.0.1:22');
    expect(classified.details).toEqual({ source: 'sftp', errorName: 'Error', errorCode: 'ECONNREFUSED' });
  });

  it('records the HTTP status of AWS errors in details', () => {
    expect(classifyError(awsError('SlowDown', 503), 's3').details).toMatchObject({
      source: 's3',
      errorName: 'SlowDown',
      httpStatus: 503,
    });
  });

  it.each<[ErrorCode, 'transient' | 'permanent' | 'skip']>([
    ['ERR_SFTP_AUTH', 'permanent'],
    ['ERR_SFTP_FAILURE', 'transient'],
    ['ERR_SOURCE_GONE', 'skip'],
    ['ERR_UNKNOWN', 'transient'],
  ])('gives %s the retry intent %s', (code, intent) => {
    const samples: Partial<Record<ErrorCode, [unknown, ErrorSource]>> = {
      ERR_SFTP_AUTH: [ssh2Level('client-authentication'), 'sftp'],
      ERR_SFTP_FAILURE: [sftpStatus(4), 'sftp'],
      ERR_SOURCE_GONE: [awsError('NoSuchKey', 404), 's3'],
      ERR_UNKNOWN: [new Error('x'), 'redis'],
    };
    const [err, source] = samples[code]!;
    expect(classifyError(err, source).intent).toBe(intent);
  });
});
