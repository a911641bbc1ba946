import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { SFTPWrapper } from 'ssh2';
import { classifyError } from '../core/classify-error.js';
import { FerryError } from '../errors.js';
import type { UploadResult } from './ports.js';

/** 64 KiB writes × 32 outstanding (2 MiB in flight) was the fastest streaming setting measured. */
export const DEFAULT_WRITE_SIZE = 64 * 1024;
export const DEFAULT_MAX_IN_FLIGHT = 32;

export interface PipelinedUploadOptions {
  /** Bytes per SFTP WRITE; capped by the server's advertised max write length. */
  writeSize?: number;
  /** WRITE requests outstanding at most; the source is read only while fewer are in flight. */
  maxInFlight?: number;
  /** Abort rejects at once with `signal.reason`, even when the server stopped answering. */
  signal?: AbortSignal;
  /** Called with the number of bytes the server has acknowledged so far. */
  onProgress?: (bytes: number) => void;
}

/**
 * Streams `source` into an open SFTP file handle with many WRITE requests in flight, then closes the
 * handle. The source is pulled only while a write slot is free, so memory stays bounded
 * (≈ maxInFlight × writeSize) whatever the file size, and a slow partner slows the source down.
 *
 * Resolves `{ bytes, sha256 }` once every write is acknowledged and the handle is closed. Rejects on
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
  const { signal, onProgress } = options;
  const maxInFlight = Math.max(1, options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
  // A WRITE longer than the server's limit is split by ssh2 into serial requests, defeating the pipeline.
  const serverMax = (sftp as unknown as { _maxWriteLen?: number })._maxWriteLen;
  const writeSize = Math.max(
    1,
    Math.min(options.writeSize ?? DEFAULT_WRITE_SIZE, serverMax && serverMax > 0 ? serverMax : Infinity),
  );

  return new Promise<UploadResult>((resolve, reject) => {
    const hash = createHash('sha256');
    let settled = false;
    let handleClosed = false;
    let sourceEnded = false;
    let closing = false;
    let offset = 0; // next write position = bytes handed to sftp.write
    let acked = 0;
    let inFlight = 0;
    // Bytes read from the source but not yet written; never more than one source chunk plus a partial write.
    const pending: Buffer[] = [];
    let pendingLen = 0;

    const closeHandle = (cb: (err: Error | undefined) => void): void => {
      if (handleClosed) return;
      handleClosed = true;
      sftp.close(handle, (err) => cb(err ?? undefined));
    };

    const detach = (): void => {
      source.off('readable', pump);
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

    const succeed = (): void => {
      closing = true;
      closeHandle((err) => {
        if (settled) return;
        if (err) {
          fail(sftpRequestError(err));
          return;
        }
        settled = true;
        detach();
        resolve({ bytes: offset, sha256: hash.digest('hex') });
      });
    };

    const takePending = (size: number): Buffer => {
      const first = pending[0]!;
      if (first.length >= size) {
        // Zero-copy: ssh2 copies the data into its packet synchronously inside write().
        if (first.length === size) pending.shift();
        else pending[0] = first.subarray(size);
        pendingLen -= size;
        return first.subarray(0, size);
      }
      const parts: Buffer[] = [];
      let need = size;
      while (need > 0) {
        const head = pending[0]!;
        if (head.length <= need) {
          parts.push(head);
          pending.shift();
          need -= head.length;
        } else {
          parts.push(head.subarray(0, need));
          pending[0] = head.subarray(need);
          need = 0;
        }
      }
      pendingLen -= size;
      return Buffer.concat(parts, size);
    };

    const issueWrite = (data: Buffer): void => {
      const position = offset;
      offset += data.length;
      inFlight++;
      const onWritten = (err: Error | undefined | null): void => {
        inFlight--;
        if (settled) return;
        if (err) {
          fail(sftpRequestError(err));
          return;
        }
        acked += data.length;
        onProgress?.(acked);
        pump();
      };
      try {
        sftp.write(handle, data, 0, data.length, position, onWritten);
      } catch (err) {
        // write() only throws on bad arguments; never let that escape a stream event handler.
        inFlight--;
        fail(sftpRequestError(err));
      }
    };

    function pump(): void {
      if (settled || closing) return;
      while (inFlight < maxInFlight) {
        if (pendingLen >= writeSize || (sourceEnded && pendingLen > 0)) {
          issueWrite(takePending(Math.min(writeSize, pendingLen)));
          continue;
        }
        if (sourceEnded) break;
        const chunk: unknown = source.read();
        if (chunk === null) break; // 'readable' or 'end' fires when there is more
        const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
        if (buf.length === 0) continue;
        hash.update(buf);
        pending.push(buf);
        pendingLen += buf.length;
      }
      if (sourceEnded && pendingLen === 0 && inFlight === 0) succeed();
    }

    function onEnd(): void {
      sourceEnded = true;
      pump();
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
    source.on('readable', pump);
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
