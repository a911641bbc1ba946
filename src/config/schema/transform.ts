// A partner's `transform`: gzip, then OpenPGP, on the way to the partner.
import { z } from 'zod';
import { envNameField, fileRefField, whenValid } from './fields.js';

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

export const transformSchema = z
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

export type TransformConfig = z.output<typeof transformSchema>;
export type PgpConfig = z.output<typeof pgpSchema>;
