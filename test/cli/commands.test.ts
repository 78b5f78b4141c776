// The commands of the CLI floor (src/cli/) follow args.ts's conventions: `--help` prints the usage on
// stdout and exits 0; a usage error prints the reason and the usage on stderr, exits 2, does no work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../support/bundles.js';

const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const vlad = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
const BRIDGE = join(repoRoot, 'test', 'fixtures', 'rlds', 'tfds_bridge_dummy');
const BUNDLE = join(repoRoot, 'models', 'bundles', 'vlad-tiny-l1');

const HELP: [string[], RegExp][] = [
  [['rlds', '--help'], /^usage:\n {2}vlad rlds info DIR.*\n {2}vlad rlds validate DIR.*\n {2}vlad rlds cat DIR.*\n {2}vlad rlds bench /],
  [['rlds', 'info', '--help'], /^usage: vlad rlds info DIR \[--json\]/],
  [['rlds', 'validate', BRIDGE, '--help'], /^usage: vlad rlds validate DIR \[--all\]/],
  [['rlds', 'cat', '--help'], /^usage: vlad rlds cat DIR --episode N/],
  [['rlds', 'bench', '--help'], /^usage: vlad rlds bench .*\n {2}--seconds S /],
  [['bundle', '--help'], /^usage:\n {2}vlad bundle verify DIR.*\n {2}vlad bundle info DIR/],
  [['bundle', 'verify', '--help'], /^usage: vlad bundle verify DIR \[--profile NAME\] \[--json\]/],
  [['bundle', 'info', BUNDLE, '-h'], /^usage: vlad bundle info DIR \[--json\]/],
  [['bundle', 'keygen', '--help'], /^usage: vlad bundle keygen --out DIR/],
  [['bundle', 'sign', '--help'], /^usage: vlad bundle sign DIR --key KEY \[--expires DAYS\|ISO-DATE\]/],
  [['bench', '--bundle', BUNDLE, '--help'], /^usage: vlad bench \[--bundle DIR\] .*\n {2}--bundle DIR /],
  [['--help'], /^usage:\n {2}vlad run .*\n {2}vlad ctl /],
  [['run', '--help'], /^usage: vlad run \[--robot sim\|ros\] \[--params FILE\]/],
  [['ctl', '--help'], /^usage: vlad ctl \[--ops ENDPOINT\].*\n {2}status\n {2}mode idle\|autonomous\|teleop\|intervention/],
  [['sim', '--help'], /^usage: vlad sim --task T\|all --episodes N/],
  [['learn', '--help'], /^usage: vlad learn demo --variation KEY=VALUE.*\n {2}vlad learn fit --data /],
  [['learn', 'fit', '--help'], /^usage: vlad learn fit --data DATASET_DIR\[,DATASET_DIR\.\.\.\] --out ADAPTER_DIR/],
  [['collect', '--help'], /^usage: vlad collect --task T\|all --episodes N --out DIR/],
  [['demo', '--help'], /^usage: vlad demo \[--episodes N\]/],
  [['bench', 'control', '--help'], /^usage: vlad bench control \[--rate HZ\]/],
  [['bench', 'delay', '--help'], /^usage: vlad bench delay \[--delays /],
  [['bench', 'ops', '--help'], /^usage: vlad bench ops \[--rate HZ\]/],
  [['sim-bench', '--help'], /^usage: vlad sim-bench \[--episodes N\]/],
  [['sim-ros', '--help'], /^usage: vlad sim-ros \[--task pick\|place\|touch\]/],
  [['bench', 'ros', '--help'], /^usage: vlad bench ros \[--duration S\]/],
];

for (const [args, usage] of HELP) {
  test(`vlad ${args.map((a) => a.replace(repoRoot, '.')).join(' ')}: the usage on stdout, exit 0`, () => {
    const r = vlad(args);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, usage);
    assert.equal(r.stderr, '');
  });
}

