// The fault-space explorer (test/support/fault-space.ts). By default the CI slice (ciSlice: every
// failpoint × action, every starting state × onExisting × publish mode, both behaviours, both sidecar
// settings, both two-versions orders, a few shared-session cases), one test per case with its
// violations in the message.
// `npm run explore` walks the whole space instead (FERRY_EXPLORE=all); FERRY_EXPLORE_FILTER=<substring>
// runs only the cases whose name contains it (e.g. "after_intent=crash", "direct/skip", "two-versions",
// "+shared-session").
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caseName, ciSlice, enumerateFaultSpace } from '../support/fault-space-cases.js';
import {
  startFaultSpaceExplorer,
  summarizeViolations,
  type CaseResult,
  type FaultSpaceExplorer,
} from '../support/fault-space.js';

const filter = process.env['FERRY_EXPLORE_FILTER'];
const wholeSpace = process.env['FERRY_EXPLORE'] === 'all' || filter !== undefined;

let explorer: FaultSpaceExplorer;
beforeAll(async () => {
  explorer = await startFaultSpaceExplorer();
});
afterAll(async () => {
  await explorer?.stop();
});

if (wholeSpace) {
  describe('the whole fault space', () => {
    it('holds every invariant in every case', { timeout: 4 * 60 * 60_000 }, async () => {
      const cases = enumerateFaultSpace().filter((c) => filter === undefined || caseName(c).includes(filter));
      const started = Date.now();
      const results: CaseResult[] = [];
      for (const c of cases) results.push(await explorer.run(c));
      const seconds = (Date.now() - started) / 1000;
      const groups = summarizeViolations(results);
      const violations = results.flatMap((r) => r.violations);
      const failing = results.filter((r) => r.violations.length > 0).length;
      const evidence = results.flatMap((r) => r.evidenceLeftovers);
      const report = join(tmpdir(), 'ferry-fault-space-report.txt');
      await writeFile(
        report,
        results
          .map((r) =>
            [
              `${r.name} → ${r.outcomes.join(', ')}${r.fired || r.name.endsWith(' none') ? '' : ' (the failpoint never fired)'}`,
              ...r.violations.map((v) => `  ${v.kind}: ${v.message}`),
            ].join('\n'),
          )
          .join('\n') + '\n',
      );
      console.log(
        [
          `fault space${filter === undefined ? '' : ` (filter "${filter}")`}: ${cases.length} cases in ${seconds.toFixed(1)} s (${((seconds * 1000) / Math.max(1, cases.length)).toFixed(0)} ms a case)`,
          `violations: ${violations.length} in ${failing} cases`,
          ...groups.map((g) => `  ${String(g.count).padStart(5)} ${g.kind} — e.g. ${g.example}`),
          `failed deliveries' temps kept as evidence (the janitor's): ${evidence.length}`,
          `cases whose failpoint never fired (not wired in, or not on that path): ${results.filter((r) => !r.fired && !r.name.endsWith(' none')).length}`,
          `every case and violation: ${report}`,
        ].join('\n'),
      );
      expect(violations.length, `${violations.length} violations, see ${report}`).toBe(0);
    });
  });
} else {
  describe('the CI slice of the fault space', () => {
    for (const c of ciSlice()) {
      it(caseName(c), async () => {
        const result = await explorer.run(c);
        expect(result.violations.map((v) => v.message)).toEqual([]);
      });
    }
  });
}
