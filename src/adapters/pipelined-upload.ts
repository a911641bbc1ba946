import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { SFTPWrapper } from 'ssh2';
import { classifyError } from '../core/classify-error.js';
import { FerryError } from '../errors.js';
import type { UploadResult } from '../core/ports.js';

/** Largest WRITE aimed for: OpenSSH's limits@openssh.com allows 255 KiB (fewer requests for both ends). */
export const DEFAULT_WRITE_SIZE = 255 * 1024;
/** Bytes read from the source and not yet acknowledged, at most: OpenSSH's 2 MiB channel window. */
export const DEFAULT_MAX_BUFFERED_BYTES = 2 * 1024 * 1024;

/** SSH channel packet size ssh2 uses when the channel does not say (OpenSSH's session channels: 32 KiB). */
const DEFAULT_PACKET_SIZE = 32 * 1024;
/** Bytes of an SFTP WRITE besides the handle and data: length, type, id, handle length, offset, data length. */
const WRITE_HEADER_BYTES = 4 + 1 + 4 + 4 + 8 + 4;

/**
 * Where each SFTP request is registered when sent and ended when it is over, so the connection can put
 * a deadline on it (src/core/request-deadlines.ts). `answered: false` = failed locally, never sent.
 */
export interface RequestLog {
  begin(op: string, path: string): number;
  end(token: number, answered?: boolean): void;
}

export interface PipelinedUploadOptions {
  /** Bytes per SFTP WRITE at most; capped by the server's max write length, rounded down to whole SSH packets. */
  writeSize?: number;
  /**
   * Bytes read from the source but not yet acknowledged by the server (in flight plus waiting to be
   * written), at most; the source is paused above it. One source chunk may overshoot it.
   */
  maxBufferedBytes?: number;
  /** The connection's socket: the writes issued together are corked into one writev. */
  socket?: Pick<Socket, 'cork' | 'uncork'>;
  /** Abort rejects at once with `signal.reason`, even when the server stopped answering. */
  signal?: AbortSignal;
  /** Called with the number of bytes the server has acknowledged so far. */
  onProgress?: (bytes: number) => void;
  /** Also hash the bytes with md5 (`naming.checksumFile: md5`); off, it costs nothing. */
  md5?: boolean;
  /** FSTAT the handle after the last WRITE, before the CLOSE (`UploadResult.sizeBeforeClose`). */
  sizeBeforeClose?: boolean | undefined;
  /**
   * Called once the last WRITE is sent, before the FSTAT and the CLOSE, which go out without waiting
   * for it: the connection sends its fsync here, synchronously. A rejection fails the upload with that
   * error, unchanged.
   */
  beforeClose?: (() => Promise<void>) | undefined;
  /** Registers every WRITE and the CLOSE under `path` (the connection's deadline); none when absent. */
  requests?: RequestLog;
  /** The remote path, for `requests` (what a timeout names). */
  path?: string;
}

/**
 * The data length of one WRITE: at most `target` and the server's max write length, rounded down so
 * the SFTP request (header, handle, data) fills whole SSH channel packets. A 64 KiB write on a 32 KiB
 * packet channel would otherwise spill a few bytes into a third packet: one more packet to allocate,
 * encrypt, send, decrypt and check on both sides for every write.
 */
export function writePayloadSize(
  target: number,
  serverMaxWrite: number | undefined,
  packetSize: number | undefined,
  handleLength: number,
): number {
  const limit = Math.max(
    1,
    Math.floor(Math.min(target, serverMaxWrite && serverMaxWrite > 0 ? serverMaxWrite : Infinity)),
  );
  const overhead = WRITE_HEADER_BYTES + handleLength;
  const packet = packetSize && packetSize > overhead ? packetSize : DEFAULT_PACKET_SIZE;
  const packets = Math.floor((limit + overhead) / packet);
  return packets >= 1 ? packets * packet - overhead : limit;
}

/** The parts of ssh2's SFTP object (not in its types) the writer sizes its requests by. */
interface SftpLimits {
  _maxWriteLen?: number;
  outgoing?: { packetSize?: number };
}

/**
 * Streams `source` into an open SFTP file handle with many WRITE requests in flight, then closes the
 * handle. At most `maxBufferedBytes` read from the source wait for an acknowledgement (the source is
 * paused above it), so memory stays bounded whatever the file size, and a slow partner slows the
 * source down.
 *
 * Per byte it does as little as it can, because on a fast link the client's CPU is the limit: the
 * source flows chunk by chunk (no `read()` concatenation), each chunk is hashed once, a write is sent
 * straight from a chunk when one holds it whole and otherwise assembled in one reusable buffer (ssh2
 * copies the data into its own request synchronously inside `write()` when the length is within the
 * server's max write length, as it always is here), writes fill whole SSH packets, and the writes that
 * acknowledgements free up in one turn of the event loop go out together, corked into one syscall.
 *
 * Resolves `{ bytes, sha256 }` (and `md5` when asked) once every write is acknowledged and the handle is closed. Rejects on
 * the first write error (classified with `classifyError(err, 'sftp')`), on a source error (passed
 * through unchanged), when the SFTP channel closes, or on abort (with `signal.reason`). On every
 * failure the source is destroyed and the handle closed without waiting for the server.
 */
