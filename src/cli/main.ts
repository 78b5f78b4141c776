#!/usr/bin/env node
// The `vlad` command: one module per subcommand in this folder, each exporting
// `run(args): Promise<number>` (the exit code). Modules load lazily, so `vlad rlds info` never pays
// for onnxruntime or MuJoCo start-up. Usage errors exit 2 everywhere (args.ts); other failures 1.
import process from 'node:process';

type CommandModule = { run(args: string[]): Promise<number> };

export const COMMANDS: Record<string, { load: () => Promise<CommandModule>; help: string }> = {
  run: { load: () => import('./run.js'), help: 'run [--robot sim|ros] [--params FILE] [--bundle DIR] [--profile NAME] [--record DIR] ...   (the daemon)' },
  ctl: { load: () => import('./ctl.js'), help: 'ctl status|mode|episode|transition|hard-stop|release|operator ... [--json]   (operate a running daemon)' },
  sim: { load: () => import('./sim.js'), help: 'sim --task T|all --episodes N [--bundle DIR] [--adapter DIR] [--seed S] [--json] [--record DIR] [--video F.gif] ...' },
  'sim-ros': { load: () => import('./sim-ros.js'), help: 'sim-ros [--task T] [--seed N] [--compressed] [--ros-args ...]   (the simulated arm as a ros2_control robot on ROS 2)' },
  collect: { load: () => import('./collect.js'), help: 'collect --task T|all --episodes N --out DIR [--seed S] ...   (teleop data with the scripted operator)' },
  learn: { load: () => import('./learn.js'), help: 'learn demo --variation KEY=VALUE[,...] [--interventions N] [--train-minutes M] [--eval-episodes E] [--json]   (the robot learns from interventions on a varied world, before/after)\n  vlad learn fit --data DATASET_DIR[,...] --out ADAPTER_DIR [--steps N] [--lr X] [--params FILE] [--json]   (a LoRA adapter from recorded episodes, offline, gated)' },
  demo: { load: () => import('./demo.js'), help: 'demo [--episodes N]   (the daemon on the simulated robot, driven over its ops socket)' },
  bench: { load: () => import('./bench.js'), help: 'bench control|delay|ops|serve|swap|ota-faults|ros ... | bench --bundle DIR ...' },
  bundle: { load: () => import('./bundle.js'), help: 'bundle verify|info DIR [--json]' },
  rlds: { load: () => import('./rlds.js'), help: 'rlds info|validate|cat DIR, rlds bench  (vlad rlds SUBCOMMAND --help)' },
  'sim-bench': { load: () => import('./bench-sim.js'), help: 'sim-bench [--episodes N]   (expert success, sim speed, render time)' },
};

function usage(): string {
  return `usage:\n${Object.entries(COMMANDS).map(([name, c]) => `  vlad ${c.help.startsWith(name) ? c.help : `${name} ${c.help}`}`).join('\n')}`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  if (name === undefined) {
    process.stderr.write(`vlad: which command?\n${usage()}\n`);
    return 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`vlad: unknown command '${name}'\n${usage()}\n`);
    return 2;
  }
  return (await command.load()).run(rest);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`vlad: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
