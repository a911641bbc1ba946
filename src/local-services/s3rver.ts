import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { makeTempDir } from './temp-dir.js';
import {
  readLogTail,
  spawnService,
  startOnPort,
  waitForReady,
  type ServiceProcess,
} from './spawn-service.js';

export interface S3rverHandle {
  endpoint: string;
  port: number;
  pid: number;
  dir: string;
  region: 'us-east-1';
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

export interface S3rverOptions {
  dir?: string;
  /** Buckets created at startup. */
  buckets?: string[];
}

/**
 * Starts s3rver (a local S3 API) in its own Node process on 127.0.0.1 and a free port, with buckets
 * created up front. Ready once HTTP answers. Objects live under `${dir}/data`.
 */
export async function startS3rver(options: S3rverOptions = {}): Promise<S3rverHandle> {
  const dir = options.dir ?? (await makeTempDir('s3rver'));
  const dataDir = join(dir, 'data'); // s3rver treats every entry of its directory as a bucket
  await mkdir(dataDir, { recursive: true });
  const { cli, lib } = resolveS3rver();
  let current: ServiceProcess | undefined;

  const port = await startOnPort(undefined, async (candidate) => {
    const service = await spawnService({
      name: 's3rver',
      command: process.execPath,
      args: [
        '-e',
        conditionalPutPrelude(lib),
        '--',
        cli,
        '--directory',
        dataDir,
        '--address',
        '127.0.0.1',
        '--port',
        String(candidate),
        '--silent',
        ...(options.buckets ?? []).flatMap((bucket) => ['--configure-bucket', bucket]),
      ],
      logFile: join(dir, 's3rver.log'),
      cwd: dir,
      // s3rver 3.7.1 pages listings with DES; OpenSSL 3 needs the legacy provider (jamhall/s3rver #818).
      // Replacing NODE_OPTIONS also keeps a test runner's loaders out of the server.
      env: { ...process.env, NODE_OPTIONS: '--openssl-legacy-provider' },
    });
    current = service;
    // The CLI prints this line (even with --silent) only after its own listen() succeeded, so another
    // server answering on the port cannot pass for ours.
    const listening = `S3rver listening on 127.0.0.1:${candidate}`;
    await waitForReady(service, {
      probe: async () =>
        (await readLogTail(service.logFile)).includes(listening) && (await answersHttp(candidate)),
    });
    return candidate;
  });

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    get pid() {
      return current!.pid;
    },
    dir,
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    stop: () => current!.stop(),
  };
}

/** Where s3rver is installed (its package.json), or why it cannot be found. */
export type S3rverLookup = { found: true; manifestPath: string } | { found: false; error: unknown };

/**
 * Finds s3rver without loading it (it runs as its own process). A devDependency: absent from a
 * production install such as the Docker image. `resolve` is the resolver to use (default: from here).
 */
export function lookUpS3rver(
  resolve: (specifier: string) => string = createRequire(import.meta.url).resolve,
): S3rverLookup {
  try {
    return { found: true, manifestPath: resolve('s3rver/package.json') };
  } catch (error) {
    return { found: false, error };
  }
}

function resolveS3rver(): { cli: string; lib: string } {
  const lookup = lookUpS3rver();
  if (!lookup.found) throw lookup.error;
  const { manifestPath } = lookup;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { bin: string | Record<string, string> };
  const bin = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin['s3rver'];
  if (bin === undefined) throw new Error(`s3rver: no CLI declared in ${manifestPath}`);
  return { cli: join(dirname(manifestPath), bin), lib: join(dirname(manifestPath), 'lib') };
}

/**
 * Code run before the s3rver CLI (`node -e <this> -- <cli> …`) that gives PutObject what S3 has had
 * since 2024 and s3rver 3.7.1 lacks: `If-None-Match: *` answers 412 PreconditionFailed when the key
 * exists, instead of overwriting it (the upload endpoint relies on it, in the demo and the tests). The
 * router looks the controller up per request, so replacing the export is enough. Unlike S3 the check
 * and the write are two steps; nothing here races two writes of one key.
 */
function conditionalPutPrelude(lib: string): string {
  return `
const objects = require(${JSON.stringify(join(lib, 'controllers', 'object.js'))});
const S3Error = require(${JSON.stringify(join(lib, 'models', 'error.js'))});
const putObject = objects.putObject;
objects.putObject = async function putObjectIfNoneMatch(ctx) {
  if (ctx.get('if-none-match') === '*' && (await ctx.store.existsObject(ctx.params.bucket, ctx.params.key))) {
    throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
      Condition: 'If-None-Match',
    });
  }
  return putObject(ctx);
};
require(process.argv[1]);
`;
}

function answersHttp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method: 'GET', path: '/', timeout: 1_000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
    req.end();
  });
}
