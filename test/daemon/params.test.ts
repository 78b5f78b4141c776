// The node's parameters: one schema for the params file; the shipped launch/vlad.params.yaml
// passes it, and every kind of bad file is refused with the file and the field named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/core/index.js';
import { DEFAULT_PARAMS, loadDaemonConfig } from '../../src/daemon/index.js';
import { repoRoot } from '../support/bundles.js';

test('launch/vlad.params.yaml validates against the one schema and sets what it says', async () => {
  const c = await loadDaemonConfig({ paramsFile: join(repoRoot, 'launch', 'vlad.params.yaml') });
  assert.equal(c.params.robot, 'ros');
  assert.equal(c.params.output_mode, 'trajectory');
  assert.equal(c.robotDescription.name, 'example-arm');
  assert.equal(c.params.streams.cameras.max_age_s, 0.2);
  assert.equal(c.params.handover.release_after_s, 1.0);
  assert.equal(c.params.seed, DEFAULT_PARAMS.seed, 'what the file leaves out keeps its default');
  assert.equal(c.profile.name, 'cpu');
  assert.match(c.bundleDir, /models\/bundles\/vlad-base-flow$/);
});

test('a bad params file is refused with the file and the field', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlad-params-'));
  const write = (name: string, text: string) => { const p = join(dir, name); writeFileSync(p, text); return p; };
  const cases: [string, RegExp][] = [
    ['vlad:\n  ros__parameters:\n    join: sideways\n', /bad1\.yaml: vlad\.ros__parameters\.join: must be equal to one of the allowed values/],
    ['vlad:\n  ros__parameters:\n    warp_drive: true\n', /bad2\.yaml: vlad\.ros__parameters\.warp_drive: unknown field/],
    ['vlad:\n  ros__parameters:\n    handover: { blend_s: -1 }\n', /bad3\.yaml: vlad\.ros__parameters\.handover\.blend_s: must be >= 0/],
    ['other_node:\n  ros__parameters: {}\n', /bad4\.yaml: \(root\): no parameters for node 'vlad'/],
    ['vlad:\n  mode: teleop\n', /bad5\.yaml: vlad: expected \{ ros__parameters: \{ \.\.\. \} \}/],
    ['vlad: [\n', /bad6\.yaml: \(root\): not valid YAML/],
    ['/**:\n  ros__parameters:\n    ops: { endpoint: "http://x" }\n', /bad7\.yaml: \/\*\*\.ros__parameters\.ops\.endpoint: must match pattern/],
    ['vlad:\n  ros__parameters:\n    robot: ros\n', /bad8\.yaml: robot_description: required for robot 'ros'/],
    ['vlad:\n  ros__parameters:\n    sim: { variation: "workspace.dx=0.5" }\n', /bad9\.yaml: vlad\.ros__parameters\.sim\.variation: workspace\.dx: 0\.5 m is out of range \[-0\.08, 0\.08\] m/],
    ['vlad:\n  ros__parameters:\n    sim: { variation: "gravity=2" }\n', /bad10\.yaml: vlad\.ros__parameters\.sim\.variation: unknown key 'gravity'/],
  ];
  try {
    for (const [i, [text, error]] of cases.entries()) {
      await assert.rejects(loadDaemonConfig({ paramsFile: write(`bad${i + 1}.yaml`, text) }), (e: Error) => { assert.ok(e instanceof ConfigError, e.message); assert.match(e.message, error); return true; });
    }
    await assert.rejects(loadDaemonConfig({ paramsFile: join(dir, 'missing.yaml') }), /missing\.yaml: \(file\): no such parameters file/);
    // The /** block applies to every node, the node's own block wins.
    const both = await loadDaemonConfig({ paramsFile: write('both.yaml', '/**:\n  ros__parameters:\n    join: ensemble\n    seed: 7\nvlad:\n  ros__parameters:\n    join: replace\n') });
    assert.deepEqual([both.params.join, both.params.seed], ['replace', 7]);
    const varied = await loadDaemonConfig({ paramsFile: write('varied.yaml', 'vlad:\n  ros__parameters:\n    sim: { variation: "camera.scene.dx=0.03,light.gain=0.6" }\n') });
    assert.equal(varied.params.sim.variation, 'camera.scene.dx=0.03,light.gain=0.6');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
