// The fault-space explorer's space, as data (issue 11): every combination a case is made of, the
// names cases are reported under, and the fixed slice CI runs. The runner is fault-space.ts. Shared
// session (`+shared-session`, issue 14): a bystander delivery on the same SFTP connection at the fault,
// on the sub-product every failpoint × action × publish × sidecars × behaviour.
import { FAILPOINTS, type FailpointName } from '../../src/failpoints.js';

export type FaultAction = 'throw:1' | 'crash:1';
export type StartState = 'empty' | 'same-size' | 'other-size' | 'temp-leftover';
export type Behaviour = 'leaves' | 'pickup';
/**
 * `target.publish`, and for rename whether the server offers posix-rename: `rename-plain` is rename
 * mode on a server that refuses it (plain rename = link + unlink; an overwrite moves the partner's
 * file aside first).
 */
export type Publish = 'rename' | 'rename-plain' | 'direct';
export type OnExisting = 'fail' | 'overwrite' | 'skip';

export const ACTIONS: readonly FaultAction[] = ['throw:1', 'crash:1'];
export const PUBLISH_MODES: readonly Publish[] = ['rename', 'rename-plain', 'direct'];
export const ON_EXISTING: readonly OnExisting[] = ['fail', 'overwrite', 'skip'];
export const START_STATES: readonly StartState[] = ['empty', 'same-size', 'other-size', 'temp-leftover'];
export const BEHAVIOURS: readonly Behaviour[] = ['leaves', 'pickup'];
/** Points before the publish where a first version's attempt fails in the two-versions scenarios. */
export const PRE_PUBLISH_POINTS = [
  'after_temp_upload',
  'after_verify',
  'after_intent',
  'after_aside',
] as const;

/** One delivery of one object under one combination of faults and partner settings. */
export interface SingleCase {
  kind: 'single';
  failpoint: FailpointName | 'none';
  /** Absent with failpoint "none". */
  action?: FaultAction;
  publish: Publish;
  onExisting: OnExisting;
  start: StartState;
  sidecars: boolean;
  behaviour: Behaviour;
  /**
   * Shared session: a second, unrelated delivery of the same partner (another key, nothing at its
   * name) runs at the same time on the same SFTP connection, and is at the same failpoint when the
   * fault fires in the first one.
   */
  bystander?: true;
}

/** The shared-session cases' fixed settings: the partner's same-size file is overwritten. */
export const SHARED_SESSION = { onExisting: 'overwrite', start: 'same-size' } as const;

/**
 * v1 of a key fails at a pre-publish point, the key is re-exported as v2, then both deliveries run
 * round-robin until they converge: v2 first ("v2-first") or v1's retry first ("v1-first").
 */
export interface TwoVersionsCase {
  kind: 'two-versions';
  order: 'v2-first' | 'v1-first';
  failpoint: (typeof PRE_PUBLISH_POINTS)[number];
  action: FaultAction;
  publish: Publish;
  onExisting: 'overwrite';
  sidecars: boolean;
  behaviour: Behaviour;
}

export type FaultCase = SingleCase | TwoVersionsCase;

/** Every case of the whole space, in a stable order. */
export function enumerateFaultSpace(): FaultCase[] {
  const faults: { failpoint: FailpointName | 'none'; action?: FaultAction }[] = [
    { failpoint: 'none' },
    ...FAILPOINTS.flatMap((failpoint) => ACTIONS.map((action) => ({ failpoint, action }))),
  ];
  const cases: FaultCase[] = [];
  for (const fault of faults) {
    for (const publish of PUBLISH_MODES) {
      for (const onExisting of ON_EXISTING) {
        for (const start of START_STATES) {
          for (const sidecars of [false, true]) {
            for (const behaviour of BEHAVIOURS) {
              cases.push({ kind: 'single', ...fault, publish, onExisting, start, sidecars, behaviour });
            }
          }
        }
      }
    }
  }
  // Shared session on a sub-product (every point fires on it: after_aside needs a file to replace).
  for (const failpoint of FAILPOINTS) {
    for (const action of ACTIONS) {
      for (const publish of PUBLISH_MODES) {
        for (const sidecars of [false, true]) {
          for (const behaviour of BEHAVIOURS) {
            cases.push(sharedSession(failpoint, action, publish, sidecars, behaviour));
          }
        }
      }
    }
  }
  for (const order of ['v2-first', 'v1-first'] as const) {
    for (const failpoint of PRE_PUBLISH_POINTS) {
      for (const action of ACTIONS) {
        for (const publish of PUBLISH_MODES) {
          for (const sidecars of [false, true]) {
            for (const behaviour of BEHAVIOURS) {
              cases.push({
                kind: 'two-versions',
                order,
                failpoint,
                action,
                publish,
                onExisting: 'overwrite',
                sidecars,
                behaviour,
              });
            }
          }
        }
      }
    }
  }
  return cases;
}

