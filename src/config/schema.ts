// Zod schemas for ferry.yaml and partners/*.yaml. Every object is strict: a typo is an error, not a silent default.
// Messages never echo the offending value (it may be a secret pasted into the wrong field).
import { posix } from 'node:path';
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import {
  ALGORITHM_CATEGORIES,
  HOST_KEY_TYPES,
  SUPPORTED_ALGORITHMS,
  effectiveAlgorithms,
  formatHostKeyPin,
  hostKeyAlgorithmsFor,
  parseHostKeyPin,
  type AlgorithmCategory,
} from '../core/ssh-algorithms.js';
import { checkWebhookUrl } from '../core/webhook-url.js';
import { parseFilenameTemplate, type FilenameTemplate } from '../core/filename-template.js';
import { parseDoneFileTemplate, type DoneFileTemplate } from '../core/sidecar-files.js';
import { WEEKDAYS, isCalendarDate } from '../core/delivery-window.js';
import { checkMoveTemplate, type SourceAfter } from '../core/source-housekeeping.js';
import { globSyntaxProblem } from '../core/select-objects.js';
import { PARTNER_ID_PATTERN, PARTNER_ID_RULE } from '../core/delivery-id.js';
import { DEFAULT_RUNBOOK_BASE_URL } from '../core/runbook-for.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
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
  // A missing or non-mapping object (e.g. `target:` left empty) has nothing to cross-check.
  return {
    when: (payload) =>
      typeof payload.value === 'object' &&
      payload.value !== null &&
      !payload.issues.some((issue) => fields.includes(String(issue.path?.[0]))),
  };
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
const maxAgeField = z.number().positive('must be a number of days greater than 0');
const identityField = z.enum(['content', 'version'], { error: 'must be content or version' });
const attemptsField = z.int().min(1).max(100);
const backoffField = z.number().positive();

const fingerprintField = z.string().check((ctx) => {
  const pin = parseHostKeyPin(ctx.value);
  if (pin !== undefined) return;
  const typed = /^\S+ +SHA256:/.test(ctx.value.trim());
  ctx.issues.push({
    code: 'custom',
    input: ctx.value,
    message: typed
      ? `names an unknown key type: use one of ${Object.keys(HOST_KEY_TYPES).join(', ')} (or the bare "SHA256:…" fingerprint for any type)`
      : 'must be a SHA256 fingerprint as "ssh-keygen -lf" prints it: "SHA256:" followed by 43 base64 characters',
  });
});

// "[key type ]SHA256:…": canonical text, no "=" padding. Only valid pins reach the transform.
const hostKeyPinField = fingerprintField.transform((pin) => formatHostKeyPin(parseHostKeyPin(pin)!));

const algorithmListField = (category: AlgorithmCategory) =>
  z
    .array(z.string())
    .min(1, 'must list at least one algorithm (leave the field out for the defaults)')
    .check((ctx) => {
      const seen = new Set<string>();
      ctx.value.forEach((name, i) => {
        if (!SUPPORTED_ALGORITHMS[category].includes(name)) {
          ctx.issues.push({
            code: 'custom',
            input: name,
            path: [i],
            message: `unknown ${category} algorithm; supported: ${SUPPORTED_ALGORITHMS[category].join(', ')}`,
          });
        } else if (seen.has(name)) {
          ctx.issues.push({ code: 'custom', input: name, path: [i], message: 'listed twice' });
        }
        seen.add(name);
      });
    });

/** `target.algorithms`: each category given replaces Ferry's modern list for that category. */
const algorithmsSchema = z.strictObject(
  Object.fromEntries(ALGORITHM_CATEGORIES.map((c) => [c, algorithmListField(c).optional()])) as Record<
    AlgorithmCategory,
    z.ZodOptional<ReturnType<typeof algorithmListField>>
  >,
);

/** An egress proxy: where the SSH connection's TCP stream goes first. Never holds the password. */
export interface EgressProxySetting {
  protocol: 'socks5' | 'http';
  host: string;
  port: number;
  /** For SOCKS5 username/password auth or HTTP Basic proxy auth. */
  username?: string;
  /** Where the proxy password is read at connect time: an environment variable or a file. */
  password?: { env?: string; file?: string };
}

