/**
 * Every Redis key Ferry writes outside BullMQ, built in one place. The prefix carries one hash tag
 * (default `{ferry}`), so all keys land in the same Redis Cluster slot and Lua scripts may touch several.
 */
export function createRedisKeys(prefix: string) {
  return {
    /** Hash: one delivery's ledger record. */
    delivery: (deliveryId: string): string => `${prefix}:delivery:${deliveryId}`,
    /** Sorted set: deliveryId → updatedAt (ms), one per partner, for listings and rebuilds. */
    partnerDeliveries: (partnerId: string): string => `${prefix}:deliveries:${partnerId}`,
    /** Sorted set: lease holder → lease expiry (ms, Redis clock), one per partner. */
    slots: (partnerId: string): string => `${prefix}:slots:${partnerId}`,
    /** String with a short expiry: some process is waiting for one of this partner's slots. */
    slotsWanted: (partnerId: string): string => `${prefix}:slots-wanted:${partnerId}`,
    /** Hash: epoch, server, seenAt — when the ledger is known to hold a record for every receipt. */
    ledgerTrust: `${prefix}:ledger:trust`,
    /** String: the worker rebuilding the ledger from receipts (NX, with expiry). */
    ledgerRebuildLock: `${prefix}:ledger:rebuild-lock`,
    /** Hash: one alert dedup window (windowEnd, suppressed, firstAt, lastAt, event), with expiry. */
    alertWindow: (dedupId: string): string => `${prefix}:alert:${dedupId}`,
    /** Sorted set: dedupId → window end (ms, Redis clock), so any process can flush ended windows. */
    alertWindows: `${prefix}:alerts:windows`,
    /** Hash: an operator's pause of one partner (by, at, reason); absent = not paused by an operator. */
    partnerPause: (partnerId: string): string => `${prefix}:partner:${partnerId}:pause`,
    /** Set: the object versions (deliveryIds) the sweeps found on one partner's SLA day (YYYY-MM-DD), with expiry. */
    slaFound: (partnerId: string, day: string): string => `${prefix}:partner:${partnerId}:sla:${day}:found`,
    /** String (NX, with expiry): one SLA alert of one kind was sent for this partner and day. */
    slaAlerted: (partnerId: string, day: string, kind: string): string =>
      `${prefix}:partner:${partnerId}:sla:${day}:alerted:${kind}`,
    /** String (INCR): how many redeliveries of one delivery were asked for. */
    redeliveryCount: (deliveryId: string): string => `${prefix}:redeliveries:${deliveryId}`,
    /** Hash: one redelivery request (of, n, reason, by, at), written before its job is added. */
    redeliveryRequest: (redeliveryId: string): string => `${prefix}:redelivery:${redeliveryId}`,
    /** List (oldest first): the audit trail of one delivery, JSON entries. */
    deliveryAudit: (deliveryId: string): string => `${prefix}:audit:delivery:${deliveryId}`,
    /** List (newest first, capped): every operator action, JSON entries. */
    auditLog: `${prefix}:audit`,
    /**
     * String (INCR): a partner's `{seq}` counter for one scope (the name with the number masked,
     * URI-encoded so the key is readable and two scopes never share one), no expiry.
     */
    nameSequence: (partnerId: string, scope: string): string =>
      `${prefix}:name-seq:${partnerId}:${encodeURIComponent(scope)}`,
    /** Hash: the `{seq}` number given to one delivery (scope, n), so every retry renders the same name. */
    nameSequenceOf: (deliveryId: string): string => `${prefix}:name-seq-of:${deliveryId}`,
    /** Sorted set: deliveryId → last failure (ms) of `after.source` steps still to redo, one per partner. */
    housekeepingPending: (partnerId: string): string => `${prefix}:partner:${partnerId}:housekeeping:pending`,
    /** String `<deliveryId> <fence>` with expiry: the one delivery writing a remote path now. */
    pathLease: (partnerId: string, pathHash: string): string =>
      `${prefix}:path-lease:${partnerId}:${pathHash}`,
    /** Hash: a remote path's fence counter, newest published version (lastModified, publishedBy), fragmentOf. */
    pathRecord: (partnerId: string, pathHash: string): string => `${prefix}:path:${partnerId}:${pathHash}`,
    /** Hash: temp/aside path → deliveryId, the files on one partner's server a live delivery still needs. */
    tempRegistry: (partnerId: string): string => `${prefix}:partner:${partnerId}:temps`,
    /** String (token, with expiry): the janitor is removing this path; registering it is refused meanwhile. */
    tempRemovalClaim: (partnerId: string, remotePath: string): string =>
      `${prefix}:partner:${partnerId}:temp-claim:${encodeURIComponent(remotePath)}`,
    /** String (no expiry): the partner's open publish intents were registered as temps once (adopt-open-intents.ts). */
    openIntentsAdopted: (partnerId: string): string => `${prefix}:partner:${partnerId}:temps-adopted`,
    /** String (NX, with expiry): the janitor ran for this partner within its interval. */
    janitorRan: (partnerId: string): string => `${prefix}:partner:${partnerId}:janitor-ran`,
    /** String (ISO time): when the partner's last S3 event came (POST /api/events/s3), no expiry. */
    partnerLastEvent: (partnerId: string): string => `${prefix}:partner:${partnerId}:last-event`,
    /** String (JSON): what the partner's last sweep found (src/ledger/sweep-summary.ts), no expiry. */
    lastSweep: (partnerId: string): string => `${prefix}:partner:${partnerId}:last-sweep`,
    /** Hash: one delivery's failed `after.source` step (object version, mark, attempts, last error). */
    housekeepingEntry: (deliveryId: string): string => `${prefix}:housekeeping:${deliveryId}`,
    /** Sorted set: the partner's delivered files still waiting for an answer (ack:), by delivery time (ms). */
    ackPending: (partnerId: string): string => `${prefix}:partner:${partnerId}:ack:pending`,
    /** Hash: delivery id → its remote file name, for the partner's deliveries waiting for an answer. */
    ackNames: (partnerId: string): string => `${prefix}:partner:${partnerId}:ack:names`,
    /** Set: the partner's waiting deliveries already reported overdue (alerted once). */
    ackOverdue: (partnerId: string): string => `${prefix}:partner:${partnerId}:ack:overdue`,
    /** Hash: answer file name → JSON {size, firstSeenAt} of files in the ack directory that match nothing. */
    ackUnmatched: (partnerId: string): string => `${prefix}:partner:${partnerId}:ack:unmatched`,
    /** Sorted set: the partner's delivered data files no manifest lists yet, by delivery time (ms). */
    manifestOpen: (partnerId: string): string => `${prefix}:partner:${partnerId}:manifest:open`,
    /** Set: deliveries the partner's sweeps enqueued; the next manifest waits while one is queued or running. */
    manifestWait: (partnerId: string): string => `${prefix}:partner:${partnerId}:manifest:wait`,
    /** String (JSON ManifestRecord, set once): one manifest as taken, so every retry sends the same bytes. */
    manifest: (partnerId: string, scope: string): string =>
      `${prefix}:partner:${partnerId}:manifest:${scope}`,
    /** Sorted set: scope → taken at (ms), the partner's manifests whose delivery is not yet settled. */
    manifestsUnsent: (partnerId: string): string => `${prefix}:partner:${partnerId}:manifests:unsent`,
    /** Sorted set: scope → taken at (ms), the partner's newest manifests (capped), for listings. */
    manifestsTaken: (partnerId: string): string => `${prefix}:partner:${partnerId}:manifests:taken`,
    /** Hash: scope → the delivery id of the manifest's S3 object, once known. */
    manifestDeliveries: (partnerId: string): string => `${prefix}:partner:${partnerId}:manifests:deliveries`,
    /** Hash (tokens, at), with expiry: the token bucket of one partner's bandwidth cap (target.maxBytesPerSecond). */
    bandwidthPartner: (partnerId: string): string => `${prefix}:bandwidth:partner:${partnerId}`,
    /** Hash (tokens, at), with expiry: the bucket of the cap on all partners together (defaults.target.maxBytesPerSecond). */
    bandwidthTotal: `${prefix}:bandwidth:total`,
    /** String (ms): the window opening the partner's newest per-window manifest lists. */
    manifestLastOpened: (partnerId: string): string => `${prefix}:partner:${partnerId}:manifest:last-opened`,
  };
}

export type RedisKeys = ReturnType<typeof createRedisKeys>;
