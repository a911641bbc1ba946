// POST /api/events/s3 with `http.events.tokenFile` on the real services: the file is followed as it
// changes, so a token is rotated (add the new one, switch the sender, remove the old one) without a
// restart and without a moment when neither is accepted.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { usePartnerPipeline } from '../support/partner-pipeline.js';
import { waitFor } from '../support/pipeline.js';

const OLD_TOKEN = 'events-token-old-canary-91c2';
const NEW_TOKEN = 'events-token-new-canary-4e07';
let tokenFile = '';

const pipeline = usePartnerPipeline({
  partners: [{ id: 'evt', prefix: 'evt/', extraYaml: 'events: true' }],
  beforeStart: async ({ fixture }) => {
    // Relative to the config directory, in a folder of its own (a change there is no config reload).
    await mkdir(join(fixture.dir, 'secrets'));
    tokenFile = join(fixture.dir, 'secrets', 'events-tokens');
    await writeFile(tokenFile, `# the events token\n${OLD_TOKEN}\n`);
    const file = join(fixture.dir, 'ferry.yaml');
    const text = await readFile(file, 'utf8');
    const withEvents = text.replace(
      'adminPasswordEnv: FERRY_ADMIN_PASSWORD }',
      'adminPasswordEnv: FERRY_ADMIN_PASSWORD, events: { tokenFile: secrets/events-tokens } }',
    );
    expect(withEvents).not.toBe(text);
    await writeFile(file, withEvents);
  },
});

/** The status of an empty notification sent with `token`. */
async function statusWith(token: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${pipeline.testFerry.ferry.httpPort}/api/events/s3`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ Records: [] }),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('http.events.tokenFile', () => {
  it('accepts a token added to the file and refuses one removed from it, without a restart', async () => {
    expect(await statusWith(OLD_TOKEN)).toBe(202);
    expect(await statusWith(NEW_TOKEN)).toBe(401);

    // 1. Add the new token: both are accepted.
    await writeFile(tokenFile, `${OLD_TOKEN}\n# added for the rotation\n${NEW_TOKEN}\n`);
    await waitFor(async () => (await statusWith(NEW_TOKEN)) === 202, 'the new token accepted');
    expect(await statusWith(OLD_TOKEN)).toBe(202);

    // 2. The sender switched; remove the old one: refused, the new one still accepted.
    await writeFile(tokenFile, `${NEW_TOKEN}\n`);
    await waitFor(async () => (await statusWith(OLD_TOKEN)) === 401, 'the old token refused');
    expect(await statusWith(NEW_TOKEN)).toBe(202);

    const reloads = pipeline.logs.lines().filter((l) => l.msg === 'events tokens reloaded');
    expect(reloads.map((l) => l.tokens)).toEqual([2, 1]);
  });

  it('keeps the last good tokens when the file is emptied, and logs it once', async () => {
    await writeFile(tokenFile, '# emptied by mistake\n');
    const error = 'events token file changed and has no usable token; the previous tokens stay in use';
    await waitFor(async () => {
      expect(await statusWith(NEW_TOKEN)).toBe(202);
      return pipeline.logs.lines().some((l) => l.msg === error);
    }, 'the empty file noticed');
    expect(await statusWith(NEW_TOKEN)).toBe(202);
    expect(await statusWith(OLD_TOKEN)).toBe(401);
    expect(pipeline.logs.lines().filter((l) => l.msg === error)).toHaveLength(1);
    await writeFile(tokenFile, `${NEW_TOKEN}\n`);
  });

  it('never logs a token', () => {
    expect(pipeline.logs.text()).not.toContain(OLD_TOKEN);
    expect(pipeline.logs.text()).not.toContain(NEW_TOKEN);
  });
});
