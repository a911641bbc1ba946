// Writes a Ferry config dir that points at the local services (start-services.ts): used by `ferry demo`,
// the integration tests and the benches.
import { chown, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Services } from './start-services.js';

export interface PartnerFixture {
  id: string;
  prefix?: string;
  include?: string[];
  /** source.exclude globs (default: none written, so `defaults.source.exclude` applies). */
  exclude?: string[];
  /** source.requireMarker: objects wait for this object in their directory. */
  requireMarker?: string;
  cron?: string;
  timezone?: string;
  minAgeSeconds?: number;
  /** source.maxAgeDays (default: none written). */
  maxAgeDays?: number;
  /** source.identity (default: none written, i.e. content). */
  identity?: 'content' | 'version';
  /** source.lookbackDays, for a dated prefix (default: none written, i.e. 3). */
  lookbackDays?: number;
  /** Overrides the SFTP port (e.g. a proxy in front of sshd, or a closed port). */
  port?: number;
  hostKeys?: string[];
  /** Raw YAML for target.auth (default: the harness key file). */
  auth?: string;
  publish?: 'rename' | 'direct';
  onExisting?: 'fail' | 'overwrite' | 'skip';
  /** target.fsync (default: not written, so on). */
  fsync?: boolean;
  maxConnections?: number;
  /** target.maxFilesInFlight (default: not written, so 4). */
  maxFilesInFlight?: number;
  /** target.maxBytesPerSecond, as written in YAML (default: not written, so uncapped). */
  maxBytesPerSecond?: string;
  fileMode?: string;
  attempts?: number;
  backoffSeconds?: number;
  /** retry.maxBackoffSeconds (default 5). */
  maxBackoffSeconds?: number;
  enabled?: boolean;
  /** More top-level partner YAML, appended as is (e.g. "window: { start: '01:00', end: '05:00' }"). */
  extraYaml?: string;
}

export interface FerryFixtureOptions {
  partners: PartnerFixture[];
  bucket?: string;
  receiptsBucket?: string;
  /** The S3 endpoint Ferry is given (default: s3rver's own), e.g. a recording proxy in front of it. */
  s3Endpoint?: string;
  redisPrefix?: string;
  /** Seed node URLs of a Redis Cluster (redis.cluster) instead of the harness redis-server. */
  redisCluster?: string[];
  /** Extra `worker:` settings (YAML flow-map body), e.g. 'concurrency: 4, lockDurationSeconds: 5'. */
  worker?: string;
  httpPort?: number;
  logLevel?: string;
  /** Bull Board user (password from env FERRY_ADMIN_PASSWORD); null writes no credentials at all. */
  adminUser?: string | null;
  /** `http.events.tokenEnv`: the env var holding the events endpoint's token (default: endpoint off). */
  eventsTokenEnv?: string;
  /**
   * `janitor:` settings (YAML flow-map body). Default 'enabled: false': tests that count connections,
   * log lines or partner events would otherwise see the sweep's janitor pass too.
   */
  janitor?: string;
}

export interface FerryFixture {
  dir: string;
  bucket: string;
  receiptsBucket: string;
  /** Local path of each partner's SFTP directory. */
  partnerDirs: Record<string, string>;
}

