// The README's first command ends in `ferry demo`: prove the compiled CLI runs the whole pipeline.
import { describe, expect, it } from 'vitest';
import { spawnFerry } from '../support/ferry-process.js';

describe('ferry demo', () => {
  it('starts its own services, delivers every seeded file once and stops everything it started', async () => {
    const demo = spawnFerry(['demo', '--once', '--files', '4', '--size', '8192']);
    const code = await demo.exited;
    const output = demo.output();
    expect(output).toMatch(/Bull Board: http:\/\/127\.0\.0\.1:\d+\/admin {3}user: admin {3}password: \S+/);
    expect(output.match(/ delivered {9}/g)).toHaveLength(8);
    expect(output).toMatch(/demo: 8 files on the partner servers, 0 temp files/);
    expect(code).toBe(0);
    const pids = /redis-server pid (\d+), sshd pid (\d+), s3rver pid (\d+)/
      .exec(output)!
      .slice(1)
      .map(Number);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  });

  it('runs until Ctrl-C, then stops everything it started and exits 0', async () => {
    const demo = spawnFerry(['demo', '--files', '2', '--size', '1000']);
    await demo.waitForLine(/\(4\/4\)/, 60_000);
    demo.kill('SIGINT');
    expect(await demo.exited).toBe(0);
    const pids = /redis-server pid (\d+), sshd pid (\d+), s3rver pid (\d+)/
      .exec(demo.output())!
      .slice(1)
      .map(Number);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  });
});