// socks5://[user@]host:port or http://[user@]host:port; host is a name, IPv4 or [IPv6].
const PROXY_URL = /^(socks5|http):\/\/(?:([^@/:\s]+)@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})\/?$/;
const PROXY_URL_MESSAGE =
  'must be socks5://[user@]host:port or http://[user@]host:port (HTTP CONNECT), with an explicit port';

/** Why the proxy URL is unusable, or undefined. The message never echoes the URL (it may hold a password). */
export function checkProxyUrl(url: string): string | undefined {
  if (/^[A-Za-z0-9+.-]+:\/\/[^@/\s]*:[^@/\s]*@/.test(url)) {
    return 'must not contain a password: name it with proxyPasswordEnv or proxyPasswordFile';
  }
  const match = PROXY_URL.exec(url);
  if (!match) return PROXY_URL_MESSAGE;
  const port = Number(match[4]);
  if (port < 1 || port > 65535) return 'has a port outside 1-65535';
  if (match[2] !== undefined) {
    try {
      decodeURIComponent(match[2]);
    } catch {
      return 'has a user name with invalid %-escapes';
    }
  }
  return undefined;
}

/** Parses a URL that checkProxyUrl accepted. */
export function parseProxyUrl(url: string): Omit<EgressProxySetting, 'password'> {
  const [, protocol, user, host, port] = PROXY_URL.exec(url)!;
  return {
    protocol: protocol as 'socks5' | 'http',
    host: host!.startsWith('[') ? host!.slice(1, -1) : host!,
    port: Number(port),
    ...(user === undefined ? {} : { username: decodeURIComponent(user) }),
  };
}

const proxyUrlField = z.string().check((ctx) => {
  const problem = checkProxyUrl(ctx.value);
  if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
});

// A partner may also say "direct": no proxy, whatever ferry.yaml's sftp.proxy says.
const partnerProxyField = z.string().check((ctx) => {
  if (ctx.value === 'direct') return;
  const problem = checkProxyUrl(ctx.value);
  if (problem !== undefined) {
    const message = problem === PROXY_URL_MESSAGE ? `${problem}, or "direct"` : problem;
    ctx.issues.push({ code: 'custom', message, input: ctx.value });
  }
});

const PROXY_FIELDS = ['proxy', 'proxyPasswordEnv', 'proxyPasswordFile'] as const;

/** Cross-field rules of proxy + proxyPasswordEnv/File (partner target and ferry.yaml `sftp`). */
function checkProxyFields(
  value: { proxy?: string; proxyPasswordEnv?: string; proxyPasswordFile?: string },
  ctx: z.core.$RefinementCtx,
  allowDirect: boolean,
): void {
  const hasPassword = value.proxyPasswordEnv !== undefined || value.proxyPasswordFile !== undefined;
  if (value.proxyPasswordEnv !== undefined && value.proxyPasswordFile !== undefined) {
    ctx.addIssue({
      code: 'custom',
      message: 'set proxyPasswordEnv or proxyPasswordFile, not both',
      path: ['proxyPasswordFile'],
    });
  }
  const direct = allowDirect && value.proxy === 'direct';
  if (value.proxy === undefined || direct) {
    if (hasPassword) {
      ctx.addIssue({
        code: 'custom',
        message: 'only allowed with a proxy URL that names a user',
        path: [value.proxyPasswordEnv !== undefined ? 'proxyPasswordEnv' : 'proxyPasswordFile'],
      });
    }
    return;
  }
  const { username } = parseProxyUrl(value.proxy);
  if (username === undefined && hasPassword) {
    ctx.addIssue({
      code: 'custom',
      message: 'only allowed with a proxy URL that names a user (socks5://user@host:port)',
      path: [value.proxyPasswordEnv !== undefined ? 'proxyPasswordEnv' : 'proxyPasswordFile'],
    });
  }
  if (username !== undefined && !hasPassword) {
    ctx.addIssue({
      code: 'custom',
      message: 'a proxy user needs proxyPasswordEnv or proxyPasswordFile',
      path: ['proxy'],
    });
  }
}

/** Folds proxy + proxyPassword* into one setting (undefined: none configured here). */
function toProxySetting(value: {
  proxy?: string;
  proxyPasswordEnv?: string;
  proxyPasswordFile?: string;
}): EgressProxySetting | 'direct' | undefined {
  if (value.proxy === undefined) return undefined;
  if (value.proxy === 'direct') return 'direct';
  const password =
    value.proxyPasswordEnv !== undefined
      ? { env: value.proxyPasswordEnv }
      : value.proxyPasswordFile !== undefined
        ? { file: value.proxyPasswordFile }
        : undefined;
  return { ...parseProxyUrl(value.proxy), ...(password === undefined ? {} : { password }) };
}

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

