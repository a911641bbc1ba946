import { describe, expect, it } from 'vitest';
import { proxyFromFlags } from '../../../src/commands/host-key-command.js';

describe('proxyFromFlags (ferry host-key --proxy)', () => {
  const env = { HK_PROXY_PASSWORD: 'proxy-secret' };

  it('is undefined without --proxy', async () => {
    await expect(proxyFromFlags(undefined, undefined, env)).resolves.toBeUndefined();
  });

  it('parses a proxy without a user', async () => {
    await expect(proxyFromFlags('http://proxy.internal:3128', undefined, env)).resolves.toEqual({
      protocol: 'http',
      host: 'proxy.internal',
      port: 3128,
    });
  });

  it('reads the password of a proxy user from the named variable', async () => {
    await expect(proxyFromFlags('socks5://ferry@10.0.0.9:1080', 'HK_PROXY_PASSWORD', env)).resolves.toEqual({
      protocol: 'socks5',
      host: '10.0.0.9',
      port: 1080,
      username: 'ferry',
      password: 'proxy-secret',
    });
  });

  it.each([
    ['a password in the URL', 'socks5://ferry:pw@10.0.0.9:1080', undefined, /must not contain a password/],
    ['a malformed URL', 'ftp://proxy:21', undefined, /--proxy must be socks5:/],
    [
      'a user without --proxy-password-env',
      'socks5://ferry@10.0.0.9:1080',
      undefined,
      /--proxy-password-env/,
    ],
    ['--proxy-password-env without a user', 'socks5://10.0.0.9:1080', 'HK_PROXY_PASSWORD', /names a user/],
    ['--proxy-password-env without --proxy', undefined, 'HK_PROXY_PASSWORD', /needs --proxy/],
  ])('refuses %s without echoing it', async (_what, url, passwordEnv, message) => {
    const err = await proxyFromFlags(url, passwordEnv, env).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_CONFIG_INVALID', message: expect.stringMatching(message) });
    expect((err as Error).message).not.toContain(':pw@');
  });

  it('names an unset password variable (ERR_SECRET_MISSING)', async () => {
    await expect(proxyFromFlags('socks5://ferry@10.0.0.9:1080', 'UNSET_VAR', {})).rejects.toMatchObject({
      code: 'ERR_SECRET_MISSING',
    });
  });
});
