// The operator web UI at `/`: one HTML page, one ES module (it imports one more, the CLI's contract
// formatter), one stylesheet. No framework, no bundler.
// The browser files live in ./browser/ as real source (linted, formatted, type-checked by
// tsconfig.browser.json); `npm run build` copies them beside this module in dist/, and they are read
// once when the router is created.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express, { type RequestHandler } from 'express';
import { describeAnswer, describeContract, describeManifest } from '../../core/format-deliveries.js';

/**
 * Only our own files, no inline script or style, no framing, no plugins; fetches go to this origin
 * only. Data from the API is rendered with textContent, so even a hostile S3 key cannot inject
 * markup, and this policy would refuse any script it smuggled in.
 */
export const WEB_UI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "object-src 'none'",
].join('; ');

/** A boat on a wave, so the tab is recognisable (and the browser's /favicon.ico probe is not needed). */
const FAVICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#16202e"/>' +
  '<path d="M6 18h20l-3 6H9z" fill="#7fb0ff"/><path d="M15 6v11h-7z" fill="#fff"/><path d="M17 9v8h6z" fill="#cfd8e6"/></svg>';

/**
 * /ui/describe-contract.js: the CLI's own formatters (self-contained on purpose), so the delivery page
 * and `ferry deliveries show` describe a contract, a partner's answer and a manifest with one
 * implementation.
 */
export const DESCRIBE_CONTRACT_JS = [describeContract, describeAnswer, describeManifest]
  .map((fn) => `export ${fn.toString()}\n`)
  .join('');

interface Asset {
  type: string;
  body: string;
}

/** The browser files: src/http/ui/browser/, or their copy in dist/ (npm run build puts it there). */
const BROWSER_DIR = new URL('./browser/', import.meta.url);

function readBrowserFile(name: string): string {
  const url = new URL(name, BROWSER_DIR);
  try {
    return readFileSync(url, 'utf8');
  } catch (err) {
    // Only a broken install gets here: the build copies these files beside this module.
    throw new Error(`web UI: cannot read ${fileURLToPath(url)}; run \`npm run build\``, { cause: err });
  }
}

/** Every file under /ui/, read from disk now (the page itself is served at `/`). */
export function loadWebUiAssets(): { indexHtml: string; assets: Record<string, Asset> } {
  return {
    indexHtml: readBrowserFile('index.html'),
    assets: {
      'app.js': { type: 'text/javascript; charset=utf-8', body: readBrowserFile('app.js') },
      'describe-contract.js': { type: 'text/javascript; charset=utf-8', body: DESCRIBE_CONTRACT_JS },
      'styles.css': { type: 'text/css; charset=utf-8', body: readBrowserFile('styles.css') },
      'favicon.svg': { type: 'image/svg+xml', body: FAVICON },
    },
  };
}

// X-Frame-Options, nosniff and Referrer-Policy are set for every response (src/http/security-headers.ts).
const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('Content-Security-Policy', WEB_UI_CSP);
  // Small files, revalidated by ETag: a new Ferry version is picked up on the next load.
  res.setHeader('Cache-Control', 'no-cache');
  next();
};

/**
 * GET / (the page) and GET /ui/app.js, /ui/styles.css, …, each behind `auth` (the dashboard logins;
 * none only with --insecure-admin on loopback). The page reads the caller's role from /api/me; the
 * API enforces it.
 */
export function createWebUiRouter(auth: RequestHandler | undefined): express.Router {
  const { indexHtml, assets } = loadWebUiAssets();
  const router = express.Router();
  const guard: RequestHandler[] = auth ? [auth, securityHeaders] : [securityHeaders];
  router.get('/', ...guard, (_req, res) => {
    res.type('text/html; charset=utf-8').send(indexHtml);
  });
  for (const [name, asset] of Object.entries(assets)) {
    router.get(`/ui/${name}`, ...guard, (_req, res) => {
      res.type(asset.type).send(asset.body);
    });
  }
  return router;
}
