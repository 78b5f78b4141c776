// The launch files start commands that exist: python3's own parser reads launch/*.launch.py (no
// ROS needed) and evaluates what ExecuteProcess runs (strings, os.path.join of the file's HERE and
// ROOT, LaunchConfiguration with its declared default). Each command must be `node` on this
// checkout's dist/src/cli/main.js with a vlad subcommand whose usage names every flag the launch
// file passes, and the params file a launch argument points to must validate with the daemon's schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDaemonConfig } from '../../src/daemon/index.js';
import { cameraTopic, SIM_ARM_TOPICS } from '../../src/io/ros/index.js';
import { STATE_NAMES } from '../../src/sim/index.js';
import { repoRoot } from '../support/bundles.js';

// Evaluates the subset launch files use; anything else is an error, so a new construct is noticed.
const EXTRACT = String.raw`
import ast, json, os, sys
path = os.path.abspath(sys.argv[1])
tree = ast.parse(open(path).read(), path)
env = {'__file__': path}
def ev(n, args):
    if isinstance(n, ast.Constant): return n.value
    if isinstance(n, ast.List): return [ev(e, args) for e in n.elts]
    if isinstance(n, ast.Name):
        if n.id in env: return env[n.id]
        raise ValueError('unknown name ' + n.id)
    if isinstance(n, ast.Call):
        f = ast.unparse(n.func)
        a = [ev(x, args) for x in n.args]
        if f == 'os.path.join': return os.path.join(*a)
        if f == 'os.path.dirname': return os.path.dirname(a[0])
        if f == 'os.path.abspath': return os.path.abspath(a[0])
        if f == 'LaunchConfiguration':
            if a[0] not in args: raise ValueError('LaunchConfiguration(%r) is not declared' % a[0])
            return args[a[0]]
    raise ValueError('cannot evaluate ' + ast.unparse(n))
for st in tree.body:
    if isinstance(st, ast.Assign) and isinstance(st.targets[0], ast.Name): env[st.targets[0].id] = ev(st.value, {})
fn = next(s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == 'generate_launch_description')
args, procs = {}, []
for n in ast.walk(fn):
    if isinstance(n, ast.Call) and ast.unparse(n.func) == 'DeclareLaunchArgument':
        kw = {k.arg: k.value for k in n.keywords}
        args[n.args[0].value] = ev(kw['default_value'], {}) if 'default_value' in kw else None
for n in ast.walk(fn):
    if isinstance(n, ast.Call) and ast.unparse(n.func) == 'ExecuteProcess':
        kw = {k.arg: k.value for k in n.keywords}
        cmd = []
        for part in ev(kw['cmd'], args): cmd.append(''.join(part) if isinstance(part, list) else part)
        procs.append({'name': ev(kw['name'], {}), 'cmd': cmd})
print(json.dumps({'args': args, 'procs': procs}))
`;

interface Launch { args: Record<string, string | null>; procs: { name: string; cmd: string[] }[] }

const readLaunch = (file: string): Launch => JSON.parse(execFileSync('python3', ['-c', EXTRACT, join(repoRoot, 'launch', file)], { encoding: 'utf8' })) as Launch;
const MAIN = join(repoRoot, 'dist', 'src', 'cli', 'main.js');

function checkCommand(cmd: readonly string[], where: string): string {
  assert.equal(cmd[0], 'node', `${where}: runs node`);
  assert.equal(cmd[1], MAIN, `${where}: this checkout's CLI`);
  assert.ok(existsSync(cmd[1]!), `${where}: ${cmd[1]} exists (npm run build)`);
  const sub = cmd[2]!;
  const help = spawnSync(process.execPath, [MAIN, sub, '--help'], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(help.status, 0, `${where}: 'vlad ${sub}' is a command (${help.stderr})`);
  const own = cmd.slice(3, cmd.includes('--ros-args') ? cmd.indexOf('--ros-args') : undefined);
  for (const f of own.filter((a) => a.startsWith('--'))) assert.ok(help.stdout.includes(`[${f}`) || help.stdout.includes(` ${f} `), `${where}: vlad ${sub} takes ${f}`);
  return sub;
}

test('launch/vlad.launch.py starts `vlad run` with the params file, which validates', async () => {
  const l = readLaunch('vlad.launch.py');
  assert.deepEqual(l.procs.map((p) => p.name), ['vlad']);
  const cmd = l.procs[0]!.cmd;
  assert.equal(checkCommand(cmd, 'vlad.launch.py'), 'run');
  const paramsFile = cmd[cmd.indexOf('--params-file') + 1]!;
  assert.equal(paramsFile, join(repoRoot, 'launch', 'vlad.params.yaml'));
  const config = await loadDaemonConfig({ paramsFile });
  assert.equal(config.params.robot, 'ros');
  assert.equal(config.paramsFile, paramsFile);
});

test('launch/vlad_sim.launch.py starts `vlad sim-ros` and `vlad run --robot ros` on the simulated arm\'s envelope', async () => {
  const l = readLaunch('vlad_sim.launch.py');
  assert.deepEqual(l.procs.map((p) => p.name), ['vlad_sim', 'vlad']);
  const [sim, vlad] = l.procs.map((p) => p.cmd);
  assert.equal(checkCommand(sim!, 'vlad_sim'), 'sim-ros');
  assert.equal(checkCommand(vlad!, 'vlad'), 'run');
  const flagValue = (cmd: string[], f: string) => cmd[cmd.indexOf(f) + 1]!;
  // What the daemon would load: the params file with the launch file's flags on top.
  const config = await loadDaemonConfig({
    paramsFile: flagValue(vlad!, '--params-file'),
    overrides: { robot: 'ros', robot_description: flagValue(vlad!, '--robot-description'), bundle: flagValue(vlad!, '--bundle'), hw_profile: flagValue(vlad!, '--profile') },
  });
  assert.equal(config.params.robot, 'ros');
  assert.equal(config.robotDescription.name, 'vlad-sim-arm');
  // The joints the params file names are the ones sim-ros publishes.
  assert.deepEqual(config.params.joint_names, [...STATE_NAMES]);
  assert.deepEqual(config.params.camera_topics, { scene: cameraTopic('scene'), wrist: cameraTopic('wrist') });
  assert.equal(config.params.command_topic, SIM_ARM_TOPICS.trajectory);
  assert.equal(config.params.joint_states_topic, SIM_ARM_TOPICS.jointStates);
  assert.equal(config.params.instruction_topic, SIM_ARM_TOPICS.instruction);
  // vlad starts once sim-ros logs that it is up: the line the launch file waits for is the one sim-ros logs.
  const waitsFor = /b'([^']+)' in event\.text/.exec(readFileSync(join(repoRoot, 'launch', 'vlad_sim.launch.py'), 'utf8'))?.[1];
  assert.ok(waitsFor && readFileSync(join(repoRoot, 'dist', 'src', 'cli', 'sim-ros.js'), 'utf8').includes(`'${waitsFor}'`), `sim-ros logs '${waitsFor}'`);
});
