// The floors of src/ (see src/README.md): a folder imports only folders on lower floors, and only
// through their index.ts; folders on one floor do not import each other. This test reads every
// import of every source file and fails on an upward, sideways or internal import.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import { repoRoot } from '../support/bundles.js';

/** Floor of each folder: higher floors may import lower ones. */
export const FLOORS: Readonly<Record<string, number>> = {
  '.': 7, // src/index.ts, the package's library entry
  cli: 6,
  daemon: 5,
  control: 4, 'io/zmq': 4, 'io/ws': 4, 'io/ros': 4, train: 4, ota: 4,
  policy: 3, rlds: 3, metrics: 3, sched: 3, 'io/wire': 3,
  bundle: 2, hw: 2, sim: 2,
  core: 1,
};

/** The folder (a FLOORS key) a file under src/ belongs to. */
export function folderOf(srcRelative: string): string {
  const parts = srcRelative.split('/');
  if (parts.length === 1) return '.';
  return parts[0] === 'io' ? `io/${parts[1]}` : parts[0]!;
}

const IMPORT_RE = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g;

/** Every rule an import breaks: an unknown folder, a floor not below, or not through index.ts. */
export function importProblems(fromFile: string, source: string): string[] {
  const problems: string[] = [];
  const from = folderOf(fromFile);
  if (FLOORS[from] === undefined) problems.push(`${fromFile}: folder '${from}' has no floor (add it to FLOORS and src/README.md)`);
  for (const m of source.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2]!;
    if (!spec.startsWith('.')) continue;
    const target = posix.normalize(posix.join(posix.dirname(fromFile), spec));
    if (target.startsWith('..')) { problems.push(`${fromFile}: '${spec}' leaves src/`); continue; }
    const to = folderOf(target);
    if (to === from) continue;
    const floor = FLOORS[to];
    if (floor === undefined) problems.push(`${fromFile}: '${spec}' goes to folder '${to}', which has no floor`);
    else if (floor >= FLOORS[from]!) problems.push(`${fromFile}: '${spec}' imports ${to} (floor ${floor}) from ${from} (floor ${FLOORS[from]}): only lower floors may be imported`);
    if (target !== `${to}/index.js`) problems.push(`${fromFile}: '${spec}' reaches inside ${to}: import its index.ts`);
  }
  return problems;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : name.endsWith('.ts') && !name.endsWith('.d.ts') ? [p] : [];
  });
}

test('the checker itself finds an upward import, a sideways one, and one that reaches inside a folder', () => {
  assert.deepEqual(importProblems('control/loop.ts', "import { Daemon } from '../daemon/index.js';").length, 1);
  assert.match(importProblems('sim/robot.ts', "import type { X } from '../policy/index.js';")[0]!, /imports policy \(floor 3\) from sim \(floor 2\)/);
  assert.match(importProblems('policy/engine.ts', "import { x } from '../rlds/index.js';")[0]!, /only lower floors/);
  assert.match(importProblems('daemon/daemon.ts', "import { ControlLoop } from '../control/loop.js';")[0]!, /reaches inside control/);
  assert.match(importProblems('io/zmq/ops.ts', "import { x } from '../../core/log.js';")[0]!, /reaches inside core/);
  assert.deepEqual(importProblems('cli/run.ts', "import { Daemon } from '../daemon/index.js';\nimport { command } from './args.js';\nconst m = await import('./sim.js');"), []);
  assert.match(importProblems('newfolder/x.ts', '')[0]!, /has no floor/);
});

test('src/: every import goes down a floor, through the folder\'s index.ts', () => {
  const src = join(repoRoot, 'src');
  const problems: string[] = [];
  const files = sourceFiles(src);
  assert.ok(files.length > 80, `${files.length} source files`);
  for (const file of files) {
    const rel = relative(src, file).split(sep).join('/');
    problems.push(...importProblems(rel, readFileSync(file, 'utf8')));
  }
  assert.deepEqual(problems, []);
  // Every floor named in the table exists or is reserved for what comes next (train).
  for (const folder of Object.keys(FLOORS)) if (!['train'].includes(folder)) assert.ok(statSync(join(src, folder)).isDirectory(), folder);
});
