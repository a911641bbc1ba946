// The runbooks cannot rot: every alert kind and every error code has one, each runbook names what it
// covers, the index lists them all, and every `ferry …` command a runbook tells people to run exists.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALERT_KINDS } from '../../src/core/alert-message.js';
import { RUNBOOK_FOR_CODE, RUNBOOK_FOR_KIND } from '../../src/core/runbook-for.js';
import { ERROR_CODES } from '../../src/errors.js';
import { runFerryInProcess } from '../support/run-cli-in-process.js';

const DIR = join(import.meta.dirname, '..', '..', 'docs', 'runbooks');
const read = (file: string): string => readFileSync(join(DIR, file), 'utf8');
const runbookFiles = readdirSync(DIR).filter((f) => f.endsWith('.md') && f !== 'README.md');

// Runbooks for situations that raise no alert of their own (linked from the index, not from alerts).
const WITHOUT_ALERT = ['manifests.md'];

// Each `name → file` pair the mapping makes: codes and kinds alike.
const covered: [string, string][] = [
  ...Object.entries(RUNBOOK_FOR_CODE),
  ...Object.entries(RUNBOOK_FOR_KIND),
];

/** True when `name` appears in a heading, a list item or a table row of `text`, as a whole word. */
function namedIn(text: string, name: string): boolean {
  const word = new RegExp(`(^|[^A-Za-z0-9_-])${name}($|[^A-Za-z0-9_-])`);
  return text.split('\n').some((line) => /^\s*(#|[-*] |\|)/.test(line) && word.test(line));
}

describe('runbooks', () => {
  it('map every error code and every alert kind', () => {
    expect(Object.keys(RUNBOOK_FOR_CODE).sort()).toEqual(Object.keys(ERROR_CODES).sort());
    expect(Object.keys(RUNBOOK_FOR_KIND).sort()).toEqual(Object.keys(ALERT_KINDS).sort());
  });

  it.each(covered)('%s has its runbook %s, which names it in a heading or list', (name, file) => {
    expect(existsSync(join(DIR, file)), `docs/runbooks/${file}`).toBe(true);
    expect(namedIn(read(file), name), `docs/runbooks/${file} names ${name}`).toBe(true);
  });

  it('has no runbook that nothing links to', () => {
    const linked = new Set([...covered.map(([, file]) => file), ...WITHOUT_ALERT]);
    expect(runbookFiles.filter((f) => !linked.has(f))).toEqual([]);
  });

  it('lists the runbooks without an alert kind or error code in the index', () => {
    const index = read('README.md');
    expect(WITHOUT_ALERT.filter((file) => !index.includes(`](${file})`))).toEqual([]);
  });

  it('are all in the index, with each code and kind in the row of its runbook', () => {
    const rows = read('README.md')
      .split('\n')
      .filter((l) => l.startsWith('|'));
    const missing = covered.filter(
      ([name, file]) => !rows.some((row) => row.includes(`\`${name}\``) && row.includes(`](${file})`)),
    );
    expect(missing).toEqual([]);
  });

  it('only tell people to run ferry commands and options that exist', async () => {
    const help = await runFerryInProcess(['help']);
    expect(help.code).toBe(0);
    // The usage line(s) of each command, keyed by its name (`deliveries show` by both words).
    const usage = new Map<string, string>();
    for (const line of help.out) {
      const m = /^\s+ferry ([a-z-]+(?: show)?)\b/.exec(line);
      if (m) usage.set(m[1]!, `${usage.get(m[1]!) ?? ''} ${line}`);
    }
    const wrong: string[] = [];
    for (const file of ['README.md', ...runbookFiles]) {
      // Commands in inline code and at the start of code-block lines.
      const commands = [...read(file).matchAll(/(?:`|^\s*\$?\s*)(ferry [^`\n]*)/gm)].map((m) => m[1]!);
      for (const command of commands) {
        const name = /^ferry ([a-z-]+(?: show)?)/.exec(command)?.[1];
        const line = name === undefined ? undefined : usage.get(name);
        if (line === undefined) {
          wrong.push(`${file}: ${command} (no such command)`);
          continue;
        }
        for (const flag of command.match(/--[a-z-]+/g) ?? []) {
          if (!line.includes(`${flag}`)) wrong.push(`${file}: ${command} (no ${flag})`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});
