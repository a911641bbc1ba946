// Which runbook an alert or a failed delivery links to.
import { describe, expect, it } from 'vitest';
import {
  runbookForAlert,
  runbookForCode,
  runbookForDelivery,
  runbookUrl,
} from '../../../src/core/runbook-for.js';

describe('runbookForAlert', () => {
  it.each([
    ['delivery-failed', 'ERR_SFTP_NO_SUCH_PATH', 'sftp-remote-path.md'],
    ['delivery-failed', 'ERR_REMOTE_EXISTS', 'remote-exists.md'],
    ['retries-exhausted', 'ERR_SFTP_UNREACHABLE', 'sftp-connection.md'],
    ['retries-exhausted', 'ERR_S3_UNAVAILABLE', 's3.md'],
    ['delivery-failed', 'ERR_NOT_A_CODE', 'delivery-failed.md'],
    ['delivery-failed', undefined, 'delivery-failed.md'],
    ['retries-exhausted', undefined, 'delivery-failed.md'],
  ] as const)('picks the code family for a delivery failure: %s %s → %s', (kind, errCode, file) => {
    expect(runbookForAlert({ kind, errCode })).toBe(file);
  });

  it.each([
    ['host-key-mismatch', 'ERR_HOST_KEY_MISMATCH', 'host-key-mismatch.md'],
    ['auth-refused', 'ERR_SFTP_AUTH', 'auth-refused.md'],
    ['key-quarantined', 'ERR_CSV_INVALID', 'key-quarantined.md'],
    ['config-reload-rejected', 'ERR_CONFIG_INVALID', 'config.md'],
    ['worker-stalled', 'ERR_JOB_STALLED', 'worker-stalled.md'],
    ['sla-missed', undefined, 'sla.md'],
    ['missing-export', undefined, 'sla.md'],
    ['source-housekeeping-failed', 'AccessDenied', 'source-housekeeping-failed.md'],
    // A sweep's own runbook sends on to the code's: the sweep failing is what stops deliveries.
    ['sweep-failed', 'ERR_S3_ACCESS_DENIED', 'sweep-failed.md'],
    ['worker-error', 'ERR_UNKNOWN', 'worker-error.md'],
  ] as const)('picks the kind for any other alert: %s %s → %s', (kind, errCode, file) => {
    expect(runbookForAlert({ kind, errCode })).toBe(file);
  });
});

describe('runbookForCode', () => {
  it('knows Ferry codes only, not inherited object properties', () => {
    expect(runbookForCode('ERR_PATH_BUSY')).toBe('slots-and-leases.md');
    expect(runbookForCode('toString')).toBeUndefined();
    expect(runbookForCode('AccessDenied')).toBeUndefined();
  });
});

describe('runbookForDelivery', () => {
  it('links a failed delivery by its last error code, and by the generic runbook without one', () => {
    expect(runbookForDelivery({ status: 'failed', lastErrorCode: 'ERR_SFTP_AUTH' })).toBe('auth-refused.md');
    expect(runbookForDelivery({ status: 'failed' })).toBe('delivery-failed.md');
    expect(runbookForDelivery({ status: 'failed', lastErrorCode: 'ERR_WHAT' })).toBe('delivery-failed.md');
  });

  it('links a quarantined delivery to the quarantine runbook and nothing else to any', () => {
    expect(runbookForDelivery({ status: 'quarantined', lastErrorCode: 'ERR_CSV_INVALID' })).toBe(
      'key-quarantined.md',
    );
    for (const status of ['delivered', 'queued', 'publishing', 'skipped', 'superseded']) {
      expect(runbookForDelivery({ status, lastErrorCode: 'ERR_SFTP_TIMEOUT' })).toBeUndefined();
    }
  });
});

describe('runbookUrl', () => {
  it('appends the file to the base, adding the slash a base may lack', () => {
    expect(runbookUrl('https://wiki.example.com/runbooks/', 'redis.md')).toBe(
      'https://wiki.example.com/runbooks/redis.md',
    );
    expect(runbookUrl('https://wiki.example.com/runbooks', 'redis.md')).toBe(
      'https://wiki.example.com/runbooks/redis.md',
    );
  });
});
