// A partner's `source`: the bucket, prefix and which objects under it are delivered.
import { z } from 'zod';
import { globSyntaxProblem } from '../../core/select-objects.js';
import { CONTROL_CHARS, S3_BUCKET, nonEmptyText } from './fields.js';

const globField = nonEmptyText
  .refine((g) => !g.startsWith('/'), 'globs are relative to the prefix and must not start with "/"')
  .check((ctx) => {
    // picomatch reads an unbalanced "{", "[" or "(" literally: "*.{tmp" would silently match nothing.
    const problem = globSyntaxProblem(ctx.value);
    if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
  });

const includeField = z.array(globField).min(1, 'must list at least one glob');

const excludeField = z.array(globField);

const markerField = nonEmptyText
  .refine((m) => !m.includes('/'), 'must be a file name without "/" (it is looked for beside each object)')
  .refine((m) => m !== '.' && m !== '..', 'must be a file name, not "." or ".."');

const minAgeField = z.int().min(0);
const maxAgeField = z.number().positive('must be a number of days greater than 0');
const identityField = z.enum(['content', 'version'], { error: 'must be content or version' });

/** `source`: where the objects are and which of them are delivered. */
export const sourceSchema = z.strictObject({
  bucket: z
    .string()
    .regex(S3_BUCKET, 'must be an S3 bucket name (3-63 lowercase letters, digits, "." or "-")'),
  prefix: z
    .string()
    .refine((p) => p === '' || p.endsWith('/'), 'must end with "/" (or be "" for the whole bucket)')
    .refine((p) => !CONTROL_CHARS.test(p), 'must not contain control characters'),
  include: includeField.default(['*']),
  // Left out = nothing excluded, no marker needed (no defaults, so configs without them read back unchanged).
  exclude: excludeField.optional(),
  requireMarker: markerField.optional(),
  minAgeSeconds: minAgeField.default(30),
  // Left out = no age limit: every listed object may be delivered.
  maxAgeDays: maxAgeField.optional(),
  // Left out = content (the ETag names a version; delivery ids as they always were).
  identity: identityField.optional(),
});

/** ferry.yaml `defaults.source`: exclude and requireMarker replace (never join) a partner's own; `exclude: []` there drops the default. */
export const sourceDefaultsSchema = z.strictObject({
  minAgeSeconds: minAgeField.optional(),
  maxAgeDays: maxAgeField.optional(),
  identity: identityField.optional(),
  include: includeField.optional(),
  exclude: excludeField.optional(),
  requireMarker: markerField.optional(),
});
