// `ferry iam-policy`: the least-privilege AWS IAM identity policy for the configured partners.
import type { FerryConfig } from '../config/load-config.js';
import { formatProblem, loadConfig } from '../config/load-config.js';
import { moveTargetPrefix } from '../core/source-housekeeping.js';
import { manifestKeyPrefix } from '../core/manifest-plan.js';

export interface IamStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string | string[];
  Resource: string | string[];
  Condition?: { StringLike: { 's3:prefix': string[] } };
}

export interface IamPolicy {
  Version: '2012-10-17';
  Statement: IamStatement[];
}

/**
 * The S3 permissions Ferry uses and nothing more, for every enabled partner (each grant is checked
 * against the requests Ferry really makes in test/integration/iam-policy-coverage.test.ts):
 * - `s3:ListBucket` on each source bucket, only for the partners' prefixes (`s3:prefix` condition);
 * - `s3:GetObject` on `<bucket>/<prefix>*` of each partner (reads pin the version with If-Match, which
 *   needs no extra permission);
 * - `s3:PutObject` on `<bucket>/<prefix>*` of each partner that takes uploads (`POST /api/upload`: an
 *   enabled partner without `source.requireMarker`, src/core/upload-name.ts); none of them, no statement;
 * - `s3:PutObject` on `<receipts bucket>/<receipts prefix><partner>/*` (a delivery writes its receipt),
 *   and on `<receipts prefix>_manifests/<partner>/*` for a partner with `manifest:` (its control files);
 * - `s3:GetObject` on `<receipts bucket>/<receipts prefix>*` and `s3:ListBucket` with `s3:prefix`
 *   `<receipts prefix>*`: the ledger rebuild (src/ledger/ledger-trust.ts) lists the whole receipts prefix
 *   and restores every receipt, those of partners disabled or removed since included, so that one
 *   re-enabled later is never sent again what it already has; the listing grant also makes a missing
 *   receipt answer 404, not 403 (S3 evaluates that implicit check with the key as `s3:prefix`).
 * - only for partners with `after.source` (src/core/source-housekeeping.ts): `tag` adds
 *   `s3:GetObjectTagging` + `s3:PutObjectTagging` on its exports; a `move` adds `s3:DeleteObject` (and
 *   `s3:GetObjectTagging`, which CopyObject needs to carry the tags along) on its exports, and
 *   `s3:PutObject` + `s3:PutObjectTagging` on the archive prefix (the template's text before its first token).
 * Otherwise no delete, no tagging, no wildcard actions, no `Resource: "*"`. A prefix of "" (the whole
 * bucket) gets an unconditioned ListBucket on that bucket, since nothing narrower would work.
 * `*`, `?` and `$` in prefixes are written as IAM's `${*}`, `${?}`, `${$}` so they match literally.
 */
