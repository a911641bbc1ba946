// ferry.yaml: the service settings (one section per module beside this one) plus partner `defaults`.
// Every object is strict: a typo is an error, not a silent default.
import { z } from 'zod';
import { alertsSchema } from './alerts.js';
import {
  PROXY_FIELDS,
  checkProxyFields,
  proxyUrlField,
  toProxySetting,
  type EgressProxySetting,
} from './egress-proxy.js';
import { S3_BUCKET, envNameField, fileRefField, nonEmptyText, positiveInt, whenValid } from './fields.js';
import { httpSchema } from './http.js';
import { partnerDefaultsSchema } from './partner.js';
import { redisSchema } from './redis.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** ferry.yaml `sftp`: settings every partner connection shares unless the partner overrides them. */
const sftpSchema = z
  .strictObject({
    proxy: proxyUrlField.optional(),
    proxyPasswordEnv: envNameField.optional(),
    proxyPasswordFile: fileRefField.optional(),
  })
  .superRefine((sftp, ctx) => checkProxyFields(sftp, ctx, false), whenValid(...PROXY_FIELDS))
  .transform((sftp): { proxy?: EgressProxySetting } => {
    const proxy = toProxySetting(sftp);
    return proxy === undefined || proxy === 'direct' ? {} : { proxy };
  });

/** Service settings (ferry.yaml without `defaults`). */
export const serviceSchema = z.strictObject({
  redis: redisSchema.prefault({}),
  s3: z
    .strictObject({
      region: z
        .string()
        .regex(/^[a-z0-9-]+$/, 'must be an AWS region name like us-east-1')
        .default('us-east-1'),
      endpoint: z
        .string()
        .refine((u) => /^https?:\/\/\S+$/.test(u) && URL.canParse(u), 'must be an http:// or https:// URL')
        .optional(),
      forcePathStyle: z.boolean().default(false),
    })
    .prefault({}),
  http: httpSchema.prefault({}),
  // A second listener serving only /metrics, without auth, in every role (worker-only processes too).
  metrics: z
    .strictObject({
      port: z.int().min(0).max(65535),
      host: nonEmptyText.default('127.0.0.1'),
    })
    .optional(),
  sftp: sftpSchema.optional(),
  // A missing section is read as {} so the error names the field people must add (receipts.bucket).
  receipts: z.preprocess(
    (section) => section ?? {},
    z.strictObject({
      bucket: z
        .string()
        .regex(S3_BUCKET, 'must be an S3 bucket name (3-63 lowercase letters, digits, "." or "-")'),
      prefix: z
        .string()
        .refine((p) => p === '' || p.endsWith('/'), 'must end with "/" (or be "" for the bucket root)')
        .default('ferry/receipts/'),
    }),
  ),
  worker: z
    .strictObject({
      concurrency: z.int().min(1).max(1024).default(16),
      stallTimeoutSeconds: positiveInt.default(60),
      connectTimeoutSeconds: positiveInt.default(20),
      keepaliveIntervalSeconds: positiveInt.default(10),
      keepaliveCountMax: positiveInt.default(3),
      idleTimeoutSeconds: positiveInt.default(30),
      lockDurationSeconds: positiveInt.default(60),
      stalledIntervalSeconds: positiveInt.default(30),
      // How many times a job may lose its worker (crash, lock expiry) before BullMQ fails it.
      maxStalledCount: z.int().min(0).max(100).default(3),
      slotLeaseSeconds: positiveInt.default(30),
    })
    .prefault({}),
  sweep: z.strictObject({ pageSize: z.int().min(1).max(1000).default(1000) }).prefault({}),
  // Removes Ferry's own leftover temp/.old files on partners' servers (jobs/janitor.ts); deliveries
  // register the temps they need (temp-registry.ts), older intents are adopted on the first pass.
  janitor: z
    .strictObject({
      enabled: z.boolean().default(true),
      // A floor well above an upload's duration: a second guard besides the registry.
      minAgeMinutes: z.int().min(10).max(525_600).default(60),
      intervalMinutes: z.int().min(1).max(10_080).default(15),
    })
    .prefault({}),
  log: z.strictObject({ level: z.enum(LOG_LEVELS).default('info') }).prefault({}),
  alerts: alertsSchema.optional(),
});

/** The whole ferry.yaml: service settings plus partner defaults. */
export const ferryFileSchema = serviceSchema.extend({ defaults: partnerDefaultsSchema.optional() });

export type ServiceConfig = z.output<typeof serviceSchema>;
export type LogLevel = (typeof LOG_LEVELS)[number];
