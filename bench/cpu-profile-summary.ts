// `node dist/bench/cpu-profile-summary.js FILE.cpuprofile [--top N]`: where a V8 CPU profile's time went
// (e.g. the worker's, with FERRY_CHILD_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" on a bench). Prints the
// top functions by self time and the modules (node_modules/<pkg>, src/<dir>, jobs/…, node:internal/<dir>)
// three ways: self time; self time with Node's and V8's own frames charged to the nearest module that
// called them ("owner": who caused the socket write); and inclusive (a sample counts once per module
// on its stack). Idle time is left out of the total.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The module a frame belongs to, from its script url (or V8's pseudo-frames by name). */
export function moduleOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (url.startsWith('node:')) {
    const parts = url.slice('node:'.length).split('/');
    return parts[0] === 'internal' && parts.length > 2 ? `node:internal/${parts[1]}` : `node:${parts[0]}`;
  }
  const ours = /\/dist\/((?:src|jobs|bench|test)\/(?:[^/]+\/)?)/.exec(url) ?? /\/dist\/([^/]+)/.exec(url);
  if (ours) return ours[1]!.replace(/\/$/, '');
  return url;
}

function isOwn(module: string): boolean {
  return !module.startsWith('node:') && !module.startsWith('(');
}

export function summarise(profile: CpuProfile, top: number): string[] {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const moduleOfNode = (node: ProfileNode) => moduleOf(node.callFrame.url, node.callFrame.functionName);
  const selfFn = new Map<string, number>();
  const selfModule = new Map<string, number>();
  const ownerModule = new Map<string, number>();
  const inclusiveModule = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us);
  let total = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const node = byId.get(id)!;
    const module = moduleOfNode(node);
    if (module === '(idle)') {
      idle += us;
      return;
    }
    total += us;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url === '' ? '' : ` ${url.replace(/^.*\/(node_modules|dist)\//, '')}:${lineNumber + 1}`;
    add(selfFn, `${functionName || '(anonymous)'}${where}`, us);
    add(selfModule, module, us);
    const seen = new Set<string>();
    let owner: string | undefined;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const m = moduleOfNode(byId.get(at)!);
      if (m === '(root)') continue;
      seen.add(m);
      if (owner === undefined && isOwn(m)) owner = m;
    }
    add(ownerModule, owner ?? module, us);
    for (const m of seen) add(inclusiveModule, m, us);
  });
  const ms = (us: number) =>
    `${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / total).toFixed(1).padStart(5)} %`;
  const table = (title: string, map: Map<string, number>) => [
    title,
    ...[...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, us]) => `  ${ms(us)}  ${key}`),
  ];
  return [
    `busy ${(total / 1000).toFixed(0)} ms (idle ${(idle / 1000).toFixed(0)} ms left out)`,
    ...table('functions by self time:', selfFn),
    ...table('modules by self time:', selfModule),
    ...table(
      "modules by self time, Node's and V8's frames charged to their nearest calling module:",
      ownerModule,
    ),
    ...table('modules inclusive (each sample once per module on its stack):', inclusiveModule),
  ];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '15' } },
});
if (positionals.length === 0) {
  process.stderr.write('usage: node dist/bench/cpu-profile-summary.js FILE.cpuprofile [--top N]\n');
  process.exit(2);
}
for (const file of positionals) {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  console.log(`${file}:`);
  for (const line of summarise(profile, Number(values.top))) console.log(line);
}
