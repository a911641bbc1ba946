// `ferry test-connection`: the report lines, the exit code, and which publish modes a partner's server
// supports compared with what the partner's `publish` / `onExisting` settings need.

/** ok: passed · FAIL: deliveries would fail · warn: works, with a caveat · skip: not run. */
export type CheckStatus = 'ok' | 'FAIL' | 'warn' | 'skip';

export interface CheckStep {
  name: string;
  status: CheckStatus;
  detail: string;
  /** Wall time of the step; absent for steps that did not run. */
  ms?: number;
}

const NAME_WIDTH = 13;

/** "ok    host key      ssh-ed25519 SHA256:… matches a pin (12 ms)": status and name in fixed columns. */
export function formatCheckLine(step: CheckStep): string {
  const took = step.ms === undefined ? '' : ` (${Math.round(step.ms)} ms)`;
  return `${step.status.padEnd(4)}  ${step.name.padEnd(NAME_WIDTH)} ${step.detail}${took}`;
}

/** The last line: how many checks passed, or which ones failed. */
export function formatCheckSummary(partnerId: string, steps: readonly CheckStep[], totalMs: number): string {
  const failed = steps.filter((s) => s.status === 'FAIL').map((s) => s.name);
  const ran = steps.filter((s) => s.status !== 'skip').length;
  const warned = steps.filter((s) => s.status === 'warn').length;
  const took = `${Math.round(totalMs)} ms`;
  if (failed.length > 0) {
    return `test-connection ${partnerId}: FAILED (${failed.join(', ')}) after ${ran} checks in ${took}`;
  }
  const warnings = warned === 0 ? '' : `, ${warned} warning${warned === 1 ? '' : 's'}`;
  return `test-connection ${partnerId}: OK, ${ran} checks passed${warnings} in ${took}`;
}

/** 0 when no step failed, else 1. */
export function checkExitCode(steps: readonly CheckStep[]): number {
  return steps.some((s) => s.status === 'FAIL') ? 1 : 0;
}

/** How a probe request went: 'untested' when an earlier failure stopped the run before it. */
export type ProbeResult = 'ok' | 'refused' | 'untested';

export interface PublishProbe {
  /** Writing a new file (what `publish: direct` does under the final name). */
  write: ProbeResult;
  /** Plain SFTP rename onto a free name. */
  rename: ProbeResult;
  /** posix-rename@openssh.com over an existing file; 'not-offered' when the server lacks the extension. */
  posixRename: ProbeResult | 'not-offered';
}

export interface PublishSettings {
  publish: 'rename' | 'direct';
  onExisting: 'fail' | 'overwrite' | 'skip';
}

export type ServerPublishMode = 'direct' | 'rename' | 'posix-rename';

export interface PublishVerdict {
  status: Exclude<CheckStatus, 'skip'>;
  /** What the server was seen to support. */
  modes: ServerPublishMode[];
  detail: string;
}

/**
 * Whether deliveries with these settings can publish on this server, the way the deliver job does it:
 * `direct` writes the final name; `rename` with onExisting fail/skip renames the verified temp file
 * (plain rename); `rename` + `overwrite` replaces atomically with posix-rename when the server offers
 * it, else renames the partner's file aside first (works, but the name is briefly missing: warn).
 */
export function decidePublishSupport(settings: PublishSettings, probe: PublishProbe): PublishVerdict {
  const modes: ServerPublishMode[] = [];
  if (probe.write === 'ok') modes.push('direct');
  if (probe.rename === 'ok') modes.push('rename');
  if (probe.posixRename === 'ok') modes.push('posix-rename');
  const seen = `server supports: ${modes.length === 0 ? 'none' : modes.join(', ')}`;
  const setting = `publish: ${settings.publish}, onExisting: ${settings.onExisting}`;
  const verdict = (status: PublishVerdict['status'], why: string): PublishVerdict => ({
    status,
    modes,
    detail: `${setting}: ${why} (${seen})`,
  });

  if (probe.write !== 'ok') return verdict('FAIL', 'cannot write files in the directory');
  if (settings.publish === 'direct') {
    return verdict('ok', 'files are written in place under their final name');
  }
  if (settings.onExisting !== 'overwrite') {
    return probe.rename === 'ok'
      ? verdict('ok', 'temp file renamed into place')
      : verdict('FAIL', 'the server refuses renames: ask the partner to allow them, or set publish: direct');
  }
  if (probe.posixRename === 'ok') {
    return verdict('ok', 'an existing file is replaced atomically (posix-rename@openssh.com)');
  }
  if (probe.posixRename === 'refused') {
    return verdict(
      'FAIL',
      'the server offers posix-rename@openssh.com but refused it, and deliveries use it to overwrite',
    );
  }
  if (probe.rename === 'ok') {
    return verdict(
      'warn',
      'no posix-rename@openssh.com: an existing file is renamed aside before the new one takes its name (briefly missing)',
    );
  }
  return verdict('FAIL', 'the server refuses renames, which overwrite needs');
}

/**
 * Which rename requests deliveries with these settings send (the deliver job's publish step):
 * `rename` + `overwrite` on a server with posix-rename uses only posix-rename; every other `rename`
 * setting uses plain rename; `direct` renames nothing.
 */
export function renamesNeeded(
  settings: PublishSettings,
  posixRenameOffered: boolean,
): { rename: boolean; posixRename: boolean } {
  if (settings.publish === 'direct') return { rename: false, posixRename: false };
  const atomicOverwrite = settings.onExisting === 'overwrite' && posixRenameOffered;
  return { rename: !atomicOverwrite, posixRename: atomicOverwrite };
}
