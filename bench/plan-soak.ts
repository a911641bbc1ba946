// How a soak run splits its minutes: exports are produced (with faults) first, then a quiet period lets
// Ferry converge. Pure, so the rules for short runs are table-tested (test/unit/bench/plan-soak.test.ts).

/** The quiet period when --quiet-seconds is not given, for runs of 4 minutes or more. */
export const DEFAULT_QUIET_SECONDS = 120;
/** Below this, a run proves nothing: too few exports and faults to call it a soak. */
export const MIN_PRODUCE_SECONDS = 30;

export interface SoakFlags {
  minutes: string;
  /** undefined: not given, so the default (scaled down for short runs). */
  quietSeconds: string | undefined;
  faultEverySeconds: string;
}

export type SoakPlan =
  | {
      ok: true;
      produceSeconds: number;
      quietSeconds: number;
      faultEverySeconds: number;
      /** Says how the quiet period was chosen when it is not what the flags say. */
      note?: string;
    }
  | { ok: false; problem: string };

/**
 * The run's plan from its flags: `--minutes` is the whole run; the quiet period is `--quiet-seconds`,
 * or by default 120 s but at most half the run (a 2-minute run produces for 60 s, then quiets for 60 s).
 * Refuses flags that leave under 30 s to produce, naming the flags and values that would work.
 */
export function planSoak(flags: SoakFlags): SoakPlan {
  const minutes = positive(flags.minutes);
  if (minutes === undefined) return refuse(`--minutes must be a positive number, got "${flags.minutes}"`);
  const faultEverySeconds = positive(flags.faultEverySeconds);
  if (faultEverySeconds === undefined) {
    return refuse(`--fault-every must be a positive number of seconds, got "${flags.faultEverySeconds}"`);
  }
  const totalSeconds = minutes * 60;
  if (flags.quietSeconds === undefined) {
    const quietSeconds = Math.min(DEFAULT_QUIET_SECONDS, totalSeconds / 2);
    const produceSeconds = totalSeconds - quietSeconds;
    if (produceSeconds < MIN_PRODUCE_SECONDS) {
      return refuse(
        `--minutes ${flags.minutes} is too short: a soak produces exports for at least ${MIN_PRODUCE_SECONDS} s and then quiets down as long; use --minutes ${(2 * MIN_PRODUCE_SECONDS) / 60} or more`,
      );
    }
    return {
      ok: true,
      produceSeconds,
      quietSeconds,
      faultEverySeconds,
      ...(quietSeconds < DEFAULT_QUIET_SECONDS
        ? {
            note: `quiet period scaled down from ${DEFAULT_QUIET_SECONDS} s to half of the ${flags.minutes}-minute run; --quiet-seconds sets it`,
          }
        : {}),
    };
  }
  const quietSeconds = positive(flags.quietSeconds);
  if (quietSeconds === undefined) {
    return refuse(`--quiet-seconds must be a positive number, got "${flags.quietSeconds}"`);
  }
  const produceSeconds = totalSeconds - quietSeconds;
  if (produceSeconds < MIN_PRODUCE_SECONDS) {
    const minMinutes = Math.ceil(((quietSeconds + MIN_PRODUCE_SECONDS) / 60) * 10) / 10;
    const maxQuiet = totalSeconds - MIN_PRODUCE_SECONDS;
    return refuse(
      `--quiet-seconds ${flags.quietSeconds} leaves ${Math.max(0, produceSeconds)} s of --minutes ${flags.minutes} to produce exports (at least ${MIN_PRODUCE_SECONDS} s needed): use --minutes ${minMinutes} or more${maxQuiet > 0 ? `, or --quiet-seconds ${maxQuiet} or less` : ''}`,
    );
  }
  return { ok: true, produceSeconds, quietSeconds, faultEverySeconds };
}

function positive(text: string): number | undefined {
  const value = Number(text);
  return text.trim() !== '' && Number.isFinite(value) && value > 0 ? value : undefined;
}

function refuse(problem: string): SoakPlan {
  return { ok: false, problem };
}

/**
 * The run's last line: PASS only when nothing was lost, duplicated, partial, orphaned, unhandled or
 * leaked, and something was delivered (a run that delivered nothing proved nothing).
 */
export function soakVerdict(o: { violations: number; delivered: number }): string {
  if (o.delivered === 0) return 'FAIL: delivered nothing';
  return o.violations === 0 ? 'PASS' : 'FAIL';
}
