// configureFailpoints' `only` scope: the fault-space explorer faults one of two deliveries running at
// once and holds the other at the same point (test/support/fault-space.ts).
import { afterEach, describe, expect, it } from 'vitest';
import { configureFailpoints, hitFailpoint, isSimulatedCrash } from '../../src/failpoints.js';

afterEach(() => configureFailpoints(undefined));

describe('failpoints with a scope', () => {
  it('act only where the scope says so, and a refused hit does not use up throw:N', async () => {
    let mine = false;
    configureFailpoints('after_intent=throw:1', () => mine);
    await expect(hitFailpoint('after_intent')).resolves.toBeUndefined();
    mine = true;
    await expect(hitFailpoint('after_intent')).rejects.toThrow('failpoint after_intent');
    await expect(hitFailpoint('after_intent')).resolves.toBeUndefined();
  });

  it('wait for an asynchronous scope before acting', async () => {
    let open!: (fire: boolean) => void;
    configureFailpoints('after_rename=crash:1', () => new Promise<boolean>((resolve) => (open = resolve)));
    const hit = hitFailpoint('after_rename').then(
      () => 'passed',
      (err: unknown) => (isSimulatedCrash(err) ? 'crashed' : 'other'),
    );
    await Promise.resolve();
    open(true);
    expect(await hit).toBe('crashed');
  });

  it('is dropped by the next configuration', async () => {
    configureFailpoints('after_verify=throw:1', () => false);
    configureFailpoints('after_verify=throw:1');
    await expect(hitFailpoint('after_verify')).rejects.toThrow('failpoint after_verify');
  });
});
