#!/usr/bin/env node
// Thin launcher: production runs the compiled CLI (npm ci runs `prepare`, which builds dist/).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The AWS SDK is pinned to a release that supports Node 20 (package.json); its warning about future
// releases needing Node 22 says nothing about this install.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const cli = fileURLToPath(new URL('../dist/src/cli.js', import.meta.url));
if (!existsSync(cli)) {
  process.stderr.write('ferry: dist/ is missing; run `npm run build` (npm ci does it for you)\n');
  process.exit(2);
}
const { main } = await import(cli);
// Every command has finished when main() resolves (start/demo after their shutdown): exit even if a
// library left a handle open.
process.exit(await main(process.argv.slice(2)));
