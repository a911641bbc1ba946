// `npm run bench -- <name> [options]`: each bench starts its own services, runs Ferry and a baseline in
// the same run, and prints one line per figure plus the ratio. Speed is measured here, never asserted in tests.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'; // pinned SDK: see bin/ferry.js

import { runBandwidthBench } from './bandwidth.js';
import { runCsvShapeBench } from './csv-shape.js';
import { runDatedPrefixBench } from './dated-prefix.js';
import { runEventsBench } from './events.js';
import { runLargeFileBench } from './large-file.js';
import { runScaleOutBench } from './scale-out.js';
import { runSmallFilesBench } from './small-files.js';
import { runSoak } from './soak.js';
import { runSweepBench } from './sweep.js';
import { runSweepBatchBench } from './sweep-batch.js';

const BENCHES: Record<string, (args: string[]) => Promise<number | void>> = {
  'sweep-batch': runSweepBatchBench,
  bandwidth: runBandwidthBench,
  'large-file': runLargeFileBench,
  'csv-shape': runCsvShapeBench,
  'dated-prefix': runDatedPrefixBench,
  events: runEventsBench,
  'small-files': runSmallFilesBench,
  'scale-out': runScaleOutBench,
  soak: runSoak,
  sweep: runSweepBench,
};

const [name, ...rest] = process.argv.slice(2);
const bench = name ? BENCHES[name] : undefined;
if (!bench) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}> [options]\n`);
  process.exit(2);
}
process.exit((await bench(rest)) ?? 0);
