#!/usr/bin/env node
// Thin launcher: production runs the compiled CLI (npm ci runs `prepare`, which builds dist/).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The AWS SDK is pinned to a release that supports Node 20 (package.json); its warning about future
// releases needing Node 22 says nothing about this install.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const cli = fileURLToPath(new URL('../dist/src/cli.js', import.meta.url));
if (!existsSync(cli)) {
  process.stderr.write('ferry: dist/ is missing; run `npm run build` (npm ci does it for you)\n');
  process.exit(2);
}
warnIfStale(cli);
const { main } = await import(cli);
// Every command has finished when main() resolves (start/demo after their shutdown): exit even if a
// library left a handle open.
process.exit(await main(process.argv.slice(2)));

/**
 * In a development checkout (src/ beside dist/), a dist/ older than the sources runs yesterday's
 * Ferry: config it does not know yet is refused as "not supported", fixed bugs come back. Say so.
 */
function warnIfStale(builtCli) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const built = statSync(builtCli).mtimeMs;
  const newest = (dir) => {
    let latest = 0;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory()) latest = Math.max(latest, newest(path));
      // .ts, and the web UI's browser files that the build copies (src/http/ui/browser/).
      else if (/\.(ts|js|css|html)$/.test(e.name)) latest = Math.max(latest, statSync(path).mtimeMs);
    }
    return latest;
  };
  const sources = ['src', 'jobs'].map((d) => `${root}${d}`).filter((d) => existsSync(d));
  if (sources.length === 0) return; // an installed package: dist/ is all there is
  if (Math.max(...sources.map(newest)) > built) {
    process.stderr.write(
      'ferry: dist/ is older than src/ or jobs/; run `npm run build` to run this checkout\n',
    );
  }
}
