import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { classifyError, type ErrorSource } from '../src/core/classify-error.js';
import { FerryError, toJobError } from '../src/errors.js';
import type { Logger } from '../src/observability/logger.js';

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
