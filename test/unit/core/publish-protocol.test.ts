import { describe, expect, it } from 'vitest';
import {
  nextPublishStep,
  nextSidecarStep,
  phaseOf,
  type OnExisting,
  type PublishFacts,
  type PublishMode,
  type PublishPhase,
  type SidecarFacts,
  type SupersededBy,
} from '../../../src/core/publish-protocol.js';

const SIZE = 100;
const MODES: PublishMode[] = ['rename', 'direct'];
const POLICIES: OnExisting[] = ['fail', 'overwrite', 'skip'];
const PHASES: PublishPhase[] = ['none', 'writing', 'intent', 'published'];
const FILES = [undefined, { size: SIZE }, { size: SIZE - 1 }];
const CHECKS = [undefined, true, false];
const SUPERSEDED: (SupersededBy | undefined)[] = [undefined, 'newer-published', 'source-replaced'];

/** Every combination of facts the delivery can observe (phases that a mode never records left out). */
function* everyFact(): Generator<PublishFacts> {
  for (const mode of MODES) {
    for (const onExisting of POLICIES) {
      for (const phase of PHASES) {
        if ((mode === 'rename' && phase === 'writing') || (mode === 'direct' && phase === 'intent')) continue;
        for (const temp of mode === 'rename' ? FILES : [undefined]) {
          for (const final of FILES) {
            for (const finalIsOurs of CHECKS) {
              for (const finalIsFerryFragment of [false, true]) {
                for (const freshName of [false, true]) {
                  for (const superseded of SUPERSEDED) {
                    const facts: PublishFacts = {
                      mode,
                      onExisting,
                      phase,
                      ...(phase === 'intent' ? { recordedSize: SIZE } : {}),
                      ...(temp ? { temp } : {}),
                      ...(final ? { final } : {}),
                      ...(finalIsOurs === undefined ? {} : { finalIsOurs }),
                      finalIsFerryFragment,
                      freshName,
                      ...(superseded ? { superseded } : {}),
                    };
                    yield facts;
                    // A redelivery with --replace (never a fresh {seq} name: a redelivery keeps its original's).
                    if (!freshName) yield { ...facts, replace: true };
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}

/** Runs the machine as the delivery does: check-final is answered, uploads and renames move the phase. */
function runToEnd(start: PublishFacts, contentMatches: boolean) {
  let f = { ...start };
  const steps: string[] = [];
  for (let i = 0; i < 10; i++) {
    const s = nextPublishStep(f);
    steps.push(s.step === 'upload' ? `upload:${s.why}` : s.step);
    if (s.step === 'published' || s.step === 'settle') return { steps, end: s };
    if (s.step === 'check-final') f = { ...f, finalIsOurs: contentMatches };
    else if (s.step === 'upload') {
      f =
        f.mode === 'rename'
          ? { ...f, phase: 'intent', recordedSize: SIZE, temp: { size: SIZE }, finalIsOurs: undefined }
          : { ...f, phase: 'published' };
    } else if (s.step === 'rename') {
      f = { ...f, temp: undefined, final: { size: SIZE } };
    }
  }
  throw new Error(`no end after 10 steps: ${steps.join(' → ')}`);
}

describe('nextPublishStep over every fact it can be given', () => {
  const all = [...everyFact()];

  it('walks thousands of combinations, each ending published or settled within a few steps', () => {
    expect(all.length).toBeGreaterThan(2000);
    for (const f of all) {
      for (const matches of [true, false]) expect(() => runToEnd(f, matches)).not.toThrow();
    }
  });

  it('never calls a rename-mode delivery published while its verified temp file is still there, unless the final file was read back and is ours', () => {
    for (const f of all) {
      if (f.mode !== 'rename' || f.phase !== 'intent') continue;
      const s = nextPublishStep(f);
      if (s.step !== 'published') continue;
      expect(f.temp === undefined || f.finalIsOurs === true, JSON.stringify(f)).toBe(true);
    }
  });

  it('never decides "published" from a final file of the recorded size alone', () => {
    for (const f of all) {
      if (f.mode !== 'rename' || f.phase !== 'intent' || f.temp?.size !== SIZE || f.superseded) continue;
      if (f.final?.size === SIZE && f.finalIsOurs === undefined) {
        expect(nextPublishStep(f)).toEqual({ step: 'check-final' });
      }
    }
  });

  it("replaces a partner's file only with onExisting: overwrite or a rename-mode --replace, never for a fresh {seq} name", () => {
    for (const f of all) {
      const s = nextPublishStep(f);
      const replaces =
        (s.step === 'rename' && s.replace) ||
        (s.step === 'upload' && s.why === 'replace' && f.finalIsFerryFragment !== true);
      if (!replaces) continue;
      const replaceAsked = f.replace === true && f.mode === 'rename';
      expect(f.onExisting === 'overwrite' || replaceAsked, JSON.stringify(f)).toBe(true);
      expect(f.freshName, JSON.stringify(f)).toBe(false);
    }
  });

  it('--replace decides exactly as onExisting: overwrite in rename mode, and changes nothing in direct mode', () => {
    for (const f of all) {
      if (f.replace !== true) continue;
      const { replace: _replace, ...without } = f;
      const as = f.mode === 'rename' ? { ...without, onExisting: 'overwrite' as const } : without;
      expect(nextPublishStep(f), JSON.stringify(f)).toEqual(nextPublishStep(as));
    }
  });

  it('never publishes a superseded version: it settles as superseded unless the rename already happened', () => {
    for (const f of all) {
      if (f.superseded === undefined || f.phase === 'published') continue;
      const s = nextPublishStep(f);
      const alreadyRenamed = f.mode === 'rename' && f.phase === 'intent' && f.temp === undefined;
      if (alreadyRenamed) expect(s).toEqual({ step: 'published', removeTemp: false });
      else expect(s).toEqual({ step: 'settle', outcome: { kind: 'superseded', by: f.superseded } });
    }
  });

  it('a direct-mode fragment of Ferry (its own, or another delivery of the path) is rewritten whatever onExisting says', () => {
    for (const f of all) {
      if (f.mode !== 'direct' || f.superseded !== undefined || f.phase === 'published') continue;
      const own = f.phase === 'writing';
      if (!own && !(f.final && f.finalIsFerryFragment)) continue;
      expect(nextPublishStep(f).step, JSON.stringify(f)).toBe('upload');
    }
  });
});

describe('nextPublishStep, the decision table rows', () => {
  const rename = (over: Partial<PublishFacts>): PublishFacts => ({
    mode: 'rename',
    onExisting: 'fail',
    phase: 'none',
    ...over,
  });
  const intent = (over: Partial<PublishFacts>) => rename({ phase: 'intent', recordedSize: SIZE, ...over });

  it('uploads a new delivery, and a temp file torn by a crash while it was rewritten', () => {
    expect(nextPublishStep(rename({}))).toEqual({ step: 'upload', why: 'new' });
    expect(nextPublishStep(intent({ temp: { size: 3 } }))).toEqual({ step: 'upload', why: 'torn-temp' });
  });

  it('renames a verified temp file when the final name is free', () => {
    expect(nextPublishStep(intent({ temp: { size: SIZE } }))).toEqual({ step: 'rename', replace: false });
  });

  it('temp gone after the intent: the rename happened, even if the partner took the final file away', () => {
    expect(nextPublishStep(intent({}))).toEqual({ step: 'published', removeTemp: false });
    expect(nextPublishStep(intent({ final: { size: 7 } }))).toEqual({ step: 'published', removeTemp: false });
  });

  it("a same-size file at the final name is read back: ours (link + unlink stopped half way) or yesterday's", () => {
    const both = intent({ temp: { size: SIZE }, final: { size: SIZE }, onExisting: 'overwrite' });
    expect(nextPublishStep(both)).toEqual({ step: 'check-final' });
    expect(nextPublishStep({ ...both, finalIsOurs: true })).toEqual({ step: 'published', removeTemp: true });
    expect(nextPublishStep({ ...both, finalIsOurs: false })).toEqual({ step: 'rename', replace: true });
  });

  it('a partner file that appeared after the intent settles per onExisting', () => {
    const appeared = (onExisting: OnExisting) =>
      nextPublishStep(intent({ temp: { size: SIZE }, final: { size: 1 }, onExisting }));
    expect(appeared('skip')).toEqual({
      step: 'settle',
      outcome: { kind: 'skipped', reason: 'remote-exists' },
    });
    expect(appeared('fail')).toMatchObject({
      step: 'settle',
      outcome: { kind: 'failed', code: 'ERR_REMOTE_EXISTS' },
    });
    expect(appeared('overwrite')).toEqual({ step: 'rename', replace: true });
  });

  it("a redelivery with --replace replaces the partner's file where onExisting would fail or skip", () => {
    for (const onExisting of ['fail', 'skip'] as const) {
      expect(nextPublishStep(rename({ onExisting, final: { size: 1 }, replace: true }))).toEqual({
        step: 'upload',
        why: 'replace',
      });
      expect(
        nextPublishStep(intent({ onExisting, temp: { size: SIZE }, final: { size: 1 }, replace: true })),
      ).toEqual({ step: 'rename', replace: true });
      // Without it, the partner's file settles the delivery as today.
      expect(nextPublishStep(rename({ onExisting, final: { size: 1 } }))).toMatchObject({ step: 'settle' });
    }
    // A same-size file is still read back first: a half-done rename of this delivery is not replaced again.
    const both = intent({ temp: { size: SIZE }, final: { size: SIZE }, replace: true });
    expect(nextPublishStep(both)).toEqual({ step: 'check-final' });
    expect(nextPublishStep({ ...both, finalIsOurs: true })).toEqual({ step: 'published', removeTemp: true });
  });

  it('--replace never truncates a partner file in direct mode: onExisting still decides there', () => {
    const direct: PublishFacts = { mode: 'direct', onExisting: 'fail', phase: 'none', replace: true };
    expect(nextPublishStep({ ...direct, final: { size: 3 } })).toMatchObject({
      step: 'settle',
      outcome: { kind: 'failed', code: 'ERR_REMOTE_EXISTS' },
    });
    expect(nextPublishStep(direct)).toEqual({ step: 'upload', why: 'new' });
  });

  it('direct mode rewrites its own fragment and replaces a fragment another delivery of the path left', () => {
    const direct = (over: Partial<PublishFacts>): PublishFacts => ({
      mode: 'direct',
      onExisting: 'fail',
      phase: 'none',
      ...over,
    });
    expect(nextPublishStep(direct({ phase: 'writing', final: { size: 3 } }))).toEqual({
      step: 'upload',
      why: 'own-fragment',
    });
    expect(nextPublishStep(direct({ final: { size: 3 }, finalIsFerryFragment: true }))).toEqual({
      step: 'upload',
      why: 'replace',
    });
    expect(nextPublishStep(direct({ final: { size: 3 } }))).toMatchObject({ step: 'settle' });
  });

  it('direct mode reads back its own file of the complete size before rewriting it', () => {
    const own: PublishFacts = { mode: 'direct', onExisting: 'fail', phase: 'writing', recordedSize: SIZE };
    expect(nextPublishStep({ ...own, final: { size: SIZE } })).toEqual({ step: 'check-final' });
    expect(nextPublishStep({ ...own, final: { size: SIZE }, finalIsOurs: true })).toEqual({
      step: 'published',
      removeTemp: false,
    });
    expect(nextPublishStep({ ...own, final: { size: SIZE }, finalIsOurs: false })).toEqual({
      step: 'upload',
      why: 'own-fragment',
    });
    // Taken away by the partner, or transformed bytes (no size recorded): nothing to compare.
    expect(nextPublishStep(own)).toEqual({ step: 'upload', why: 'own-fragment' });
    expect(nextPublishStep({ ...own, recordedSize: undefined, final: { size: SIZE } })).toEqual({
      step: 'upload',
      why: 'own-fragment',
    });
  });
});

describe('nextSidecarStep', () => {
  const facts = (over: Partial<SidecarFacts>): SidecarFacts => ({
    mode: 'rename',
    phase: 'none',
    size: 5,
    ...over,
  });

  it('never publishes a sidecar recorded as published again, even when the partner took it away', () => {
    for (const mode of MODES) {
      expect(nextSidecarStep(facts({ mode, phase: 'published' }))).toEqual({ step: 'done' });
    }
  });

  it('rename mode: temp gone after its intent means it was renamed; a verified temp is renamed', () => {
    expect(nextSidecarStep(facts({ phase: 'intent' }))).toEqual({ step: 'record' });
    expect(nextSidecarStep(facts({ phase: 'intent', temp: { size: 5 } }))).toEqual({ step: 'rename' });
    expect(nextSidecarStep(facts({ phase: 'intent', temp: { size: 2 } }))).toEqual({ step: 'write' });
  });

  it('direct mode: an intent is recorded after the write in place was verified, so it is published even if the partner took the file', () => {
    expect(nextSidecarStep(facts({ mode: 'direct', phase: 'intent', final: { size: 5 } }))).toEqual({
      step: 'record',
    });
    expect(nextSidecarStep(facts({ mode: 'direct', phase: 'intent' }))).toEqual({ step: 'record' });
  });
});

describe('phaseOf', () => {
  it('reads the recorded phase, and infers it for records written before phases were recorded', () => {
    expect(phaseOf(undefined, 'rename')).toBe('none');
    expect(phaseOf({ phase: 'published', status: 'publishing' }, 'rename')).toBe('published');
    expect(phaseOf({ status: 'publishing', sha256: 'a' }, 'rename')).toBe('intent');
    expect(phaseOf({ status: 'failed', sha256: 'a' }, 'direct')).toBe('published');
    expect(phaseOf({ status: 'publishing', remotePath: '/in/a' }, 'direct')).toBe('writing');
    expect(phaseOf({ status: 'skipped', sha256: 'a' }, 'rename')).toBe('none');
  });
});
