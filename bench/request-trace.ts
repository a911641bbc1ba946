// `small-files --trace`: what one delivery costs in requests. Redis commands come from MONITOR (only the
// worker's connections, told apart by pid), S3 requests from a counting TCP proxy in front of s3rver,
// SFTP requests from the worker's own calls (trace-sftp-hook.ts). Tracing slows the services down: it
// measures no time.
import { execFile } from 'node:child_process';
import { createServer, connect, type Server } from 'node:net';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

const run = promisify(execFile);

/** Counts by label; `perItem` divides by the number of deliveries for the report. */
export class Tally {
  readonly counts = new Map<string, number>();
  add(label: string, n = 1): void {
    this.counts.set(label, (this.counts.get(label) ?? 0) + n);
  }
  get total(): number {
    let sum = 0;
    for (const n of this.counts.values()) sum += n;
    return sum;
  }
  /** Lines "  <count per item>  <label>", most frequent first. */
  report(items: number): string[] {
    return [...this.counts.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([label, n]) => `  ${(n / items).toFixed(2).padStart(6)}  ${label}`);
  }
}

/** Ids, hashes and numbers out of a key or argument, so one delivery's calls group with the next's. */
export function normalizeKey(key: string): string {
  return key
    .replace(/[0-9a-f]{16,}(-r\d+)?/gi, '<id>')
    .replace(/file_\d+\.csv/g, '<file>')
    .replace(/\d+/g, 'N');
}

export interface RedisMonitor {
  /** Commands of the clients whose connections belong to `pid`, grouped by command and first key. */
  stop(pid: number): Promise<{ commands: Tally; insideLua: Tally; unattributed: number }>;
}

interface MonitoredCommand {
  args: string[];
  source: string;
}

/**
 * MONITOR on `url` from now on. A command is the worker's when its client port belongs to a socket of
 * the worker's pid (`ss -tnp`, taken while the worker still runs); commands Lua scripts run are
 * reported apart ('lua' source), as they cost no round trip.
 */
export async function startRedisMonitor(url: string): Promise<RedisMonitor> {
  const client = new Redis(url, { lazyConnect: true });
  await client.connect();
  const monitor = await client.monitor();
  const seen: MonitoredCommand[] = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    seen.push({ args, source });
  });
  return {
    async stop(pid) {
      const ports = await localPortsOf(pid);
      const names = await clientNames(url);
      monitor.disconnect();
      client.disconnect();
      const commands = new Tally();
      const insideLua = new Tally();
      let unattributed = 0;
      for (const { args, source } of seen) {
        const [name = '?', ...rest] = args;
        const label = labelCommand(name.toUpperCase(), rest);
        if (source === 'lua') {
          insideLua.add(label);
          continue;
        }
        const port = Number(source.split(':').pop());
        if (ports.has(port)) commands.add(`[${names.get(port) || '?'}] ${label}`);
        else unattributed++;
      }
      return { commands, insideLua, unattributed };
    },
  };
}

function labelCommand(name: string, rest: string[]): string {
  if (name === 'EVALSHA' || name === 'EVAL') {
    const script = name === 'EVALSHA' ? (rest[0] ?? '').slice(0, 8) : 'source';
    const keys = Number(rest[1] ?? 0);
    const firstKeys = rest.slice(2, 2 + Math.min(keys, 2)).map(normalizeKey);
    return `${name} ${script} ${firstKeys.join(' ')}`;
  }
  if (name === 'MULTI' || name === 'EXEC' || name === 'PING' || name === 'CLIENT' || name === 'INFO') {
    return `${name} ${rest.join(' ')}`.trim();
  }
  return `${name} ${normalizeKey(rest[0] ?? '')}`;
}

/** Client port → connection name (CLIENT SETNAME), for the clients connected now. */
async function clientNames(url: string): Promise<Map<number, string>> {
  const client = new Redis(url, { lazyConnect: true });
  await client.connect();
  try {
    const list = String(await client.client('LIST'));
    const names = new Map<number, string>();
    for (const line of list.split('\n')) {
      const addr = /\baddr=\S+:(\d+)/.exec(line)?.[1];
      if (addr !== undefined) names.set(Number(addr), /\bname=(\S*)/.exec(line)?.[1] ?? '');
    }
    return names;
  } finally {
    client.disconnect();
  }
}

/** Local TCP ports of `pid`'s sockets (its Redis clients among them). */
async function localPortsOf(pid: number): Promise<Set<number>> {
  const { stdout } = await run('ss', ['-tnpH']);
  const ports = new Set<number>();
  for (const line of stdout.split('\n')) {
    if (!line.includes(`pid=${pid},`)) continue;
    const local = line.trim().split(/\s+/)[3] ?? '';
    ports.add(Number(local.split(':').pop()));
  }
  return ports;
}

export interface S3CountingProxy {
  endpoint: string;
  port: number;
  requests: Tally;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of s3rver that counts HTTP requests by method and bucket/key shape (request
 * lines are found at the start of client writes; bodies here are small, so a request line never
 * straddles two of them in practice).
 */
export async function startS3CountingProxy(targetPort: number): Promise<S3CountingProxy> {
  const requests = new Tally();
  const requestLine = /(?:^|\r\n)(GET|PUT|HEAD|POST|DELETE) (\S+) HTTP\/1\.1\r\n/g;
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    client.on('data', (chunk: Buffer) => {
      for (const m of chunk.toString('latin1').matchAll(requestLine)) {
        const [path = '', query = ''] = (m[2] ?? '').split('?');
        const [bucket = '', ...key] = path.replace(/^\//, '').split('/');
        const op = query.includes('list-type=2') ? ' (list)' : query.includes('tagging') ? ' (tagging)' : '';
        requests.add(`${m[1]} ${bucket}/${normalizeKey(key.join('/'))}${op}`);
      }
      upstream.write(chunk);
    });
    upstream.pipe(client);
    client.on('end', () => upstream.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.unref();
      }),
  };
}
