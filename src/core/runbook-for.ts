// Which runbook (docs/runbooks/<file>) tells a person what to do about an alert or a failed delivery.
// Pure: the alerter and the delivery detail turn the file into a URL with the configured base.
import type { ErrorCode } from '../errors.js';
import type { AlertKind } from './alert-message.js';

/** Where runbooks are read when ferry.yaml sets no `alerts.runbookBaseUrl`: this repository's docs. */
export const DEFAULT_RUNBOOK_BASE_URL = 'https://github.com/ferry-dev/ferry/blob/main/docs/runbooks/';

/**
 * The runbook of each error code, by family: one file may cover several codes, and names each one.
 * `test/unit/docs-runbooks.test.ts` checks every file exists and mentions its codes.
 */
export const RUNBOOK_FOR_CODE = {
  ERR_CONFIG_INVALID: 'config.md',
  ERR_SECRET_MISSING: 'config.md',
  ERR_PAYLOAD_INVALID: 'job-payload.md',
  ERR_PARTNER_UNKNOWN: 'job-payload.md',
  ERR_KEY_OUTSIDE_PREFIX: 'job-payload.md',
  ERR_KEY_HOSTILE: 'key-quarantined.md',
  ERR_CSV_INVALID: 'key-quarantined.md',
  ERR_HOST_KEY_MISMATCH: 'host-key-mismatch.md',
  ERR_SFTP_AUTH: 'auth-refused.md',
  ERR_SFTP_ALGORITHMS: 'sftp-connection.md',
  ERR_PROXY_DENIED: 'sftp-connection.md',
  ERR_SFTP_UNREACHABLE: 'sftp-connection.md',
  ERR_SFTP_CONNECTION_LOST: 'sftp-connection.md',
  ERR_SFTP_TIMEOUT: 'sftp-connection.md',
  ERR_TRANSFER_STALLED: 'sftp-connection.md',
  ERR_SFTP_PERMISSION: 'sftp-remote-path.md',
  ERR_SFTP_NO_SUCH_PATH: 'sftp-remote-path.md',
  ERR_SFTP_RENAME_UNSUPPORTED: 'sftp-remote-path.md',
  ERR_SFTP_FAILURE: 'sftp-remote-path.md',
  ERR_SIZE_MISMATCH: 'sftp-remote-path.md',
  ERR_REMOTE_EXISTS: 'remote-exists.md',
  ERR_SLOT_TIMEOUT: 'slots-and-leases.md',
  ERR_SLOT_LOST: 'slots-and-leases.md',
  ERR_TEMP_BUSY: 'slots-and-leases.md',
  ERR_JOB_LOCK_LOST: 'slots-and-leases.md',
  ERR_PATH_BUSY: 'slots-and-leases.md',
  ERR_PATH_LEASE_LOST: 'slots-and-leases.md',
  ERR_S3_UNAVAILABLE: 's3.md',
  ERR_S3_ACCESS_DENIED: 's3.md',
  ERR_S3_CREDENTIALS: 's3.md',
  ERR_RECEIPT_INVALID: 'receipt-invalid.md',
  ERR_SOURCE_GONE: 'source-object-changed.md',
  ERR_SOURCE_CHANGED: 'source-object-changed.md',
  ERR_SOURCE_HOUSEKEEPING: 'source-housekeeping-failed.md',
  ERR_REDIS_UNAVAILABLE: 'redis.md',
  ERR_REDIS_POLICY: 'redis.md',
  ERR_JOB_STALLED: 'worker-stalled.md',
  ERR_ALERT_WEBHOOK: 'alert-webhook.md',
  ERR_SNS_SUBSCRIBE_URL: 'events-endpoint.md',
  ERR_SNS_CONFIRMATION: 'events-endpoint.md',
  ERR_SNS_SIGNATURE: 'events-endpoint.md',
  ERR_SNS_CERTIFICATE: 'events-endpoint.md',
  ERR_UNKNOWN: 'worker-error.md',
} as const satisfies Record<ErrorCode, string>;

/** The runbook of each alert kind, used when its error code does not pick a more precise one. */
export const RUNBOOK_FOR_KIND = {
  'delivery-failed': 'delivery-failed.md',
  'retries-exhausted': 'delivery-failed.md',
  'host-key-mismatch': 'host-key-mismatch.md',
  'auth-refused': 'auth-refused.md',
  'key-quarantined': 'key-quarantined.md',
  'config-reload-rejected': 'config.md',
  'worker-stalled': 'worker-stalled.md',
  'sla-warning': 'sla.md',
  'sla-missed': 'sla.md',
  'missing-export': 'sla.md',
  'source-housekeeping-failed': 'source-housekeeping-failed.md',
  'sweep-failed': 'sweep-failed.md',
  'worker-error': 'worker-error.md',
  'delivery-rejected': 'partner-answers.md',
  'ack-overdue': 'partner-answers.md',
} as const satisfies Record<AlertKind, string>;

// Delivery failures are about their cause, so the code's runbook says more than the kind's.
const BY_CODE_KINDS: ReadonlySet<AlertKind> = new Set(['delivery-failed', 'retries-exhausted']);

/** The runbook file of an error code; undefined for a string that is not one of Ferry's codes. */
export function runbookForCode(code: string): string | undefined {
  return Object.hasOwn(RUNBOOK_FOR_CODE, code) ? RUNBOOK_FOR_CODE[code as ErrorCode] : undefined;
}

/**
 * The runbook file of an alert: a delivery failure's by its error code's family (its kind's when the
 * code is missing or unknown), any other alert by its kind.
 */
export function runbookForAlert(alert: { kind: AlertKind; errCode?: string | undefined }): string {
  if (BY_CODE_KINDS.has(alert.kind) && alert.errCode !== undefined) {
    const byCode = runbookForCode(alert.errCode);
    if (byCode !== undefined) return byCode;
  }
  return RUNBOOK_FOR_KIND[alert.kind];
}

/**
 * The runbook file of a delivery that needs a person: a quarantined one's, or a failed one's by its
 * last error code (the generic delivery-failed one without a known code); undefined for other states.
 */
export function runbookForDelivery(delivery: {
  status: string;
  lastErrorCode?: string | undefined;
}): string | undefined {
  if (delivery.status === 'quarantined') return RUNBOOK_FOR_KIND['key-quarantined'];
  if (delivery.status !== 'failed') return undefined;
  const byCode = delivery.lastErrorCode === undefined ? undefined : runbookForCode(delivery.lastErrorCode);
  return byCode ?? RUNBOOK_FOR_KIND['delivery-failed'];
}

/** The runbook's URL: `file` under `baseUrl` (a missing trailing slash is added). */
export function runbookUrl(baseUrl: string, file: string): string {
  return `${baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`}${file}`;
}
