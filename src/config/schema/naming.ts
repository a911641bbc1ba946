// A partner's `naming`: the remote file name template and the sidecar files written beside it.
import { z } from 'zod';
import { parseFilenameTemplate, type FilenameTemplate } from '../../core/filename-template.js';
import { parseDoneFileTemplate, type DoneFileTemplate } from '../../core/sidecar-files.js';

/** `naming.filename`: a remote-name template (src/core/filename-template.ts), parsed at load. */
export const namingSchema = z.strictObject({
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
