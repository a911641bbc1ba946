// The web UI's browser files are served byte for byte as they are on disk (src/http/ui/browser/),
// with their content type and the UI's strict CSP, over a real HTTP server.
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DESCRIBE_CONTRACT_JS, WEB_UI_CSP, createWebUiRouter } from '../../../src/http/ui/web-ui.js';

const onDisk = (name: string) =>
  readFileSync(new URL(`../../../src/http/ui/browser/${name}`, import.meta.url), 'utf8');

let server: Server;
let base: string;

beforeAll(async () => {
  const app = express().use(createWebUiRouter(undefined));
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
});

describe('web UI assets', () => {
  it.each([
    ['/', 'index.html', 'text/html; charset=utf-8'],
    ['/ui/app.js', 'app.js', 'text/javascript; charset=utf-8'],
    ['/ui/styles.css', 'styles.css', 'text/css; charset=utf-8'],
  ])('serves %s as %s from disk, under the strict CSP', async (path, file, type) => {
    const res = await fetch(base + path);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(type);
    expect(res.headers.get('content-security-policy')).toBe(WEB_UI_CSP);
    expect(await res.text()).toBe(onDisk(file));
  });

  it('serves the CLI formatter as the module app.js imports', async () => {
    expect(onDisk('app.js')).toContain(
      "import { describeAnswer, describeContract, describeManifest } from './describe-contract.js';",
    );
    const res = await fetch(`${base}/ui/describe-contract.js`);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toBe(WEB_UI_CSP);
    expect(await res.text()).toBe(DESCRIBE_CONTRACT_JS);
  });

  it('serves formatters that run on their own, as the browser imports them', async () => {
    const url = `data:text/javascript;base64,${Buffer.from(DESCRIBE_CONTRACT_JS).toString('base64')}`;
    const served = (await import(url)) as {
      describeAnswer: (d: object) => string[];
      describeContract: (r: object) => string[];
      describeManifest: (d: object) => string[];
    };
    expect(
      served.describeAnswer({ ack: 'rejected', ackAt: 'T', ackFile: 'a.csv.nack', ackReason: 'no\nway' }),
    ).toEqual(['rejected at T (a.csv.nack): no', 'way']);
    expect(served.describeContract({ transform: { compress: 'gzip' } })).toEqual(['transform: gzip']);
    expect(served.describeManifest({ manifest: 'w-2026-12-07' })).toEqual(['listed in w-2026-12-07']);
  });
});