/** Where a webhook URL comes from: the config itself (only a URL that visibly holds no token), or a secret reference. */
export type WebhookRef = { url: string } | { env: string } | { file: string };

/** Where alerts go: a webhook, and optionally the HMAC key that signs each body (by reference). */
export interface AlertReceiver {
  webhook: WebhookRef;
  secret?: PasswordRef;
}

/** ferry.yaml `alerts`: the default receiver (partners may name their own) and the shared settings. */
export interface AlertSettings {
  receiver?: AlertReceiver;
  timeoutSeconds: number;
  dedupMinutes: number;
  /** Where the runbooks (docs/runbooks/*.md) are served; alerts and failed deliveries link into it. */
  runbookBaseUrl: string;
}

const WEBHOOK_FIELDS = ['webhook', 'webhookEnv', 'webhookFile'] as const;
const ALERT_SECRET_FIELDS = ['secretEnv', 'secretFile'] as const;

const literalWebhookField = z.string().check((ctx) => {
  const problem = checkWebhookUrl(ctx.value, true);
  if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
});

const alertReceiverFields = {
  webhook: literalWebhookField.optional(),
  webhookEnv: envNameField.optional(),
  webhookFile: fileRefField.optional(),
  secretEnv: envNameField.optional(),
  secretFile: fileRefField.optional(),
};

interface AlertReceiverInput {
  webhook?: string;
  webhookEnv?: string;
  webhookFile?: string;
  secretEnv?: string;
  secretFile?: string;
}

/** One webhook source at most (exactly one when `required`), one secret source at most, a secret only with a webhook. */
function checkAlertReceiver(value: AlertReceiverInput, ctx: z.core.$RefinementCtx, required: boolean): void {
  const given = WEBHOOK_FIELDS.filter((k) => value[k] !== undefined);
  if (given.length === 0 && required) {
    ctx.addIssue({ code: 'custom', message: `needs one of ${WEBHOOK_FIELDS.join(', ')}`, path: [] });
  }
  for (const extra of given.slice(1)) {
    ctx.addIssue({
      code: 'custom',
      message: `only one of ${WEBHOOK_FIELDS.join(', ')} may be set (${given[0]} is already set)`,
      path: [extra],
    });
  }
  if (value.secretEnv !== undefined && value.secretFile !== undefined) {
    ctx.addIssue({ code: 'custom', message: 'set secretEnv or secretFile, not both', path: ['secretFile'] });
  }
  const secret = ALERT_SECRET_FIELDS.find((k) => value[k] !== undefined);
  if (given.length === 0 && secret !== undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `only allowed with ${WEBHOOK_FIELDS.join(', ')} (the key signs what is sent there)`,
      path: [secret],
    });
  }
}

function toAlertReceiver(value: AlertReceiverInput): AlertReceiver | undefined {
  const webhook: WebhookRef | undefined =
    value.webhook !== undefined
      ? { url: value.webhook }
      : value.webhookEnv !== undefined
        ? { env: value.webhookEnv }
        : value.webhookFile !== undefined
          ? { file: value.webhookFile }
          : undefined;
  if (webhook === undefined) return undefined;
  const secret =
    value.secretEnv !== undefined
      ? { env: value.secretEnv }
      : value.secretFile !== undefined
        ? { file: value.secretFile }
        : undefined;
  return secret === undefined ? { webhook } : { webhook, secret };
}

/** A partner's `alerts`: its own receiver, used instead of ferry.yaml's (not in addition to it). */
const partnerAlertsSchema = z
  .strictObject(alertReceiverFields)
  .superRefine(
    (alerts, ctx) => checkAlertReceiver(alerts, ctx, true),
    whenValid(...WEBHOOK_FIELDS, ...ALERT_SECRET_FIELDS),
  )
  .transform((alerts): AlertReceiver => toAlertReceiver(alerts)!);

// Links in alerts are followed by people in a hurry: only plain http(s) URLs, no credentials in them.
const runbookBaseUrlField = z.string().check((ctx) => {
  let url: URL | undefined;
  try {
    url = new URL(ctx.value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    ctx.issues.push({ code: 'custom', message: 'must be an http:// or https:// URL', input: ctx.value });
  } else if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    ctx.issues.push({
      code: 'custom',
      message: 'must not hold a user, password, ?query or #fragment (the runbook file name is appended)',
      input: ctx.value,
    });
  }
});

