// `ferry plan`'s line for a partner's `manifest:` (control file): which file, when, in which format, where.
import { manifestPer, type ManifestFormat, type ManifestPer } from './manifest-plan.js';

/** The partner config fields the line is made from (PartnerConfig fits). */
export interface ManifestSettingFacts {
  window?: unknown;
  target: { directory: string };
  manifest: {
    filename: { source: string };
    per?: ManifestPer | undefined;
    format: ManifestFormat;
    directory?: string | undefined;
  };
}

const WHEN: Record<ManifestPer, string> = {
  window: 'per window (after each opening closes)',
  sweep: 'per sweep (after each sweep that delivered something)',
};

/**
 * One line, e.g. "manifest: NIGHTLY_{date:yyyyMMdd}_manifest.csv per window (after each opening
 * closes), csv, into /inbound": the filename as configured (its tokens are filled when it is taken),
 * `per` as it applies when left out, and the directory it goes to (target.directory by default).
 */
export function describeManifestSetting(partner: ManifestSettingFacts): string {
  const m = partner.manifest;
  const directory = m.directory ?? partner.target.directory;
  return `manifest: ${m.filename.source} ${WHEN[manifestPer(partner)]}, ${m.format}, into ${directory}`;
}
