// How the SFTP writer sizes its WRITE requests and sends a file's last requests (the streaming itself runs against sshd in
// test/integration/sftp-adapter.test.ts).
import { Readable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_WRITE_SIZE,
  pipelinedUpload,
  writePayloadSize,
} from '../../../src/adapters/pipelined-upload.js';

// OpenSSH: limits@openssh.com max write length 255 KiB, 32 KiB channel packets, 4-byte file handles.
const OPENSSH_MAX_WRITE = 261_120;
const PACKET = 32_768;
// SFTP WRITE besides its data: length 4, type 1, id 4, handle length 4, handle 4, offset 8, data length 4.
const OVERHEAD = 29;

describe('writePayloadSize', () => {
  it('fills whole SSH packets up to the server’s max write length', () => {
    const size = writePayloadSize(DEFAULT_WRITE_SIZE, OPENSSH_MAX_WRITE, PACKET, 4);

    expect(size).toBe(7 * PACKET - OVERHEAD);
    expect((size + OVERHEAD) % PACKET).toBe(0);
    expect(size).toBeLessThanOrEqual(OPENSSH_MAX_WRITE);
  });

  it('keeps a 64 KiB write from spilling a few bytes into a third packet', () => {
    expect(writePayloadSize(64 * 1024, OPENSSH_MAX_WRITE, PACKET, 4)).toBe(2 * PACKET - OVERHEAD);
  });

  it('counts the handle length of the server in the header', () => {
    expect(writePayloadSize(64 * 1024, OPENSSH_MAX_WRITE, PACKET, 16)).toBe(2 * PACKET - OVERHEAD - 12);
  });

  it('uses the server’s limit as is when it is below one packet', () => {
    // ssh2's default for a server that does not advertise limits@openssh.com: 34000 - 2048.
    expect(writePayloadSize(DEFAULT_WRITE_SIZE, 31_952, PACKET, 4)).toBe(31_952);
    expect(writePayloadSize(1_000, OPENSSH_MAX_WRITE, PACKET, 4)).toBe(1_000);
  });

  it('assumes 32 KiB packets and no server limit when ssh2 reports neither', () => {
    expect(writePayloadSize(64 * 1024, undefined, undefined, 4)).toBe(2 * PACKET - OVERHEAD);
    expect(writePayloadSize(64 * 1024, 0, 0, 4)).toBe(2 * PACKET - OVERHEAD);
  });

  it('never returns less than one byte', () => {
    expect(writePayloadSize(0, OPENSSH_MAX_WRITE, PACKET, 4)).toBe(1);
  });
});

/** An SFTP channel that records each request and answers only when told to. */
function scriptedSftp() {
  const sent: string[] = [];
  const replies: Array<{ op: string; answer: (err?: Error) => void }> = [];
  const hold = (op: string, cb: (err: Error | undefined, value?: unknown) => void, value?: unknown) => {
    sent.push(op);
    replies.push({ op, answer: (err) => cb(err, err ? undefined : value) });
  };
  let size = 0;
  const sftp = {
    _maxWriteLen: OPENSSH_MAX_WRITE,
    outgoing: { packetSize: PACKET },
    on: () => sftp,
    off: () => sftp,
    write(_h: Buffer, data: Buffer, _o: number, length: number, position: number, cb: (err?: Error) => void) {
      size = Math.max(size, position + length);
      hold(`write ${length}`, cb);
      void data;
    },
    fstat: (_h: Buffer, cb: (err: Error | undefined, stats?: unknown) => void) => hold('fstat', cb, { size }),
    close: (_h: Buffer, cb: (err?: Error) => void) => hold('close', cb),
  };
  return { sftp, sent, replies };
}

describe('pipelinedUpload: the tail of a file', () => {
  it('sends the fsync, FSTAT and CLOSE right after the last WRITE, before any reply', async () => {
    const { sftp, sent, replies } = scriptedSftp();
    const fsync = { answer: (): void => undefined };
    const upload = pipelinedUpload(sftp as never, Buffer.from('h'), Readable.from([Buffer.alloc(1024, 1)]), {
      sizeBeforeClose: true,
      beforeClose: () => {
        sent.push('fsync');
        return new Promise<void>((resolve) => (fsync.answer = resolve));
      },
    });
    await vi.waitFor(() => expect(sent).toEqual(['write 1024', 'fsync', 'fstat', 'close']));

    for (const reply of replies) reply.answer();
    fsync.answer();
    await expect(upload).resolves.toMatchObject({ bytes: 1024, sizeBeforeClose: 1024 });
  });

  it('fails when a WRITE is refused even though the FSTAT and CLOSE that followed it succeeded', async () => {
    const { sftp, sent, replies } = scriptedSftp();
    const upload = pipelinedUpload(sftp as never, Buffer.from('h'), Readable.from([Buffer.alloc(512, 1)]), {
      sizeBeforeClose: true,
    });
    await vi.waitFor(() => expect(sent).toEqual(['write 512', 'fstat', 'close']));

    const [write, ...tail] = replies;
    for (const reply of tail) reply.answer();
    write!.answer(Object.assign(new Error('Failure'), { code: 4 }));
    await expect(upload).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_/) });
  });

  it('resolves only once every WRITE is acknowledged, whatever order the replies come in', async () => {
    const { sftp, sent, replies } = scriptedSftp();
    let resolved = false;
    const upload = pipelinedUpload(
      sftp as never,
      Buffer.from('h'),
      Readable.from([Buffer.alloc(300_000, 1)]),
      {
        sizeBeforeClose: true,
      },
    );
    void upload.then(() => (resolved = true));
    await vi.waitFor(() => expect(sent.at(-1)).toBe('close'));

    const writes = replies.filter((r) => r.op.startsWith('write'));
    expect(writes.length).toBeGreaterThan(1);
    for (const reply of replies.filter((r) => !r.op.startsWith('write'))) reply.answer();
    for (const reply of writes.slice(1)) reply.answer();
    await new Promise((resolve) => setImmediate(resolve));
    expect(resolved).toBe(false);

    writes[0]!.answer();
    await expect(upload).resolves.toMatchObject({ bytes: 300_000, sizeBeforeClose: 300_000 });
  });
});
