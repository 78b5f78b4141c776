// `vlad rlds info|validate|cat|bench`: look into, check and benchmark recorded datasets.
import process from 'node:process';
import { command, flag } from './args.js';
import { EncodedImage, openDataset, validateDataset, type Leaf, type Value } from '../rlds/index.js';

const INFO = {
  name: 'rlds info', usage: 'vlad rlds info DIR [--json]   name, version, splits, steps, feature tree',
  options: { json: { type: 'boolean' } }, positionals: { min: 1, max: 1 },
} as const;
const VALIDATE = {
  name: 'rlds validate', usage: 'vlad rlds validate DIR [--all]   framing, CRCs, metadata vs shards, records vs features.json (--all: every problem, not just the first)',
  options: { all: { type: 'boolean' } }, positionals: { min: 1, max: 1 },
} as const;
const CAT = {
  name: 'rlds cat', usage: "vlad rlds cat DIR --episode N [--split S] [--json]   one episode's steps (images as format/size)",
  options: { episode: { type: 'string' }, split: { type: 'string' }, json: { type: 'boolean' } }, positionals: { min: 1, max: 1 },
} as const;
const BENCH_USAGE = 'vlad rlds bench [--seconds S] [--hz HZ] [--cameras N] [--size PX] [--encoding jpeg|png] [--out DIR] [--json] ...   (--help for all)';

const USAGE = [INFO, VALIDATE, CAT].map((c) => `  ${c.usage}`).concat(`  ${BENCH_USAGE}`).join('\n');

const out = (s: string) => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);

function leafDescription(l: Leaf) {
  const n = l.node;
  const level = l.sequenceRank > 0 ? 'step' : 'episode';
  switch (n.type) {
    case 'image': return { name: l.key, level, type: 'Image', dtype: n.dtype, shape: n.shape, encoding: n.encodingFormat ?? 'png|jpeg' };
    case 'text': return { name: l.key, level, type: 'Text', dtype: 'string', shape: [], encoding: 'utf-8' };
    case 'classLabel': return { name: l.key, level, type: 'ClassLabel', dtype: 'int64', shape: [], encoding: 'none' };
    default: return { name: l.key, level, type: n.className.endsWith('Scalar') ? 'Scalar' : 'Tensor', dtype: n.dtype, shape: n.shape, encoding: n.encoding };
  }
}

function info(args: string[]): Promise<number> {
  return command(INFO, args, async (values, [dir]) => {
    const ds = await openDataset(dir!);
    const splits = [];
    let totalSteps = 0;
    for (const si of ds.info.splits) {
      let steps = 0;
      for await (const ep of ds.episodes(si.name)) steps += ep.numSteps;
      totalSteps += steps;
      splits.push({ name: si.name, episodes: si.shardLengths.reduce((a, b) => a + b, 0), shards: si.shardLengths.length, steps, numBytes: si.numBytes });
    }
    const result = {
      dir: ds.dir, name: ds.info.name, version: ds.info.version, ...(ds.info.configName ? { config: ds.info.configName } : {}),
      splits, totalSteps, features: ds.leaves.map(leafDescription),
    };
    if (values.json) { out(JSON.stringify(result, null, 2)); return 0; }
    out(`${result.name} ${result.version}${ds.info.configName ? ` (config ${ds.info.configName})` : ''}  ${ds.dir}`);
    for (const s of splits) out(`  split ${s.name}: ${s.episodes} episodes, ${s.shards} shards, ${s.steps} steps, ${s.numBytes} bytes`);
    out(`  total steps: ${totalSteps}`);
    out('  features:');
    for (const f of result.features) out(`    ${f.level.padEnd(7)} ${f.name.padEnd(40)} ${f.type.padEnd(7)} ${f.dtype.padEnd(8)} [${f.shape.join(',')}] ${f.encoding}`);
    return 0;
  });
}

function validate(args: string[]): Promise<number> {
  return command(VALIDATE, args, async (values, [dir]) => {
    const r = await validateDataset(dir!, { maxProblems: values.all ? 1000 : 1 });
    if (r.ok) {
      out(`valid: ${r.dir}: ${r.shards} shards, ${r.episodes} episodes, ${r.steps} steps`);
      return 0;
    }
    for (const p of r.problems) err(`invalid: ${p}`);
    return 1;
  });
}

function show(v: Value | undefined): string {
  if (v === undefined) return '-';
  if (v instanceof EncodedImage) return `<${v.format} ${v.declaredShape.join('x')} ${v.bytes.byteLength}B>`;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(6);
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (typeof v === 'boolean') return String(v);
  if ('dtype' in v && 'data' in v && 'shape' in v) {
    const data = v.data as ArrayLike<unknown>;
    const items = Array.from({ length: Math.min(data.length, 8) }, (_, i) => show(data[i] as Value));
    return `${v.dtype}[${(v.shape as number[]).join(',')}] [${items.join(', ')}${data.length > 8 ? ', ...' : ''}]`;
  }
  return `{ ${Object.entries(v).map(([k, x]) => `${k}: ${show(x)}`).join(', ')} }`;
}

function toJson(v: Value): unknown {
  if (v instanceof EncodedImage) return { image: v.format, shape: v.declaredShape, bytes: v.bytes.byteLength };
  if (typeof v === 'bigint') return v.toString();
  if (typeof v !== 'object' || v === null) return v;
  if ('dtype' in v && 'data' in v && 'shape' in v) return { dtype: v.dtype, shape: v.shape, data: Array.from(v.data as ArrayLike<unknown>, (x) => (typeof x === 'bigint' ? x.toString() : x)) };
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]));
}

function cat(args: string[]): Promise<number> {
  return command(CAT, args, async (values, [dir]) => {
    const n = flag.int('episode', values.episode, { min: 0 });
    const ds = await openDataset(dir!);
    const ep = await ds.episode(n, values.split ?? ds.defaultSplit);
    if (values.json) {
      out(JSON.stringify({ episode: n, metadata: toJson(ep.metadata()), steps: [...ep.steps()].map(toJson) }, null, 1));
      return 0;
    }
    out(`episode ${n} of ${ds.info.name} (${ep.numSteps} steps, ${ep.serializedBytes} bytes)`);
    for (const [k, v] of Object.entries(ep.metadata())) out(`  ${k}: ${show(v)}`);
    let t = 0;
    for (const s of ep.steps()) {
      out(`step ${t++}`);
      const walk = (d: Record<string, Value>, prefix: string) => {
        for (const [k, v] of Object.entries(d)) {
          if (typeof v === 'object' && v !== null && !(v instanceof EncodedImage) && !('dtype' in v)) walk(v as Record<string, Value>, `${prefix}${k}/`);
          else out(`  ${prefix}${k}: ${show(v)}`);
        }
      };
      walk(s, '');
    }
    return 0;
  });
}

const SUBCOMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  info, validate, cat,
  bench: async (args) => (await import('./bench-rlds.js')).run(args),
};

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === '--help' || sub === '-h') { out(`usage:\n${USAGE}`); return 0; }
  const subcommand = sub === undefined ? undefined : SUBCOMMANDS[sub];
  if (!subcommand) {
    err(`vlad rlds: ${sub === undefined ? 'which subcommand?' : `unknown subcommand '${sub}'`} (info, validate, cat, bench)\nusage:\n${USAGE}`);
    return 2;
  }
  // `vlad rlds cat ... | head` closes the pipe early; that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); throw e; });
  try {
    return await subcommand(rest);
  } catch (e) {
    err(`vlad rlds ${sub}: ${(e as Error).message}`);
    return 1;
  }
}
