// The deadline on one SFTP connection's requests. Pure: the caller passes the clock in and owns the timer.

/** A request sent and not yet answered. */
export interface OutstandingRequest {
  /** The SFTP request, e.g. 'stat', 'open', 'write', 'posix-rename'. */
  readonly op: string;
  readonly path: string;
  /** When it was sent, on the caller's clock (ms). */
  readonly sentAt: number;
}

/** The request that broke the deadline and how long the server has been silent about it. */
export interface OverdueRequest {
  readonly request: OutstandingRequest;
  readonly waitedMs: number;
}

export interface RequestDeadlines {
  readonly deadlineMs: number;
  /** Requests sent and not answered. */
  readonly outstanding: number;
  /** Records a request sent at `now`; the token goes to end(). */
  begin(op: string, path: string, now: number): number;
  /**
   * Records that a request is over: answered by the server (the default), which also proves the server
   * alive, or failed locally (`answered: false`, e.g. ssh2 refused to send it).
   */
  end(token: number, now: number, answered?: boolean): void;
  /** The oldest outstanding request once the deadline has passed for it; undefined while none has. */
  overdue(now: number): OverdueRequest | undefined;
  /** Ms until overdue() could next return a request; undefined when nothing is outstanding. */
  msUntilDue(now: number): number | undefined;
}

/**
 * Tracks one connection's outstanding requests against `deadlineMs`. A request is overdue once it has
 * waited `deadlineMs` and the server has answered nothing on the connection for as long. The second
 * condition keeps a slow link from failing: a pipelined write queued behind 2 MiB of others may wait
 * longer than the deadline for its reply, but the replies to the writes ahead of it keep coming. A
 * server that stops answering (an sftp-server stuck on a dead mount) answers nothing, so its oldest
 * request is overdue exactly `deadlineMs` after it was sent or after the last reply, whichever is later.
 *
 * Requests are kept in send order (a Map keeps insertion order), so the oldest is the first: O(1) per
 * begin, end and check, one small record per request and no timer or closure of its own.
 */
export function createRequestDeadlines(deadlineMs: number): RequestDeadlines {
  const pending = new Map<number, OutstandingRequest>();
  let nextToken = 0;
  let lastReplyAt = -Infinity;

  /** When the oldest request becomes overdue, or undefined when nothing is outstanding. */
  const dueAt = (): { request: OutstandingRequest; since: number } | undefined => {
    const first = pending.values().next();
    if (first.done === true) return undefined;
    const request = first.value;
    return { request, since: Math.max(request.sentAt, lastReplyAt) };
  };

  return {
    deadlineMs,
    get outstanding() {
      return pending.size;
    },
    begin(op, path, now) {
      const token = ++nextToken;
      pending.set(token, { op, path, sentAt: now });
      return token;
    },
    end(token, now, answered = true) {
      if (pending.delete(token) && answered && now > lastReplyAt) lastReplyAt = now;
    },
    overdue(now) {
      const due = dueAt();
      if (due === undefined) return undefined;
      const waitedMs = now - due.since;
      return waitedMs >= deadlineMs ? { request: due.request, waitedMs } : undefined;
    },
    msUntilDue(now) {
      const due = dueAt();
      return due === undefined ? undefined : Math.max(0, due.since + deadlineMs - now);
    },
  };
}