export function buildIamPolicy(config: FerryConfig): IamPolicy {
  const partners = [...config.partners.values()]
    .filter((p) => p.enabled)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const { bucket: receiptsBucket, prefix: rawReceiptsPrefix } = config.service.receipts;
  // Same normalisation as the receipt store: a non-empty prefix always ends with "/".
  const receiptsPrefix =
    rawReceiptsPrefix === '' || rawReceiptsPrefix.endsWith('/') ? rawReceiptsPrefix : `${rawReceiptsPrefix}/`;

  // bucket → prefixes that may be listed ("" = the whole bucket).
  const listable = new Map<string, Set<string>>();
  const addListable = (bucket: string, prefix: string): void => {
    const prefixes = listable.get(bucket) ?? new Set<string>();
    prefixes.add(prefix);
    listable.set(bucket, prefixes);
  };
  const readable = new Set<string>();
  const uploadable = new Set<string>();
  const receipts = new Set<string>();
  const tagged = new Set<string>();
  const deleted = new Set<string>();
  const archives = new Set<string>();
  for (const p of partners) {
    const after = p.after?.source;
    if (after === 'tag') tagged.add(objectArn(p.source.bucket, p.source.prefix));
    if (typeof after === 'object') {
      deleted.add(objectArn(p.source.bucket, p.source.prefix));
      archives.add(objectArn(p.source.bucket, moveTargetPrefix(after.move)));
    }
    // A dated prefix's `prefix` is its static part: every partition, past and future, is under it.
    addListable(p.source.bucket, p.source.prefix);
    readable.add(objectArn(p.source.bucket, p.source.prefix));
    if (p.source.requireMarker === undefined) uploadable.add(objectArn(p.source.bucket, p.source.prefix));
    receipts.add(objectArn(receiptsBucket, `${receiptsPrefix}${p.id}/`));
    // manifest: its bytes are written beside the receipts before it is delivered (read back by the receipts grant).
    if (p.manifest !== undefined) {
      receipts.add(objectArn(receiptsBucket, manifestKeyPrefix(receiptsPrefix, p.id)));
    }
  }
  // Every worker's ledger rebuild lists and reads all receipts, whichever partners are enabled.
  addListable(receiptsBucket, receiptsPrefix);

  const statements: IamStatement[] = [];
  [...listable.keys()].sort().forEach((bucket, i) => {
    const prefixes = [...listable.get(bucket)!].sort();
    const sid = `ListConfiguredPrefixes${i + 1}`;
    if (prefixes.includes('')) {
      statements.push({ Sid: sid, Effect: 'Allow', Action: 's3:ListBucket', Resource: bucketArn(bucket) });
      return;
    }
    statements.push({
      Sid: sid,
      Effect: 'Allow',
      Action: 's3:ListBucket',
      Resource: bucketArn(bucket),
      Condition: { StringLike: { 's3:prefix': prefixes.map((prefix) => `${escapeIam(prefix)}*`) } },
    });
  });
  if (readable.size > 0) {
    statements.push({
      Sid: 'ReadPartnerExports',
      Effect: 'Allow',
      Action: 's3:GetObject',
      Resource: [...readable].sort(),
    });
  }
  if (uploadable.size > 0) {
    statements.push({
      Sid: 'UploadToPartnerPrefixes',
      Effect: 'Allow',
      Action: 's3:PutObject',
      Resource: [...uploadable].sort(),
    });
  }
  statements.push({
    Sid: 'ReadAllReceipts',
    Effect: 'Allow',
    Action: 's3:GetObject',
    Resource: [objectArn(receiptsBucket, receiptsPrefix)],
  });
  if (receipts.size > 0) {
    statements.push({
      Sid: 'WritePartnerReceipts',
      Effect: 'Allow',
      Action: 's3:PutObject',
      Resource: [...receipts].sort(),
    });
  }
  if (tagged.size > 0) {
    statements.push({
      Sid: 'TagDeliveredExports',
      Effect: 'Allow',
      Action: ['s3:GetObjectTagging', 's3:PutObjectTagging'],
      Resource: [...tagged].sort(),
    });
  }
  if (deleted.size > 0) {
    statements.push({
      Sid: 'MoveDeliveredExports',
      Effect: 'Allow',
      Action: ['s3:DeleteObject', 's3:GetObjectTagging'],
      Resource: [...deleted].sort(),
    });
    statements.push({
      Sid: 'WriteArchivedExports',
      Effect: 'Allow',
      Action: ['s3:PutObject', 's3:PutObjectTagging'],
      Resource: [...archives].sort(),
    });
  }
  return { Version: '2012-10-17', Statement: statements };
}

/** `ferry iam-policy [--config DIR]`: prints the policy JSON (exit 0), or the config problems (exit 1). */
export async function runIamPolicy(
  dir: string,
  env: NodeJS.ProcessEnv,
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number> {
  const result = await loadConfig(dir, env);
  if (!result.ok) {
    for (const problem of result.problems) err(formatProblem(problem));
    return 1;
  }
  out(JSON.stringify(buildIamPolicy(result.config), null, 2));
  return 0;
}

function bucketArn(bucket: string): string {
  return `arn:aws:s3:::${bucket}`;
}

function objectArn(bucket: string, prefix: string): string {
  return `arn:aws:s3:::${bucket}/${escapeIam(prefix)}*`;
}

// IAM reads * and ? in resources and conditions as wildcards; ${*} ${?} ${$} are the literal characters.
function escapeIam(text: string): string {
  return text.replace(/[*?$]/g, (c) => `\${${c}}`);
}
