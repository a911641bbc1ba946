// fsync before publish (issue 12): where the server offers fsync@openssh.com, each file Ferry writes is
// fsynced on its open handle after the last write and before its close (and so before the rename), so
// a partner server that crashes cannot keep a renamed file with missing blocks. Observed on the server:
// OpenSSH's sftp-server logging every request (`-l VERBOSE`) to a file this test reads.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SftpConnection } from '../../src/adapters/sftp-connection.js';
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
import { startSshd, type SshdHandle } from '../support/sshd.js';
import { connectToSshd } from '../support/sftp-client.js';

let services: Services;
let declining: SshdHandle;
let fixture: FerryFixture;
let t: TestFerry;
const open = new Set<SftpConnection>();

beforeAll(async () => {
  services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'], sshd: { sftpLog: true } });
  // A server without fsync@openssh.com: `-P fsync` leaves it out of the extensions it offers.
  declining = await startSshd({ sftpLog: true, sftpFlags: ['-P', 'fsync'] });
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  process.env.FERRY_ADMIN_PASSWORD = 'fsync-test-admin-canary';
  fixture = await writeFerryConfig(services, {
    partners: [
      { id: 'acme', extraYaml: 'naming: { checksumFile: sha256, doneFile: "{filename}.done" }' },
      { id: 'hooli', publish: 'direct' },
      { id: 'globex', fsync: false },
    ],
  });
  t = await startTestFerry(services, fixture.dir, captureLogger().logger);
});

afterAll(async () => {
  await Promise.all([...open].map((connection) => connection.close()));
  await t?.close();
  await declining?.stop();
  await services?.stop();
});

/** The server's request log: one `<request> "<path>" …` line per request it handled. */
async function requestsOn(server: SshdHandle): Promise<string[]> {
  return (await readFile(server.sftpLogFile!, 'utf8')).split('\n').filter((line) => line !== '');
}

const WRITE_PATH = new Set(['open', 'fsync', 'close', 'rename', 'posix-rename']);

/** The requests naming `path` on its way to the partner (open, fsync, close, renames), in order. */
function requestsFor(lines: string[], path: string): string[] {
  return lines
    .filter((line) => line.includes(`"${path}"`))
    .map((line) => line.split(' ')[0]!)
    .filter((request) => WRITE_PATH.has(request));
}

async function connect(server: SshdHandle, log?: { debug(f: Record<string, unknown>, m: string): void }) {
  const connection = await connectToSshd(server, log === undefined ? {} : { log });
  open.add(connection);
  return connection;
}

const body = (n: number) => Readable.from([Buffer.alloc(n, 0x61)]);

describe('the SFTP adapter', () => {
  it('sends fsync@openssh.com on the open handle after the last write, before the close', async () => {
    const connection = await connect(services.sshd);
    const path = join(services.sshd.inbound, 'adapter-fsync.bin');
    await connection.upload(path, body(300_000), { mode: 0o640, fsync: true });
    expect(requestsFor(await requestsOn(services.sshd), path)).toEqual(['open', 'fsync', 'close']);
  });

  it('sends none when not asked', async () => {
    const connection = await connect(services.sshd);
    const path = join(services.sshd.inbound, 'adapter-no-fsync.bin');
    await connection.upload(path, body(1000), { mode: 0o640, fsync: false });
    await connection.upload(`${path}.2`, body(1000), { mode: 0o640 });
    const lines = await requestsOn(services.sshd);
    expect(requestsFor(lines, path)).toEqual(['open', 'close']);
    expect(requestsFor(lines, `${path}.2`)).toEqual(['open', 'close']);
  });

  it('goes on without fsync where the server does not offer it, noting that once per connection', async () => {
    const notes: string[] = [];
    const connection = await connect(declining, { debug: (_fields, message) => notes.push(message) });
    const first = join(declining.inbound, 'no-fsync-1.bin');
    const second = join(declining.inbound, 'no-fsync-2.bin');
    await connection.upload(first, body(2000), { mode: 0o640, fsync: true });
    await connection.upload(second, body(2000), { mode: 0o640, fsync: true });
    expect(notes).toEqual(['files are closed without fsync: the server does not offer fsync@openssh.com']);
    const lines = await requestsOn(declining);
    // `-P fsync` leaves the extension out of the server's version reply; no fsync is ever sent.
    expect(lines.join('\n')).toContain('Refusing denylisted fsync request');
    expect(requestsFor(lines, first)).toEqual(['open', 'close']);
    expect(requestsFor(lines, second)).toEqual(['open', 'close']);
    expect((await connection.stat(second))?.size).toBe(2000);
  });
});

describe('a delivery', () => {
  it('fsyncs the temp file and each sidecar before closing and renaming them (target.fsync defaults on)', async () => {
    const [seeded] = await putObjects(t.s3, fixture.bucket, [{ key: 'acme/orders.csv', size: 200_000 }]);
    expect((await sweepAndWait(t.ferry.getConfig(), 'acme')).code).toBe(0);
    const dir = fixture.partnerDirs.acme!;
    const { finals, temps } = await readPartnerDir(dir);
    expect(finals.get('orders.csv')?.sha256).toBe(seeded!.sha256);
    expect(temps).toEqual([]);

    const lines = await requestsOn(services.sshd);
    for (const name of ['orders.csv', 'orders.csv.sha256', 'orders.csv.done']) {
      const tempLine = lines.find((line) => line.startsWith('open ') && line.includes(`/.${name}.`));
      const temp = /"([^"]+)"/.exec(tempLine ?? '')?.[1];
      expect(temp, `${name}'s temp file`).toMatch(/\.part$/);
      // open, fsync, close, then the rename to the final name (plain or posix-rename).
      const requests = requestsFor(lines, temp!);
      expect(requests.slice(0, 3), name).toEqual(['open', 'fsync', 'close']);
      expect(requests.slice(3), name).toEqual([expect.stringMatching(/^(posix-)?rename$/)]);
      const renamed = lines.find(
        (line) => line.includes(`"${temp}"`) && line.includes(`"${join(dir, name)}"`),
      );
      expect(renamed, name).toBeDefined();
    }
  });

  it('fsyncs a file written in place (publish: direct) before closing it', async () => {
    await putObjects(t.s3, fixture.bucket, [{ key: 'hooli/ledger.csv', size: 50_000 }]);
    expect((await sweepAndWait(t.ferry.getConfig(), 'hooli')).code).toBe(0);
    const path = join(fixture.partnerDirs.hooli!, 'ledger.csv');
    expect(requestsFor(await requestsOn(services.sshd), path)).toEqual(['open', 'fsync', 'close']);
  });

  it('sends no fsync for a partner with target.fsync: false', async () => {
    const [seeded] = await putObjects(t.s3, fixture.bucket, [{ key: 'globex/stock.csv', size: 50_000 }]);
    expect((await sweepAndWait(t.ferry.getConfig(), 'globex')).code).toBe(0);
    const dir = fixture.partnerDirs.globex!;
    expect((await readPartnerDir(dir)).finals.get('stock.csv')?.sha256).toBe(seeded!.sha256);
    const lines = (await requestsOn(services.sshd)).filter((line) => line.includes(`"${dir}/`));
    expect(lines.some((line) => line.startsWith('open '))).toBe(true);
    expect(lines.filter((line) => line.startsWith('fsync '))).toEqual([]);
  });
});