/** e.g. `rename/overwrite/same-size/sidecars/pickup after_intent=throw:1`. */
export function caseName(c: FaultCase): string {
  const sidecars = c.sidecars ? 'sidecars' : 'no-sidecars';
  if (c.kind === 'two-versions') {
    return `two-versions:${c.order} ${c.publish}/${c.onExisting}/${sidecars}/${c.behaviour} v1 ${c.failpoint}=${c.action}`;
  }
  const fault = c.failpoint === 'none' ? 'none' : `${c.failpoint}=${c.action}`;
  const shared = c.bystander ? ' +shared-session' : '';
  return `${c.publish}/${c.onExisting}/${c.start}/${sidecars}/${c.behaviour} ${fault}${shared}`;
}

function sharedSession(
  failpoint: FailpointName,
  action: FaultAction,
  publish: Publish,
  sidecars: boolean,
  behaviour: Behaviour,
): SingleCase {
  return {
    kind: 'single',
    failpoint,
    action,
    publish,
    ...SHARED_SESSION,
    sidecars,
    behaviour,
    bystander: true,
  };
}

/**
 * The CI slice: a fixed selection that covers every failpoint × action once, every starting state ×
 * onExisting × publish mode at least once, both partner behaviours and both sidecar settings, and
 * both two-versions orders. Rule: row i of the failpoint × action list gets the publish mode in which
 * its point fires (direct for after_writing, rename for the rename points, rename-plain with an
 * overwritten same-size file for after_aside, else the three modes in turn), sidecars for the points
 * after the data file's publish (else alternating), behaviours in pairs, and the i-th starting state ×
 * onExisting among those that deliver (so the point is reached); combinations of state × onExisting ×
 * publish left uncovered are then added without a failpoint.
 */
export function ciSlice(): FaultCase[] {
  const renamePoints: readonly string[] = ['after_intent', 'after_rename'];
  const sidecarPoints: readonly string[] = [
    'after_published',
    'after_sidecar_intent',
    'after_sidecar',
    'after_sidecars',
  ];
  const combos = START_STATES.flatMap((start) => ON_EXISTING.map((onExisting) => ({ start, onExisting })));
  const delivering = combos.filter(
    (c) => c.onExisting === 'overwrite' || c.start === 'empty' || c.start === 'temp-leftover',
  );
  const cases: SingleCase[] = [];
  const faults = FAILPOINTS.flatMap((failpoint) => ACTIONS.map((action) => ({ failpoint, action })));
  faults.forEach(({ failpoint, action }, i) => {
    const aside = failpoint === 'after_aside';
    const publish: Publish =
      failpoint === 'after_writing'
        ? 'direct'
        : aside
          ? 'rename-plain'
          : renamePoints.includes(failpoint)
            ? 'rename'
            : PUBLISH_MODES[i % 3]!;
    cases.push({
      kind: 'single',
      failpoint,
      action,
      publish,
      ...(aside ? { start: 'same-size', onExisting: 'overwrite' } : delivering[i % delivering.length]!),
      sidecars: sidecarPoints.includes(failpoint) || i % 2 === 1,
      behaviour: BEHAVIOURS[Math.floor(i / 2) % 2]!,
    });
  });
  let extra = 0;
  for (const publish of PUBLISH_MODES) {
    for (const { start, onExisting } of combos) {
      if (cases.some((c) => c.publish === publish && c.start === start && c.onExisting === onExisting)) {
        continue;
      }
      cases.push({
        kind: 'single',
        failpoint: 'none',
        publish,
        start,
        onExisting,
        sidecars: extra % 2 === 0,
        behaviour: BEHAVIOURS[Math.floor(extra / 2) % 2]!,
      });
      extra += 1;
    }
  }
  const twoVersions: TwoVersionsCase[] = [
    {
      kind: 'two-versions',
      order: 'v2-first',
      failpoint: 'after_intent',
      action: 'crash:1',
      publish: 'rename',
      onExisting: 'overwrite',
      sidecars: false,
      behaviour: 'leaves',
    },
    {
      kind: 'two-versions',
      order: 'v1-first',
      failpoint: 'after_intent',
      action: 'throw:1',
      publish: 'rename',
      onExisting: 'overwrite',
      sidecars: true,
      behaviour: 'pickup',
    },
  ];
  const shared: SingleCase[] = [
    sharedSession('after_temp_upload', 'crash:1', 'rename', false, 'leaves'),
    sharedSession('after_intent', 'throw:1', 'rename', true, 'pickup'),
    sharedSession('after_aside', 'crash:1', 'rename-plain', false, 'pickup'),
    sharedSession('after_fsync', 'throw:1', 'direct', false, 'leaves'),
    sharedSession('after_writing', 'crash:1', 'direct', true, 'pickup'),
    sharedSession('after_sidecar_intent', 'crash:1', 'rename', true, 'leaves'),
    sharedSession('after_rename', 'throw:1', 'rename-plain', true, 'leaves'),
    sharedSession('after_receipt', 'crash:1', 'direct', false, 'pickup'),
  ];
  return [...cases, ...shared, ...twoVersions];
}