export function pipelinedUpload(
  sftp: SFTPWrapper,
  handle: Buffer,
  source: Readable,
  options: PipelinedUploadOptions = {},
): Promise<UploadResult> {
  const { signal, onProgress, socket, requests } = options;
  const path = options.path ?? '(upload)';
  const limits = sftp as unknown as SftpLimits;
  // Within the server's max write length: a longer WRITE is split by ssh2 into serial requests.
  const writeSize = writePayloadSize(
    options.writeSize ?? DEFAULT_WRITE_SIZE,
    limits._maxWriteLen,
    limits.outgoing?.packetSize,
    handle.length,
  );
  const maxBuffered = Math.max(1, options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES);

  return new Promise<UploadResult>((resolve, reject) => {
    const hash = createHash('sha256');
    const md5 = options.md5 === true ? createHash('md5') : undefined;
    let settled = false;
    let handleClosed = false;
    let sourceEnded = false;
    let paused = false;
    let closing = false;
    let flushQueued = false;
    let offset = 0; // next write position = bytes handed to sftp.write
    let acked = 0;
    let inFlight = 0;
    // Chunks read (and hashed) but not yet written; fewer than writeSize bytes unless writes are due.
    const pending: Buffer[] = [];
    let pendingLen = 0;
    // Where a write that spans chunks is assembled; reused, as ssh2 has copied it when write() returns.
    let scratch: Buffer | undefined;

    const closeHandle = (cb: (err: Error | undefined) => void): void => {
      if (handleClosed) return;
      handleClosed = true;
      const token = requests?.begin('close', path);
      sftp.close(handle, (err) => {
        if (token !== undefined) requests?.end(token);
        cb(err ?? undefined);
      });
    };

    const detach = (): void => {
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', onSourceError);
      source.off('close', onSourceClose);
      sftp.off('close', onChannelClose);
      signal?.removeEventListener('abort', onAbort);
    };

    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      detach();
      // Keep a late 'error' from the destroyed source from becoming an unhandled event.
      source.on('error', noop);
      source.destroy();
      // Do not wait for the reply: the server may have stopped answering.
      closeHandle(noop);
      reject(err);
    };

    /**
     * The tail of the upload, sent together once the last WRITE is out and without waiting for any
     * reply: [fsync], FSTAT, CLOSE. A server processes the requests on one handle in the order it got
     * them (OpenSSH's sftp-server one at a time), so the FSTAT sees every write and the CLOSE comes
     * after them; a small file costs one round trip for its data instead of four. Success needs every
     * reply: each WRITE acknowledged, the fsync, the FSTAT's size and the CLOSE.
     */
    let tailSize: number | undefined;
    let tailReplies = 0;
    let tailExpected = 0;
    const settleIfDone = (): void => {
      if (settled || !closing || inFlight > 0 || tailReplies < tailExpected) return;
      settled = true;
      detach();
      resolve({
        bytes: offset,
        sha256: hash.digest('hex'),
        ...(md5 ? { md5: md5.digest('hex') } : {}),
        ...(tailSize === undefined ? {} : { sizeBeforeClose: tailSize }),
      });
    };
    /** `mapped`: an error the hook already classified, passed on unchanged. */
    const tailReply = (err: unknown, mapped = false): void => {
      tailReplies++;
      if (settled) return;
      if (err) {
        fail(mapped && err instanceof Error ? err : sftpRequestError(err));
        return;
      }
      settleIfDone();
    };

    const sendTail = (): void => {
      closing = true;
      tailExpected = (options.beforeClose ? 1 : 0) + (options.sizeBeforeClose ? 1 : 0) + 1;
      socket?.cork();
      try {
        // The hook's request goes out synchronously; its failpoint (tests) runs when it is answered.
        options.beforeClose?.().then(
          () => tailReply(undefined),
          (err: unknown) => tailReply(err ?? new Error('beforeClose failed'), true),
        );
        if (options.sizeBeforeClose) {
          const token = requests?.begin('fstat', path);
          sftp.fstat(handle, (err, stats) => {
            if (token !== undefined) requests?.end(token);
            if (!err) tailSize = stats.size;
            tailReply(err ?? undefined);
          });
        }
        closeHandle((err) => tailReply(err));
      } finally {
        socket?.uncork();
      }
    };

    /** The next `size` pending bytes: a view of one chunk when it holds them all, else copied into scratch. */
    const takePending = (size: number): Buffer => {
      const first = pending[0]!;
      pendingLen -= size;
      if (first.length >= size) {
        if (first.length === size) pending.shift();
        else pending[0] = first.subarray(size);
        return first.subarray(0, size);
      }
      scratch ??= Buffer.allocUnsafeSlow(writeSize);
      let filled = 0;
      while (filled < size) {
        const head = pending[0]!;
        const n = Math.min(head.length, size - filled);
        head.copy(scratch, filled, 0, n);
        filled += n;
        if (n === head.length) pending.shift();
        else pending[0] = head.subarray(n);
      }
      return scratch.subarray(0, size);
    };

    const issueWrite = (data: Buffer): void => {
      const position = offset;
      const length = data.length;
      offset += length;
      inFlight++;
      // A number in the callback's scope, no closure of its own: the hot path stays as it was.
      const token = requests === undefined ? 0 : requests.begin('write', path);
      const onWritten = (err: Error | undefined | null): void => {
        requests?.end(token);
        inFlight--;
        if (settled) return;
        if (err) {
          fail(sftpRequestError(err));
          return;
        }
        acked += length;
        onProgress?.(acked);
        if (closing) {
          settleIfDone(); // the tail is out: nothing more to write
          return;
        }
        // Replies arrive in bursts: refill once after the whole burst, not once per reply.
        if (!flushQueued) {
          flushQueued = true;
          process.nextTick(flush);
        }
      };
      try {
        sftp.write(handle, data, 0, length, position, onWritten);
      } catch (err) {
        // write() only throws on bad arguments; never let that escape a stream event handler.
        requests?.end(token, false);
        inFlight--;
        fail(sftpRequestError(err));
      }
    };

    /** A full write is pending, or the rest of the data once nothing else can come before a reply. */
    const writeDue = (): boolean =>
      pendingLen >= writeSize || (pendingLen > 0 && (sourceEnded || (paused && inFlight === 0)));

    function flush(): void {
      flushQueued = false;
      if (settled || closing) return;
      if (writeDue()) {
        socket?.cork();
        try {
          while (!settled && writeDue()) issueWrite(takePending(Math.min(writeSize, pendingLen)));
        } finally {
          socket?.uncork();
        }
      }
      if (settled) return;
      if (paused && !sourceEnded && acked + maxBuffered > offset + pendingLen) {
        paused = false;
        source.resume();
      }
      if (sourceEnded && pendingLen === 0) sendTail();
    }

    function onData(chunk: unknown): void {
      if (settled) return;
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
      if (buf.length === 0) return;
      hash.update(buf);
      md5?.update(buf);
      pending.push(buf);
      pendingLen += buf.length;
      // Unacknowledged bytes = in flight (offset - acked) + pending.
      if (!paused && offset + pendingLen - acked >= maxBuffered) {
        paused = true;
        source.pause();
      }
      if (writeDue()) flush();
    }
    function onEnd(): void {
      sourceEnded = true;
      flush();
    }
    function onSourceError(err: Error): void {
      fail(err);
    }
    function onSourceClose(): void {
      // Destroyed without 'end' or 'error': the object body was cut short.
      if (!sourceEnded) {
        fail(new FerryError('ERR_UNKNOWN', 'upload source was destroyed before its end'));
      }
    }
    function onChannelClose(): void {
      fail(new FerryError('ERR_SFTP_CONNECTION_LOST', 'SFTP channel closed during upload'));
    }
    function onAbort(): void {
      if (signal) fail(abortReason(signal));
    }

    if (signal?.aborted) {
      fail(abortReason(signal));
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    sftp.on('close', onChannelClose);
    source.on('error', onSourceError);
    source.on('close', onSourceClose);
    source.on('end', onEnd);
    source.on('data', onData);
    source.resume();
  });
}

/**
 * Maps the error an ssh2 SFTP request reported. A reply status carries a numeric `code` (NO_SUCH_FILE,
 * PERMISSION_DENIED, FAILURE…); an error with neither `code` nor `level` is ssh2 failing requests
 * that can no longer be answered because the channel or connection went away.
 */
export function sftpRequestError(err: unknown, sessionAlive = true): FerryError {
  if (err instanceof FerryError) return err;
  const fields = typeof err === 'object' && err !== null ? (err as { code?: unknown; level?: unknown }) : {};
  const unanswered = fields.code === undefined && fields.level === undefined;
  if (!sessionAlive || unanswered) {
    return new FerryError('ERR_SFTP_CONNECTION_LOST', 'SFTP request got no reply: the session closed', {
      cause: err,
      details: { source: 'sftp' },
    });
  }
  return classifyError(err, 'sftp');
}

/** What an abort rejects with: the caller's reason (e.g. a watchdog's FerryError), as an Error. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  return Object.assign(new Error('operation aborted', { cause: reason }), { name: 'AbortError' });
}

function noop(): void {}
