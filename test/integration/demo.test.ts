// The README's first command ends in `ferry demo`: prove the compiled CLI runs the whole pipeline, including
// the third partner's file contract (marker, CSV checks with formula escaping, gzip, {date}/{seq} names,
// sha256 and done sidecars, a quarantined bad file, partner answers, one manifest listing the sweep's files)
// and a file delivered by an S3 event posted to Ferry's own /api/events/s3.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { spawnFerry } from '../support/ferry-process.js';
import { makeTempDir } from '../support/temp-dir.js';

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
/** Lines that parse as JSON: Ferry's pino lines, which belong in the demo's log file, not on the console. */
const jsonLines = (text: string): string[] =>
  text.split('\n').filter((line) => {
    try {
      JSON.parse(line);
      return true;
    } catch {
      return false;
    }
  });
/** yyyyMMdd in initech's schedule timezone, as its `{date:yyyyMMdd}` renders a LastModified. */
const chicagoDay = (at: Date): string =>
  new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Chicago' }).format(at).replaceAll('-', '');

describe('ferry demo', () => {
  it('starts its own services, delivers every seeded file once and stops everything it started', async () => {
    const before = chicagoDay(new Date());
    const demo = spawnFerry(['demo', '--once', '--keep', '--files', '4', '--size', '8192']);
    const code = await demo.exited;
    const after = chicagoDay(new Date());
    const output = demo.output();
    const runDir = /config: {5}(\/\S+)\/config /.exec(output)?.[1];
    try {
      // The console holds the demo's own lines; Ferry's JSON logs went to the file it named at start.
      expect(jsonLines(output)).toEqual([]);
      expect(output.split('\n')[1]).toBe(`logs: ${runDir}/ferry-demo.log`);
      const logLines = (await readFile(`${runDir}/ferry-demo.log`, 'utf8')).trimEnd().split('\n');
      expect(jsonLines(logLines.join('\n'))).toEqual(logLines);
      expect(logLines.map((l) => JSON.parse(l) as { errCode?: string; msg: string })).toContainEqual(
        expect.objectContaining({
          errCode: 'ERR_CSV_INVALID',
          msg: 'file quarantined: it failed CSV validation and was not published',
        }),
      );
      expect(output).toMatch(/Bull Board: http:\/\/127\.0\.0\.1:\d+\/admin {3}user: admin {3}password: \S+/);
      // 4 files for each of acme, globex and initech, and acme's fifth, announced by an S3 event once its
      // first four were delivered; initech's bad file is reported, not counted.
      expect(output.match(/ delivered {9}/g)).toHaveLength(13);
      expect(output).toMatch(
        / event {13}s3:\/\/warehouse-exports\/acme\/daily\/orders_0005\.csv written, its S3 notification posted to \/api\/events\/s3: 202 \{"events":1,"matched":1,"enqueued":1,"delayed":0,"sweeps":0,"ignored":0\}( {2}\(a sweep of acme ran meanwhile[^\n]*)?\n/,
      );
      // Labelled by event only when no sweep of acme ran between the upload and the answer: acme's
      // every-minute sweep can, rarely, and the demo then says so rather than claim the event.
      const raced = output.includes('a sweep of acme ran meanwhile');
      expect(output.match(/\(by event\)/g) ?? []).toHaveLength(raced ? 0 : 1);
      expect(output).toMatch(
        raced
          ? / delivered {9}\/\S+\/inbound\/acme\/orders_0005\.csv {2}8192 bytes {2}sha256 [0-9a-f]{12} {2}\(\d+\/13\)\n/
          : / delivered {9}\/\S+\/inbound\/acme\/orders_0005\.csv {2}8192 bytes {2}sha256 [0-9a-f]{12} {2}\(\d+\/13\) {2}\(by event\)\n/,
      );
      // The events token is passed by reference (an env var the demo sets for its own Ferry), never inline.
      expect(await readFile(`${runDir}/config/ferry.yaml`, 'utf8')).toContain(
        'events: { tokenEnv: FERRY_EVENTS_TOKEN }',
      );
      expect(output).toMatch(
        / quarantined {7}s3:\/\/warehouse-exports\/initech\/exports\/\d{4}-\d{2}-\d{2}\/orders_short\.csv: csv: row 3, column 4: missing column: the row has 3, at least 4 expected\n/,
      );
      expect(output).toMatch(
        /demo: 13 data files \([01] by S3 event\) and 8 sidecar files on the partner servers, 1 manifest \(listing 4 of initech's files\), 1 quarantined, 0 temp files/,
      );
      expect(output).toContain(`the formula cell arrived escaped: initech-1-0;"'=HYPERLINK(""http://x"")";`);
      expect(output).toContain(
        'gunzipped, shaped for initech: OrderID;SKU;Quantity;Amount;Partner;ExportDate / initech-',
      );
      // initech's loader (played by the demo) accepts three files and rejects the last; Ferry reads both.
      expect(
        output.match(
          / acknowledged {6}INITECH_\d{8}_00[123]\.csv\.gz {2}\(initech's answer INITECH_\d{8}_00[123]\.csv\.gz\.ack\)/g,
        ),
      ).toHaveLength(3);
      expect(output).toMatch(
        / rejected {10}INITECH_\d{8}_004\.csv\.gz {2}\(initech's answer INITECH_\d{8}_004\.csv\.gz\.nack: "line 3: SKU unknown to our catalogue"\)/,
      );
      expect(output).toMatch(/redeliver it: ferry redeliver initech initech\/exports\/\S+\.csv --reason "…"/);
      expect(
        output.match(
          /\.sha256 \(matches the delivered sha256\), INITECH_\d{8}_00\d\.csv\.gz\.done \(empty\)/g,
        ),
      ).toHaveLength(4);
      // One manifest after the sweep's deliveries, never answered by initech's loader (the demo plays it).
      expect(output).toMatch(
        / manifest {10}\/\S+\/inbound\/initech\/INITECH_\d{8}-\d{6}_manifest\.csv {2}\d+ bytes {2}sha256 [0-9a-f]{12}\n {26}lists 4 files and \d+ rows, in delivery order: filename,bytes,sha256,rows \/ INITECH_\d{8}_00[1-4]\.csv\.gz,\d+,[0-9a-f]{64},\d+ \/ …\n/,
      );
      expect(output).not.toMatch(/manifest\.csv {2}\(initech's answer/);
      expect(code).toBe(0);

      const dirOf = (id: string) => new RegExp(`${id} → sftp://[^/]+(/\\S+)`).exec(output)![1]!;
      expect((await readdir(dirOf('acme'))).sort()).toEqual([1, 2, 3, 4, 5].map((i) => `orders_000${i}.csv`));
      expect((await readdir(dirOf('globex'))).sort()).toEqual([1, 2, 3, 4].map((i) => `orders_000${i}.csv`));
      const initech = dirOf('initech');
      const all = (await readdir(initech)).sort();
      const manifestName = all.find((n) => n.endsWith('_manifest.csv'));
      const names = all.filter((n) => n !== manifestName);
      const day = /^INITECH_(\d{8})_001\.csv\.gz$/.exec(names[0] ?? '')?.[1];
      expect([before, after]).toContain(day);
      expect(names).toEqual(
        ['001', '002', '003', '004'].flatMap((n) => {
          const data = `INITECH_${day}_${n}.csv.gz`;
          return [data, `${data}.done`, `${data}.sha256`];
        }),
      );
      // The manifest is dated when it was taken, in initech's timezone (per sweep: with seconds).
      expect(all.filter((n) => /^INITECH_\d{8}-\d{6}_manifest\.csv$/.test(n))).toEqual([manifestName]);
      expect([before, after]).toContain(manifestName!.slice(8, 16));
      const plain: string[] = [];
      const listed: string[] = [];
      for (const name of names.filter((n) => n.endsWith('.csv.gz'))) {
        const data = await readFile(join(initech, name));
        expect(await readFile(join(initech, `${name}.sha256`), 'utf8')).toBe(`${sha256(data)}  ${name}\n`);
        expect(await readFile(join(initech, `${name}.done`))).toHaveLength(0);
        const text = gunzipSync(data).toString('utf8');
        plain.push(text);
        // What the partner received: the delivered (gzipped) bytes, and the shaped data rows.
        listed.push(`${name},${data.length},${sha256(data)},${text.split('\r\n').length - 3}`);
      }
      const manifest = (await readFile(join(initech, manifestName!), 'utf8')).split('\n');
      expect(manifest[0]).toBe('filename,bytes,sha256,rows');
      expect(manifest.at(-1)).toBe('');
      expect(manifest.slice(1, -1).sort()).toEqual(listed);
      // Shaped for initech (shape:): its column names, ";", CRLF, two added columns, a trailer.
      const isoDay = `${day!.slice(0, 4)}-${day!.slice(4, 6)}-${day!.slice(6)}`;
      for (const text of plain) {
        expect(text.startsWith('OrderID;SKU;Quantity;Amount;Partner;ExportDate\r\n')).toBe(true);
        const lines = text.split('\r\n');
        expect(lines.at(-1)).toBe('');
        expect(lines.at(-2)).toBe(`TRL|${lines.length - 3}`);
      }
      // The seeded `"=HYPERLINK(""http://x"")"` arrives once, escaped; nothing arrives unescaped.
      const escaped = plain.filter((t) =>
        t.includes(`\r\ninitech-1-0;"'=HYPERLINK(""http://x"")";1;0;initech;${isoDay}\r\n`),
      );
      expect(escaped).toHaveLength(1);
      expect(plain.join('')).not.toContain(';"=HYPERLINK');
    } finally {
      if (runDir !== undefined) await rm(runDir, { recursive: true, force: true });
    }
    const pids = /redis-server pid (\d+), sshd pid (\d+), s3rver pid (\d+)/
      .exec(output)!
      .slice(1)
      .map(Number);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  });

  it('runs until Ctrl-C, then stops everything it started and exits 0', async () => {
    const demo = spawnFerry(['demo', '--files', '2', '--size', '1000']);
    // 2 files for each partner and acme's event-announced third.
    await demo.waitForLine(/\(7\/7\)/, 60_000);
    demo.kill('SIGINT');
    expect(await demo.exited).toBe(0);
    expect(jsonLines(demo.output())).toEqual([]);
    const pids = /redis-server pid (\d+), sshd pid (\d+), s3rver pid (\d+)/
      .exec(demo.output())!
      .slice(1)
      .map(Number);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  });

  it('refuses with exit 2 and one line in a production install, where s3rver is not installed', async () => {
    // The production image's layout without Docker: the built CLI and the installed packages, s3rver
    // (a devDependency) left out, so Node's own resolution fails as it does in the image.
    const repo = fileURLToPath(new URL('../..', import.meta.url));
    const app = await makeTempDir('prod-install');
    try {
      await cp(join(repo, 'dist'), join(app, 'dist'), { recursive: true });
      await cp(join(repo, 'bin', 'ferry.js'), join(app, 'bin', 'ferry.js'));
      await cp(join(repo, 'package.json'), join(app, 'package.json'));
      await mkdir(join(app, 'node_modules'));
      for (const name of await readdir(join(repo, 'node_modules'))) {
        if (name === 's3rver' || name === '.bin') continue;
        await symlink(join(repo, 'node_modules', name), join(app, 'node_modules', name));
      }
      const ferry = (...args: string[]) =>
        promisify(execFile)(process.execPath, [join(app, 'bin', 'ferry.js'), ...args]).then(
          ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
          (e: { code: number; stdout: string; stderr: string }) => e,
        );

      const [demo, help] = await Promise.all([ferry('demo', '--once'), ferry('--help')]);
      expect(demo).toMatchObject({
        code: 2,
        stdout: '',
        stderr:
          'ferry demo is a development command: run it from a source checkout (npm ci && npx ferry demo); it needs s3rver, redis-server and sshd\n',
      });
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(
        'ferry demo     [--files N] [--size BYTES] [--once] [--keep]   (development checkout only)\n',
      );
    } finally {
      await rm(app, { recursive: true, force: true });
    }
  });
});
