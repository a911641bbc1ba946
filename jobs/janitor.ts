// The janitor: removes Ferry's own leftovers from a partner's directory — temp files of attempts that
// will never resume and the `.old` aside a crash leaves inside the non-atomic overwrite. Only names
// that follow Ferry's pattern exactly (src/core/janitor.ts), only files older than the bound, and only
// paths no live delivery registered (src/ledger/temp-registry.ts). Each removal is claimed in Redis
// first, which refuses a delivery's register() of that path until the claim ends, so a retry can never
// start writing a file the janitor is about to remove. Registrations are per partner: this relies on
// the config's rule that no two partners share a host, port and directory (load-config.ts).
import type { RemoteDirEntry, SftpSession } from '../src/core/ports.js';
import type { FerryConfig } from '../src/config/load-config.js';
import type { PartnerConfig } from '../src/config/schema.js';
import { classifyError } from '../src/core/classify-error.js';
import { selectLeftovers, stillRemovable, type LeftoverDecision } from '../src/core/janitor.js';
import type { FerryError } from '../src/errors.js';
import type { RemovalClaim, TempRegistry } from '../src/ledger/temp-registry.js';
import { safeText, type Logger } from '../src/observability/logger.js';
import type { Metrics } from '../src/observability/metrics.js';

export interface JanitorDeps {
  getConfig(): FerryConfig;
  /** A pooled session to the partner; `signal` bounds the wait for a connection slot. */
  withSession<T>(
    partner: PartnerConfig,
    fn: (session: Pick<SftpSession, 'list' | 'remove'>) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T>;
  registry: Pick<
    TempRegistry,
    'listRegistered' | 'claimForRemoval' | 'confirmClaim' | 'releaseClaim' | 'startJanitorRun'
  >;
  logger: Logger;
  now(): Date;
  metrics?: Pick<Metrics, 'janitorRemoved'>;
  /**
   * Registers the temps of intents recorded before deliveries registered theirs (once per partner;
   * src/ledger/adopt-open-intents.ts). Runs before the registry is read.
   */
  adoptOpenIntents?(partnerId: string): Promise<number>;
}

/** What one pass found and did. */
export interface JanitorResult {
  partnerId: string;
  directory: string;
  dryRun: boolean;
  /** Every entry in the directory that follows Ferry's pattern, with the decision about it. */
  decisions: LeftoverDecision[];
  removed: number;
  /** Candidates not removed after all: registered or claimed meanwhile, changed, or the removal failed. */
  spared: { path: string; why: string }[];
}

/** A removal claim lives this long; each removal is sent right after renewing it to the whole TTL. */
export const JANITOR_CLAIM_TTL_MS = 10 * 60_000;
/** Claims taken (and one listing re-read) per batch. */
const BATCH = 250;
/** Removals per pass at most; the rest wait for the next one. */
export const JANITOR_MAX_REMOVALS_PER_RUN = 1000;
/**
 * A sweep waits this long at most for a connection slot before leaving its partner-side chores (the
 * janitor, the answers of jobs/ack-poll.ts) to a later one.
 */
export const SLOT_WAIT_MS = 30_000;

export interface Janitor {
  /** One pass over the partner's directory now (`dryRun`: decide and report, remove nothing). */
  run(partner: PartnerConfig, options?: { dryRun?: boolean; signal?: AbortSignal }): Promise<JanitorResult>;
  /**
   * The sweep's hook: a pass when the janitor is enabled and no process ran one for this partner
   * within `janitor.intervalMinutes` (a Redis SET NX with that expiry). Never throws.
   */
  runIfDue(partner: PartnerConfig, log: Logger): Promise<JanitorResult | undefined>;
}

export function createJanitor(deps: JanitorDeps): Janitor {
  const run: Janitor['run'] = async (partner, options = {}) => {
    const { minAgeMinutes } = deps.getConfig().service.janitor;
    const minAgeMs = minAgeMinutes * 60_000;
    const directory = partner.target.directory;
    const log = deps.logger.child({ partnerId: partner.id, janitor: true });
    return deps.withSession(
      partner,
      async (session) => {
        const adopted = (await deps.adoptOpenIntents?.(partner.id)) ?? 0;
        if (adopted > 0) {
          log.info({ adopted }, 'registered the temp files of publish intents older than this version');
        }
        // Registered paths first: a path registered after this read is protected by the claim instead.
        const registered = new Set((await deps.registry.listRegistered(partner.id)).keys());
        const entries = await session.list(directory);
        const decisions = selectLeftovers({ directory, entries, now: deps.now(), minAgeMs, registered });
        const result: JanitorResult = {
          partnerId: partner.id,
          directory,
          dryRun: options.dryRun === true,
          decisions,
          removed: 0,
          spared: [],
        };
        if (result.dryRun) return result;
        const candidates = decisions
          .filter((d) => d.action === 'remove')
          .slice(0, JANITOR_MAX_REMOVALS_PER_RUN);
        for (let start = 0; start < candidates.length; start += BATCH) {
          await removeBatch(
            deps,
            session,
            partner,
            candidates.slice(start, start + BATCH),
            minAgeMs,
            result,
            log,
          );
        }
        if (result.removed > 0 || result.spared.length > 0) {
          log.info(
            { removed: result.removed, spared: result.spared.length, directory: safeText(directory) },
            'janitor pass finished',
          );
        }
        return result;
      },
      options.signal,
    );
  };

  return {
    run,
    async runIfDue(partner, log) {
      const { enabled, intervalMinutes } = deps.getConfig().service.janitor;
      if (!enabled) return undefined;
      try {
        if (!(await deps.registry.startJanitorRun(partner.id, intervalMinutes * 60_000))) return undefined;
        return await run(partner, { signal: AbortSignal.timeout(SLOT_WAIT_MS) });
      } catch (err) {
        const cause = classifyError(err, 'sftp');
        log.warn(
          { errCode: cause.code, err: cause.message },
          'janitor pass failed; the next one after janitor.intervalMinutes tries again',
        );
        return undefined;
      }
    },
  };
}

/**
 * Claims each candidate (refused when a delivery registered it meanwhile), lists the directory again,
 * and removes each claimed file that is still an old leftover, renewing its claim just before.
 */
async function removeBatch(
  deps: JanitorDeps,
  session: Pick<SftpSession, 'list' | 'remove'>,
  partner: PartnerConfig,
  batch: readonly LeftoverDecision[],
  minAgeMs: number,
  result: JanitorResult,
  log: Logger,
): Promise<void> {
  const claimed: { decision: LeftoverDecision; claim: RemovalClaim }[] = [];
  for (const decision of batch) {
    const outcome = await deps.registry.claimForRemoval(partner.id, decision.path, JANITOR_CLAIM_TTL_MS);
    if (outcome.ok) claimed.push({ decision, claim: outcome.claim });
    else result.spared.push({ path: decision.path, why: outcome.reason });
  }
  if (claimed.length === 0) return;
  let relisted: Map<string, RemoteDirEntry>;
  try {
    relisted = new Map((await session.list(result.directory)).map((e) => [e.name, e]));
  } catch (err) {
    await releaseAll(
      deps,
      claimed.map((c) => c.claim),
    );
    throw err;
  }
  for (const [i, { decision, claim }] of claimed.entries()) {
    // Until the server answers a removal, the claim must stay: it runs out instead of being released,
    // so a removal still in flight can never meet a file a delivery registered and wrote since.
    let answered = true;
    let fatal: FerryError | undefined;
    try {
      const now = deps.now();
      const current = relisted.get(decision.name);
      if (!stillRemovable(current, now, minAgeMs)) {
        result.spared.push({ path: decision.path, why: current === undefined ? 'gone' : 'changed' });
        continue;
      }
      if (!(await deps.registry.confirmClaim(claim, JANITOR_CLAIM_TTL_MS))) {
        result.spared.push({ path: decision.path, why: 'claim-lost' });
        continue;
      }
      answered = false;
      const removed = await removeFile(session, decision.path);
      answered = true;
      if (!removed) {
        result.spared.push({ path: decision.path, why: 'gone' });
        continue;
      }
      result.removed += 1;
      deps.metrics?.janitorRemoved(partner.id, decision.kind);
      log.info(
        {
          path: safeText(decision.path),
          kind: decision.kind,
          ageSeconds: Math.round((now.getTime() - current!.mtime.getTime()) / 1000),
          size: current!.size,
          reason: decision.reason,
        },
        `janitor removed a leftover ${decision.kind === 'part' ? 'temp' : 'aside (.old)'} file`,
      );
    } catch (err) {
      const cause = classifyError(err, 'sftp');
      result.spared.push({ path: decision.path, why: cause.code });
      if (SERVER_REFUSALS.has(cause.code)) {
        answered = true;
        log.warn(
          { path: safeText(decision.path), errCode: cause.code },
          'janitor could not remove a leftover',
        );
      } else {
        fatal = cause; // connection or Redis trouble: this pass ends here
      }
    } finally {
      if (answered) await deps.registry.releaseClaim(claim).catch(() => undefined);
    }
    if (fatal) {
      // The rest were never sent a removal: their claims can go now.
      await releaseAll(
        deps,
        claimed.slice(i + 1).map((c) => c.claim),
      );
      throw fatal;
    }
  }
}

/** Status replies to a removal that leave the file as it was (the server answered: nothing in flight). */
const SERVER_REFUSALS = new Set(['ERR_SFTP_PERMISSION', 'ERR_SFTP_FAILURE', 'ERR_SFTP_RENAME_UNSUPPORTED']);

/** Removes the file; false when it was already gone. */
async function removeFile(session: Pick<SftpSession, 'remove'>, path: string): Promise<boolean> {
  try {
    await session.remove(path);
    return true;
  } catch (err) {
    if (classifyError(err, 'sftp').code === 'ERR_SFTP_NO_SUCH_PATH') return false;
    throw err;
  }
}

async function releaseAll(deps: JanitorDeps, claims: readonly RemovalClaim[]): Promise<void> {
  await Promise.all(claims.map((c) => deps.registry.releaseClaim(c).catch(() => undefined)));
}
