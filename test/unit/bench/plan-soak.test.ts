import { describe, expect, it } from 'vitest';
import { planSoak, soakVerdict } from '../../../bench/plan-soak.js';

const flags = (minutes: string, quietSeconds?: string, faultEverySeconds = '8') => ({
  minutes,
  quietSeconds,
  faultEverySeconds,
});

describe('planSoak', () => {
  it('keeps the 120 s quiet period for runs of 4 minutes or more', () => {
    expect(planSoak(flags('10'))).toEqual({
      ok: true,
      produceSeconds: 480,
      quietSeconds: 120,
      faultEverySeconds: 8,
    });
    expect(planSoak(flags('4'))).toEqual({
      ok: true,
      produceSeconds: 120,
      quietSeconds: 120,
      faultEverySeconds: 8,
    });
  });

  it.each([
    ['2', 60, 60],
    ['1', 30, 30],
    ['1.5', 45, 45],
  ])(
    'scales the default quiet period down to half of a %s-minute run, and says so',
    (minutes, produce, quiet) => {
      expect(planSoak(flags(minutes))).toEqual({
        ok: true,
        produceSeconds: produce,
        quietSeconds: quiet,
        faultEverySeconds: 8,
        note: `quiet period scaled down from 120 s to half of the ${minutes}-minute run; --quiet-seconds sets it`,
      });
    },
  );

  it('refuses a run too short to produce for 30 s, naming --minutes and what works', () => {
    expect(planSoak(flags('0.5'))).toEqual({
      ok: false,
      problem:
        '--minutes 0.5 is too short: a soak produces exports for at least 30 s and then quiets down as long; use --minutes 1 or more',
    });
  });

  it('takes an explicit quiet period as given when it leaves 30 s to produce', () => {
    expect(planSoak(flags('2', '90'))).toEqual({
      ok: true,
      produceSeconds: 30,
      quietSeconds: 90,
      faultEverySeconds: 8,
    });
    expect(planSoak(flags('1', '10', '5'))).toEqual({
      ok: true,
      produceSeconds: 50,
      quietSeconds: 10,
      faultEverySeconds: 5,
    });
  });

  it('refuses an explicit quiet period that leaves no time to produce, naming both flags and what works', () => {
    expect(planSoak(flags('2', '120'))).toEqual({
      ok: false,
      problem:
        '--quiet-seconds 120 leaves 0 s of --minutes 2 to produce exports (at least 30 s needed): use --minutes 2.5 or more, or --quiet-seconds 90 or less',
    });
    expect(planSoak(flags('0.5', '60'))).toEqual({
      ok: false,
      problem:
        '--quiet-seconds 60 leaves 0 s of --minutes 0.5 to produce exports (at least 30 s needed): use --minutes 1.5 or more',
    });
  });

  it.each([
    [flags('x'), '--minutes must be a positive number, got "x"'],
    [flags('0'), '--minutes must be a positive number, got "0"'],
    [flags('5', '-1'), '--quiet-seconds must be a positive number, got "-1"'],
    [flags('5', undefined, ''), '--fault-every must be a positive number of seconds, got ""'],
  ])('names a flag that is not a positive number', (given, problem) => {
    expect(planSoak(given)).toEqual({ ok: false, problem });
  });
});

describe('soakVerdict', () => {
  it('fails a run that delivered nothing, even without violations', () => {
    expect(soakVerdict({ violations: 0, delivered: 0 })).toBe('FAIL: delivered nothing');
    expect(soakVerdict({ violations: 0, delivered: 12 })).toBe('PASS');
    expect(soakVerdict({ violations: 1, delivered: 12 })).toBe('FAIL');
  });
});
