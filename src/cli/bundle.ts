// `vlad bundle verify|info DIR`: check a model bundle end to end, or summarize it.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import process from 'node:process';
import { command, flag } from './args.js';
import { readManifest } from '../bundle/index.js';
import type { PolicyEngine } from '../policy/index.js';

const VERIFY = {
  name: 'bundle verify', usage: 'vlad bundle verify DIR [--profile NAME] [--json]   schema, hashes, graph I/O, serving self-test against the golden cases',
  options: { profile: { type: 'string' }, json: { type: 'boolean' } }, positionals: { min: 1, max: 1 },
} as const;
const INFO = {
  name: 'bundle info', usage: 'vlad bundle info DIR [--json]   name, version, expert, I/O, LoRA, graphs',
  options: { json: { type: 'boolean' } }, positionals: { min: 1, max: 1 },
} as const;
const KEYGEN = {
  name: 'bundle keygen', usage: 'vlad bundle keygen --out DIR [--name NAME]   an ed25519 signing key: NAME.key (secret, 0600), NAME.pub (the public key robots trust)',
  options: { out: { type: 'string' }, name: { type: 'string' }, json: { type: 'boolean' } },
} as const;
const SIGN = {
  name: 'bundle sign', usage: 'vlad bundle sign DIR --key KEY [--expires DAYS|ISO-DATE] [--hw-profiles a,b] [--add]   sign the canonical manifest (release metadata included); --add keeps other signatures (threshold signing)',
  options: { key: { type: 'string' }, expires: { type: 'string' }, 'hw-profiles': { type: 'string' }, add: { type: 'boolean' }, json: { type: 'boolean' } }, positionals: { min: 1, max: 1 },
} as const;
const USAGE = `  ${VERIFY.usage}\n  ${INFO.usage}\n  ${KEYGEN.usage}\n  ${SIGN.usage}`;

const SUBCOMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  verify: (args) => command(VERIFY, args, (values, [dir]) => verify(dir!, values.profile ?? 'cpu', values.json ?? false)),
  info: (args) => command(INFO, args, (values, [dir]) => info(dir!, values.json ?? false)),
  keygen: (args) => command(KEYGEN, args, async (v) => {
    const { writeSigningKey } = await import('./bundle-sign.js');
    const k = await writeSigningKey(flag.required('out', v.out), v.name ?? 'vlad-signing');
    process.stdout.write(v.json ? `${JSON.stringify({ key_id: k.keyId, public_key: k.publicKey, key_file: k.keyFile, pub_file: k.pubFile })}\n` : `key id ${k.keyId}\npublic key ${k.publicKey}\nsecret ${k.keyFile} (mode 0600; keep it off the robots)\npublic ${k.pubFile} (list it in ota.trusted_keys)\n`);
    return 0;
  }),
  sign: (args) => command(SIGN, args, async (v, [dir]) => {
    const { signBundle, parseExpiry } = await import('./bundle-sign.js');
    const expires = parseExpiry(v.expires ?? '365');
    const hw = v['hw-profiles'] !== undefined ? flag.list('hw-profiles', v['hw-profiles'], (x) => x) : undefined;
    const r = await signBundle(dir!, flag.required('key', v.key), { expires, ...(hw ? { hwProfiles: hw } : {}), add: v.add ?? false });
    process.stdout.write(v.json ? `${JSON.stringify(r)}\n` : `signed ${r.bundle} by key ${r.key_id}, expires ${r.expires}, hw-profiles ${r.hw_profiles.join(', ')} (${r.signatures} signature${r.signatures === 1 ? '' : 's'})\n`);
    return 0;
  }),
};

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === '--help' || sub === '-h') { process.stdout.write(`usage:\n${USAGE}\n`); return 0; }
  const subcommand = sub === undefined ? undefined : SUBCOMMANDS[sub];
  if (!subcommand) {
    process.stderr.write(`vlad bundle: ${sub === undefined ? 'which subcommand?' : `unknown subcommand '${sub}'`} (verify, info, keygen, sign)\nusage:\n${USAGE}\n`);
    return 2;
  }
  try {
    return await subcommand(rest);
  } catch (e) {
    process.stderr.write(`vlad bundle ${sub}: ${(e as Error).message}\n`);
    return 1;
  }
}

