import { describe, expect, it } from 'vitest';
import {
  checkMoveTemplate,
  decideMove,
  deliveredTagKey,
  mergeTag,
  moveTargetConflicts,
  partnersSelecting,
  renderMoveTarget,
  type HousekeepingPartner,
  type SourceAfter,
} from '../../../src/core/source-housekeeping.js';

function partner(
  id: string,
  prefix: string,
  after: SourceAfter = 'none',
  more: Partial<HousekeepingPartner['source']> & { enabled?: boolean } = {},
): HousekeepingPartner {
  const { enabled = true, ...source } = more;
  return {
    id,
    enabled,
    source: { bucket: 'exports', prefix, include: ['*'], minAgeSeconds: 30, ...source },
    after: { source: after },
  };
}

const object = (key: string) => ({ bucket: 'exports', key, etag: 'e1', size: 10 });

describe('mergeTag', () => {
  const tag = (k: string) => ({ Key: k, Value: 'v' });

  it('adds the delivered tag and keeps the existing ones', () => {
    expect(mergeTag([tag('owner')], deliveredTagKey('acme'), '2026-01-02T03:04:05.000Z')).toEqual({
      kind: 'put',
      tags: [tag('owner'), { Key: 'ferry-delivered-acme', Value: '2026-01-02T03:04:05.000Z' }],
    });
  });

  it('leaves a tag set that already has the key unchanged (idempotent)', () => {
    expect(mergeTag([tag('ferry-delivered-acme')], 'ferry-delivered-acme', 'later')).toEqual({
      kind: 'unchanged',
    });
  });

  it('reports a full tag set instead of dropping a tag', () => {
    const ten = Array.from({ length: 10 }, (_, i) => tag(`t${i}`));
    expect(mergeTag(ten, 'ferry-delivered-acme', 'x')).toEqual({ kind: 'full' });
  });
});

describe('move templates', () => {
  it.each([
    ['archive/{key}', undefined],
    ['done/{name}', undefined],
    ['archive/{date}/{key}', 'may only use the tokens {key} and {name}'],
    [
      'archive/',
      'must contain {key} or {name} (a fixed key would overwrite one archived object with the next)',
    ],
    ['/archive/{key}', 'must not start with "/" (it is an S3 key in the source bucket)'],
    ['../{key}', 'must not contain ".." segments'],
  ])('checks %s', (template, problem) => {
    expect(checkMoveTemplate(template)).toBe(problem);
  });

  it('renders {key} and {name}', () => {
    expect(renderMoveTarget('archive/{key}', 'acme/2026/a.csv')).toBe('archive/acme/2026/a.csv');
    expect(renderMoveTarget('done/{name}', 'acme/2026/a.csv')).toBe('done/a.csv');
  });

  it('refuses a rendered key with a ".." segment or equal to the key', () => {
    expect(renderMoveTarget('archive/{key}', 'acme/../x.csv')).toBeUndefined();
    expect(renderMoveTarget('archive/{name}', 'acme/..')).toBeUndefined();
    expect(renderMoveTarget('{key}', 'acme/a.csv')).toBeUndefined();
  });

  it('finds partners whose prefix a moved object could land in', () => {
    const mover = partner('acme', 'acme/', { move: 'archive/{key}' });
    const all = [mover, partner('globex', 'globex/'), partner('arch', 'archive/acme/')];
    expect(moveTargetConflicts(mover, all)).toEqual(['arch']);
    expect(moveTargetConflicts(partner('inner', 'acme/', { move: 'acme/done/{name}' }), all)).toEqual([
      'acme',
    ]);
    expect(moveTargetConflicts(partner('x', 'acme/', { move: '{key}.done' }), all)).toEqual([
      'acme',
      'globex',
      'arch',
    ]);
    expect(moveTargetConflicts(partner('t', 'acme/', 'tag'), all)).toEqual([]);
  });
});

describe('partnersSelecting', () => {
  it('returns the enabled partners whose bucket, prefix, include and exclude select the key', () => {
    const all = [
      partner('b', 'shared/', 'none', { include: ['*.csv'] }),
      partner('a', 'shared/'),
      partner('c', 'shared/', 'none', { exclude: ['*.csv'] }),
      partner('d', 'other/'),
      partner('e', 'shared/', 'none', { enabled: false }),
      partner('f', 'shared/', 'none', { bucket: 'elsewhere' }),
      partner('g', 'shared/', 'none', { requireMarker: '_SUCCESS', minAgeSeconds: 99999 }),
    ];
    expect(partnersSelecting(all, object('shared/x.csv')).map((p) => p.id)).toEqual(['a', 'b', 'g']);
    expect(partnersSelecting(all, object('shared/x.txt')).map((p) => p.id)).toEqual(['a', 'c', 'g']);
  });
});

describe('decideMove', () => {
  const mover = partner('a', 'shared/', { move: 'archive/{key}' });
  const other = partner('b', 'shared/');

  it('does nothing when no selecting partner moves', () => {
    expect(decideMove([other], new Set(['b']))).toEqual({ kind: 'none' });
  });

  it('waits until every selecting partner has it delivered, whoever finishes last', () => {
    expect(decideMove([mover, other], new Set(['a']))).toEqual({ kind: 'wait', pending: ['b'] });
    expect(decideMove([mover, other], new Set(['b']))).toEqual({ kind: 'wait', pending: ['a'] });
    expect(decideMove([mover, other], new Set(['a', 'b']))).toEqual({
      kind: 'move',
      template: 'archive/{key}',
    });
  });

  it('refuses to pick between two different targets', () => {
    const second = partner('b', 'shared/', { move: 'done/{key}' });
    expect(decideMove([mover, second], new Set(['a', 'b']))).toEqual({
      kind: 'conflict',
      templates: ['archive/{key}', 'done/{key}'],
    });
  });
});
