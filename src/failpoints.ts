// Named crash points for fault tests (ARCHITECTURE "Faults"). Inert unless FERRY_FAILPOINTS is set,
// e.g. FERRY_FAILPOINTS="after_rename=kill,after_verify=throw,after_temp_upload=sleep:2000,after_intent=busy:5000"
// (busy blocks the event loop, as a CPU-bound bug would, so BullMQ cannot renew the job's lock;
// throw:N throws on the first N hits only, so a retry gets past the point; crash:N is an in-process
// kill for the fault-space explorer: it throws a SimulatedCrash that every error path of a delivery
// passes through untouched — no clean-up, no ledger write — as if the process had died there).

/** Every point, in the order a delivery passes them (the explorer walks them all). */
export const FAILPOINTS = [
  'after_writing', // direct: `writing <final>` recorded, before the first byte
  'after_fsync', // every byte written and fsynced (fsync@openssh.com), before the file's close
  'after_temp_upload',
  'after_verify',
  'after_intent', // rename: verified temp + intent recorded, before the rename
  'after_aside', // overwrite without posix-rename: partner's file moved to .old, before temp → final
  'after_rename',
  'after_published', // data file recorded published, before the sidecars
  'after_sidecar_intent', // a sidecar's temp written and its intent recorded, before its rename
  'after_sidecar', // a sidecar published, before it is recorded
  'after_sidecars',
  'after_receipt',
  'after_ledger',
  'before_complete',
] as const;
/** Points of the manifest publisher (jobs/manifest-publish.ts), not of a delivery: the explorer leaves them. */
export const MANIFEST_FAILPOINTS = [
  'after_manifest_take', // the manifest's files taken and its record stored, before its S3 object
  'after_manifest_put', // its S3 object written, before its delivery job is added
] as const;
export type FailpointName = (typeof FAILPOINTS)[number] | (typeof MANIFEST_FAILPOINTS)[number];

type Action =
  | { kind: 'kill' }
  | { kind: 'crash'; times?: number }
  | { kind: 'throw'; times?: number }
  | { kind: 'sleep'; ms: number }
  | { kind: 'busy'; ms: number };

/** What `crash` throws: a simulated process death (never a real error; see isSimulatedCrash). */
export class SimulatedCrash extends Error {
  constructor(readonly point: FailpointName) {
    super(`simulated crash at ${point}`);
    this.name = 'SimulatedCrash';
  }
}

/** True for a `crash` failpoint's error: error paths must rethrow it without cleaning up or recording. */
export function isSimulatedCrash(err: unknown): err is SimulatedCrash {
  return err instanceof SimulatedCrash;
}

function parse(spec: string | undefined): Map<string, Action> {
  const out = new Map<string, Action>();
  for (const part of (spec ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [name, action = 'throw'] = part.split('=');
    if (!name) continue;
    const amount = Number(action.slice(action.indexOf(':') + 1)) || 0;
    if (action === 'kill') out.set(name, { kind: 'kill' });
    else if (action === 'crash') out.set(name, { kind: 'crash' });
    else if (action.startsWith('crash:')) out.set(name, { kind: 'crash', times: amount });
    else if (action.startsWith('sleep:')) out.set(name, { kind: 'sleep', ms: amount });
    else if (action.startsWith('busy:')) out.set(name, { kind: 'busy', ms: amount });
    else if (action.startsWith('throw:')) out.set(name, { kind: 'throw', times: amount });
    else out.set(name, { kind: 'throw' });
  }
  return out;
}

let active = parse(process.env.FERRY_FAILPOINTS);
let scope: ((name: FailpointName) => boolean | Promise<boolean>) | undefined;
const firedListeners = new Set<(name: FailpointName, kind: 'throw' | 'crash') => void>();

/**
 * Calls `listener` each time a `throw` or `crash` failpoint fires, before it throws: the fault-space
 * explorer learns which points a case reached, and stops a "crashed" attempt's connections and
 * adapters at once, whatever the delivery's error paths try next. Returns the unsubscribe function.
 */
export function onFailpointFired(
  listener: (name: FailpointName, kind: 'throw' | 'crash') => void,
): () => void {
  firedListeners.add(listener);
  return () => firedListeners.delete(listener);
}

/**
 * Replaces the active failpoints (in-process tests; workers in their own process use FERRY_FAILPOINTS).
 * `only`, when given, is asked first at every point hit and the point acts only where it resolves
 * true: the explorer faults one of two deliveries running at once, and holds the other one there.
 */
export function configureFailpoints(
  spec: string | undefined,
  only?: (name: FailpointName) => boolean | Promise<boolean>,
): void {
  active = parse(spec);
  scope = only;
}

/** Runs the configured action for `name`, if any. A no-op in production. */
export async function hitFailpoint(name: FailpointName): Promise<void> {
  if (scope && !(await scope(name))) return;
  const action = active.get(name);
  if (!action) return;
  if (action.kind === 'kill') process.kill(process.pid, 'SIGKILL');
  if (action.kind === 'sleep') await new Promise((resolve) => setTimeout(resolve, action.ms));
  if (action.kind === 'busy') {
    const until = Date.now() + action.ms;
    while (Date.now() < until) {
      // spin: the point is to starve the event loop
    }
  }
  if (action.kind === 'throw' || action.kind === 'crash') {
    if (action.times !== undefined && action.times-- <= 0) return;
    for (const listener of firedListeners) listener(name, action.kind);
    throw action.kind === 'crash' ? new SimulatedCrash(name) : new Error(`failpoint ${name}`);
  }
}