/** ferry.yaml `alerts`. `dedupMinutes` may be a fraction (0.1 = 6 s); 0 sends every occurrence. */
const alertsSchema = z
  .strictObject({
    ...alertReceiverFields,
    timeoutSeconds: z.number().positive().max(300).default(10),
    dedupMinutes: z.number().min(0).max(10080).default(60),
    runbookBaseUrl: runbookBaseUrlField.default(DEFAULT_RUNBOOK_BASE_URL),
  })
  .superRefine(
    (alerts, ctx) => checkAlertReceiver(alerts, ctx, false),
    whenValid(...WEBHOOK_FIELDS, ...ALERT_SECRET_FIELDS),
  )
  .transform(({ timeoutSeconds, dedupMinutes, runbookBaseUrl, ...fields }): AlertSettings => {
    const receiver = toAlertReceiver(fields);
    const shared = { timeoutSeconds, dedupMinutes, runbookBaseUrl };
    return receiver === undefined ? shared : { receiver, ...shared };
  });

const clockTimeField = z
  .string()
  .regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, 'must be a quoted 24-hour time "HH:MM", like "01:00"');

const weekdayField = z.enum(WEEKDAYS, { error: `must be one of ${WEEKDAYS.join(', ')}` });

const blackoutDateField = z.string().check((ctx) => {
  if (!isCalendarDate(ctx.value)) {
    ctx.issues.push({
      code: 'custom',
      input: ctx.value,
      message: 'must be a quoted calendar date "YYYY-MM-DD", like "2026-12-25"',
    });
  }
});

/** `window`: deliveries only start inside it (wall clock of the schedule's timezone). */
const windowSchema = z
  .strictObject({
    start: clockTimeField,
    end: clockTimeField,
    days: z
      .array(weekdayField)
      .min(1, 'must list at least one day (leave the field out for every day)')
      .default([...WEEKDAYS]),
    blackoutDates: z.array(blackoutDateField).default([]),
  })
  .superRefine(
    (window, ctx) => {
      if (window.start === window.end) {
        ctx.addIssue({
          code: 'custom',
          message: 'must differ from start (the window would be empty)',
          path: ['end'],
        });
      }
    },
    whenValid('start', 'end'),
  );

/** `expect`: the daily delivery SLA (wall clock of the schedule's timezone). */
const expectSchema = z.strictObject({
  by: clockTimeField,
  atLeast: z.int().min(0).default(0),
  warnBeforeMinutes: z.int().min(0).max(1439).default(30),
});

/**
 * `transform`: what is done to the bytes on the way (gzip, then OpenPGP). Keys are named by reference
 * only (a file or an environment variable); load-config reads and checks them (src/adapters/transform-stream.ts).
 */
const pgpSchema = z
  .strictObject({
    recipientKeysFile: fileRefField.optional(),
    recipientKeysEnv: envNameField.optional(),
    signingKeyFile: fileRefField.optional(),
    signingKeyEnv: envNameField.optional(),
    passphraseEnv: envNameField.optional(),
    passphraseFile: fileRefField.optional(),
    armor: z.boolean().default(false),
  })
  .superRefine(
    (pgp, ctx) => {
      const pairs = [
        ['recipientKeysEnv', 'recipientKeysFile'],
        ['signingKeyEnv', 'signingKeyFile'],
        ['passphraseEnv', 'passphraseFile'],
      ] as const;
      for (const [env, file] of pairs) {
        if (pgp[env] !== undefined && pgp[file] !== undefined) {
          ctx.addIssue({ code: 'custom', message: `set ${env} or ${file}, not both`, path: [file] });
        }
      }
      if (pgp.recipientKeysFile === undefined && pgp.recipientKeysEnv === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: "needs recipientKeysFile or recipientKeysEnv (the partner's armored public keys)",
          path: [],
        });
      }
      const signs = pgp.signingKeyFile !== undefined || pgp.signingKeyEnv !== undefined;
      for (const k of ['passphraseEnv', 'passphraseFile'] as const) {
        if (pgp[k] !== undefined && !signs) {
          ctx.addIssue({
            code: 'custom',
            message: 'only allowed with signingKeyFile or signingKeyEnv',
            path: [k],
          });
        }
      }
    },
    whenValid(
      'recipientKeysFile',
      'recipientKeysEnv',
      'signingKeyFile',
      'signingKeyEnv',
      'passphraseEnv',
      'passphraseFile',
    ),
  );

