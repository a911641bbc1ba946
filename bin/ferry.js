#!/usr/bin/env node
// Thin launcher: production runs the compiled CLI (npm ci runs `prepare`, which builds dist/).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/src/cli.js', import.meta.url));
if (!existsSync(cli)) {
  process.stderr.write('ferry: dist/ is missing; run `npm run build` (npm ci does it for you)\n');
  process.exit(2);
}
const { main } = await import(cli);
// Every command has finished when main() resolves (start/demo after their shutdown): exit even if a
// library left a handle open.
process.exit(await main(process.argv.slice(2)));
