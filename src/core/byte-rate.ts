// Bandwidth caps (`maxBytesPerSecond`): the forms people write a rate in. Decimal units are powers of
// 1000 (MB, as links are sold), binary ones powers of 1024 (MiB), and bits are spelled out (Mbit), so
// "Mb" — megabit or megabyte? — is refused rather than guessed.

export type ByteRateResult = { ok: true; bytesPerSecond: number } | { ok: false; message: string };

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  bit: 1 / 8,
  kbit: 1e3 / 8,
  mbit: 1e6 / 8,
  gbit: 1e9 / 8,
};

/** The lowest cap accepted: below it one SFTP write would take seconds. */
export const MIN_BYTES_PER_SECOND = 1024;

const FORMS = 'a number of bytes per second, or a rate like 4MB, 512KiB or 10Mbit (optionally with /s)';

/** Parses `4MB`, `512KiB`, `10Mbit`, `1.5 GB/s` or a plain number of bytes per second. */
export function parseByteRate(value: unknown): ByteRateResult {
  if (typeof value === 'number') return checked(value);
  if (typeof value !== 'string') return { ok: false, message: `must be ${FORMS}` };
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*(?:\/\s*s)?\s*$/.exec(value);
  if (!match) return { ok: false, message: `must be ${FORMS}` };
  const [, amount = '', unit = ''] = match;
  if (unit === '') return checked(Number(amount));
  // B is a byte; a lone lower-case b (Mb, kb) is read as bits by some and bytes by others.
  if (/^[kKmMgG]?b$/.test(unit)) {
    return {
      ok: false,
      message: `"${unit}" is ambiguous: write ${amount}${unit.slice(0, -1)}bit for bits or ${amount}${unit.slice(0, -1).toUpperCase()}B for bytes`,
    };
  }
  const factor = UNITS[unit.toLowerCase()];
  if (factor === undefined) return { ok: false, message: `unknown unit "${unit}": must be ${FORMS}` };
  return checked(Number(amount) * factor);
}

function checked(bytesPerSecond: number): ByteRateResult {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond < MIN_BYTES_PER_SECOND) {
    return { ok: false, message: `must be at least ${MIN_BYTES_PER_SECOND} bytes per second (1KiB)` };
  }
  return { ok: true, bytesPerSecond: Math.floor(bytesPerSecond) };
}

/** A rate for people, in decimal units: `4 MB/s`, `1.25 MB/s`, `512 B/s`. */
export function formatByteRate(bytesPerSecond: number): string {
  const units: [number, string][] = [
    [1e9, 'GB/s'],
    [1e6, 'MB/s'],
    [1e3, 'kB/s'],
  ];
  for (const [size, name] of units) {
    if (bytesPerSecond >= size) return `${Number((bytesPerSecond / size).toFixed(2))} ${name}`;
  }
  return `${bytesPerSecond} B/s`;
}