const transformSchema = z
  .strictObject({
    compress: z.enum(['none', 'gzip']).default('none'),
    // gzip level; left out = 6 (zlib's default). 1–3: 10–20 % bigger files for 2–2.5× less CPU on CSV.
    compressLevel: z.number().int().min(1).max(9).optional(),
    pgp: pgpSchema.optional(),
  })
  .superRefine((transform, ctx) => {
    if (transform.compressLevel !== undefined && transform.compress !== 'gzip') {
      ctx.addIssue({ code: 'custom', message: 'needs compress: gzip', path: ['compressLevel'] });
    }
  });

/** `after.source`: what happens to the source object once delivered (src/core/source-housekeeping.ts). */
const AFTER_SOURCE_MESSAGE = 'must be none, tag, or { move: "archive/{key}" }';
// Checked by hand rather than as a union, so a bad template is reported at its own line and column.
const afterSourceField = z
  .unknown()
  .check((ctx) => {
    const value = ctx.value;
    if (value === 'none' || value === 'tag') return;
    const move = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
    if (move === undefined || typeof move.move !== 'string') {
      ctx.issues.push({ code: 'custom', message: AFTER_SOURCE_MESSAGE, input: value });
      return;
    }
    const extras = Object.keys(move).filter((k) => k !== 'move');
    // Reported like a strictObject's extra keys: at the key, not its value.
    if (extras.length > 0) ctx.issues.push({ code: 'unrecognized_keys', keys: extras, input: move });
    const problem = checkMoveTemplate(move.move);
    if (problem === undefined) return;
    ctx.issues.push({ code: 'custom', message: problem, path: ['move'], input: value });
  })
  .transform((value) => value as SourceAfter);

const afterSchema = z.strictObject({ source: afterSourceField });

/** `validate.csv`: a partner's CSV rules (src/core/csv-validator.ts); a failing file is quarantined. */
const csvSchema = z.strictObject({
  delimiter: z
    .string()
    .refine((d) => d.length === 1 && d !== '"' && d !== '\r' && d !== '\n', {
      message: 'must be one character, not a quote or a line break',
    })
    .default(','),
  header: z.array(z.string()).min(1, 'must list at least one column name').optional(),
  minColumns: z.int().min(1).optional(),
  maxBytes: z.int().min(1).optional(),
  encoding: z.literal('utf-8').default('utf-8'),
  allowEmpty: z.boolean().default(true),
  // Cells starting with = + - @ TAB CR (numbers aside): quarantine the file, or escape them with `'`.
  // Absent = false; true = quarantine.
  neutralizeFormulas: z
    .union([z.boolean(), z.enum(['quarantine', 'escape'])], {
      error: 'must be false, true, quarantine or escape',
    })
    .transform((v) => (v === true ? 'quarantine' : v))
    .optional(),
});

/** `validate`: checks a file must pass before any byte of it reaches the partner. */
const validateSchema = z.strictObject({
  csv: csvSchema.optional(),
  // Objects up to this size are read once to validate them before the upload; larger ones are checked
  // while they stream (a failure aborts the upload and the temp file is removed, never published).
  prevalidateMaxBytes: z.int().min(0).default(268_435_456), // 256 MiB
});

/** `naming.filename`: a remote-name template (src/core/filename-template.ts), parsed at load. */
const namingSchema = z.strictObject({
  filename: z
    .string()
    .transform((source, ctx): FilenameTemplate => {
      const parsed = parseFilenameTemplate(source);
      if (parsed.ok) return parsed.template;
      ctx.addIssue({ code: 'custom', message: `${parsed.message} (at character ${parsed.index + 1})` });
      return z.NEVER;
    })
    .optional(),
  // Sidecars (src/core/sidecar-files.ts): `<hex>  <name>` checksum file, then a done/trigger file.
  checksumFile: z.enum(['none', 'sha256', 'md5']).optional(),
  doneFile: z
    .string()
    .transform((source, ctx): DoneFileTemplate => {
      const parsed = parseDoneFileTemplate(source);
      if (parsed.ok) return parsed.template;
      ctx.addIssue({ code: 'custom', message: `${parsed.message} (at character ${parsed.index + 1})` });
      return z.NEVER;
    })
    .optional(),
});

