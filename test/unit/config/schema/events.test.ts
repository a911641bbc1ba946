// ferry.yaml http.events (the event endpoint's token) and a partner's `events: true`, as `ferry validate` reads them.
import { describe, expect, it } from 'vitest';
import { MINIMAL_FERRY_YAML, useConfigDirs } from '../../../support/config-dir.js';
import { partnerYamlHead } from '../../../support/partner-input.js';

const configs = useConfigDirs('events-config');

// Line 1 is the receipts bucket; `http:` is line 2 and its events block starts on line 3.
const ferryYaml = (events: string) => `${MINIMAL_FERRY_YAML}http:\n  events:\n${events}`;

describe('http.events', () => {
  it('reads a token reference with the default header, body limit and snsSignatures (verify)', async () => {
    const { config, problems } = await configs.load({
      ferryYaml: ferryYaml('    tokenEnv: FERRY_EVENTS_TOKEN\n'),
    });
    expect(problems).toEqual([]);
    expect(config?.service.http.events).toEqual({
      token: { env: 'FERRY_EVENTS_TOKEN' },
      header: 'x-ferry-events-key',
      maxBodyBytes: 1_048_576,
      snsSignatures: 'verify',
    });
  });

  it('reads a token file, its own header name, body limit and snsSignatures: off', async () => {
    const { config, problems } = await configs.load({
      ferryYaml: ferryYaml(
        '    tokenFile: /run/secrets/events\n    header: X-Api-Key\n    maxBodyBytes: 65536\n    snsSignatures: off\n',
      ),
    });
    expect(problems).toEqual([]);
    expect(config?.service.http.events).toEqual({
      token: { file: '/run/secrets/events' },
      header: 'x-api-key',
      maxBodyBytes: 65_536,
      snsSignatures: 'off',
    });
  });

  it('leaves the endpoint off without the section', async () => {
    const { config } = await configs.load({});
    expect(config?.service.http.events).toBeUndefined();
  });

  it.each([
    ['    header: X-Api-Key\n', 'ferry.yaml:4:5', 'needs tokenEnv or tokenFile'],
    ['    tokenEnv: A\n    tokenFile: /x\n', 'ferry.yaml:5:16', 'set tokenEnv or tokenFile, not both'],
    ['    tokenEnv: not-a-name\n', 'ferry.yaml:4:15', 'must be an environment variable name'],
    ['    tokenEnv: A\n    header: Authorization\n', 'ferry.yaml:5:13', 'must be a header of its own'],
    ['    tokenEnv: A\n    header: "x key"\n', 'ferry.yaml:5:13', 'must be an HTTP header name'],
    ['    tokenEnv: A\n    maxBodyBytes: 10\n', 'ferry.yaml:5:19', 'must be at least 1024'],
    ['    tokenEnv: A\n    oops: 1\n', 'ferry.yaml:5:5', 'oops'],
    ['    tokenEnv: A\n    snsSignatures: skip\n', 'ferry.yaml:5:20', 'must be verify or off'],
  ])('refuses %j at its line and column', async (events, at, message) => {
    const { problems } = await configs.load({ ferryYaml: ferryYaml(events) });
    expect(problems).toEqual([expect.stringContaining(message)]);
    expect(problems[0]).toMatch(new RegExp(`^${at}:`));
  });

  it('refuses an inline token: a secret is a reference, never the value', async () => {
    const { problems } = await configs.load({ ferryYaml: ferryYaml('    token: s3cr3t-canary\n') });
    expect(problems.join('\n')).toMatch(/^ferry\.yaml:4:5: .*secrets must be references/m);
    expect(problems.join('\n')).not.toContain('s3cr3t-canary');
  });
});

describe('partner events', () => {
  const load = (lines: string) => configs.loadPartner('acme', partnerYamlHead() + lines);

  it('is off unless the partner says events: true', async () => {
    expect((await load('')).partner?.events).toBeUndefined();
    expect((await load('events: true\n')).partner?.events).toBe(true);
  });

  it('refuses a value other than true or false at its line and column', async () => {
    const { problems } = await load('events: yes please\n');
    expect(problems).toEqual(['partners/acme.yaml:7:9: events: must be true or false']);
  });
});
