// A redelivery is a deliberate resend of a delivered object version, asked for by a person with a
// reason. It is a delivery of its own (`<deliveryId>-r<n>`): its own job, ledger record, temp name and
// receipt, so the original's "delivered" stays true and the exactly-once machinery stays untouched.

import { MAX_REDELIVERY, formatDeliveryId, parseDeliveryId } from './delivery-id.js';

/** Reasons are stored and shown to other people: bounded, one line, no control characters. */
export const REASON_MIN = 3;
export const REASON_MAX = 500;

/** The id of the n-th redelivery (n = 1 … 999999) of the delivery `baseId` (an id without `-r<n>`). */
export function redeliveryIdFor(baseId: string, n: number): string {
  if (!Number.isInteger(n) || n < 1 || n > MAX_REDELIVERY) {
    throw new RangeError(`redelivery number must be 1-${MAX_REDELIVERY}, got ${n}`);
  }
  const base = parseDeliveryId(baseId);
  if (base === undefined || base.redelivery !== undefined) {
    throw new RangeError(`not the id of an object version's delivery: ${JSON.stringify(baseId)}`);
  }
  return formatDeliveryId({ partnerId: base.partnerId, hash: base.hash, redelivery: n });
}

/** Splits `<base>-r<n>` into its parts; a delivery id without the suffix, or any other string, is its own base. */
export function parseRedeliveryId(id: string): { baseId: string; n?: number } {
  const parsed = parseDeliveryId(id);
  if (parsed?.redelivery === undefined) return { baseId: id };
  return { baseId: parsed.baseId, n: parsed.redelivery };
}

/**
 * Checks an operator's reason (redeliver, pause, resume): trimmed, 3–500 characters, no control
 * characters (a reason ends up in logs, receipts and the web UI). Returns the trimmed text or a message.
 */
export function checkReason(value: unknown): { ok: true; reason: string } | { ok: false; message: string } {
  if (typeof value !== 'string') return { ok: false, message: 'reason is required' };
  const reason = value.trim();
  if (reason.length < REASON_MIN || reason.length > REASON_MAX) {
    return { ok: false, message: `reason must be ${REASON_MIN}-${REASON_MAX} characters` };
  }
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  if (/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/u.test(reason)) {
    return { ok: false, message: 'reason must be one line without control characters' };
  }
  return { ok: true, reason };
}
