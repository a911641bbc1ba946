// The gzip stage compresses 1 MiB blocks on several threadpool threads at once (pigz's scheme). What
// must hold: any gunzip (zlib, the gzip CLI) gives the source back, CRC and length checked; the output
// depends only on the bytes and the level (not on chunking or parallelism); the ratio is gzip's; and
// createBodyPipeline uses it with the configured level, recorded in the receipt's transform entry.
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  createBodyPipeline,
  createParallelGzip,
  describeTransform,
} from '../../../src/adapters/transform-stream.js';

const MiB = 1024 * 1024;

/** Deterministic CSV-like rows (compressible, not repetitive within deflate's window). */
function csv(size: number): Buffer {
  const lines: string[] = ['order_id,created_at,customer,sku,qty,amount\n'];
  let length = lines[0]!.length;
  let seed = 12345;
  const next = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let id = 1; length < size; id++) {
    const line = `${id},2026-${1 + next(12)}-${1 + next(28)}T${next(24)}:${next(60)}:00Z,cust-${next(50000)},SKU-${next(99999)},${1 + next(20)},${next(100000) / 100}\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, size);
}

/** `bytes` through a fresh gzip stage, fed in chunks of `chunk` bytes. */
async function gzipThrough(bytes: Buffer, chunk: number, level?: number, inFlight?: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += chunk) chunks.push(bytes.subarray(at, at + chunk));
  const stage = createParallelGzip(level, inFlight);
  Readable.from(chunks).pipe(stage);
  return buffer(stage);
}

describe('parallel gzip stage', () => {
  it.each([0, 1, MiB - 1, MiB, MiB + 1, 3 * MiB + 12_345])(
    'gunzips back to the source (%i bytes), CRC and length checked',
    async (size) => {
      const bytes = csv(size);
      const gz = await gzipThrough(bytes, 64 * 1024);
      expect(gunzipSync(gz).equals(bytes)).toBe(true);
    },
  );

  it('is read by the gzip CLI too', async () => {
    const bytes = csv(2 * MiB + 777);
    const gz = await gzipThrough(bytes, 50_000);
    expect(execFileSync('gzip', ['-dc'], { input: gz, maxBuffer: 8 * MiB }).equals(bytes)).toBe(true);
  });

  it('gives the same bytes whatever the chunking and the number of blocks in flight', async () => {
    const bytes = csv(3 * MiB + 5);
    const a = await gzipThrough(bytes, 64 * 1024, 6, 1);
    const b = await gzipThrough(bytes, 999, 6, 4);
    const c = await gzipThrough(bytes, 5 * MiB, 6, 2); // one chunk spanning several blocks
    expect(b.equals(a)).toBe(true);
    expect(c.equals(a)).toBe(true);
  });

  it("keeps gzip's ratio (each block primed with the previous block's window)", async () => {
    const bytes = csv(4 * MiB);
    const ours = await gzipThrough(bytes, 64 * 1024, 6);
    const zlibs = gzipSync(bytes, { level: 6 });
    expect(ours.length).toBeLessThan(zlibs.length * 1.005);
  });

  it('honours the level: 1 is bigger than 9, both gunzip back', async () => {
    const bytes = csv(2 * MiB);
    const fast = await gzipThrough(bytes, 64 * 1024, 1);
    const small = await gzipThrough(bytes, 64 * 1024, 9);
    expect(fast.length).toBeGreaterThan(small.length);
    expect(gunzipSync(fast).equals(bytes)).toBe(true);
    expect(gunzipSync(small).equals(bytes)).toBe(true);
  });

  it('createBodyPipeline gzips at compressLevel and counts the source; the receipt records the level', async () => {
    const bytes = csv(MiB + 3);
    const level1 = await createBodyPipeline(
      Readable.from([bytes]),
      { compress: 'gzip', compressLevel: 1 },
      undefined,
    );
    const out1 = await buffer(level1.stream);
    const level6 = await createBodyPipeline(Readable.from([bytes]), { compress: 'gzip' }, undefined);
    const out6 = await buffer(level6.stream);
    expect(gunzipSync(out1).equals(bytes)).toBe(true);
    expect(out1.equals(await gzipThrough(bytes, MiB, 1))).toBe(true);
    expect(out6.equals(await gzipThrough(bytes, MiB, 6))).toBe(true);
    expect(level1.source().bytes).toBe(bytes.length);
    expect(describeTransform({ compress: 'gzip', compressLevel: 1 })).toEqual({
      compress: 'gzip',
      compressLevel: 1,
    });
    expect(describeTransform({ compress: 'gzip' })).toEqual({ compress: 'gzip' });
  });

  it('fails the delivered stream when the source fails mid-way', async () => {
    const failing = new Readable({
      read() {
        this.push(csv(2 * MiB));
        this.destroy(new Error('source reset'));
      },
    });
    const pipeline = await createBodyPipeline(failing, { compress: 'gzip' }, undefined);
    await expect(buffer(pipeline.stream)).rejects.toThrow('source reset');
  });
});
