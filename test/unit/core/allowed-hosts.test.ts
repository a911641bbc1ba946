import { describe, expect, it } from 'vitest';
import { createHostCheck, type HostPolicy } from '../../../src/core/allowed-hosts.js';

const policy = (overrides: Partial<HostPolicy> = {}): HostPolicy => ({
  trustedOrigins: ['https://ferry.example.com', 'http://ops.internal:8080'],
  listenHost: '127.0.0.1',
  ...overrides,
});

describe('createHostCheck', () => {
  it.each([
    ['a trusted origin’s name', 'ferry.example.com'],
    ['a trusted origin’s name with another port', 'ferry.example.com:8443'],
    ['a trusted origin’s name in upper case', 'FERRY.Example.COM'],
    ['a trusted http origin’s name', 'ops.internal:8080'],
    ['localhost with a port', 'localhost:3000'],
    ['the loopback address', '127.0.0.1:3000'],
    ['another IPv4 address (a container’s, a LAN address)', '10.1.2.3:3000'],
    ['the IPv6 loopback', '[::1]:3000'],
    ['an IPv6 address', '[fd00::5]'],
  ])('allows %s (%s)', (_what, host) => {
    expect(createHostCheck(policy())(host)).toEqual({ ok: true });
  });

  it.each([
    ['a rebinding name', 'rebind.evil.example', 'rebind.evil.example'],
    ['a rebinding name on the listen port', 'rebind.evil.example:3000', 'rebind.evil.example'],
    ['a sibling of a trusted name', 'evil.ferry.example.com', 'evil.ferry.example.com'],
    ['a trusted name as a suffix', 'ferry.example.com.evil.example', 'ferry.example.com.evil.example'],
    ['a subdomain of localhost', 'evil.localhost:3000', 'evil.localhost'],
  ])('refuses %s with the fix', (_what, host, hostname) => {
    const verdict = createHostCheck(policy())(host);
    expect(verdict).toEqual({
      ok: false,
      hostname,
      message: expect.stringContaining(`add its origin (e.g. https://${hostname}) to http.trustedOrigins`),
    });
  });

  it.each([
    ['no Host header', undefined],
    ['an empty Host', ''],
    ['a Host with a path', 'localhost/evil'],
    ['a Host with credentials', 'evil.example@localhost'],
    ['a Host with a space', 'local host'],
  ])('refuses %s as not a host', (_what, host) => {
    expect(createHostCheck(policy())(host)).toEqual({
      ok: false,
      hostname: undefined,
      message: 'the request has no valid Host header',
    });
  });

  it('allows the listen host when it is a name, and only names configured', () => {
    const check = createHostCheck(policy({ trustedOrigins: [], listenHost: 'ferry.internal' }));
    expect(check('ferry.internal:3000')).toEqual({ ok: true });
    expect(check('ferry.example.com').ok).toBe(false);
  });

  it('reads a bare IPv6 listen address', () => {
    const check = createHostCheck(policy({ trustedOrigins: [], listenHost: '::1' }));
    expect(check('[::1]:3000')).toEqual({ ok: true });
    expect(check('rebind.evil.example').ok).toBe(false);
  });
});
