import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { classifyError, type ErrorSource } from '../src/core/classify-error.js';
import { FerryError, type ErrorCode, type FerryErrorOptions } from '../src/errors.js';
import type { Logger } from '../src/observability/logger.js';

// The job boundary: the only place a Ferry error becomes a BullMQ one, so src/ (src/core above all)
// never loads bullmq to say "do not retry" (test/unit/core/core-imports.test.ts).

/**
 * Thrown by a processor when retrying cannot help until a person changes config, a secret or the
 * partner's server. Extends BullMQ's UnrecoverableError so the job goes straight to "failed" with no
 * more attempts. Below the job boundary, throw a FerryError with a permanent code instead.
 */
export class PermanentError extends UnrecoverableError {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: FerryErrorOptions = {}) {
    super(`${code}: ${message}`);
    if (options.cause !== undefined) this.cause = options.cause;
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** Turns a classified FerryError into what BullMQ acts on: permanent → UnrecoverableError, else itself. */
export function toJobError(err: FerryError): Error {
  if (err.intent === 'permanent') {
    return new PermanentError(err.code, err.message, { cause: err.cause, details: err.details });
  }
  const out = new Error(`${err.code}: ${err.message}`, { cause: err.cause });
  out.name = 'FerryError';
  Object.assign(out, { code: err.code });
  return out;
}

/**
 * Wraps a processor so that whatever escapes it reaches BullMQ classified: permanent causes (a missing
 * bucket, bad credentials) fail the job at once instead of burning retries, and every failure is logged.
 */
export function withClassifiedErrors<R>(
  name: string,
  source: ErrorSource,
  logger: Logger,
  processor: (job: Job) => Promise<R>,
): (job: Job) => Promise<R> {
  return async (job) => {
    try {
      return await processor(job);
    } catch (err) {
      // Already classified and logged by the processor itself (what toJobError returns). A FerryError
      // instance was not: it still has to be logged, and a permanent one turned into UnrecoverableError.
      if (
        err instanceof DelayedError || // the job went back to the delayed set on purpose: no failure
        err instanceof UnrecoverableError ||
        (err instanceof Error && !(err instanceof FerryError) && err.name === 'FerryError' && 'code' in err)
      ) {
        throw err;
      }
      const classified = classifyError(err, source);
      logger.error(
        {
          jobId: job.id,
          queue: name,
          errCode: classified.code,
          err: classified.message,
          alert: classified.intent === 'permanent',
        },
        `${name} job failed`,
      );
      throw toJobError(classified);
    }
  };
}
