// A partner's `target`: the SFTP server, its pinned host keys, how Ferry logs in and how files are published.
import { posix } from 'node:path';
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
} from '../../core/ssh-algorithms.js';
import {
  PROXY_FIELDS,
  checkProxyFields,
  partnerProxyField,
  toProxySetting,
  type EgressProxySetting,
} from './egress-proxy.js';
import { parseByteRate } from '../../core/byte-rate.js';
import { CONTROL_CHARS, envNameField, fileRefField, nonEmptyText, whenValid } from './fields.js';

const FILE_MODE = /^0?[0-7]{3}$/;
const FILE_MODE_MESSAGE = 'must be a quoted octal string like "0640"';

/** "/inbound//x/" → "/inbound/x"; "/" stays "/". Assumes the path was already checked for "..". */
export function normaliseRemoteDirectory(dir: string): string {
  const normal = posix.normalize(dir);
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
}

const portField = z.int().min(1).max(65535);

const fileModeField = z
  .string({ error: (iss) => (iss.input === undefined ? undefined : FILE_MODE_MESSAGE) })
  .regex(FILE_MODE, FILE_MODE_MESSAGE)
  .transform((v) => parseInt(v, 8))
  .refine((mode) => (mode & 0o002) === 0, 'must not be world-writable (o+w); use e.g. "0640"');

const publishField = z.enum(['rename', 'direct']);
const onExistingField = z.enum(['fail', 'overwrite', 'skip']);
const maxConnectionsField = z.int().min(1).max(64);
// Deliveries one connection carries at once; OpenSSH's sftp-server takes their requests one by one.
const maxFilesInFlightField = z.int().min(1).max(64);

/** `maxBytesPerSecond`: `4MB`, `512KiB`, `10Mbit` or a number of bytes per second (src/core/byte-rate.ts). */
export const byteRateField = z.union([z.number(), z.string()]).transform((value, ctx): number => {
  const parsed = parseByteRate(value);
  if (parsed.ok) return parsed.bytesPerSecond;
  ctx.addIssue({ code: 'custom', message: parsed.message });
  return z.NEVER;
});

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

/** `target`: the partner's SFTP server and how files land there. */
export const targetSchema = z
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
    maxFilesInFlight: maxFilesInFlightField.default(4),
    // Left out = uncapped: the partner's deliveries together, across every worker process and host.
    maxBytesPerSecond: byteRateField.optional(),
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
  });

/** ferry.yaml `defaults.target`. */
export const targetDefaultsSchema = z.strictObject({
  port: portField.optional(),
  fileMode: fileModeField.optional(),
  publish: publishField.optional(),
  onExisting: onExistingField.optional(),
  maxConnections: maxConnectionsField.optional(),
  maxFilesInFlight: maxFilesInFlightField.optional(),
  // Not a default copied to each partner: one cap on all partners' deliveries together (a shared uplink).
  maxBytesPerSecond: byteRateField.optional(),
});

export type SecretAuth = z.output<typeof authSchema>;
