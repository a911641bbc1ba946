// A strict reader of the Prometheus text exposition format (0.0.4): every line must be a HELP, a TYPE or
// a sample of a declared family, or parsing throws naming the line. Tests read values through it.

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromExposition {
  /** Metric family name → counter | gauge | histogram | summary | untyped. */
  types: Map<string, string>;
  samples: PromSample[];
  /** The value of the one sample with exactly these labels, or undefined. */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES: Record<string, readonly string[]> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

export function parsePrometheusText(text: string): PromExposition {
  const types = new Map<string, string>();
  const samples: PromSample[] = [];
  const lines = text.split('\n');
  if (lines.pop() !== '') throw new Error('exposition must end with a newline');
  lines.forEach((line, i) => {
    const fail = (why: string): never => {
      throw new Error(`line ${i + 1}: ${why}: ${JSON.stringify(line)}`);
    };
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return; // a plain comment
      const [, kind, name = '', rest = ''] = m;
      if (!NAME.test(name)) fail('bad metric name');
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) fail('unknown type');
        if (types.has(name)) fail('family declared twice');
        types.set(name, rest);
      }
      return;
    }
    if (line === '') return; // the format ignores empty lines (prom-client puts one between families)
    const sample = parseSample(line, fail);
    if (familyOf(sample.name, types) === undefined) fail('sample of an undeclared family');
    samples.push(sample);
  });
  return {
    types,
    samples,
    value(name, labels = {}) {
      const want = Object.entries(labels);
      const found = samples.filter(
        (s) =>
          s.name === name &&
          Object.keys(s.labels).length === want.length &&
          want.every(([k, v]) => s.labels[k] === v),
      );
      if (found.length > 1) throw new Error(`${found.length} samples of ${name} match`);
      return found[0]?.value;
    },
  };
}

function familyOf(sampleName: string, types: Map<string, string>): string | undefined {
  const own = types.get(sampleName);
  if (own !== undefined && own !== 'histogram') return sampleName;
  for (const [family, type] of types) {
    for (const suffix of SUFFIXES[type] ?? []) if (sampleName === family + suffix) return family;
  }
  return undefined;
}

function parseSample(line: string, fail: (why: string) => never): PromSample {
  const nameEnd = line.search(/[{ ]/);
  if (nameEnd <= 0) fail('no value');
  const name = line.slice(0, nameEnd);
  if (!NAME.test(name)) fail('bad metric name');
  const labels: Record<string, string> = {};
  let pos = nameEnd;
  if (line[pos] === '{') {
    pos += 1;
    while (line[pos] !== '}') {
      const eq = line.indexOf('="', pos);
      if (eq < 0) fail('bad label');
      const labelName = line.slice(pos, eq);
      if (!LABEL_NAME.test(labelName) || labelName in labels) fail('bad or repeated label name');
      pos = eq + 2;
      let value = '';
      for (;;) {
        const c = line[pos];
        if (c === undefined) fail('unterminated label value');
        if (c === '"') break;
        if (c === '\\') {
          const e = line[pos + 1];
          if (e === 'n') value += '\n';
          else if (e === '\\' || e === '"') value += e;
          else fail('bad escape in label value');
          pos += 2;
          continue;
        }
        value += c;
        pos += 1;
      }
      labels[labelName] = value;
      pos += 1;
      if (line[pos] === ',') pos += 1;
      else if (line[pos] !== '}') fail('expected , or } after a label');
    }
    pos += 1;
  }
  const rest = line.slice(pos).split(' ');
  if (rest[0] !== '' || rest.length < 2 || rest.length > 3) fail('expected " value [timestamp]"');
  const raw = rest[1] ?? '';
  // Prometheus reads values with Go's ParseFloat: NaN and Inf in any case (prom-client writes "Nan").
  const special = raw.toLowerCase();
  const value =
    special === 'nan'
      ? NaN
      : /^[+-]?inf(inity)?$/.test(special)
        ? (raw.startsWith('-') ? -1 : 1) * Infinity
        : Number(raw);
  if (raw === '' || (Number.isNaN(value) && special !== 'nan')) fail('bad value');
  if (rest[2] !== undefined && !/^-?\d+$/.test(rest[2])) fail('bad timestamp');
  return { name, labels, value };
}
