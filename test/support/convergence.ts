// The universal pass figures every fault test asserts once the system has converged
// (reliability-anchors §5.2 "U"): nothing lost, nothing duplicated, nothing partial, no orphan temps.
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { PartnerEvent } from './partner-observer.js';

export interface UniversalFigures {
  lost: number;
  duplicates: number;
  partialVisible: number;
  orphanTemps: number;
  /** One line per violation, for the assertion message. */
  problems: string[];
}

export interface MeasureInput {
  s3: S3Client;
  bucket: string;
  /** S3 keys that must end delivered, unless listed in `settled`. */
  keys: string[];
  partnerDir: string;
  /** The partner observer's events for the whole run. */
  events: PartnerEvent[];
  publish: 'rename' | 'direct';
  /** Keys that legitimately ended in another terminal state (not lost, not compared). */
  settled?: Record<string, 'quarantined' | 'skipped' | 'failed'>;
  /** The partner's source prefix; the final name is the key without it (default: the key's last segment). */
  prefix?: string;
}

/** Ferry's temp names: `.<final>.<hash>.part`. */
const TEMP_NAME = /^\..*\.part$/;

/**
 * Measures lost / duplicates / partial-visible / orphan temps for one partner directory:
 * - lost: keys neither delivered byte-identical to S3 nor settled;
 * - duplicates: Σ over final names of (publishes − 1). In rename mode a publish is a MOVED_TO or a
 *   CREATE on a non-temp name: OpenSSH's plain SFTP rename is link(temp, final) + unlink(temp), which
 *   inotify reports as CREATE of the final name (a complete file, never opened for writing), while
 *   posix-rename is rename(2) (MOVED_TO). In direct mode a publish is a CLOSE_WRITE;
 * - partialVisible: final files of unsettled keys whose bytes differ from S3, plus (rename mode) every
 *   CLOSE_WRITE on a final name: the name was opened for writing, so a partner could read it half-written;
 * - orphanTemps: `.…part` files left in the directory.
 */
export async function measureUniversalFigures(input: MeasureInput): Promise<UniversalFigures> {
  const problems: string[] = [];
  const settled = input.settled ?? {};
  const present = new Set(await readdir(input.partnerDir));

  let lost = 0;
  let partialVisible = 0;
  for (const key of input.keys) {
    const name = finalNameOf(key, input.prefix);
    if (settled[key] !== undefined) continue;
    if (!present.has(name)) {
      lost += 1;
      problems.push(`lost: ${key} has no final file ${name}`);
      continue;
    }
    const [remote, source] = await Promise.all([
      readFile(join(input.partnerDir, name)),
      readObject(input.s3, input.bucket, key),
    ]);
    if (sha256(remote) !== sha256(source)) {
      lost += 1;
      partialVisible += 1;
      problems.push(
        `partial-visible: ${name} holds ${remote.length} bytes that differ from ${key} (${source.length} bytes)`,
      );
    }
  }

  const publishEvents = PUBLISH_EVENTS[input.publish];
  const publishes = countPublishes(input.events, input.publish);
  for (const e of input.events) {
    if (TEMP_NAME.test(e.name)) continue;
    if (input.publish === 'rename' && e.event === 'CLOSE_WRITE') {
      partialVisible += 1;
      problems.push(
        `partial-visible: ${e.name} was written under its final name (CLOSE_WRITE); it must appear only by rename`,
      );
    }
  }
  let duplicates = 0;
  for (const [name, count] of publishes) {
    if (count <= 1) continue;
    duplicates += count - 1;
    problems.push(`duplicate: ${name} was published ${count} times (${publishEvents.join(' or ')})`);
  }

  const temps = [...present].filter((name) => TEMP_NAME.test(name));
  for (const name of temps) problems.push(`orphan temp: ${name}`);

  return { lost, duplicates, partialVisible, orphanTemps: temps.length, problems };
}

const PUBLISH_EVENTS: Record<'rename' | 'direct', readonly PartnerEvent['event'][]> = {
  rename: ['MOVED_TO', 'CREATE'],
  direct: ['CLOSE_WRITE'],
};

/**
 * Publishes per final name (temp names left out): in rename mode each MOVED_TO or CREATE (OpenSSH's
 * plain rename is link + unlink), in direct mode each CLOSE_WRITE.
 */
export function countPublishes(
  events: readonly PartnerEvent[],
  publish: 'rename' | 'direct',
): Map<string, number> {
  const publishes = new Map<string, number>();
  for (const e of events) {
    if (TEMP_NAME.test(e.name) || !PUBLISH_EVENTS[publish].includes(e.event)) continue;
    publishes.set(e.name, (publishes.get(e.name) ?? 0) + 1);
  }
  return publishes;
}

/** Throws, listing every problem, unless lost, duplicates, partial-visible and orphan temps are all 0. */
export function expectUniversalFigures(figures: UniversalFigures): void {
  const { lost, duplicates, partialVisible, orphanTemps, problems } = figures;
  if (lost === 0 && duplicates === 0 && partialVisible === 0 && orphanTemps === 0) return;
  throw new Error(
    `universal figures violated: lost ${lost}, duplicates ${duplicates}, partial-visible ${partialVisible}, orphan temps ${orphanTemps}\n  ${problems.join('\n  ')}`,
  );
}

function finalNameOf(key: string, prefix: string | undefined): string {
  return prefix !== undefined && key.startsWith(prefix) ? key.slice(prefix.length) : posix.basename(key);
}

async function readObject(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if (!out.Body) return Buffer.alloc(0);
  return Buffer.from(await out.Body.transformToByteArray());
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * The universal figures for one partner of a test fixture (keys under `<partnerId>/`, delivered into
 * that partner's directory): measures and throws unless all are 0.
 */
export async function expectPartnerConverged(input: {
  s3: S3Client;
  fixture: { bucket: string; partnerDirs: Record<string, string> };
  partnerId: string;
  keys: string[];
  events: PartnerEvent[];
  publish?: 'rename' | 'direct';
  settled?: MeasureInput['settled'];
}): Promise<void> {
  expectUniversalFigures(
    await measureUniversalFigures({
      s3: input.s3,
      bucket: input.fixture.bucket,
      keys: input.keys,
      partnerDir: input.fixture.partnerDirs[input.partnerId]!,
      events: input.events,
      publish: input.publish ?? 'rename',
      prefix: `${input.partnerId}/`,
      ...(input.settled === undefined ? {} : { settled: input.settled }),
    }),
  );
}