/** Creates `<run>/config/{ferry.yaml,partners/*.yaml}` and one SFTP directory per partner (owned by the SFTP user). */
export async function writeFerryConfig(
  services: Services,
  options: FerryFixtureOptions,
  dir = join(services.sshd.dir, '..', 'config'),
): Promise<FerryFixture> {
  const { redis, sshd, s3 } = services;
  const bucket = options.bucket ?? 'warehouse-exports';
  const receiptsBucket = options.receiptsBucket ?? 'ferry-audit';
  await mkdir(join(dir, 'partners'), { recursive: true });
  await writeFile(
    join(dir, 'ferry.yaml'),
    [
      `redis: { ${options.redisCluster ? `cluster: ${JSON.stringify(options.redisCluster)}` : `url: "${redis.url}"`}, prefix: "${options.redisPrefix ?? '{ferry}'}" }`,
      `s3: { region: us-east-1, endpoint: "${options.s3Endpoint ?? s3.endpoint}", forcePathStyle: true }`,
      `http: { host: 127.0.0.1, port: ${options.httpPort ?? 0}${
        options.adminUser === null
          ? ''
          : `, adminUser: ${options.adminUser ?? 'admin'}, adminPasswordEnv: FERRY_ADMIN_PASSWORD`
      }${options.eventsTokenEnv === undefined ? '' : `, events: { tokenEnv: ${options.eventsTokenEnv} }`} }`,
      `receipts: { bucket: ${receiptsBucket}, prefix: ferry/receipts/ }`,
      `worker: { ${options.worker ?? 'concurrency: 4'} }`,
      `log: { level: ${options.logLevel ?? 'info'} }`,
      `janitor: { ${options.janitor ?? 'enabled: false'} }`,
      '',
    ].join('\n'),
  );
  const owner = await stat(sshd.inbound);
  const partnerDirs: Record<string, string> = {};
  for (const p of options.partners) {
    const target = join(sshd.inbound, p.id);
    await mkdir(target, { recursive: true });
    await chown(target, owner.uid, owner.gid);
    partnerDirs[p.id] = target;
    await writePartnerFile(dir, services, p, target, bucket);
  }
  return { dir, bucket, receiptsBucket, partnerDirs };
}

/** (Re)writes one partner file; hot reload picks the change up. */
export async function writePartnerFile(
  configDir: string,
  services: Services,
  p: PartnerFixture,
  target: string,
  bucket = 'warehouse-exports',
): Promise<void> {
  const { sshd } = services;
  const yaml = [
    `id: ${p.id}`,
    `enabled: ${p.enabled ?? true}`,
    `schedule: { cron: "${p.cron ?? '0 2 * * *'}", timezone: ${p.timezone ?? 'UTC'} }`,
    `source:`,
    `  bucket: ${bucket}`,
    `  prefix: "${p.prefix ?? `${p.id}/`}"`,
    `  include: ${JSON.stringify(p.include ?? ['*'])}`,
    `  minAgeSeconds: ${p.minAgeSeconds ?? 0}`,
    ...(p.exclude === undefined ? [] : [`  exclude: ${JSON.stringify(p.exclude)}`]),
    ...(p.requireMarker === undefined ? [] : [`  requireMarker: ${JSON.stringify(p.requireMarker)}`]),
    ...(p.maxAgeDays === undefined ? [] : [`  maxAgeDays: ${p.maxAgeDays}`]),
    ...(p.identity === undefined ? [] : [`  identity: ${p.identity}`]),
    ...(p.lookbackDays === undefined ? [] : [`  lookbackDays: ${p.lookbackDays}`]),
    'target:',
    `  host: 127.0.0.1`,
    `  port: ${p.port ?? sshd.port}`,
    `  username: ${sshd.username}`,
    `  hostKeys: ${JSON.stringify(p.hostKeys ?? [sshd.hostKeyFingerprint])}`,
    `  auth: ${p.auth ?? `{ privateKeyFile: ${sshd.privateKeyPath} }`}`,
    `  directory: ${target}`,
    `  fileMode: "${p.fileMode ?? '0640'}"`,
    `  publish: ${p.publish ?? 'rename'}`,
    `  onExisting: ${p.onExisting ?? 'fail'}`,
    `  maxConnections: ${p.maxConnections ?? 2}`,
    ...(p.maxFilesInFlight === undefined ? [] : [`  maxFilesInFlight: ${p.maxFilesInFlight}`]),
    ...(p.maxBytesPerSecond === undefined
      ? []
      : [`  maxBytesPerSecond: ${JSON.stringify(p.maxBytesPerSecond)}`]),
    ...(p.fsync === undefined ? [] : [`  fsync: ${p.fsync}`]),
    `retry: { attempts: ${p.attempts ?? 3}, backoffSeconds: ${p.backoffSeconds ?? 1}, maxBackoffSeconds: ${p.maxBackoffSeconds ?? 5} }`,
    ...(p.extraYaml === undefined ? [] : [p.extraYaml]),
    '',
  ].join('\n');
  await writeFile(join(configDir, 'partners', `${p.id}.yaml`), yaml);
}
