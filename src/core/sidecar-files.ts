// `naming.checksumFile` / `naming.doneFile`: small files published next to the data file, after it
// (checksum first, done/trigger file last, so a partner that waits for the done file sees a complete
// set). Names and contents derive only from the data file's final name and its digest (sha256, or md5
// when asked), all fixed once the publish intent is recorded; which members are published is the
// ledger's record (src/core/publish-protocol.ts nextSidecarStep), never the partner's file sizes.
import { scanTemplate, templateFailure, type TemplateFailure } from './template-text.js';
import { deriveRemoteName } from './remote-name.js';

/** `naming.checksumFile`: which digest of the delivered bytes the checksum file holds. */
export type ChecksumFileKind = 'none' | 'sha256' | 'md5';
/** Hex digests of the delivered bytes; md5 only when the writer was asked for it. */
export interface DeliveredDigests {
  sha256?: string;
  md5?: string;
}
export type SidecarKind = 'checksum' | 'done';

/** A parsed `naming.doneFile` template: literal text around `{filename}` tokens. */
export interface DoneFileTemplate {
  source: string;
  parts: readonly (string | { token: 'filename' })[];
}

export interface SidecarNaming {
  checksumFile?: ChecksumFileKind;
  doneFile?: DoneFileTemplate;
}

/** One member of the set besides the data file, in publish order. */
export interface Sidecar {
  kind: SidecarKind;
  name: string;
  content: string;
}

export type ParseDoneFileResult = { ok: true; template: DoneFileTemplate } | TemplateFailure;

/**
 * Parses `naming.doneFile`: `{filename}` is the data file's final name, `{{`/`}}` are literal
 * braces. It must contain `{filename}` (one done file per data file) and add something to it (the
 * done file must not take the data file's name). Never throws; `index` is the offending character.
 */
export function parseDoneFileTemplate(source: string): ParseDoneFileResult {
  const scanned = scanTemplate(source, (token, at) =>
    token === 'filename'
      ? ({ kind: 'filename' } as const)
      : templateFailure(`unknown token {${token}} (tokens: filename)`, at),
  );
  if (!scanned.ok) return scanned;
  const parts = scanned.segments.map((s) => (s.kind === 'text' ? s.text : { token: 'filename' as const }));
  if (!parts.some((p) => typeof p !== 'string')) {
    return {
      ok: false,
      message: 'has no {filename} token: every data file would share one done file',
      index: 0,
    };
  }
  if (!parts.some((p) => typeof p === 'string')) {
    return {
      ok: false,
      message: "is only {filename}: the done file would take the data file's name",
      index: 0,
    };
  }
  // The literal text must itself be safe in a name (e.g. no "/" or control characters).
  const sample = renderDoneFile({ source, parts }, 'data.csv');
  const checked = deriveRemoteName(sample, '');
  if (!checked.ok) return { ok: false, message: `renders unsafe names (${checked.reason})`, index: 0 };
  return { ok: true, template: { source, parts } };
}

/** The name a `{filename}` template gives for the data file `dataName`. */
export function renderDoneFile(template: DoneFileTemplate, dataName: string): string {
  return template.parts.map((p) => (typeof p === 'string' ? p : dataName)).join('');
}

/** The checksum sidecar's text, the format `sha256sum -c` / `md5sum -c` read: `<hex>  <filename>\n`. */
export function checksumFileContent(hex: string, dataName: string): string {
  return `${hex}  ${dataName}\n`;
}

/**
 * The digest the partner's checksum file needs that `digests` lacks, if any: a publish intent
 * recorded before `checksumFile: md5` was configured holds no md5, and the bytes are not re-read.
 */
export function missingDigest(
  naming: SidecarNaming | undefined,
  digests: DeliveredDigests,
): 'sha256' | 'md5' | undefined {
  const kind = naming?.checksumFile;
  if (kind === undefined || kind === 'none') return undefined;
  return digests[kind] ? undefined : kind;
}

/**
 * The sidecars of one data file, in publish order (checksum, then done). Each name passes the same
 * safe-name rules as the data file's (src/core/remote-name.ts); a name that breaks one (e.g. longer
 * than 255 bytes once suffixed) is returned as a rejection, before anything is uploaded. The done
 * file is empty: its presence is the signal. Without the checksum's digest (`{}`: names only, as
 * the checks before an upload need) the checksum file's content is empty.
 */
export function planSidecars(
  naming: SidecarNaming | undefined,
  dataName: string,
  digests: DeliveredDigests,
): { ok: true; sidecars: Sidecar[] } | { ok: false; reason: string } {
  const sidecars: Sidecar[] = [];
  const kind = naming?.checksumFile;
  if (kind === 'sha256' || kind === 'md5') {
    const hex = digests[kind];
    sidecars.push({
      kind: 'checksum',
      name: `${dataName}.${kind}`,
      content: hex ? checksumFileContent(hex, dataName) : '',
    });
  }
  if (naming?.doneFile) {
    sidecars.push({ kind: 'done', name: renderDoneFile(naming.doneFile, dataName), content: '' });
  }
  for (const s of sidecars) {
    const checked = deriveRemoteName(s.name, '');
    if (!checked.ok) return { ok: false, reason: `${s.kind} file name: ${checked.reason}` };
    if (s.name === dataName) return { ok: false, reason: `${s.kind} file name equals the data file's` };
  }
  return { ok: true, sidecars };
}

/** The byte size a sidecar has on the partner once written. */
export function sidecarSize(sidecar: Sidecar): number {
  return Buffer.byteLength(sidecar.content, 'utf8');
}
