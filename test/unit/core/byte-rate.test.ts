import { describe, expect, it } from 'vitest';
import { formatByteRate, parseByteRate } from '../../../src/core/byte-rate.js';

describe('parseByteRate', () => {
  it.each([
    [4_000_000, 4_000_000],
    ['4MB', 4_000_000],
    ['4 MB/s', 4_000_000],
    ['1.5GB', 1_500_000_000],
    ['512KiB', 524_288],
    ['2MiB/s', 2_097_152],
    ['10Mbit', 1_250_000],
    ['100kbit/s', 12_500],
    ['1Gbit', 125_000_000],
    ['2048', 2048],
    ['2048B', 2048],
  ])('reads %j as %d bytes per second', (text, bytes) => {
    expect(parseByteRate(text)).toEqual({ ok: true, bytesPerSecond: bytes });
  });

  it.each([
    ['10Mb', '"Mb" is ambiguous: write 10Mbit for bits or 10MB for bytes'],
    ['10kb', '"kb" is ambiguous: write 10kbit for bits or 10KB for bytes'],
    ['4 parsecs', 'unknown unit "parsecs"'],
    ['fast', 'must be a number of bytes per second, or a rate like 4MB, 512KiB or 10Mbit'],
    ['-4MB', 'must be a number of bytes per second'],
    ['100', 'must be at least 1024 bytes per second'],
    [0, 'must be at least 1024 bytes per second'],
    [true, 'must be a number of bytes per second'],
  ])('refuses %j', (text, message) => {
    const parsed = parseByteRate(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toContain(message);
  });

  it('prints rates in decimal units', () => {
    expect(formatByteRate(4_000_000)).toBe('4 MB/s');
    expect(formatByteRate(1_250_000)).toBe('1.25 MB/s');
    expect(formatByteRate(524_288)).toBe('524.29 kB/s');
    expect(formatByteRate(1024)).toBe('1.02 kB/s');
  });
});
