// The three local services a Ferry run needs (redis-server, OpenSSH sshd, s3rver), started together in
// one temp dir: used by `ferry demo`, the integration tests and the benches.
import { S3Client } from '@aws-sdk/client-s3';
import { chmod, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startRedisServer, type RedisServerHandle, type RedisServerOptions } from './redis-server.js';
import { startS3rver, type S3rverHandle } from './s3rver.js';
import { startSshd, type SshdHandle, type SshdOptions } from './sshd.js';
import { makeTempDir } from './temp-dir.js';

export interface Services {
  redis: RedisServerHandle;
  sshd: SshdHandle;
  s3: S3rverHandle;
  /** The run's temp dir: each service's own subdirectory (and its log) lives below it. */
  dir: string;
  /**
   * Stops all three and removes the run's temp dir, unless `keepDir` (default: FERRY_KEEP_TEMP=1).
   * Idempotent.
   */
  stop(options?: { keepDir?: boolean }): Promise<void>;
}

export interface StartServicesOptions {
  buckets?: string[];
  redis?: RedisServerOptions;
  sshd?: SshdOptions;
}

/**
 * Starts a private redis-server, sshd and s3rver for one test file (or one demo run), each in its
 * own subdirectory of one temp dir. If any fails to start, the others are stopped before rethrowing.
 */
export async function startServices(options: StartServicesOptions = {}): Promise<Services> {
  const runDir = await makeTempDir('services');
  await chmod(runDir, 0o755); // the SFTP user's home lives below it
  const started = await Promise.allSettled([
    startRedisServer({ dir: join(runDir, 'redis'), ...options.redis }),
    startSshd({ dir: join(runDir, 'sshd'), ...options.sshd }),
    startS3rver({ dir: join(runDir, 's3'), buckets: options.buckets }),
  ] as const);
  const [redis, sshd, s3] = started;

  if (redis.status === 'rejected' || sshd.status === 'rejected' || s3.status === 'rejected') {
    const handles = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const failures = started.flatMap((result): unknown[] =>
      result.status === 'rejected' ? [result.reason] : [],
    );
    // The run dir stays so the logs named in the error can be read.
    await Promise.all(handles.map((handle) => handle.stop()));
    throw failures.length === 1
      ? (failures[0] as Error)
      : new AggregateError(failures, `startServices: ${failures.length} services failed to start`);
  }

  // Not memoised: a test may restart a service after an earlier stop(); every call stops what runs now.
  const stop = async (stopOptions: { keepDir?: boolean } = {}): Promise<void> => {
    await Promise.all([redis.value.stop(), sshd.value.stop(), s3.value.stop()]);
    const keepDir = stopOptions.keepDir ?? process.env['FERRY_KEEP_TEMP'] === '1';
    if (!keepDir) await rm(runDir, { recursive: true, force: true });
  };
  return { redis: redis.value, sshd: sshd.value, s3: s3.value, dir: runDir, stop };
}

/** An S3 client for s3rver: path-style addressing, its fixed credentials, checksums only when required. */
export function s3ClientFor(s3: S3rverHandle): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}