const USAGE_ERRORS: [string[], RegExp][] = [
  [['rlds'], /^vlad rlds: which subcommand\? \(info, validate, cat, bench\)\nusage:/],
  [['rlds', 'frob'], /^vlad rlds: unknown subcommand 'frob'/],
  [['rlds', 'info'], /^vlad rlds info: expected 1 argument, got 0\nusage: vlad rlds info/],
  [['rlds', 'info', BRIDGE, '--bogus'], /^vlad rlds info: Unknown option '--bogus'/],
  [['rlds', 'validate'], /^vlad rlds validate: expected 1 argument, got 0\nusage: vlad rlds validate/],
  [['rlds', 'validate', BRIDGE, BRIDGE], /^vlad rlds validate: unexpected argument/],
  [['rlds', 'cat', BRIDGE], /^vlad rlds cat: --episode is required\nusage: vlad rlds cat/],
  [['rlds', 'cat', BRIDGE, '--episode', 'first'], /^vlad rlds cat: --episode: expected an integer in \[0, \d+\], got 'first'/],
  [['rlds', 'bench', '--seconds', '0'], /^vlad rlds bench: --seconds: expected a number in \[1, 86400\], got '0'\nusage: vlad rlds bench/],
  [['rlds', 'bench', '--seconds=-5'], /^vlad rlds bench: --seconds: expected a number in \[1, 86400\], got '-5'/],
  [['rlds', 'bench', '--seconds', 'NaN'], /^vlad rlds bench: --seconds: expected a number in \[1, 86400\], got 'NaN'/],
  [['rlds', 'bench', '--hz', '0'], /^vlad rlds bench: --hz: expected a number in \[1, 1000\], got '0'/],
  [['rlds', 'bench', '--cameras', '2.5'], /^vlad rlds bench: --cameras: expected an integer in \[1, 16\], got '2.5'/],
  [['rlds', 'bench', '--encoding', 'gif'], /^vlad rlds bench: --encoding: expected one of jpeg, png, got 'gif'/],
  [['rlds', 'bench', '--episode-seconds', '0.001'], /^vlad rlds bench: --episode-seconds 0.001 at 50 Hz is less than one step/],
  [['rlds', 'bench', '--frob'], /^vlad rlds bench: Unknown option '--frob'/],
  [['bundle'], /^vlad bundle: which subcommand\? \(verify, info, keygen, sign\)\nusage:/],
  [['bundle', 'frob', BUNDLE], /^vlad bundle: unknown subcommand 'frob'/],
  [['bundle', 'verify'], /^vlad bundle verify: expected 1 argument, got 0\nusage: vlad bundle verify/],
  [['bundle', 'verify', BUNDLE, '--profile'], /^vlad bundle verify: Option '--profile <value>' argument missing/],
  [['bundle', 'info'], /^vlad bundle info: expected 1 argument, got 0\nusage: vlad bundle info/],
  [['bundle', 'info', BUNDLE, '--bogus'], /^vlad bundle info: Unknown option '--bogus'/],
  [['bench', '--bundle', BUNDLE, '--iterations', '5'], /^vlad bench: --iterations: expected an integer in \[10, 1000000\], got '5'\nusage: vlad bench/],
  [['bench', '--bundle', BUNDLE, '--candidates', '0'], /^vlad bench: --candidates: expected an integer in \[1, 1024\], got '0'/],
  [['bench', '--bundle'], /^vlad bench: Option '--bundle <value>' argument missing/],
  [['bench', '--frob'], /^vlad bench: Unknown option '--frob'/],
  [['bundle', 'keygen'], /^vlad bundle keygen: --out is required/],
  [['bundle', 'sign', BUNDLE], /^vlad bundle sign: --key is required/],
  [['bundle', 'sign', BUNDLE, '--key', '/nonexistent.key', '--expires', 'whenever'], /^vlad bundle sign: --expires: expected days or an ISO date, got 'whenever'/],
  [['sim-ros', '--task', 'lift'], /^vlad sim-ros: --task: expected one of pick, place, touch, got 'lift'/],
  [['sim-ros', '--cameras', 'Scene'], /^vlad sim-ros: --cameras: 'Scene' is not a camera name/],
  [['bench', 'ros', '--duration', '0'], /^vlad bench ros: --duration: expected a number in \[1, 3600\], got '0'/],
  [['run', '--robot', 'moon'], /^vlad run: --robot: expected one of sim, ros, got 'moon'/],
  [['run', '--ros-args', '--params-file'], /^vlad run: --ros-args --params-file needs a file/],
  [['run', '--bundle', '/nonexistent'], /^vlad run: \(command line\): bundle: no bundle at \/nonexistent \(manifest\.json missing\)/],
  [['ctl'], /^vlad ctl: expected 1 argument, got 0/],
  [['ctl', 'mode', 'flying'], /^vlad ctl: --mode: expected one of idle, autonomous, teleop, intervention, got 'flying'/],
  [['ctl', 'episode', 'start'], /^vlad ctl: episode start needs --instruction TEXT or --task T/],
  [['ctl', 'episode', 'stop', '--success', '--failure'], /^vlad ctl: episode stop needs exactly one of --success, --failure, --truncated/],
  [['ctl', 'warp'], /^vlad ctl: unknown command 'warp'/],
  [['collect', '--task', 'pick', '--episodes', '1'], /^vlad collect: --out is required/],
  [['collect', '--task', 'pick', '--episodes', '1', '--out', '/tmp/9lives'], /^vlad collect: --out: the last path element '9lives' is the dataset name/],
  [['demo', '--episodes', '0'], /^vlad demo: --episodes: expected an integer in \[1, 1000\], got '0'/],
  [['bench', 'control', '--rate', 'fast'], /^vlad bench control: --rate: expected a number in \[1, 1000\], got 'fast'/],
  [['bench', 'ops', '--request-rate', '0'], /^vlad bench ops: --request-rate: expected a number in \[0.1, 10000\], got '0'/],
  [['bench', 'train', '--data', '/nonexistent/vlad_bench'], /^vlad bench train: --data: no dataset at \/nonexistent\/vlad_bench \(record one with vlad collect\)/],
  [['bench', 'train', '--data', '.', '--loop-seconds=-1'], /^vlad bench train: --loop-seconds: expected a number in \[0, 3600\], got '-1'/],
  [['learn', 'demo', '--variation', 'light.gain=2', '--curve-episodes', 'x'], /^vlad learn: --curve-episodes: expected an integer in \[0, 10000\], got 'x'/],
  [['sim-bench', '--episodes', 'many'], /^vlad sim-bench: --episodes: expected an integer in \[1, 100000\], got 'many'/],
  [['sim', '--task', 'pick', '--episodes', '1', '--replan-every', '0'], /^vlad sim: --replan-every: expected an integer in \[1, 10000\], got '0'/],
  [['sim', '--task', 'pick', '--episodes', '1', '--variation', 'workspace.dz=0.1'], /^vlad sim: --variation: unknown key 'workspace\.dz' \(known: workspace\.dx, /],
  [['learn', 'demo'], /^vlad learn: --variation is required/],
  [['learn', 'demo', '--variation', 'light.gain=1'], /^vlad learn: --variation: give a world that differs/],
  [['learn', 'demo', '--variation', 'light.gain=9'], /^vlad learn: --variation: light\.gain: 9 x is out of range/],
  [['learn', 'demo', '--variation', 'workspace.dx=0.06', '--history', '1.5'], /^vlad learn: --history: expected an integer in \[0, 10000\], got '1\.5'/],
  [['learn', 'teach', '--variation', 'light.gain=2'], /^vlad learn: learn teach: the subcommand is demo/],
  [['learn', 'demo', '--variation', 'light.gain=2', '--interventions', '0'], /^vlad learn: --interventions: expected an integer/],
  [['sim', '--task', 'pick', '--episodes', '1', '--supervise', '--policy', 'expert'], /^vlad sim: --supervise watches the bundle's policy/],
  [['sim', '--task', 'pick', '--episodes', '1', '--adapter', '/tmp', '--policy', 'expert'], /^vlad sim: --adapter adapts the bundle's policy; it cannot go with --policy expert/],
  [['learn', 'fit', '--data', '/tmp', '--out', '/tmp/x', '--steps', '0'], /^vlad learn fit: --steps: expected an integer in \[1, 10000000\], got '0'/],
  [['learn', 'fit', '--data', '/tmp', '--out', '/tmp/x', '--lr', '2'], /^vlad learn fit: --lr: expected a number in \(0, 1\], got '2'/],
  [['run', '--variation', 'object.scale=huge'], /^vlad run: --variation: object\.scale: 'huge' is not a number/],
  [['collect', '--task', 'pick', '--episodes', '1', '--out', '/tmp/ok', '--variation', 'light.gain=9'], /^vlad collect: --variation: light\.gain: 9 x is out of range \[0\.2, 3\]/],
  [['demo', '--variation', 'camera.scene.yaw'], /^vlad demo: --variation: 'camera\.scene\.yaw' is not KEY=VALUE/],
];

for (const [args, reason] of USAGE_ERRORS) {
  test(`vlad ${args.map((a) => a.replace(repoRoot, '.')).join(' ')}: the reason and the usage on stderr, exit 2`, () => {
    const r = vlad(args);
    assert.equal(r.status, 2, `${r.stdout}${r.stderr}`);
    assert.match(r.stderr, reason);
    assert.match(r.stderr, /\nusage:/);
    assert.equal(r.stdout, '', 'nothing on stdout');
    assert.doesNotMatch(r.stderr, /\[rlds bench\]|\[policy\]/, 'no work started');
  });
}

// The ROS commands refuse before loading rclnodejs (or starting anything) when ROS 2 is not sourced.
for (const args of [['sim-ros'], ['bench', 'ros', '--json'], ['sim-ros', '--ros-args', '-p', 'seed:=3']]) {
  test(`vlad ${args.join(' ')} without ROS sourced: exit 1, the reason`, () => {
    const env = { ...process.env };
    delete env.AMENT_PREFIX_PATH;
    delete env.ROS_DISTRO;
    const r = spawnSync(process.execPath, [cli, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000, env });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^vlad: ROS 2 is not sourced \\(vlad ${args[0] === 'bench' ? 'bench ros' : 'sim-ros'} needs it\\): AMENT_PREFIX_PATH and ROS_DISTRO are not set`));
    assert.equal(r.stdout, '');
  });
}
