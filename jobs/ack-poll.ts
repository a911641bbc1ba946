// The partner's answers (`ack:`): one listing of its ack directory per poll, each answer matched to
// the delivered file it names (src/core/ack-match.ts), recorded in an answer receipt and on the
// delivery's ledger record (src/ledger/ack-index.ts), then removed or archived; answers that match
// nothing are kept and shown; deliveries without an answer after `ack.within` are reported overdue.
// Runs after a partner's sweep and never fails it.
import { posix } from 'node:path';
import type { AckReceipt } from '../src/adapters/receipt-store.js';
import type { FerryConfig } from '../src/config/load-config.js';
import type { PartnerConfig } from '../src/config/schema.js';
import { matchAnswers, type AnswerMatch } from '../src/core/ack-match.js';
import { classifyError } from '../src/core/classify-error.js';
import { isRegularFile } from '../src/core/janitor.js';
import { SLOT_WAIT_MS } from './janitor.js';
import { formatDuration } from '../src/core/redis-wait.js';
import type { SftpSession } from '../src/core/ports.js';
import type { AckIndex } from '../src/ledger/ack-index.js';
import type { Alerter } from '../src/observability/alerter.js';
import { safeText, type Logger } from '../src/observability/logger.js';

/** A reject's text is kept up to this many bytes. */
export const ACK_REASON_MAX_BYTES = 4096;

