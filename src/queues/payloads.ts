import { z } from 'zod';
import { DELIVERY_ID_FORMAT, MAX_REDELIVERY, PARTNER_ID_PATTERN, isDeliveryId } from '../core/delivery-id.js';

// Job data holds ids only: it is clear text in Redis, editable in Bull Board, and outlives deploys.
// Processors parse it (it is `unknown`) and recompute everything else from config + S3.

export const SweepJobData = z
  .object({
    v: z.literal(1).default(1),
    partnerId: z.string().regex(PARTNER_ID_PATTERN),
    // `acks`: only read the partner's answers (ack.pollEveryMinutes), no listing.
    // `manifest`: only publish the partner's manifest when due (jobs/manifest-publish.ts), no listing.
    reason: z.enum(['schedule', 'manual', 'acks', 'manifest']).default('schedule'),
    // `ferry sweep --since 30d`: a dated prefix's partitions of that many days back are listed too.
    sinceDays: z.int().min(0).max(3660).optional(),
  })
  .strict();
export type SweepJobData = z.infer<typeof SweepJobData>;

export const DeliverJobData = z
  .object({
    v: z.literal(1),
    // `-r<n>`: the n-th redelivery of that object version (src/core/redelivery.ts).
    deliveryId: z.string().refine(isDeliveryId, `must be ${DELIVERY_ID_FORMAT}`),
    partnerId: z.string().regex(PARTNER_ID_PATTERN),
    bucket: z.string().min(1),
    key: z.string().min(1).max(1024),
    etag: z.string().min(1),
    size: z.number().int().nonnegative(),
    /**
     * The object's LastModified (ISO), for `naming.filename` dates; data only, never in the delivery id.
     * Sweeps take it from the listing; a redelivery from HeadObject at request time (src/ledger/redeliveries.ts).
     */
    lastModified: z.iso.datetime().optional(),
    /** Present on a redelivery: its number n; the id is then `<the object version's id>-r<n>`. */
    redelivery: z.number().int().min(1).max(MAX_REDELIVERY).optional(),
    /**
     * A redelivery the operator asked to replace the partner's file (`--replace`): published as
     * `onExisting: overwrite` would. Only a redelivery carries it (a sweep's job never does).
     */
    replace: z.literal(true).optional(),
    /** A manifest's delivery (jobs/manifest-publish.ts): its scope, for Bull Board; intake checks it against the key. */
    manifest: z
      .string()
      .regex(/^[sw]-[0-9-]+$/)
      .optional(),
  })
  .strict()
  .refine((d) => d.replace === undefined || d.redelivery !== undefined, {
    message: 'replace is only for a redelivery',
    path: ['replace'],
  });
export type DeliverJobData = z.infer<typeof DeliverJobData>;

/** What a sweep job returns (visible in Bull Board, read by `ferry sweep --wait`). */
export interface SweepResult {
  partnerId: string;
  listed: number;
  eligible: number;
  enqueued: number;
  /** Objects the ledger had already settled, by status (`failed`: waits for `ferry retry`). */
  settled: { delivered: number; quarantined: number; skipped: number; superseded: number; failed: number };
  /** Objects not eligible, by reason (zero-byte, not-included, settling, …). */
  skipped: Record<string, number>;
  /** Deliveries this sweep found not yet done (new or still queued); `sweep --wait` follows these. */
  pending: string[];
  durationMs: number;
}

/** What a deliver job returns. */
export interface DeliverResult {
  outcome: 'delivered' | 'already-delivered' | 'skipped' | 'superseded' | 'quarantined';
  deliveryId: string;
  remotePath?: string;
  bytes: number;
  sha256?: string;
  reason?: string;
}
