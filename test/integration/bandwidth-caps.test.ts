// Bandwidth caps on the real pipeline (redis-server, sshd, s3rver), Ferry in this process: three files
// to a partner capped at 512 KiB/s go no faster together than the cap allows (plus the bucket's half
// second of burst) and arrive whole, while an uncapped partner delivers at the same time; `ferry plan`
// prints the cap. The cap shared by two worker processes, measured on the partner side, and a cap
// changed by a reload in flight are bandwidth-workers.test.ts. How close to the cap they get, and how
// fast the uncapped one went meanwhile, are figures for a bench, not assertions.
import { describe, expect, it } from 'vitest';
import { BUCKET_DEPTH_MS } from '../../src/ledger/bandwidth-bucket.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';
import { readPartnerDir } from '../support/pipeline.js';
import { runFerryInProcess } from '../support/run-cli-in-process.js';

const CAP = 512 * 1024;
const FILE = 512 * 1024;

const pipeline = usePartnerPipeline({
  partners: [
    { id: 'capped', maxBytesPerSecond: '512KiB', maxFilesInFlight: 4, maxConnections: 2 },
    { id: 'free' },
  ],
});

describe('target.maxBytesPerSecond', () => {
  it("holds the partner's deliveries together under the cap, whole, and leaves other partners alone", async () => {
    const seeded = await pipeline.put([
      ...['a', 'b', 'c'].map((n) => ({ key: `capped/${n}.bin`, size: FILE })),
      { key: 'free/big.bin', size: 4 * FILE },
    ]);
    const started = Date.now();
    const [capped, free] = await Promise.all([
      pipeline.sweep('capped').then((r) => ({ ...r, ms: Date.now() - started })),
      pipeline.sweep('free'),
    ]);
    expect(capped.summary).toMatch(/^delivered 3,/);
    expect(free.summary).toMatch(/^delivered 1,/);
    // Never faster than the cap: 1.5 MiB less the half second of burst a full bucket allows.
    const burst = (CAP * BUCKET_DEPTH_MS) / 1000;
    expect(capped.ms).toBeGreaterThanOrEqual(((3 * FILE - burst) / CAP) * 1000 - 50);
    const dir = await readPartnerDir(pipeline.fixture.partnerDirs.capped!);
    expect(new Map([...dir.finals].map(([name, f]) => [name, f.sha256]))).toEqual(
      new Map(seeded.slice(0, 3).map((o) => [o.key.slice('capped/'.length), o.sha256])),
    );
  });
});

describe('ferry plan', () => {
  it("prints a capped partner's cap under its heading, and nothing for an uncapped one", async () => {
    const ferry = (...args: string[]) => runFerryInProcess([...args, '--config', pipeline.fixture.dir]);
    const capped = await ferry('plan', 'capped');
    expect(capped.code).toBe(0);
    expect(capped.out[1]).toBe("  bandwidth: at most 524.29 kB/s for this partner's deliveries together");
    const free = await ferry('plan', 'free');
    expect(free.out.some((l) => l.includes('bandwidth:'))).toBe(false);
  });
});
