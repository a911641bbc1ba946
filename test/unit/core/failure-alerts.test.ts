import { describe, expect, it } from 'vitest';
import { alertDedupId, alertSeverity } from '../../../src/core/alert-message.js';
import { sweepFailedAlert, workerErrorAlert } from '../../../src/core/failure-alerts.js';
import { FerryError } from '../../../src/errors.js';
import { PermanentError, toJobError } from '../../../jobs/job-errors.js';

const data = { v: 1, partnerId: 'acme', reason: 'schedule' };

describe('sweepFailedAlert', () => {
  it('names the partner and the code of a permanent failure (a missing bucket), without the code twice', () => {
    const err = new PermanentError('ERR_CONFIG_INVALID', 'bucket warehouse-exports does not exist');
    const event = sweepFailedAlert({ jobId: 'repeat:sweep-acme:1', data, err });
    expect(event).toEqual({
      kind: 'sweep-failed',
      partnerId: 'acme',
      errCode: 'ERR_CONFIG_INVALID',
      message:
        'sweep job repeat:sweep-acme:1 failed: bucket warehouse-exports does not exist; nothing new is delivered until a sweep succeeds',
    });
    expect(alertSeverity(event)).toBe('error');
  });

  it('takes the code of a transient failure that used its last attempt', () => {
    const err = toJobError(new FerryError('ERR_S3_ACCESS_DENIED', 'listing denied'));
    expect(sweepFailedAlert({ jobId: 'j1', data, err })).toMatchObject({
      errCode: 'ERR_S3_ACCESS_DENIED',
      message: expect.stringContaining('failed: listing denied;') as string,
    });
  });

  it('reads the code from the message prefix when the error lost its code (e.g. rebuilt by BullMQ)', () => {
    const err = { name: 'UnrecoverableError', message: 'ERR_S3_CREDENTIALS: the access key is wrong' };
    expect(sweepFailedAlert({ jobId: 'j1', data, err })).toMatchObject({ errCode: 'ERR_S3_CREDENTIALS' });
  });

  it('keys repeats by partner and cause, so a sweep failing every minute is one alert per dedup window', () => {
    const err = new PermanentError('ERR_CONFIG_INVALID', 'no bucket');
    const first = sweepFailedAlert({ jobId: 'a', data, err });
    const next = sweepFailedAlert({ jobId: 'b', data, err });
    expect(alertDedupId(first)).toBe('sweep-failed:acme:ERR_CONFIG_INVALID');
    expect(alertDedupId(next)).toBe(alertDedupId(first));
    const other = sweepFailedAlert({ jobId: 'c', data: { ...data, partnerId: 'globex' }, err });
    expect(alertDedupId(other)).toBe('sweep-failed:globex:ERR_CONFIG_INVALID');
  });

  it('has no partner and ERR_UNKNOWN when job data and error say nothing usable', () => {
    const event = sweepFailedAlert({ jobId: undefined, data: null, err: new Error('boom') });
    expect(event).toMatchObject({
      errCode: 'ERR_UNKNOWN',
      message: expect.stringContaining('job ? failed: boom'),
    });
    expect(event.partnerId).toBeUndefined();
    const odd = sweepFailedAlert({
      jobId: 'x',
      data: { partnerId: 42 },
      err: { name: 'E', message: 'm', code: 7 },
    });
    expect(odd.partnerId).toBeUndefined();
    expect(odd.errCode).toBe('ERR_UNKNOWN');
  });
});

describe('workerErrorAlert', () => {
  it('carries the reason and a code, one dedup key per code', () => {
    const event = workerErrorAlert(new Error('Cannot read properties of undefined'), 'unhandled rejection');
    expect(event).toEqual({
      kind: 'worker-error',
      errCode: 'ERR_UNKNOWN',
      message: 'unhandled rejection: Cannot read properties of undefined',
    });
    expect(alertDedupId(event)).toBe('worker-error:-:ERR_UNKNOWN');
    expect(workerErrorAlert(new FerryError('ERR_REDIS_UNAVAILABLE', 'x'), 'w').errCode).toBe(
      'ERR_REDIS_UNAVAILABLE',
    );
    expect(workerErrorAlert('plain string', 'w').message).toBe('w: plain string');
  });
});
