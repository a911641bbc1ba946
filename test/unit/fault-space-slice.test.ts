import { describe, expect, it } from 'vitest';
import { FAILPOINTS } from '../../src/failpoints.js';
import {
  ACTIONS,
  BEHAVIOURS,
  caseName,
  ciSlice,
  enumerateFaultSpace,
  ON_EXISTING,
  PUBLISH_MODES,
  SHARED_SESSION,
  START_STATES,
  type SingleCase,
} from '../support/fault-space-cases.js';

describe('the fault space', () => {
  it('names every case once', () => {
    const names = enumerateFaultSpace().map(caseName);
    expect(new Set(names).size).toBe(names.length);
  });

  it('holds every failpoint × action, and each once without a failpoint, for every setting', () => {
    const singles = enumerateFaultSpace().filter(
      (c): c is SingleCase => c.kind === 'single' && c.bystander === undefined,
    );
    const settings = PUBLISH_MODES.length * ON_EXISTING.length * START_STATES.length * 2 * BEHAVIOURS.length;
    expect(singles).toHaveLength((FAILPOINTS.length * ACTIONS.length + 1) * settings);
  });

  it('shares the session in every failpoint × action × publish mode × sidecars × behaviour, on one start', () => {
    const shared = enumerateFaultSpace().filter(
      (c): c is SingleCase => c.kind === 'single' && c.bystander === true,
    );
    expect(shared).toHaveLength(
      FAILPOINTS.length * ACTIONS.length * PUBLISH_MODES.length * 2 * BEHAVIOURS.length,
    );
    for (const c of shared) {
      expect(c.failpoint).not.toBe('none');
      expect({ onExisting: c.onExisting, start: c.start }).toEqual(SHARED_SESSION);
    }
  });
});

describe('the CI slice', () => {
  const slice = ciSlice();
  const singles = slice.filter((c): c is SingleCase => c.kind === 'single');

  it('covers every failpoint with both actions', () => {
    for (const failpoint of FAILPOINTS) {
      for (const action of ACTIONS) {
        expect(
          singles.some((c) => c.failpoint === failpoint && c.action === action),
          `${failpoint}=${action}`,
        ).toBe(true);
      }
    }
  });

  it('covers every starting state × onExisting × publish mode', () => {
    for (const start of START_STATES) {
      for (const onExisting of ON_EXISTING) {
        for (const publish of PUBLISH_MODES) {
          const covered = singles.some(
            (c) => c.start === start && c.onExisting === onExisting && c.publish === publish,
          );
          expect(covered, `${publish}/${onExisting}/${start}`).toBe(true);
        }
      }
    }
  });

  it('covers both behaviours, both sidecar settings and both two-versions orders', () => {
    expect(new Set(singles.map((c) => c.behaviour))).toEqual(new Set(BEHAVIOURS));
    expect(new Set(singles.map((c) => c.sidecars))).toEqual(new Set([false, true]));
    const orders = slice.flatMap((c) => (c.kind === 'two-versions' ? [c.order] : []));
    expect(new Set(orders)).toEqual(new Set(['v2-first', 'v1-first']));
  });

  it('shares a session under both actions, every publish mode, both behaviours and sidecar settings', () => {
    const shared = singles.filter((c) => c.bystander === true);
    expect(shared.length).toBeGreaterThan(0);
    expect(new Set(shared.map((c) => c.action))).toEqual(new Set(ACTIONS));
    expect(new Set(shared.map((c) => c.publish))).toEqual(new Set(PUBLISH_MODES));
    expect(new Set(shared.map((c) => c.behaviour))).toEqual(new Set(BEHAVIOURS));
    expect(new Set(shared.map((c) => c.sidecars))).toEqual(new Set([false, true]));
  });

  it('is a strict subset of the whole space', () => {
    const space = new Set(enumerateFaultSpace().map(caseName));
    for (const c of slice) expect(space.has(caseName(c)), caseName(c)).toBe(true);
    expect(slice.length).toBeLessThan(space.size);
  });
});
