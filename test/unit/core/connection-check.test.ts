import { describe, expect, it } from 'vitest';
import {
  checkExitCode,
  decidePublishSupport,
  formatCheckLine,
  formatCheckSummary,
  renamesNeeded,
  type CheckStep,
  type PublishProbe,
  type PublishSettings,
} from '../../../src/core/connection-check.js';

function probe(overrides: Partial<PublishProbe> = {}): PublishProbe {
  return { write: 'ok', rename: 'ok', posixRename: 'ok', ...overrides };
}
function settings(overrides: Partial<PublishSettings> = {}): PublishSettings {
  return { publish: 'rename', onExisting: 'fail', ...overrides };
}

describe('formatCheckLine', () => {
  it('puts status and step name in fixed columns, with the time when the step ran', () => {
    expect(formatCheckLine({ name: 'login', status: 'ok', detail: 'logged in as acme', ms: 12.4 })).toBe(
      'ok    login         logged in as acme (12 ms)',
    );
    expect(formatCheckLine({ name: 'host key', status: 'FAIL', detail: 'ERR_HOST_KEY_MISMATCH: …' })).toBe(
      'FAIL  host key      ERR_HOST_KEY_MISMATCH: …',
    );
  });
});

describe('formatCheckSummary and checkExitCode', () => {
  const ok: CheckStep = { name: 'reach', status: 'ok', detail: '', ms: 1 };
  const warn: CheckStep = { name: 'rename', status: 'warn', detail: '', ms: 1 };
  const fail: CheckStep = { name: 'login', status: 'FAIL', detail: '', ms: 1 };
  const skip: CheckStep = { name: 'write', status: 'skip', detail: '' };

  it('counts checks that ran and warnings when nothing failed (exit 0)', () => {
    expect(formatCheckSummary('acme', [ok, warn, skip], 250.2)).toBe(
      'test-connection acme: OK, 2 checks passed, 1 warning in 250 ms',
    );
    expect(checkExitCode([ok, warn, skip])).toBe(0);
  });

  it('names the failed checks (exit 1)', () => {
    expect(formatCheckSummary('acme', [ok, fail, skip], 40)).toBe(
      'test-connection acme: FAILED (login) after 2 checks in 40 ms',
    );
    expect(checkExitCode([ok, fail, skip])).toBe(1);
  });
});

describe('renamesNeeded', () => {
  it.each([
    ['rename + fail', settings(), true, { rename: true, posixRename: false }],
    ['rename + skip', settings({ onExisting: 'skip' }), true, { rename: true, posixRename: false }],
    [
      'rename + overwrite with posix-rename',
      settings({ onExisting: 'overwrite' }),
      true,
      { rename: false, posixRename: true },
    ],
    [
      'rename + overwrite without it',
      settings({ onExisting: 'overwrite' }),
      false,
      { rename: true, posixRename: false },
    ],
    ['direct', settings({ publish: 'direct' }), true, { rename: false, posixRename: false }],
  ] as const)('%s', (_name, s, offered, expected) => {
    expect(renamesNeeded(s, offered)).toEqual(expected);
  });
});

describe('decidePublishSupport', () => {
  it('lists what the server was seen to support', () => {
    expect(decidePublishSupport(settings(), probe()).modes).toEqual(['direct', 'rename', 'posix-rename']);
    expect(
      decidePublishSupport(settings(), probe({ rename: 'refused', posixRename: 'not-offered' })).modes,
    ).toEqual(['direct']);
  });

  it.each([
    ['rename + fail, rename works', settings(), probe({ posixRename: 'not-offered' }), 'ok'],
    [
      'rename + skip, renames refused',
      settings({ onExisting: 'skip' }),
      probe({ rename: 'refused' }),
      'FAIL',
    ],
    [
      'direct, renames refused',
      settings({ publish: 'direct' }),
      probe({ rename: 'refused', posixRename: 'not-offered' }),
      'ok',
    ],
    [
      'any setting, write refused',
      settings({ publish: 'direct' }),
      probe({ write: 'refused', rename: 'untested', posixRename: 'untested' }),
      'FAIL',
    ],
    ['overwrite, posix-rename works', settings({ onExisting: 'overwrite' }), probe(), 'ok'],
    [
      'overwrite, posix-rename offered but refused',
      settings({ onExisting: 'overwrite' }),
      probe({ posixRename: 'refused' }),
      'FAIL',
    ],
    [
      'overwrite, no posix-rename, rename works',
      settings({ onExisting: 'overwrite' }),
      probe({ posixRename: 'not-offered' }),
      'warn',
    ],
    [
      'overwrite, no renames at all',
      settings({ onExisting: 'overwrite' }),
      probe({ rename: 'refused', posixRename: 'not-offered' }),
      'FAIL',
    ],
  ] as const)('%s → %s', (_name, s, p, status) => {
    const verdict = decidePublishSupport(s, p);
    expect(verdict.status).toBe(status);
    expect(verdict.detail).toContain(`publish: ${s.publish}, onExisting: ${s.onExisting}`);
  });

  it('suggests publish: direct when a rename setting meets a server that refuses renames', () => {
    expect(decidePublishSupport(settings(), probe({ rename: 'refused' })).detail).toMatch(/publish: direct/);
  });
});
