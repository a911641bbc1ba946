// A partner's `manifest` (control file): one file listing the data files delivered in a window or a
// sweep, published after them. Decisions: src/core/manifest-plan.ts; the job: jobs/manifest-publish.ts.
import { z } from 'zod';
import { parseManifestName, type ManifestNameTemplate } from '../../core/manifest-plan.js';
import { remoteDirectory } from './ack.js';

export const manifestSchema = z.strictObject({
  // Tokens {partner} and {date:…}: the window opening's date (per window), the manifest's time (per sweep).
  filename: z.string().transform((source, ctx): ManifestNameTemplate => {
    const parsed = parseManifestName(source);
    if (parsed.ok) return parsed.template;
    ctx.addIssue({ code: 'custom', message: `${parsed.message} (at character ${parsed.index + 1})` });
    return z.NEVER;
  }),
  // Left out: per window when the partner has a `window`, else per sweep.
  per: z.enum(['window', 'sweep'], { error: 'must be window or sweep' }).optional(),
  format: z.enum(['csv', 'json'], { error: 'must be csv or json' }).default('csv'),
  // Left out: target.directory, beside the data files.
  directory: remoteDirectory.optional(),
  // Besides after each sweep and after the last delivery it waits for, checked this often.
  checkEveryMinutes: z.int().min(1).max(1440).default(5),
});

export type ManifestConfig = z.output<typeof manifestSchema>;
