// ferry.yaml `http`: the dashboard listener and its logins (operators act, viewers only look).
import { z } from 'zod';
import { envNameField, fileRefField, nonEmptyText, whenValid, type PasswordRef } from './fields.js';

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
  /** POST /api/events/s3 (S3 and EventBridge object events); absent: the endpoint answers 404. */
  events?: EventsSettings;
}

/** ferry.yaml `http.events`: the event endpoint's own credential (role `events`), never a dashboard login. */
export interface EventsSettings {
  /** The shared token, sent as `Authorization: Bearer <token>` or in `header`. */
  token: PasswordRef;
  /** The API-key header that may carry the token instead of Authorization (lower-cased). */
  header: string;
  /** Largest body accepted (bytes); larger ones are refused with 413 before they are read. */
  maxBodyBytes: number;
  /** `verify`: an SNS message whose signature does not verify is refused (403) before it is acted on. */
  snsSignatures: 'verify' | 'off';
}

export const DEFAULT_EVENTS_HEADER = 'x-ferry-events-key';

// An HTTP header name (RFC 9110 token); Authorization and the browser's own headers are not API keys.
const headerNameField = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be an HTTP header name like X-Ferry-Events-Key')
  .refine(
    (h) => !['authorization', 'cookie', 'host', 'origin', 'content-type'].includes(h.toLowerCase()),
    'must be a header of its own (not Authorization, Cookie, Host, Origin or Content-Type)',
  )
  .transform((h) => h.toLowerCase());

const eventsSchema = z
  .strictObject({
    tokenEnv: envNameField.optional(),
    tokenFile: fileRefField.optional(),
    header: headerNameField.default(DEFAULT_EVENTS_HEADER),
    maxBodyBytes: z
      .int()
      .min(1024, 'must be at least 1024')
      .max(16 * 1024 * 1024, 'must be at most 16777216 (16 MiB)')
      .default(1024 * 1024),
    snsSignatures: z.enum(['verify', 'off'], { error: 'must be verify or off' }).default('verify'),
  })
  .superRefine(
    (events, ctx) => {
      if (events.tokenEnv === undefined && events.tokenFile === undefined) {
        ctx.addIssue({ code: 'custom', message: 'needs tokenEnv or tokenFile', path: [] });
      }
      if (events.tokenEnv !== undefined && events.tokenFile !== undefined) {
        ctx.addIssue({ code: 'custom', message: 'set tokenEnv or tokenFile, not both', path: ['tokenFile'] });
      }
    },
    whenValid('tokenEnv', 'tokenFile'),
  )
  .transform((events): EventsSettings => ({
    token: events.tokenEnv !== undefined ? { env: events.tokenEnv } : { file: events.tokenFile },
    header: events.header,
    maxBodyBytes: events.maxBodyBytes,
    snsSignatures: events.snsSignatures,
  }));

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

export const httpSchema = z
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
    events: eventsSchema.optional(),
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
    if (rest.events !== undefined) out.events = rest.events;

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
