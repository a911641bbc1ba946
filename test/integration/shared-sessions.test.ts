// Several deliveries on one SFTP session (target.maxFilesInFlight, issue 14): with one connection
// allowed, a batch of files goes over that one session with several files open at once, each delivered
// exactly once. Observed on the server: OpenSSH's sftp-server logging every request to a file.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFerryConfig, type FerryFixture } from '../support/ferry-fixture.js';
import {
  captureLogger,
  putObjects,
  readPartnerDir,
  startTestFerry,
  sweepAndWait,
  type TestFerry,
} from '../support/pipeline.js';
import { startServices, type Services } from '../support/services.js';

let services: Services;
let fixture: FerryFixture;
let t: TestFerry;

beforeAll(async () => {
  services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'], sshd: { sftpLog: true } });
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  process.env.FERRY_ADMIN_PASSWORD = 'shared-sessions-admin';
  fixture = await writeFerryConfig(services, {
    partners: [
      { id: 'wide', prefix: 'wide/', maxConnections: 1, maxFilesInFlight: 4 },
      { id: 'narrow', prefix: 'narrow/', maxConnections: 1, maxFilesInFlight: 1 },
    ],
    worker: 'concurrency: 8',
  });
  t = await startTestFerry(services, fixture.dir, captureLogger().logger);
});

afterAll(async () => {
  await t?.close();
  await services?.stop();
});

/** The most files of `dir` the server held open at once, read from its request log in order. */
async function peakOpenIn(dir: string): Promise<number> {
  const lines = (await readFile(services.sshd.sftpLogFile!, 'utf8')).split('\n');
  let open = 0;
  let peak = 0;
  for (const line of lines) {
    const match = /\b(open|close) "([^"]+)"/.exec(line);
    if (!match || !match[2]!.startsWith(`${dir}/`)) continue;
    open += match[1] === 'open' ? 1 : -1;
    peak = Math.max(peak, open);
  }
  return peak;
}

/** sftp-server sessions the server has started so far (one per SSH connection). */
async function sessionsSoFar(): Promise<number> {
  const log = await readFile(services.sshd.sftpLogFile!, 'utf8');
  return log.split('\n').filter((line) => line.startsWith('session opened for local user')).length;
}

describe('several deliveries on one SFTP session (maxFilesInFlight)', () => {
  it('holds several files open at once on the one connection allowed, and delivers each once', async () => {
    const keys = Array.from({ length: 16 }, (_, i) => `wide/part-${String(i).padStart(2, '0')}.csv`);
    await putObjects(
      t.s3,
      fixture.bucket,
      keys.map((key) => ({ key, size: 256 * 1024 })),
    );

    const { code, summary } = await sweepAndWait(t.ferry.getConfig(), 'wide');
    expect(code).toBe(0);
    expect(summary).toMatch(/^delivered 16, /);
    const dir = await readPartnerDir(fixture.partnerDirs['wide']!);
    expect(dir.finals.size).toBe(16);
    expect(dir.temps).toEqual([]);
    expect(await sessionsSoFar()).toBe(1); // the first test: only this partner has connected
    const peak = await peakOpenIn(fixture.partnerDirs['wide']!);
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(4);
  });

  it('keeps one file at a time on a connection with maxFilesInFlight 1', async () => {
    const keys = Array.from({ length: 6 }, (_, i) => `narrow/part-${i}.csv`);
    await putObjects(
      t.s3,
      fixture.bucket,
      keys.map((key) => ({ key, size: 64 * 1024 })),
    );

    const { summary } = await sweepAndWait(t.ferry.getConfig(), 'narrow');
    expect(summary).toMatch(/^delivered 6, /);
    expect(await peakOpenIn(fixture.partnerDirs['narrow']!)).toBe(1);
  });
});