/** One partner file (partners/<name>.yaml), after ferry.yaml's `defaults` were merged in. */
export const partnerSchema = z.strictObject({
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
  source: z.strictObject({
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
  }),
  target: z
    .strictObject({
      host: nonEmptyText.refine((h) => !/\s/.test(h), 'must not contain spaces'),
      port: portField.default(22),
      username: nonEmptyText,
      hostKeys: z
        .array(hostKeyPinField, {
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
      // Left out = on (fsync@openssh.com where the server offers it); no default, so configs read back unchanged.
      fsync: z.boolean().optional(),
      maxConnections: maxConnectionsField.default(2),
      algorithms: algorithmsSchema.optional(),
      proxy: partnerProxyField.optional(),
      proxyPasswordEnv: envNameField.optional(),
      proxyPasswordFile: fileRefField.optional(),
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
    )
    .superRefine((target, ctx) => checkProxyFields(target, ctx, true), whenValid(...PROXY_FIELDS))
    .superRefine(
      (target, ctx) => {
        // Typed pins restrict the host-key algorithms; that set must not end up empty.
        const allowed = effectiveAlgorithms(target.algorithms).serverHostKey;
        if (hostKeyAlgorithmsFor(target.hostKeys, allowed).length === 0) {
          ctx.addIssue({
            code: 'custom',
            message:
              'the pinned key types allow none of the host-key algorithms in use; add the one the server needs to algorithms.serverHostKey',
            path: ['hostKeys'],
          });
        }
      },
      whenValid('hostKeys', 'algorithms'),
    )
    .transform(({ proxy, proxyPasswordEnv, proxyPasswordFile, ...target }) => {
      const out: typeof target & { proxy?: EgressProxySetting | 'direct' } = target;
      const setting = toProxySetting({ proxy, proxyPasswordEnv, proxyPasswordFile });
      if (setting !== undefined) out.proxy = setting;
      return out;
    }),
  retry: retrySchema.prefault({}),
  alerts: partnerAlertsSchema.optional(),
  window: windowSchema.optional(),
  expect: expectSchema.optional(),
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
});

/** ferry.yaml `defaults`: the partner fields a service may default. A partner's own value wins. */
export const partnerDefaultsSchema = z.strictObject({
  schedule: z.strictObject({ timezone: timezoneField.optional() }).optional(),
  // exclude and requireMarker replace (never join) a partner's own; `exclude: []` there drops the default.
  source: z
    .strictObject({
      minAgeSeconds: minAgeField.optional(),
      maxAgeDays: maxAgeField.optional(),
      identity: identityField.optional(),
      include: includeField.optional(),
      exclude: excludeField.optional(),
      requireMarker: markerField.optional(),
    })
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

/** Where a password is read at startup: an environment variable or a file (never the value). */
export interface PasswordRef {
  env?: string;
  file?: string;
}

/** One dashboard login: operators may act (retry, clean, edit), viewers only look. */
export interface DashboardLogin {
  user: string;
  password: PasswordRef;
}

export interface HttpSettings {
  host: string;
  port: number;
  /** Operator login (the original single admin); set whenever adminPassword is (defaults to "admin"). */
  adminUser?: string;
  adminPassword?: PasswordRef;
  /** Read-only login set by FERRY_VIEWER_USER/FERRY_VIEWER_PASSWORD (defaults to "viewer"). */
  viewerUser?: string;
  viewerPassword?: PasswordRef;
  /** More operator logins. */
  operators?: DashboardLogin[];
  /** More read-only logins. */
  viewers?: DashboardLogin[];
  /** The dashboard's public origins (scheme://host[:port]): their names are answered, and they may send writes. */
  trustedOrigins?: string[];
}

// Basic auth splits "user:password" at the first ":", so a user name cannot contain one.
const loginUserField = nonEmptyText.refine((u) => !u.includes(':'), 'must not contain ":"');

const loginSchema = z
  .strictObject({
    user: loginUserField,
    passwordEnv: envNameField.optional(),
    passwordFile: fileRefField.optional(),
  })
  .superRefine(
    (login, ctx) => {
      if (login.passwordEnv === undefined && login.passwordFile === undefined) {
        ctx.addIssue({ code: 'custom', message: 'needs passwordEnv or passwordFile', path: [] });
      }
      if (login.passwordEnv !== undefined && login.passwordFile !== undefined) {
        ctx.addIssue({
          code: 'custom',
          message: 'set passwordEnv or passwordFile, not both',
          path: ['passwordFile'],
        });
      }
    },
    whenValid('passwordEnv', 'passwordFile'),
  )
  .transform((login): DashboardLogin => ({
    user: login.user,
    password: login.passwordEnv !== undefined ? { env: login.passwordEnv } : { file: login.passwordFile },
  }));

const originField = z
  .string()
  .refine(
    (o) => /^https?:\/\/[^/\s]+\/?$/.test(o) && URL.canParse(o),
    'must be an origin like "https://ferry.example.com" (scheme, host and optional port; no path)',
  )
  .transform((o) => new URL(o).origin);

/** The single-login fields (admin*, viewer*): the user needs a password reference. */
function checkSingleLogin(
  http: Record<string, unknown>,
  ctx: z.core.$RefinementCtx,
  kind: 'admin' | 'viewer',
  envHint: string,
): void {
  const env = http[`${kind}PasswordEnv`];
  const file = http[`${kind}PasswordFile`];
  if (env !== undefined && file !== undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `set ${kind}PasswordEnv or ${kind}PasswordFile, not both`,
      path: [`${kind}PasswordFile`],
    });
  }
  if (http[`${kind}User`] !== undefined && env === undefined && file === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `needs ${kind}PasswordEnv or ${kind}PasswordFile (or ${envHint} in the environment)`,
      path: [`${kind}User`],
    });
  }
}

const httpSchema = z
  .strictObject({
    host: nonEmptyText.default('127.0.0.1'),
    port: z.int().min(0).max(65535).default(3000),
    adminUser: loginUserField.optional(),
    adminPasswordEnv: envNameField.optional(),
    adminPasswordFile: fileRefField.optional(),
    viewerUser: loginUserField.optional(),
    viewerPasswordEnv: envNameField.optional(),
    viewerPasswordFile: fileRefField.optional(),
    operators: z.array(loginSchema).optional(),
    viewers: z.array(loginSchema).optional(),
    trustedOrigins: z.array(originField).optional(),
  })
  .superRefine(
    (http, ctx) => checkSingleLogin(http, ctx, 'admin', 'FERRY_ADMIN_PASSWORD'),
    whenValid('adminUser', 'adminPasswordEnv', 'adminPasswordFile'),
  )
  .superRefine(
    (http, ctx) => checkSingleLogin(http, ctx, 'viewer', 'FERRY_VIEWER_PASSWORD'),
    whenValid('viewerUser', 'viewerPasswordEnv', 'viewerPasswordFile'),
  )
  .transform((input, ctx): HttpSettings => {
    const { adminPasswordEnv, adminPasswordFile, viewerPasswordEnv, viewerPasswordFile, ...rest } = input;
    const out: HttpSettings = { host: rest.host, port: rest.port };
    if (adminPasswordEnv !== undefined || adminPasswordFile !== undefined) {
      out.adminUser = rest.adminUser ?? 'admin';
      out.adminPassword =
        adminPasswordEnv !== undefined ? { env: adminPasswordEnv } : { file: adminPasswordFile };
    } else if (rest.adminUser !== undefined) {
      out.adminUser = rest.adminUser;
    }
    if (viewerPasswordEnv !== undefined || viewerPasswordFile !== undefined) {
      out.viewerUser = rest.viewerUser ?? 'viewer';
      out.viewerPassword =
        viewerPasswordEnv !== undefined ? { env: viewerPasswordEnv } : { file: viewerPasswordFile };
    } else if (rest.viewerUser !== undefined) {
      out.viewerUser = rest.viewerUser;
    }
    if (rest.operators !== undefined) out.operators = rest.operators;
    if (rest.viewers !== undefined) out.viewers = rest.viewers;
    if (rest.trustedOrigins !== undefined) out.trustedOrigins = rest.trustedOrigins;

    // One name, one role: a login listed twice would get whichever role matched first.
    const seen = new Set<string>();
    const claim = (user: string | undefined, path: (string | number)[]): void => {
      if (user === undefined) return;
      if (seen.has(user)) {
        ctx.issues.push({
          code: 'custom',
          message: 'this user name is already used by another login',
          path,
          input: user,
        });
      }
      seen.add(user);
    };
    if (out.adminPassword) claim(out.adminUser, ['adminUser']);
    if (out.viewerPassword) claim(out.viewerUser, ['viewerUser']);
    out.operators?.forEach((login, i) => claim(login.user, ['operators', i, 'user']));
    out.viewers?.forEach((login, i) => claim(login.user, ['viewers', i, 'user']));
    return out;
  });

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

/** Where Ferry's Redis is: one server (`url`) or a Redis Cluster (`cluster`: seed node URLs). */
export type RedisTarget =
  { url: string; cluster?: undefined } | { url?: undefined; cluster: readonly string[] };

/** ferry.yaml `redis`: where Redis is, and the hash-tagged prefix of every key. */
export type RedisSettings = RedisTarget & { prefix: string };

const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const REDIS_URL = /^rediss?:\/\/\S+$/;
const REDIS_URL_MESSAGE = 'must be a redis:// or rediss:// URL';

/** Why a Redis Cluster seed URL is unusable, or undefined. The message never echoes the URL (it may hold a password). */
function checkClusterNodeUrl(url: string): string | undefined {
  if (!REDIS_URL.test(url) || !URL.canParse(url)) return REDIS_URL_MESSAGE;
  const { hostname, pathname, search } = new URL(url);
  if (hostname === '') return 'must name a host, e.g. redis://10.0.0.5:6379';
  if (pathname !== '' && pathname !== '/' && pathname !== '/0') {
    return 'must not select a database: Redis Cluster has only database 0';
  }
  if (search !== '') return 'must not have ?options: set them on the cluster, not per node';
  return undefined;
}

// Ferry reaches every node the cluster reports with the first seed's scheme and credentials.
const clusterField = z
  .array(
    z.string().check((ctx) => {
      const problem = checkClusterNodeUrl(ctx.value);
      if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
    }),
  )
  .min(1, 'must list at least one seed node URL (leave the field out for a single Redis server)')
  .check((ctx) => {
    const valid = ctx.value.flatMap((url, i) => (checkClusterNodeUrl(url) === undefined ? [{ url, i }] : []));
    const access = ({ url }: { url: string }): string => {
      const u = new URL(url);
      return JSON.stringify([u.protocol, u.username, u.password]);
    };
    const first = valid[0];
    for (const node of valid.slice(1)) {
      if (first !== undefined && access(node) !== access(first)) {
        ctx.issues.push({
          code: 'custom',
          input: node.url,
          path: [node.i],
          message: `must use the same scheme, user and password as cluster[${first.i}]: every node the cluster reports is reached with them`,
        });
      }
    }
  });

const redisSchema = z
  .strictObject({
    url: z
      .string()
      .refine((u) => REDIS_URL.test(u), REDIS_URL_MESSAGE)
      .optional(),
    cluster: clusterField.optional(),
    prefix: z
      .string()
      .refine(
        (p) => /^\S*\{[^{}\s]+\}\S*$/.test(p),
        'must contain a {hash tag} so every key lands in one Redis Cluster slot, e.g. "{ferry}"',
      )
      .default('{ferry}'),
  })
  .superRefine(
    (redis, ctx) => {
      if (redis.url !== undefined && redis.cluster !== undefined) {
        ctx.addIssue({
          code: 'custom',
          message:
            'set url (one Redis server, env REDIS_URL) or cluster (Redis Cluster seed nodes, env FERRY_REDIS_CLUSTER), not both',
          path: ['cluster'],
        });
      }
    },
    whenValid('url', 'cluster'),
  )
  .transform(({ url, cluster, prefix }): RedisSettings =>
    cluster !== undefined ? { cluster, prefix } : { url: url ?? DEFAULT_REDIS_URL, prefix },
  );

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
      concurrency: z.int().min(1).max(1024).default(4),
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

export type PartnerConfig = z.output<typeof partnerSchema>;
export type SecretAuth = z.output<typeof authSchema>;
export type TransformConfig = z.output<typeof transformSchema>;
export type PgpConfig = z.output<typeof pgpSchema>;
export type CsvValidationConfig = z.output<typeof csvSchema>;
export type ServiceConfig = z.output<typeof serviceSchema>;
export type PartnerDefaults = z.output<typeof partnerDefaultsSchema>;
export type LogLevel = (typeof LOG_LEVELS)[number];
