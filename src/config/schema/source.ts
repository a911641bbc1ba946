// A partner's `source`: the bucket, prefix and which objects under it are delivered.
import { z } from 'zod';
import {
  DEFAULT_LOOKBACK_DAYS,
  hasPrefixTokens,
  parsePrefixTemplate,
  type PrefixTemplate,
} from '../../core/prefix-template.js';
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

/**
 * `source`: where the objects are and which of them are delivered. A prefix with `{date:…}` tokens
 * (src/core/prefix-template.ts) is read into `prefix` = its static part (every key is under it, IAM
 * grants it) and `prefixTemplate`, with `lookbackDays` defaulted; a prefix without tokens stays as written.
 */
export const sourceSchema = z
  .strictObject({
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
    // Only with a {date:…} prefix: today's partition and this many days before it are listed.
    lookbackDays: z.int().min(0, 'must be a whole number of days, 0 or more').optional(),
  })
  .transform((source, ctx): typeof source & { prefixTemplate?: PrefixTemplate } => {
    const tokens = hasPrefixTokens(source.prefix);
    if (!tokens) {
      if (source.lookbackDays !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['lookbackDays'],
          message:
            'needs a dated prefix (e.g. prefix: exports/{date:yyyy-MM-dd}/); this prefix has no {date:…}',
        });
      }
      return source;
    }
    const parsed = parsePrefixTemplate(source.prefix);
    if (!parsed.ok) {
      ctx.addIssue({
        code: 'custom',
        path: ['prefix'],
        message: `${parsed.message} (at character ${parsed.index + 1})`,
      });
      return z.NEVER;
    }
    return {
      ...source,
      prefix: parsed.template.staticPart,
      prefixTemplate: parsed.template,
      lookbackDays: source.lookbackDays ?? DEFAULT_LOOKBACK_DAYS,
    };
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
