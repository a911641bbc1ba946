/**
 * Every error Ferry raises carries a stable code and what a retry should do about it.
 * The README's "Error codes" table lists the same set (test/unit/docs-links.test.ts checks it).
 */
export const ERROR_CODES = {
  ERR_CONFIG_INVALID: 'permanent',
  ERR_PAYLOAD_INVALID: 'permanent',
  ERR_PARTNER_UNKNOWN: 'permanent',
  ERR_KEY_OUTSIDE_PREFIX: 'permanent',
  ERR_KEY_HOSTILE: 'permanent',
  // The file broke the partner's validate.csv rules: quarantined, never published (src/core/csv-validator.ts).
  ERR_CSV_INVALID: 'permanent',
  ERR_HOST_KEY_MISMATCH: 'permanent',
  ERR_SFTP_AUTH: 'permanent',
  ERR_SFTP_ALGORITHMS: 'permanent',
  ERR_SFTP_PERMISSION: 'permanent',
  ERR_SFTP_NO_SUCH_PATH: 'permanent',
  ERR_SFTP_RENAME_UNSUPPORTED: 'permanent',
  ERR_REMOTE_EXISTS: 'permanent',
  ERR_SECRET_MISSING: 'permanent',
  ERR_PROXY_DENIED: 'permanent',
  ERR_SFTP_UNREACHABLE: 'transient',
  ERR_SFTP_CONNECTION_LOST: 'transient',
  ERR_SFTP_TIMEOUT: 'transient',
  ERR_SFTP_FAILURE: 'transient',
  ERR_TRANSFER_STALLED: 'transient',
  ERR_SIZE_MISMATCH: 'transient',
  ERR_SLOT_TIMEOUT: 'transient',
  // The connection-slot lease could not be kept (Redis away or the slot reclaimed): the connection was
  // dropped so the partner's maxConnections holds; the retry takes a new slot.
  ERR_SLOT_LOST: 'transient',
  // The janitor is removing an old file at the temp/aside path a delivery wants to write (temp-registry.ts).
  ERR_TEMP_BUSY: 'transient',
  ERR_S3_UNAVAILABLE: 'transient',
  ERR_S3_ACCESS_DENIED: 'permanent',
  ERR_S3_CREDENTIALS: 'permanent',
  ERR_RECEIPT_INVALID: 'permanent',
  ERR_SOURCE_GONE: 'skip',
  ERR_SOURCE_CHANGED: 'skip',
  ERR_REDIS_UNAVAILABLE: 'transient',
  ERR_JOB_LOCK_LOST: 'transient',
  // Another delivery of the same remote path holds its lease (one writer per path), or this run lost it.
  ERR_PATH_BUSY: 'transient',
  ERR_PATH_LEASE_LOST: 'transient',
  ERR_JOB_STALLED: 'permanent',
  ERR_REDIS_POLICY: 'permanent',
  // An alert webhook failed a try (retried) or an alert was given up (logged, counted; never fails a delivery).
  ERR_ALERT_WEBHOOK: 'transient',
  // Tagging or moving a delivered source object failed (logged with an alert; never fails the delivery).
  ERR_SOURCE_HOUSEKEEPING: 'transient',
  // An SNS SubscriptionConfirmation's SubscribeURL is not an AWS SNS https URL: refused, nothing fetched.
  ERR_SNS_SUBSCRIBE_URL: 'permanent',
  // The GET of an SNS SubscribeURL failed or was refused (the subscription stays pending; SNS may send it again).
  ERR_SNS_CONFIRMATION: 'transient',
  // An SNS message's signature is missing or does not verify (http.events.snsSignatures: verify): refused, nothing done.
  ERR_SNS_SIGNATURE: 'permanent',
  // The certificate an SNS message is signed with could not be fetched: the message is refused with 502, SNS sends it again.
  ERR_SNS_CERTIFICATE: 'transient',
  ERR_UNKNOWN: 'transient',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
/** transient: back off and retry; permanent: fail now and alert; skip: complete without delivering. */
export type RetryIntent = (typeof ERROR_CODES)[ErrorCode];

export interface FerryErrorOptions {
  cause?: unknown;
  /** Structured facts for logs and alerts (never secrets). */
  details?: Record<string, unknown>;
}

/**
 * Base of every error Ferry throws on purpose, below the job boundary too: code and retry intent, no
 * queue library. jobs/job-errors.ts turns it into what BullMQ acts on (toJobError).
 */
export class FerryError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: FerryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FerryError';
    this.code = code;
    this.details = options.details ?? {};
  }

  get intent(): RetryIntent {
    return ERROR_CODES[this.code];
  }
}
