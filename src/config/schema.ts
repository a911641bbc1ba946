// Zod schemas for ferry.yaml and partners/*.yaml. Every object is strict: a typo is an error, not a silent default.
// Messages never echo the offending value (it may be a secret pasted into the wrong field).
import { posix } from 'node:path';
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';

const PARTNER_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// ssh-keygen -lf prints "SHA256:" + unpadded base64 of the 32-byte digest (43 chars); some tools add the "=".
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}=?$/;
const FILE_MODE = /^0?[0-7]{3}$/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const FILE_MODE_MESSAGE = 'must be a quoted octal string like "0640"';

/**
 * A cross-field check that still runs when *other* fields of the object are wrong, so one run reports
 * every problem; it is skipped only when one of the fields it reads failed its own validation.
 */
function whenValid(...fields: string[]): { when: (payload: z.core.ParsePayload) => boolean } {
  return { when: (payload) => !payload.issues.some((issue) => fields.includes(String(issue.path?.[0]))) };
}

/** True when the runtime's Intl zone data knows the IANA name ("UTC", "America/New_York"). */
export function isValidTimezone(name: string): boolean {
  if (name.trim() === '') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** Why the cron expression is unusable, or undefined when cron-parser (as BullMQ uses it) accepts it. */
export function checkCronExpression(expr: string, timezone = 'UTC'): string | undefined {
  const fields = expr
    .trim()
    .split(/\s+/)
    .filter((f) => f !== '');
  if (fields.length !== 5 && fields.length !== 6) {
    return 'must have 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first';
  }
  try {
    CronExpressionParser.parse(expr, { tz: timezone });
    return undefined;
  } catch (err) {
    return `invalid cron expression: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** "/inbound//x/" → "/inbound/x"; "/" stays "/". Assumes the path was already checked for "..". */
export function normaliseRemoteDirectory(dir: string): string {
  const normal = posix.normalize(dir);
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
}

const nonEmptyText = z
  .string()
  .min(1, 'must not be empty')
  .refine((v) => !CONTROL_CHARS.test(v), 'must not contain control characters');

const envNameField = z.string().regex(ENV_NAME, 'must be an environment variable name like ACME_SFTP_KEY');
const fileRefField = nonEmptyText;
const positiveInt = z.int().min(1);

const timezoneField = z
  .string()
  .refine(isValidTimezone, 'unknown timezone: use an IANA name like "UTC" or "America/New_York"');

const cronField = z.string().check((ctx) => {
  const problem = checkCronExpression(ctx.value);
  if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
});

const includeField = z
  .array(
    nonEmptyText.refine(
      (g) => !g.startsWith('/'),
      'globs are relative to the prefix and must not start with "/"',
    ),
  )
  .min(1, 'must list at least one glob');

const portField = z.int().min(1).max(65535);

const fileModeField = z
  .string({ error: (iss) => (iss.input === undefined ? undefined : FILE_MODE_MESSAGE) })
  .regex(FILE_MODE, FILE_MODE_MESSAGE)
  .transform((v) => parseInt(v, 8))
  .refine((mode) => (mode & 0o002) === 0, 'must not be world-writable (o+w); use e.g. "0640"');

const publishField = z.enum(['rename', 'direct']);
const onExistingField = z.enum(['fail', 'overwrite', 'skip']);
const maxConnectionsField = z.int().min(1).max(64);
const minAgeField = z.int().min(0);
const attemptsField = z.int().min(1).max(100);
const backoffField = z.number().positive();

const fingerprintField = z
  .string()
  .regex(
    FINGERPRINT,
    'must be a SHA256 fingerprint as "ssh-keygen -lf" prints it: "SHA256:" followed by 43 base64 characters',
  )
  .transform((fp) => fp.replace(/=$/, ''));

const directoryField = z
  .string()
  .check((ctx) => {
    const dir = ctx.value;
    let message: string | undefined;
    if (CONTROL_CHARS.test(dir)) message = 'must not contain control characters';
    else if (!dir.startsWith('/')) message = 'must be an absolute path (start with "/")';
    else if (dir.split('/').includes('..')) message = 'must not contain ".." segments';
    if (message !== undefined) ctx.issues.push({ code: 'custom', message, input: dir });
  })
  .transform(normaliseRemoteDirectory);

const PRIMARY_AUTH = ['privateKeyFile', 'privateKeyEnv', 'passwordEnv', 'passwordFile'] as const;

const authSchema = z
  .strictObject({
    privateKeyFile: fileRefField.optional(),
    privateKeyEnv: envNameField.optional(),
    passphraseEnv: envNameField.optional(),
    passphraseFile: fileRefField.optional(),
    passwordEnv: envNameField.optional(),
    passwordFile: fileRefField.optional(),
  })
  .superRefine(
    (auth, ctx) => {
      const given = PRIMARY_AUTH.filter((k) => auth[k] !== undefined);
      if (given.length === 0) {
        ctx.addIssue({
          code: 'custom',
          message: `needs exactly one of ${PRIMARY_AUTH.join(', ')}`,
          path: [],
        });
      }
      for (const extra of given.slice(1)) {
        ctx.addIssue({
          code: 'custom',
          message: `only one of ${PRIMARY_AUTH.join(', ')} may be set (${given[0]} is already set)`,
          path: [extra],
        });
      }
      const hasKey = auth.privateKeyFile !== undefined || auth.privateKeyEnv !== undefined;
      for (const k of ['passphraseEnv', 'passphraseFile'] as const) {
        if (auth[k] !== undefined && !hasKey) {
          ctx.addIssue({
            code: 'custom',
            message: 'only allowed with privateKeyFile or privateKeyEnv',
            path: [k],
          });
        }
      }
      if (auth.passphraseEnv !== undefined && auth.passphraseFile !== undefined) {
        ctx.addIssue({
          code: 'custom',
          message: 'set passphraseEnv or passphraseFile, not both',
          path: ['passphraseFile'],
        });
      }
    },
    whenValid(...PRIMARY_AUTH, 'passphraseEnv', 'passphraseFile'),
  );

const retrySchema = z
  .strictObject({
    attempts: attemptsField.default(10),
    backoffSeconds: backoffField.default(30),
    maxBackoffSeconds: backoffField.default(3600),
  })
  .superRefine(
    (retry, ctx) => {
      if (retry.maxBackoffSeconds < retry.backoffSeconds) {
        ctx.addIssue({
          code: 'custom',
          message: 'must be at least backoffSeconds',
          path: ['maxBackoffSeconds'],
        });
      }
    },
    whenValid('backoffSeconds', 'maxBackoffSeconds'),
  );

/** One partner file (partners/<name>.yaml), after ferry.yaml's `defaults` were merged in. */
export const partnerSchema = z.strictObject({
  id: z
    .string()
    .regex(PARTNER_ID, 'must match ^[a-z0-9][a-z0-9_-]{0,62}$ (lowercase letters, digits, "_", "-")'),
  enabled: z.boolean().default(true),
  schedule: z.strictObject({
    cron: cronField,
    timezone: timezoneField.default('UTC'),
  }),
  source: z.strictObject({
    bucket: z
      .string()
      .regex(S3_BUCKET, 'must be an S3 bucket name (3-63 lowercase letters, digits, "." or "-")'),
    prefix: z
      .string()
      .refine((p) => p === '' || p.endsWith('/'), 'must end with "/" (or be "" for the whole bucket)')
      .refine((p) => !CONTROL_CHARS.test(p), 'must not contain control characters'),
    include: includeField.default(['*']),
    minAgeSeconds: minAgeField.default(30),
  }),
  target: z
    .strictObject({
      host: nonEmptyText.refine((h) => !/\s/.test(h), 'must not contain spaces'),
      port: portField.default(22),
      username: nonEmptyText,
      hostKeys: z
        .array(fingerprintField, {
          error: (iss) =>
            iss.input === undefined
              ? 'required: pin at least one host key fingerprint (ssh-keygen -lf <host key>.pub)'
              : undefined,
        })
        .min(1, 'must list at least one host key fingerprint'),
      auth: authSchema,
      directory: directoryField,
      fileMode: fileModeField.default(0o640),
      publish: publishField.default('rename'),
      onExisting: onExistingField.default('fail'),
      maxConnections: maxConnectionsField.default(2),
    })
    .superRefine(
      (target, ctx) => {
        if (target.publish === 'direct' && target.onExisting === 'overwrite') {
          ctx.addIssue({
            code: 'custom',
            message:
              'cannot be "overwrite" with publish: direct (it would truncate the partner\'s file before the new one is verified); use publish: rename',
            path: ['onExisting'],
          });
        }
      },
      whenValid('publish', 'onExisting'),
    ),
  retry: retrySchema.prefault({}),
});

/** ferry.yaml `defaults`: the partner fields a service may default. A partner's own value wins. */
export const partnerDefaultsSchema = z.strictObject({
  schedule: z.strictObject({ timezone: timezoneField.optional() }).optional(),
  source: z
    .strictObject({ minAgeSeconds: minAgeField.optional(), include: includeField.optional() })
    .optional(),
  target: z
    .strictObject({
      port: portField.optional(),
      fileMode: fileModeField.optional(),
      publish: publishField.optional(),
      onExisting: onExistingField.optional(),
      maxConnections: maxConnectionsField.optional(),
    })
    .optional(),
  retry: z
    .strictObject({
      attempts: attemptsField.optional(),
      backoffSeconds: backoffField.optional(),
      maxBackoffSeconds: backoffField.optional(),
    })
    .optional(),
});

interface HttpSettings {
  host: string;
  port: number;
  /** Bull Board / admin login; set whenever adminPassword is (defaults to "admin"). */
  adminUser?: string;
  /** Where the admin password is read at startup: an environment variable or a file (never the value). */
  adminPassword?: { env?: string; file?: string };
}

const httpSchema = z
  .strictObject({
    host: nonEmptyText.default('127.0.0.1'),
    port: z.int().min(0).max(65535).default(3000),
    adminUser: nonEmptyText.optional(),
    adminPasswordEnv: envNameField.optional(),
    adminPasswordFile: fileRefField.optional(),
  })
  .superRefine(
    (http, ctx) => {
      if (http.adminPasswordEnv !== undefined && http.adminPasswordFile !== undefined) {
        ctx.addIssue({
          code: 'custom',
          message: 'set adminPasswordEnv or adminPasswordFile, not both',
          path: ['adminPasswordFile'],
        });
      }
      if (
        http.adminUser !== undefined &&
        http.adminPasswordEnv === undefined &&
        http.adminPasswordFile === undefined
      ) {
        ctx.addIssue({
          code: 'custom',
          message: 'needs adminPasswordEnv or adminPasswordFile (or FERRY_ADMIN_PASSWORD in the environment)',
          path: ['adminUser'],
        });
      }
    },
    whenValid('adminUser', 'adminPasswordEnv', 'adminPasswordFile'),
  )
  .transform(({ adminPasswordEnv, adminPasswordFile, ...rest }): HttpSettings => {
    if (adminPasswordEnv === undefined && adminPasswordFile === undefined) return rest;
    const adminPassword: { env?: string; file?: string } =
      adminPasswordEnv !== undefined ? { env: adminPasswordEnv } : { file: adminPasswordFile };
    return { ...rest, adminUser: rest.adminUser ?? 'admin', adminPassword };
  });

/** Service settings (ferry.yaml without `defaults`). */
export const serviceSchema = z.strictObject({
  redis: z
    .strictObject({
      url: z
        .string()
        .refine((u) => /^rediss?:\/\/\S+$/.test(u), 'must be a redis:// or rediss:// URL')
        .default('redis://127.0.0.1:6379'),
      prefix: z
        .string()
        .refine(
          (p) => /^\S*\{[^{}\s]+\}\S*$/.test(p),
          'must contain a {hash tag} so every key lands in one Redis Cluster slot, e.g. "{ferry}"',
        )
        .default('{ferry}'),
    })
    .prefault({}),
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
      concurrency: z.int().min(1).max(1024).default(4),
      stallTimeoutSeconds: positiveInt.default(60),
      connectTimeoutSeconds: positiveInt.default(20),
      keepaliveIntervalSeconds: positiveInt.default(10),
      keepaliveCountMax: positiveInt.default(3),
      idleTimeoutSeconds: positiveInt.default(30),
      lockDurationSeconds: positiveInt.default(60),
      stalledIntervalSeconds: positiveInt.default(30),
      slotLeaseSeconds: positiveInt.default(30),
    })
    .prefault({}),
  sweep: z.strictObject({ pageSize: z.int().min(1).max(1000).default(1000) }).prefault({}),
  log: z.strictObject({ level: z.enum(LOG_LEVELS).default('info') }).prefault({}),
});

/** The whole ferry.yaml: service settings plus partner defaults. */
export const ferryFileSchema = serviceSchema.extend({ defaults: partnerDefaultsSchema.optional() });

export type PartnerConfig = z.output<typeof partnerSchema>;
export type SecretAuth = z.output<typeof authSchema>;
export type ServiceConfig = z.output<typeof serviceSchema>;
export type PartnerDefaults = z.output<typeof partnerDefaultsSchema>;
export type LogLevel = (typeof LOG_LEVELS)[number];
