// Step 3b: what the server holds is what was sent. ssh2 can report success on a truncated write (a
// full partner disk), so only the server's size counts: checked against S3's size, the bytes read and
// the bytes written (a transform's output size is the writer's count).
import type { SftpConnection } from '../../src/adapters/sftp-connection.js';
import type { StreamDigest } from '../../src/adapters/transform-stream.js';
import type { UploadResult } from '../../src/core/ports.js';
import { FerryError } from '../../src/errors.js';
import { hitFailpoint, isSimulatedCrash } from '../../src/failpoints.js';
import type { Delivery } from './context.js';
import { removeQuietly } from './ownership.js';

export interface Written {
  uploaded: UploadResult;
  /** The S3 side of a transformed upload (bytes read, their sha256); absent when sent as stored. */
  source: StreamDigest | undefined;
  /** S3's ContentLength. */
  expected: number;
  /** The size the partner must hold. */
  delivered: number;
}

/** Throws ERR_SIZE_MISMATCH (transient) unless the file written at `d.tempPath` is whole. */
export async function verifyUpload(d: Delivery, session: SftpConnection, written: Written): Promise<void> {
  const { uploaded, source, expected, delivered } = written;
  try {
    await hitFailpoint('after_temp_upload');
    // The size the open handle had before the close (FSTAT, pipelined with the last write): in direct
    // mode the partner may take the file away after the close. A session without it is asked by STAT.
    const stat =
      uploaded.sizeBeforeClose === undefined
        ? await session.stat(d.tempPath)
        : { size: uploaded.sizeBeforeClose };
    // ssh2 can report success on a truncated write (a full partner disk): trust only the server's size.
    if (source && (!stat || stat.size !== delivered || source.bytes !== expected)) {
      throw new FerryError(
        'ERR_SIZE_MISMATCH',
        `uploaded ${stat?.size ?? 'no'} bytes on the partner, wrote ${delivered}; read ${source.bytes} of ${expected} source bytes`,
        {
          details: {
            expectedBytes: expected,
            remoteBytes: stat?.size,
            readBytes: source.bytes,
            writtenBytes: delivered,
          },
        },
      );
    }
    if (!stat || stat.size !== delivered || uploaded.bytes !== delivered) {
      throw new FerryError(
        'ERR_SIZE_MISMATCH',
        `uploaded ${stat?.size ?? 'no'} bytes on the partner, read ${uploaded.bytes}, S3 says ${expected}`,
        { details: { expectedBytes: expected, remoteBytes: stat?.size, readBytes: uploaded.bytes } },
      );
    }
    await hitFailpoint('after_verify');
  } catch (err) {
    // A short file is a fragment: removed. direct: any other failure here came after the close, so the
    // file in place may be complete — the retry reads it back (publish-protocol.ts) instead of the
    // partner seeing it vanish and appear again.
    const fragment = d.partner.target.publish === 'rename' || isSizeMismatch(err);
    if (fragment && !isSimulatedCrash(err)) await removeQuietly(session, d.tempPath, d.log);
    throw err;
  }
}

function isSizeMismatch(err: unknown): boolean {
  return err instanceof FerryError && err.code === 'ERR_SIZE_MISMATCH';
}