export interface AckPollDeps {
  getConfig(): FerryConfig;
  withSession<T>(
    partner: PartnerConfig,
    fn: (session: Pick<SftpSession, 'list' | 'remove' | 'rename' | 'readHead'>) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T>;
  ackIndex: AckIndex;
  receipts: { writeAck(receipt: AckReceipt): Promise<void> };
  alerts?: Alerter;
  metrics?: {
    ackRead(partnerId: string, result: 'acknowledged' | 'rejected' | 'overdue' | 'unmatched'): void;
  };
  logger: Logger;
  now(): Date;
  ferryVersion: string;
}

export interface AckPollResult {
  answered: { deliveryId: string; result: AnswerMatch['result'] }[];
  unmatched: string[];
  overdue: string[];
}

export interface AckPoller {
  /** Reads the partner's answers if it has `ack:` and something to read; never throws. */
  poll(partner: PartnerConfig, log: Logger): Promise<AckPollResult | undefined>;
}

export function createAckPoller(deps: AckPollDeps): AckPoller {
  return {
    async poll(partner, parentLog) {
      const ack = partner.ack;
      if (ack === undefined) return undefined;
      const log = parentLog.child({ ack: true });
      const result: AckPollResult = { answered: [], unmatched: [], overdue: [] };
      try {
        const waiting = await deps.ackIndex.waiting(partner.id);
        const known = await deps.ackIndex.unmatched(partner.id);
        if (waiting.length > 0 || known.length > 0) {
          await deps.withSession(
            partner,
            async (session) => {
              const files = (await session.list(ack.directory))
                .filter((e) => isRegularFile(e.mode))
                .map((e) => ({ name: e.name, size: e.size }));
              const matching = matchAnswers(files, waiting, ack);
              // One answer file can answer several deliveries of its name (a redelivery): read it once.
              const byFile = new Map<string, AnswerMatch[]>();
              for (const m of matching.matches) {
                byFile.set(m.file.name, [...(byFile.get(m.file.name) ?? []), m]);
              }
              for (const answers of byFile.values()) {
                const delivered = answers.map((m) => ({
                  match: m,
                  name: waiting.find((w) => w.deliveryId === m.deliveryId)!.name,
                }));
                for (const m of await recordAnswer(deps, session, partner, delivered, log)) {
                  result.answered.push({ deliveryId: m.deliveryId, result: m.result });
                }
              }
              const before = new Set(known.map((k) => k.name));
              for (const u of matching.unmatched) {
                if (!before.has(u.name)) {
                  deps.metrics?.ackRead(partner.id, 'unmatched');
                  log.warn(
                    { answerFile: safeText(u.name) },
                    'an answer file in the ack directory matches no delivered file; kept',
                  );
                }
              }
              await deps.ackIndex.setUnmatched(partner.id, matching.unmatched, deps.now());
              result.unmatched = matching.unmatched.map((u) => u.name);
            },
            AbortSignal.timeout(SLOT_WAIT_MS),
          );
        }
      } catch (err) {
        const cause = classifyError(err, 'sftp');
        log.warn(
          { errCode: cause.code, err: cause.message, directory: safeText(ack.directory) },
          "partner's answers not read; the next sweep tries again",
        );
      }
      if (ack.within !== undefined) {
        const now = deps.now();
        try {
          result.overdue = await deps.ackIndex.markOverdue(partner.id, now.getTime() - ack.within, now);
        } catch (err) {
          log.warn(
            { err: (err as Error).message },
            'overdue answers not checked; the next sweep tries again',
          );
        }
        for (const deliveryId of result.overdue) {
          deps.metrics?.ackRead(partner.id, 'overdue');
          log.warn(
            { deliveryId, trackingId: deliveryId, alert: true },
            'no answer from the partner within ack.within',
          );
          deps.alerts?.notify({
            kind: 'ack-overdue',
            partnerId: partner.id,
            deliveryId,
            message: `${partner.id} has not answered delivery ${deliveryId} within ${formatDuration(ack.within / 1000)}`,
          });
        }
      }
      return result;
    },
  };
}

/**
 * One answer file, for each delivery it answers: the receipt first (durable evidence), then the ledger
 * (ends the wait); then the file goes. A crash between them reads the same answer again next time: the
 * receipt is rewritten with the same facts and the ledger step is a no-op for a delivery no longer
 * waiting. Returns the answers recorded now (not those another process recorded meanwhile).
 */
async function recordAnswer(
  deps: AckPollDeps,
  session: Pick<SftpSession, 'remove' | 'rename' | 'readHead'>,
  partner: PartnerConfig,
  delivered: readonly { match: AnswerMatch; name: string }[],
  parentLog: Logger,
): Promise<AnswerMatch[]> {
  const ack = partner.ack!;
  const { file, result } = delivered[0]!.match;
  const answerPath = posix.join(ack.directory, file.name);
  const reason =
    result === 'rejected'
      ? (await session.readHead(answerPath, ACK_REASON_MAX_BYTES)).toString('utf8').trim()
      : undefined;
  const recordedNow: AnswerMatch[] = [];
  for (const { match: m, name: deliveredName } of delivered) {
    const log = parentLog.child({ deliveryId: m.deliveryId, trackingId: m.deliveryId });
    const at = deps.now();
    await deps.receipts.writeAck({
      version: 1,
      kind: 'ack',
      deliveryId: m.deliveryId,
      trackingId: m.deliveryId,
      partnerId: partner.id,
      remotePath: posix.join(partner.target.directory, deliveredName),
      result,
      answerPath,
      ...(reason === undefined ? {} : { reason }),
      readAt: at.toISOString(),
      ferryVersion: deps.ferryVersion,
    });
    const recorded = await deps.ackIndex.answer(partner.id, m.deliveryId, {
      result,
      at,
      file: file.name,
      ...(reason === undefined ? {} : { reason }),
    });
    if (!recorded) continue;
    recordedNow.push(m);
    deps.metrics?.ackRead(partner.id, result);
    if (result === 'rejected') {
      log.error(
        { answerFile: safeText(file.name), reason: safeText(reason ?? ''), alert: true },
        'the partner rejected a delivered file',
      );
      deps.alerts?.notify({
        kind: 'delivery-rejected',
        partnerId: partner.id,
        deliveryId: m.deliveryId,
        message: `${partner.id} rejected ${deliveredName}: ${reason === '' ? '(no reason given)' : reason}`,
      });
    } else log.info({ answerFile: safeText(file.name) }, 'the partner acknowledged a delivered file');
  }
  try {
    if (ack.archive !== undefined) {
      await session.rename(answerPath, posix.join(ack.directory, ack.archive, file.name));
    } else if (ack.removeAfterReading) await session.remove(answerPath);
  } catch (err) {
    const cause = classifyError(err, 'sftp');
    parentLog.warn(
      { errCode: cause.code, err: cause.message, answerFile: safeText(file.name) },
      'answer read but not removed or archived; it now shows as unmatched',
    );
  }
  return recordedNow;
}
