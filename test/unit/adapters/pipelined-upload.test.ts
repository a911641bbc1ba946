// How the SFTP writer sizes its WRITE requests (the streaming itself runs against sshd in
// test/integration/sftp-adapter.test.ts).
import { describe, expect, it } from 'vitest';
import { DEFAULT_WRITE_SIZE, writePayloadSize } from '../../../src/adapters/pipelined-upload.js';

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
