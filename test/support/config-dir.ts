import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach } from 'vitest';
import {
  formatProblem,
  formatWarning,
  loadConfig,
  type ConfigResult,
  type FerryConfig,
} from '../../src/config/load-config.js';
import type { PartnerConfig } from '../../src/config/schema.js';
import { makeTempDir } from './temp-dir.js';

/** A failed load's problems as printed, with the config dir left out of the file names. */
export function printedProblems(result: ConfigResult, dir: string): string[] {
  return result.ok ? [] : result.problems.map((p) => formatProblem(p).replace(`${dir}/`, ''));
}

/** What goes into a config dir. Everything not named is left out (partners/ always exists, empty or not). */
export interface ConfigDirSpec {
  /** The text of ferry.yaml; `null` writes none. Default: just a receipts bucket. */
  ferryYaml?: string | null;
  /** File name under partners/ (e.g. `acme.yaml`) → its text. */
  partners?: Record<string, string>;
  /** Any other file (e.g. `keys/acme.asc`), by path relative to the dir → its text; written mode 0600. */
  files?: Record<string, string>;
}

/** A loaded config dir; problems and warnings as `ferry validate` prints them, paths relative to the dir. */
export interface LoadedConfigDir {
  dir: string;
  result: ConfigResult;
  config: FerryConfig | undefined;
  /** The partner with this id, when the config is valid. */
  partner: (id: string) => PartnerConfig | undefined;
  /** `partners/acme.yaml:8:13: field: message`; empty when the config is valid. */
  problems: string[];
  warnings: string[];
}

/** One partner file loaded on its own: `partner` is that partner (when the config is valid). */
export type LoadedPartner = Omit<LoadedConfigDir, 'partner'> & { partner: PartnerConfig | undefined };

/** The smallest valid ferry.yaml: what a spec without `ferryYaml` gets. */
export const MINIMAL_FERRY_YAML = 'receipts: { bucket: ferry-audit }\n';

/**
 * Temp config dirs for config tests, removed after each test. `load` takes a dir already written or a
 * spec to write first; `loadPartner` is the common case of one partner file. The environment defaults
 * to none (never the runner's process.env).
 */
export function useConfigDirs(label: string) {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  async function write(spec: ConfigDirSpec = {}): Promise<string> {
    const dir = await makeTempDir(label);
    dirs.push(dir);
    await mkdir(join(dir, 'partners'));
    const ferryYaml = spec.ferryYaml === undefined ? MINIMAL_FERRY_YAML : spec.ferryYaml;
    if (ferryYaml !== null) await writeFile(join(dir, 'ferry.yaml'), ferryYaml);
    for (const [name, text] of Object.entries(spec.partners ?? {})) {
      await writeFile(join(dir, 'partners', name), text);
    }
    for (const [path, text] of Object.entries(spec.files ?? {})) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), text, { mode: 0o600 });
    }
    return dir;
  }

  async function load(
    dirOrSpec: string | ConfigDirSpec,
    env: NodeJS.ProcessEnv = {},
  ): Promise<LoadedConfigDir> {
    const dir = typeof dirOrSpec === 'string' ? dirOrSpec : await write(dirOrSpec);
    const result = await loadConfig(dir, env);
    const config = result.ok ? result.config : undefined;
    // Every mention of the temp dir goes, in messages too (`secret file keys/a.asc cannot be read`).
    const relative = (line: string) => line.replaceAll(`${dir}/`, '');
    return {
      dir,
      result,
      config,
      partner: (id) => config?.partners.get(id),
      problems: result.ok ? [] : result.problems.map((p) => relative(formatProblem(p))),
      warnings: (result.warnings ?? []).map((w) => relative(formatWarning(w))),
    };
  }

  /** Loads a dir holding the minimal ferry.yaml and one partner file, partners/<id>.yaml. */
  async function loadPartner(id: string, text: string, env: NodeJS.ProcessEnv = {}): Promise<LoadedPartner> {
    const loaded = await load({ partners: { [`${id}.yaml`]: text } }, env);
    return { ...loaded, partner: loaded.partner(id) };
  }

  return { write, load, loadPartner };
}