async function verify(dir: string, profile: string, json: boolean): Promise<number> {
  // Loaded here, so that `bundle info` and `--help` never pay for onnxruntime.
  const { PolicyEngine: Engine } = await import('../policy/index.js');
  let engine: PolicyEngine | undefined;
  try {
    // Opening runs every check: schema, hashes, graph I/O, serving self-test, warm-up.
    engine = await Engine.open(dir, { profile, selfTest: 'all', warmUpRuns: 1, log: json ? () => {} : undefined });
    const report = await engine.selfTest('all');
    if (json) process.stdout.write(`${JSON.stringify({ bundle: engine.modelVersion, provider: engine.provider.name, ...report })}\n`);
    else {
      for (const c of report.cases) process.stdout.write(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.graph}.${c.output}: max rel error ${c.maxRelError.toExponential(2)} (tolerance ${report.tolerance})\n`);
      process.stdout.write(`${report.ok ? 'verified' : 'FAILED'}: ${engine.modelVersion} (${dir})\n`);
    }
    return report.ok ? 0 : 1;
  } catch (err) {
    const message = (err as Error).message;
    if (json) process.stdout.write(`${JSON.stringify({ ok: false, error: message })}\n`);
    else process.stderr.write(`bundle verify failed: ${message}\n`);
    return 1;
  } finally {
    await engine?.close();
  }
}

async function info(dir: string, json: boolean): Promise<number> {
  const m = await readManifest(dir);
  const graphs: Record<string, { file: string; bytes: number; inputs: string[]; outputs: string[] }> = {};
  for (const [name, g] of Object.entries(m.graphs)) {
    if (!g) continue;
    const bytes = await stat(join(dir, g.file)).then((s) => s.size, () => -1);
    const fmt = (t: { name: string; dtype: string; shape: (number | string)[] }) => `${t.name} ${t.dtype}[${t.shape.join(',')}]`;
    graphs[name] = { file: g.file, bytes, inputs: g.inputs.map(fmt), outputs: g.outputs.map(fmt) };
  }
  const summary = {
    name: m.name, version: m.version, created_at: m.created_at, description: m.description,
    expert: m.expert.kind, steps: m.expert.sampler.steps,
    io: { cameras: m.io.cameras.map((c) => `${c.name} ${c.width}x${c.height}`), state_dim: m.io.state_dim, action_dim: m.io.action_dim, chunk_length: m.io.chunk_length, control_dt: m.io.control_dt },
    normalization: m.normalization.mode,
    lora: { rank: m.lora.rank, alpha: m.lora.alpha, size: m.lora.size, targets: m.lora.targets },
    graphs, golden_cases: m.golden.cases.length, signed: m.signature !== null,
  };
  if (json) { process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`); return 0; }
  const lines = [
    `${m.name} ${m.version}${m.description ? ` — ${m.description}` : ''}`,
    `  expert: ${summary.expert}, ${summary.steps} step(s); normalization ${summary.normalization}`,
    `  io: cameras ${summary.io.cameras.join(', ')}; state ${m.io.state_dim}; action ${m.io.action_dim}; chunk ${m.io.chunk_length} x ${m.io.control_dt}s`,
    `  lora: rank ${m.lora.rank}, alpha ${m.lora.alpha}, ${m.lora.size} params on ${m.lora.targets.join(', ')}`,
    ...Object.entries(graphs).map(([n, g]) => `  ${n}: ${g.file} (${(g.bytes / 1e6).toFixed(2)} MB)\n      in:  ${g.inputs.join('; ')}\n      out: ${g.outputs.join('; ')}`),
    `  golden cases: ${summary.golden_cases}; signature: ${summary.signed ? 'ed25519' : 'none'}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
