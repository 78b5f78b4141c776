// A recorder that cannot record where it is asked to refuses at once: openRecorder rejects with the
// directory or feature and the reason, stops its workers, and removes whatever it created. This
// file is also the child that opens the recorder (VLAD_RLDS_REFUSE_CHILD holds the options as
// JSON): the child must exit by itself, so a refusal that left a worker running fails as a hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openRecorder, type RecorderOptions } from '../../src/rlds/index.js';
import { DatasetStore } from '../../src/rlds/store.js';
import { buildFeatures } from '../../src/rlds/schema.js';
import { cliPath, tempDir } from './helpers.js';

const spec = { cameras: [{ name: 'image', height: 8, width: 12, channels: 3 }], stateDim: 3, actionDim: 2 };

if (process.env.VLAD_RLDS_REFUSE_CHILD) {
  const opts = JSON.parse(process.env.VLAD_RLDS_REFUSE_CHILD) as RecorderOptions;
  try {
    await (await openRecorder(opts)).close();
    process.stdout.write('OPENED\n');
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 3;
  }
} else {
  /** Opens a recorder in a child process; it must refuse (exit 3) within the limit, not hang. */
  const refuse = (opts: Omit<RecorderOptions, 'spec'> & { spec?: RecorderOptions['spec'] }): string => {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], {
      env: { ...process.env, VLAD_RLDS_REFUSE_CHILD: JSON.stringify({ spec, ...opts }) }, encoding: 'utf8', timeout: 60_000,
    });
    assert.equal(r.signal, null, `the child did not exit by itself (a worker left running?): ${r.stderr}`);
    assert.equal(r.status, 3, `expected a refusal: ${r.stdout}${r.stderr}`);
    return r.stderr;
  };

  /** Every path below `dir` with its size: what a refusal must leave exactly as it was. */
  const tree = (dir: string): string[] => {
    const out: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        out.push(`${p} ${e.isDirectory() ? 'dir' : statSync(p).size}`);
        if (e.isDirectory()) walk(p);
      }
    };
    walk(dir);
    return out.sort();
  };

  /** chmod 0555 stops writes for everyone but root (and CAP_DAC_OVERRIDE). */
  const chmodStopsWrites = (() => {
    const d = tempDir('probe');
    chmodSync(d, 0o555);
    try { writeFileSync(join(d, 'probe'), ''); return false; } catch { return true; } finally { chmodSync(d, 0o755); }
  })();

  test('a read-only directory (chmod 0555): refused with the directory and EACCES, nothing created', {
    skip: !chmodStopsWrites && 'running as root: chmod 0555 does not stop root writing; the ENOTDIR test below covers an unwritable place for everyone',
  }, () => {
    const parent = tempDir('ro');
    writeFileSync(join(parent, 'keep'), 'x');
    const root = join(parent, 'data');
    chmodSync(parent, 0o555);
    try {
      const before = tree(parent);
      const msg = refuse({ root, name: 'vlad_ro' });
      assert.match(msg, new RegExp(`cannot write to ${parent.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(EACCES: permission denied\\)`));
      assert.deepEqual(tree(parent), before);
    } finally {
      chmodSync(parent, 0o755);
    }
  });

  test('a path below a regular file: refused with ENOTDIR naming the file, for every user, nothing created', () => {
    const base = tempDir('notdir');
    const file = join(base, 'file');
    writeFileSync(file, 'not a directory');
    const before = tree(base);
    const msg = refuse({ root: join(file, 'sub'), name: 'vlad_notdir' });
    assert.match(msg, /cannot write to \S+\/file\/sub\/vlad_notdir\/1\.0\.0 \(ENOTDIR: \S+\/file is not a directory\)/);
    assert.deepEqual(tree(base), before);
    assert.equal(readFileSync(file, 'utf8'), 'not a directory');
  });

  test('a place where mkdir can never succeed (/proc/sys, where recursive fs.mkdir spins forever): refused, no hang', {
    skip: !existsSync('/proc/sys') && 'no /proc/sys here',
  }, () => {
    assert.match(refuse({ root: '/proc/sys/vlad_data', name: 'vlad_proc' }), /cannot write to \/proc\/sys \((ENOENT|EACCES|EROFS|EPERM): /);
  });

  test('a different feature schema already there: refused naming the feature, the existing data and journal untouched', async () => {
    const root = tempDir('schema');
    const rec = await openRecorder({ root, name: 'vlad_schema', spec });
    await rec.close();
    // Without its journal folder (a dataset copied from another machine): the refused open must
    // remove the journal folders and LOCK it made, and nothing else.
    rmSync(join(root, '.vlad-journal'), { recursive: true });
    const before = tree(root);
    const msg = refuse({ root, name: 'vlad_schema', spec: { ...spec, stateDim: 4 } });
    assert.match(msg, /vlad_schema\/1\.0\.0\/features\.json: the existing dataset has a different feature schema \(steps\/observation\/state: Tensor float32\[3\] in the existing dataset, Tensor float32\[4\] here\)/);
    assert.deepEqual(tree(root), before);
    // With the journal folder there (the usual case): no LOCK is left behind in it either.
    await (await openRecorder({ root, name: 'vlad_schema', spec })).close();
    const withJournal = tree(root);
    assert.match(refuse({ root, name: 'vlad_schema', spec: { ...spec, cameras: [{ name: 'wrist', height: 8, width: 12, channels: 3 }] } }),
      /steps\/observation\/wrist: not in the existing dataset/);
    assert.deepEqual(tree(root), withJournal);
    await (await openRecorder({ root, name: 'vlad_schema', spec })).close(); // still opens as before
  });

  test('a name TFDS reserves, or a bad limit: refused before anything is started or created', () => {
    const root = join(tempDir('reserved'), 'new');
    assert.match(refuse({ root, name: 'bridge' }), /dataset name 'bridge' is registered by TFDS itself/);
    assert.match(refuse({ root, name: 'vlad_ok', encodeConcurrency: 0 }), /encodeConcurrency is 0; expected an integer in \[1, 1024\]/);
    assert.equal(existsSync(root), false);
  });

  test('an open undone (its encoder did not start) removes the folders it made, keeps those that were there', async () => {
    const base = tempDir('abandon');
    const root = join(base, 'a', 'b');
    const { store } = await DatasetStore.open({ root, name: 'vlad_abandon', version: '1.0.0', features: buildFeatures(spec, 'png') });
    assert.ok(existsSync(join(root, 'vlad_abandon', '1.0.0', 'features.json')));
    await store.abandon();
    assert.deepEqual(readdirSync(base), []);
  });

  test('CLI: rlds bench into an unwritable --out exits 1 naming the directory and the reason', () => {
    const base = tempDir('bench');
    const file = join(base, 'file');
    writeFileSync(file, '');
    const r = spawnSync(process.execPath, [cliPath, 'rlds', 'bench', '--seconds', '1', '--out', join(file, 'sub')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /cannot write to \S+\/file\/sub\/vlad_bench\/1\.0\.0 \(ENOTDIR: \S+\/file is not a directory\)/);
    assert.deepEqual(readdirSync(base), ['file']);
  });
}
