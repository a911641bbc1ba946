// The small interfaces the processors see; src/adapters implements them. Types only, beside the core, so the
// core, jobs and ledger can name them without depending on an adapter. Only src/main.ts builds the real ones.
import type { Readable } from 'node:stream';

/** One object as ListObjectsV2 reports it. */
export interface SourceObject {
  bucket: string;
  key: string;
  /** ETag without surrounding quotes; with the key it identifies the object version. */
  etag: string;
  size: number;
  lastModified: Date;
}

export interface ObjectBody {
  stream: Readable;
  contentLength: number;
}

export interface ObjectSource {
  /** Streams the listing page by page (never the whole listing in memory). */
  listPages(bucket: string, prefix: string, pageSize?: number): AsyncIterable<SourceObject[]>;
  /** GetObject pinned to the listed version (IfMatch); throws FerryError ERR_SOURCE_GONE / ERR_SOURCE_CHANGED. */
  open(bucket: string, key: string, etag: string, signal?: AbortSignal): Promise<ObjectBody>;
  /** Writes a small object (receipts, demo uploads). */
  put(bucket: string, key: string, body: string | Buffer, contentType?: string): Promise<void>;
  /**
   * Writes an object only if the key does not exist yet (PutObject with `If-None-Match: *`, atomic in
   * S3): 'exists' when it does (412), or when another conditional write of the key is under way (409).
   */
  putNew(bucket: string, key: string, body: Buffer, contentType?: string): Promise<'created' | 'exists'>;
  /** Reads a small object; undefined when it does not exist. */
  getText(bucket: string, key: string): Promise<string | undefined>;
  /** HeadObject: the object as S3 holds it now (ETag, size, LastModified); undefined when it does not exist. */
  head(bucket: string, key: string): Promise<SourceObject | undefined>;
  /** The object's tag set (GetObjectTagging). Source housekeeping only, like the three below. */
  getTags(bucket: string, key: string): Promise<{ Key: string; Value: string }[]>;
  /** Replaces the object's tag set (PutObjectTagging); callers merge with getTags first. */
  putTags(bucket: string, key: string, tags: readonly { Key: string; Value: string }[]): Promise<void>;
  /** CopyObject within the bucket, only while the source still has `etag` (else ERR_SOURCE_CHANGED / GONE). */
  copy(bucket: string, fromKey: string, toKey: string, etag: string): Promise<void>;
  /** DeleteObject, only while the object still has `etag` (If-Match, where the store supports it). */
  remove(bucket: string, key: string, etag: string): Promise<void>;
}

export interface RemoteStat {
  size: number;
  mode: number;
}

/** One entry of a remote directory listing ("." and ".." left out). */
export interface RemoteDirEntry {
  name: string;
  size: number;
  /** The server's clock; whole seconds over SFTP v3. */
  mtime: Date;
  /** POSIX mode bits, file type included. */
  mode: number;
}

export interface UploadResult {
  bytes: number;
  sha256: string;
  /** Only when the upload was asked for it (`md5: true`). */
  md5?: string;
  /** The file's size by FSTAT on the open handle before it was closed (only when asked: `sizeBeforeClose`). */
  sizeBeforeClose?: number;
}

/**
 * One authenticated SFTP connection to a partner (pinned host key already checked). Every request has
 * a deadline: a server that stops answering fails it with ERR_SFTP_TIMEOUT and the connection is gone.
 */
export interface SftpSession {
  readonly supportsPosixRename: boolean;
  stat(path: string): Promise<RemoteStat | undefined>;
  /**
   * Streams `source` into `path` (created or truncated with `mode`), with many writes in flight.
   * Resolves once every write is acknowledged; the caller verifies the size with stat().
   * `md5: true` also hashes the bytes with md5 (a partner's `checksumFile: md5`).
   */
  upload(
    path: string,
    source: Readable,
    options: {
      mode: number;
      signal?: AbortSignal;
      onProgress?: (bytes: number) => void;
      md5?: boolean;
      /**
       * FSTAT the handle before closing it: the size verified even when the partner moves the file the
       * moment it is closed (publish: direct, where the write is the publish).
       */
      sizeBeforeClose?: boolean;
      /**
       * fsync@openssh.com on the open handle after the last write, before the close (a server crash
       * cannot then leave a renamed file with missing blocks). Skipped where the server does not offer it.
       */
      fsync?: boolean;
    },
  ): Promise<UploadResult>;
  /** Plain SFTP rename: fails when `to` exists (OpenSSH). */
  rename(from: string, to: string): Promise<void>;
  /** posix-rename@openssh.com: atomically replaces `to`. */
  posixRename(from: string, to: string): Promise<void>;
  remove(path: string): Promise<void>;
  /**
   * Reads the whole file back and hashes it: proof of what a final name holds where the protocol
   * cannot tell from its own records (src/core/publish-protocol.ts check-final). Recovery only.
   */
  sha256Of(path: string): Promise<{ size: number; sha256: string }>;
  /** The first `maxBytes` bytes of a file (fewer when it is shorter): a partner's answer (ack). */
  readHead(path: string, maxBytes: number): Promise<Buffer>;
  /** Every entry of the directory (READDIR until EOF; the janitor's listing). */
  list(dir: string): Promise<RemoteDirEntry[]>;
  /** True while the underlying SSH connection is usable. */
  readonly alive: boolean;
}
