// What a partner's `transform` adds to the remote file name. Pure: the bytes are transformed in
// src/adapters/transform-stream.ts; the name says how to undo it (gunzip, then gpg --decrypt).

/** The parts of a partner's `transform` settings the name depends on. */
export interface TransformNaming {
  compress: 'none' | 'gzip';
  pgp?: { armor: boolean };
}

/**
 * The suffix appended to the remote name: `.gz` for gzip, then `.pgp` (binary) or `.asc` (armored)
 * for OpenPGP, in the order they were applied (`report.csv` → `report.csv.gz.pgp`). "" without a transform.
 */
export function transformSuffix(transform: TransformNaming | undefined): string {
  if (transform === undefined) return '';
  const gz = transform.compress === 'gzip' ? '.gz' : '';
  const pgp = transform.pgp === undefined ? '' : transform.pgp.armor ? '.asc' : '.pgp';
  return gz + pgp;
}

/** True when the partner receives other bytes than S3 holds (sizes and hashes then differ). */
export function transformsBytes(transform: TransformNaming | undefined): boolean {
  return transformSuffix(transform) !== '';
}
