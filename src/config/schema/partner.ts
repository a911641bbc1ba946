// One partner file (partners/*.yaml) and ferry.yaml's `defaults`, composed from the sections.
// Every object is strict: a typo is an error, not a silent default.
import { z } from 'zod';
import { PARTNER_ID_PATTERN, PARTNER_ID_RULE } from '../../core/delivery-id.js';
import { partitionTokenProblem } from '../../core/filename-template.js';
import { manifestPer } from '../../core/manifest-plan.js';
import { ackSchema } from './ack.js';
import { afterSchema } from './after.js';
import { partnerAlertsSchema } from './alerts.js';
import { cronField, timezoneField, whenValid } from './fields.js';
import { manifestSchema } from './manifest.js';
import { namingSchema } from './naming.js';
import { retryDefaultsSchema, retrySchema } from './retry.js';
import { shapeSchema } from './shape.js';
import { sourceDefaultsSchema, sourceSchema } from './source.js';
import { targetDefaultsSchema, targetSchema } from './target.js';
import { transformSchema } from './transform.js';
import { validateSchema } from './validate.js';
import { expectSchema, windowSchema } from './window.js';

/** One partner file (partners/<name>.yaml), after ferry.yaml's `defaults` were merged in. */
export const partnerSchema = z
  .strictObject({
    id: z
      .string()
      .regex(
        PARTNER_ID_PATTERN,
        `must be ${PARTNER_ID_RULE} (it is part of job ids, Redis keys and receipt paths)`,
      ),
    enabled: z.boolean().default(true),
    schedule: z.strictObject({
      cron: cronField,
      timezone: timezoneField.default('UTC'),
    }),
    source: sourceSchema,
    target: targetSchema,
    retry: retrySchema.prefault({}),
    alerts: partnerAlertsSchema.optional(),
    window: windowSchema.optional(),
    expect: expectSchema.optional(),
    // true: POST /api/events/s3 starts this partner's deliveries too (the sweep still runs on its
    // schedule). Left out = false (no default, so configs without it read back unchanged).
    events: z.boolean().optional(),
    // Left out = not paused (no default, so configs without it read back unchanged).
    paused: z.boolean().optional(),
    // Left out = the source object is left as it is (after.source: none).
    after: afterSchema.optional(),
    // Left out = the bytes are delivered as stored in S3.
    transform: transformSchema.optional(),
    // Left out = the remote name is the key relative to the prefix (src/core/remote-name.ts).
    naming: namingSchema.optional(),
    // Left out = files are delivered without content checks.
    validate: validateSchema.optional(),
    // Left out = the CSV is delivered with the warehouse's columns and format.
    shape: shapeSchema.optional(),
    // Left out = no answers are expected from the partner.
    ack: ackSchema.optional(),
    // Left out = no control file: the data files go alone.
    manifest: manifestSchema.optional(),
  })
  .superRefine(
    (partner, ctx) => {
      const m = partner.manifest;
      if (m?.per === 'window' && partner.window === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: 'is window but the partner has no window (add one, or use per: sweep)',
          path: ['manifest', 'per'],
        });
      }
      // Two sweeps' manifests on one day would share a name (the second is refused or overwrites).
      if (m !== undefined && manifestPer(partner) === 'sweep' && !m.filename.hasSeconds) {
        ctx.addIssue({
          code: 'custom',
          message:
            'needs a {date:…} with seconds (e.g. {date:yyyyMMdd-HHmmss}) when a manifest follows every sweep: two sweeps would publish the same name',
          path: ['manifest', 'filename'],
        });
      }
    },
    whenValid('manifest', 'window'),
  )
  .superRefine(
    (partner, ctx) => {
      // {partition:…} reads the key's partition: the prefix must have partitions that give its letters.
      const template = partner.naming?.filename;
      const problem = template && partitionTokenProblem(template, partner.source.prefixTemplate);
      if (problem) {
        ctx.addIssue({
          code: 'custom',
          message: `${problem.message} (at character ${problem.index + 1})`,
          path: ['naming', 'filename'],
        });
      }
    },
    whenValid('naming', 'source'),
  )
  .superRefine(
    (partner, ctx) => {
      // With validate.csv.header the source's columns are known now: a `from` it lacks would fail every file.
      const header = partner.validate?.csv?.header;
      if (partner.shape === undefined || header === undefined) return;
      partner.shape.columns.forEach((column, i) => {
        if (column.from !== undefined && !header.includes(column.from)) {
          ctx.addIssue({
            code: 'custom',
            message: `source column "${column.from}" is not in validate.csv.header (${header.join(', ')})`,
            path: ['shape', 'columns', i, 'from'],
          });
        }
      });
    },
    whenValid('shape', 'validate'),
  );

/** ferry.yaml `defaults`: the partner fields a service may default. A partner's own value wins. */
export const partnerDefaultsSchema = z.strictObject({
  schedule: z.strictObject({ timezone: timezoneField.optional() }).optional(),
  source: sourceDefaultsSchema.optional(),
  target: targetDefaultsSchema.optional(),
  retry: retryDefaultsSchema.optional(),
});

export type PartnerConfig = z.output<typeof partnerSchema>;
export type PartnerDefaults = z.output<typeof partnerDefaultsSchema>;
