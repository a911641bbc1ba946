// What happens to a source object after its deliveries (`after.source`): pure decisions only. The S3
// calls live in src/adapters/s3-source.ts, the step that runs them in jobs/source-housekeeping.ts.
import { posix } from 'node:path';
import type { IdentityMode } from './delivery-id.js';
import { selectObjects, type SelectionRules } from './select-objects.js';

/** `after.source` as configured: leave the object, tag it per partner, or move it once every partner has it. */
export type SourceAfter = 'none' | 'tag' | { move: string };

/** The partner fields housekeeping reads (PartnerConfig fits). */
export interface HousekeepingPartner {
  id: string;
  enabled: boolean;
  source: SelectionRules & { bucket: string; identity?: IdentityMode | undefined };
  after?: { source: SourceAfter } | undefined;
}

/** S3 allows at most 10 tags on an object. */
export const MAX_OBJECT_TAGS = 10;
const TOKENS = ['{key}', '{name}'];

/** The tag a delivered partner leaves on the object: `ferry-delivered-<partnerId>`. */
export function deliveredTagKey(partnerId: string): string {
  return `ferry-delivered-${partnerId}`;
}

export interface ObjectTag {
  Key: string;
  Value: string;
}

/**
 * The object's tag set with `key=value` added, keeping every existing tag. `unchanged` when the key is
 * already there (whatever its value: the step is idempotent), `full` when S3's 10-tag limit leaves no room.
 */
export function mergeTag(
  existing: readonly ObjectTag[],
  key: string,
  value: string,
): { kind: 'unchanged' } | { kind: 'full' } | { kind: 'put'; tags: ObjectTag[] } {
  if (existing.some((t) => t.Key === key)) return { kind: 'unchanged' };
  if (existing.length >= MAX_OBJECT_TAGS) return { kind: 'full' };
  return { kind: 'put', tags: [...existing, { Key: key, Value: value }] };
}

/** Why a move template is unusable, or undefined. Tokens: `{key}` (the full key), `{name}` (its last segment). */
export function checkMoveTemplate(template: string): string | undefined {
  const unknown = template.replace(/\{key\}|\{name\}/g, '').match(/[{}]/);
  if (unknown) return 'may only use the tokens {key} and {name}';
  if (!TOKENS.some((t) => template.includes(t))) {
    return 'must contain {key} or {name} (a fixed key would overwrite one archived object with the next)';
  }
  if (template.startsWith('/')) return 'must not start with "/" (it is an S3 key in the source bucket)';
  if (template.split('/').includes('..')) return 'must not contain ".." segments';
  return undefined;
}

/** The key an object is moved to, or undefined when the rendered key is unsafe (a `..` segment, empty, leading "/"). */
export function renderMoveTarget(template: string, key: string): string | undefined {
  const rendered = template.replace(/\{key\}|\{name\}/g, (token) =>
    token === '{key}' ? key : posix.basename(key),
  );
  if (rendered === '' || rendered === key || rendered.startsWith('/')) return undefined;
  if (rendered.split('/').includes('..')) return undefined;
  return rendered;
}

/** The text every rendered key starts with: the template up to its first token (IAM's archive prefix). */
export function moveTargetPrefix(template: string): string {
  const at = Math.min(...TOKENS.map((t) => template.indexOf(t)).filter((i) => i >= 0));
  return template.slice(0, at);
}

/**
 * The partners (enabled or not) a move of `mover`'s objects could drop an object in front of: those on
 * the same bucket whose prefix a rendered key can start with. The object would be delivered again.
 */
export function moveTargetConflicts(
  mover: HousekeepingPartner,
  all: readonly HousekeepingPartner[],
): string[] {
  const after = mover.after?.source;
  if (after === undefined || typeof after === 'string') return [];
  const fixed = moveTargetPrefix(after.move);
  return all
    .filter(
      (p) =>
        p.source.bucket === mover.source.bucket &&
        (fixed.startsWith(p.source.prefix) || p.source.prefix.startsWith(fixed)),
    )
    .map((p) => p.id);
}

/**
 * The enabled partners whose source (bucket, prefix, include, exclude) selects the object, ignoring
 * the settle age and markers (both only delay a delivery). Sorted by id.
 */
export function partnersSelecting(
  partners: Iterable<HousekeepingPartner>,
  object: { bucket: string; key: string; etag: string; size: number },
): HousekeepingPartner[] {
  const listed = { ...object, lastModified: new Date(0) };
  const now = new Date(0);
  const out: HousekeepingPartner[] = [];
  for (const p of partners) {
    if (!p.enabled || p.source.bucket !== object.bucket) continue;
    const { requireMarker: _marker, ...rules } = p.source;
    const selected = selectObjects([listed], { ...rules, minAgeSeconds: 0 }, now).eligible.length === 1;
    if (selected) out.push(p);
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export type MoveDecision =
  | { kind: 'none' }
  | { kind: 'wait'; pending: string[] }
  | { kind: 'conflict'; templates: string[] }
  | { kind: 'move'; template: string };

/**
 * Whether the object should move now: only when a partner selecting it asks for a move, every partner
 * selecting it has it delivered, and they agree on one target template.
 */
export function decideMove(
  selecting: readonly HousekeepingPartner[],
  delivered: ReadonlySet<string>,
): MoveDecision {
  const templates = [
    ...new Set(
      selecting.flatMap((p) => {
        const after = p.after?.source;
        return after !== undefined && typeof after === 'object' ? [after.move] : [];
      }),
    ),
  ];
  if (templates.length === 0) return { kind: 'none' };
  const pending = selecting.filter((p) => !delivered.has(p.id)).map((p) => p.id);
  if (pending.length > 0) return { kind: 'wait', pending };
  if (templates.length > 1) return { kind: 'conflict', templates: templates.sort() };
  return { kind: 'move', template: templates[0]! };
}
