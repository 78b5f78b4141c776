// The Dockerfile cannot be built here (no Docker engine, no ROS, no Jetson), so this test checks
// the parts of it that decide whether a build works and runs the steps that can run here: each
// target copies the compiler's inputs before `npm ci` (whose `prepare` runs tsc), sources ROS in
// the same RUN as `npm ci` (rclnodejs builds its bindings at install), builds, verifies the shipped
// bundle with the command the image runs, and launches a launch file that exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../support/bundles.js';

interface Instruction { op: string; args: string }
interface Stage { name: string; from: string; steps: Instruction[] }

/** Dockerfile instructions (continuation lines joined, comments dropped), grouped by stage. */
function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const joined = text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n').replace(/\\\n/g, ' ');
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of joined.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const m = /^([A-Z]+)\s+(.*)$/.exec(line);
    assert.ok(m, `not a Dockerfile instruction: ${line}`);
    const [, op, rest] = m as unknown as [string, string, string];
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      assert.ok(f, `FROM without an image: ${line}`);
      stages.push({ name: f[2] ?? `stage${stages.length}`, from: f[1]!, steps: [] });
    } else if (stages.length === 0) {
      assert.equal(op, 'ARG', `only ARG may come before the first FROM (${line})`);
      const [k, v] = rest.split('=');
      args.set(k!, v ?? '');
    } else {
      stages.at(-1)!.steps.push({ op, args: rest });
    }
  }
  return { args, stages };
}

const dockerfile = parseDockerfile(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'));
const index = (s: Stage, pred: (i: Instruction) => boolean) => s.steps.findIndex(pred);

test('Dockerfile: an x86 and a jetson target, each from a declared ROS 2 base image', () => {
  assert.deepEqual(dockerfile.stages.map((s) => s.name), ['x86', 'jetson']);
  for (const s of dockerfile.stages) {
    const arg = /^\$\{(\w+)\}$/.exec(s.from)?.[1];
    assert.ok(arg && dockerfile.args.get(arg), `${s.name}: FROM ${s.from} names no declared ARG with a default`);
    assert.match(dockerfile.args.get(arg)!, /ros:humble/, `${s.name}: the base image carries ROS 2 Humble`);
  }
});

for (const stage of dockerfile.stages) {
  test(`Dockerfile ${stage.name}: compiler inputs before npm ci, ROS sourced in the same RUN, build and bundle check after the sources`, () => {
    const ci = index(stage, (i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args));
    assert.ok(ci >= 0, 'runs npm ci');
    const copied = stage.steps.slice(0, ci).filter((i) => i.op === 'COPY').flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    for (const f of ['package.json', 'package-lock.json', '.npmrc', 'tsconfig.json', 'src']) assert.ok(copied.includes(f), `${f} is copied before npm ci (prepare runs tsc)`);
    const run = stage.steps[ci]!.args;
    assert.ok(run.indexOf('source /opt/ros/') >= 0 && run.indexOf('source /opt/ros/') < run.indexOf('npm ci'), 'ROS is sourced before npm ci in the same RUN');
    assert.match(run, /require\('rclnodejs'\)/, 'the RUN checks that rclnodejs loads');
    const all = index(stage, (i) => i.op === 'COPY' && /^\.\s+\.$/.test(i.args));
    const build = index(stage, (i) => i.op === 'RUN' && /npm run build/.test(i.args));
    assert.ok(all > ci && build > all, 'COPY . . after npm ci, npm run build after it');
    assert.match(stage.steps[build]!.args, /node dist\/src\/cli\/main\.js bundle verify models\/bundles\/vlad-base-flow/);
    const cmd = stage.steps.find((i) => i.op === 'CMD');
    const launch = /\/opt\/vlad\/(launch\/[\w.]+\.launch\.py)/.exec(cmd?.args ?? '');
    assert.ok(launch, `${stage.name}: the default command launches the node`);
    assert.ok(existsSync(join(repoRoot, launch[1]!)), `${launch[1]} exists`);
  });
}

test('Dockerfile: the x86 target fetches the CUDA EP binaries the .npmrc skips on CPU machines', () => {
  assert.match(readFileSync(join(repoRoot, '.npmrc'), 'utf8'), /^onnxruntime-node-install=skip$/m);
  const x86 = dockerfile.stages.find((s) => s.name === 'x86')!;
  assert.match(x86.steps.find((i) => i.op === 'RUN' && /npm ci/.test(i.args))!.args, /--onnxruntime-node-install=cuda12/);
  assert.match(readFileSync(join(repoRoot, 'hw-profiles', 'x86-cuda.yaml'), 'utf8'), /onnxruntime-node-install=cuda12/);
});

test("Dockerfile: the image's build check passes here (bundle verify on the shipped model)", () => {
  const r = spawnSync(process.execPath, [join(repoRoot, 'dist', 'src', 'cli', 'main.js'), 'bundle', 'verify', 'models/bundles/vlad-base-flow'], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /vlad-base-flow/);
});
