// What every delivery step sees: the processor's dependencies and one delivery's facts.
import type { Transform } from 'node:stream';
import type { Job } from 'bullmq';
import type { ObjectSource } from '../../src/core/ports.js';
import type { ReceiptStore } from '../../src/adapters/receipt-store.js';
import type { SftpConnection } from '../../src/adapters/sftp-connection.js';
import type { Alerter } from '../../src/observability/alerter.js';
import type { AckIndex } from '../../src/ledger/ack-index.js';
import type { FerryConfig } from '../../src/config/load-config.js';
import type { PartnerConfig } from '../../src/config/schema.js';
import type { PublishPhase, SupersededBy } from '../../src/core/publish-protocol.js';
import type { DeliveryRecord } from '../../src/ledger/delivery-record.js';
import type { HousekeepingPendingStore } from '../../src/ledger/housekeeping-pending.js';
import type { LedgerTrust } from '../../src/ledger/ledger-trust.js';
import type { NameSequence } from '../../src/ledger/name-sequence.js';
import type { PathLeases } from '../../src/ledger/path-leases.js';
import type { TempRegistry } from '../../src/ledger/temp-registry.js';
import type { RedeliveryRequest } from '../../src/ledger/redeliveries.js';
import type { Ledger } from '../../src/ledger/redis-ledger.js';
import type { Logger } from '../../src/observability/logger.js';
import type { Metrics } from '../../src/observability/metrics.js';
import type { DeliveryHold } from '../../src/partners/partner-controls.js';
import type { DeliverJobData } from '../../src/queues/payloads.js';

export interface DeliverDeps {
  getConfig(): FerryConfig;
  source: ObjectSource;
  ledger: Ledger;
  receipts: ReceiptStore;
  /** Whether a missing record may skip the receipt read (see src/ledger/ledger-trust.ts). */
  trust: Pick<LedgerTrust, 'trusts'>;
  /** One writer per remote path, and the newest version published there (src/ledger/path-leases.ts). */
  pathLeases: PathLeases;
  /** Temp and aside files a live delivery needs: the janitor keeps away from them (src/ledger/temp-registry.ts). */
  temps: Pick<TempRegistry, 'register' | 'release'>;
  /** Runs `fn` on a pooled, pinned, authenticated connection to the partner (holds a cross-process slot). */
  withSession<T>(partner: PartnerConfig, fn: (session: SftpConnection) => Promise<T>): Promise<T>;
  logger: Logger;
  now(): Date;
  ferryVersion: string;
  /** Webhook alerts for what a person must act on (fire-and-forget; default: none). */
  alerts?: Alerter;
  /** Each run's outcome, bytes and duration (default: reported nowhere). */
  metrics?: Pick<Metrics, 'deliveryFinished'>;
  /**
   * Holds a delivery back before it takes a connection slot (partner paused, outside its delivery
   * window): the job goes back to delayed for `delayMs` without using an attempt. Default: never.
   */
  holdFor?: (partner: PartnerConfig, now: Date) => Promise<DeliveryHold | undefined>;
  /** Who asked for a redelivery and why (src/ledger/redeliveries.ts); without it redeliveries are refused. */
  redeliveryRequest?(deliveryId: string): Promise<RedeliveryRequest | undefined>;
  /** `{seq}` numbers for `naming.filename` (src/ledger/name-sequence.ts); required only by templates using it. */
  nameSequence?: NameSequence;
  /** Delivered files of partners with `ack:` start waiting for their answer here (default: nowhere). */
  ackIndex?: Pick<AckIndex, 'expect'>;
  /** Failed `after.source` steps, kept for the sweeps to retry (default: only logged and alerted). */
  housekeepingPending?: HousekeepingPendingStore;
  /**
   * Bandwidth caps (target.maxBytesPerSecond, defaults.target.maxBytesPerSecond): a stream that spaces
   * the partner's bytes out under the caps the live config names at each chunk (a pass-through under
   * none, so a cap a reload adds applies in flight). Default: none, uncapped.
   */
  throttle?(partner: PartnerConfig, signal: AbortSignal): Transform | undefined;
  /** Partners with `manifest:` (jobs/manifest-publish.ts); default: no manifests. */
  manifests?: ManifestHooks;
}

export interface ManifestHooks {
  /** A delivered data file joins the partner's next manifest (idempotent). */
  join(partnerId: string, deliveryId: string, deliveredAtMs: number): Promise<void>;
  /** A delivery ended (any outcome): when it was the last one the next manifest waited for, it is checked. */
  ended(partner: PartnerConfig, deliveryId: string): Promise<void>;
  /** A manifest's delivery is settled: its publisher stops resuming it. */
  sent(partnerId: string, scope: string): Promise<void>;
}

/** The ledger identity of one delivery (partner + object version, or a redelivery of it). */
export type Identity = Pick<DeliveryRecord, 'deliveryId' | 'partnerId' | 'bucket' | 'key' | 'etag'> &
  Pick<DeliveryRecord, 'sourceLastModified'>;

/** One delivery as its steps see it, once its remote name is known. */
export interface Delivery {
  deps: DeliverDeps;
  job: Job;
  data: DeliverJobData;
  partner: PartnerConfig;
  id: Identity;
  log: Logger;
  /** The ledger record read when the run started (updated by the steps as they record). */
  known: DeliveryRecord | undefined;
  remotePath: string;
  /** Rename mode: `.<name>.<hash>.part` next to the final name; direct mode: the final name. */
  tempPath: string;
  /** The source version's LastModified (ms): newer versions of a path win (path-leases.ts). */
  lastModifiedMs: number;
  /** The name carries a {seq} number given to this delivery (not a redelivery): it cannot exist yet. */
  freshName: boolean;
  /** The CSV rules were checked in a first read (prevalidateCsv); else they run inline, if set. */
  prevalidated: boolean;
  /** The data rows validate.csv counted in that first read (the upload's inline check counts its own). */
  csvRows?: number | undefined;
  /** The path lease's fencing token, once taken (src/ledger/path-leases.ts). */
  fence?: number;
  /** Where the data file stands (src/core/publish-protocol.ts), kept current by the publish step. */
  phase: PublishPhase;
  /** A newer version was published to the path (path record), or S3 holds another version now. */
  superseded?: SupersededBy | undefined;
  /** The delivery that published the newest version to the path, as the path record names it. */
  newestPublishedBy?: string | undefined;
  /** Direct mode: the delivery whose unverified fragment the path record says is at the final name. */
  fragmentOf?: string | undefined;
}

/**
 * Whether the delivery publishes as `onExisting: overwrite`: the partner's setting, or a rename-mode
 * redelivery the operator asked to replace the partner's file (`replace`, checked at intake).
 */
export function overwrites(d: Pick<Delivery, 'partner' | 'data'>): boolean {
  const { onExisting, publish } = d.partner.target;
  return onExisting === 'overwrite' || (d.data.replace === true && publish === 'rename');
}
