#!/usr/bin/env node
// The `vlad` command. Each capability owns its subcommands in `src/<capability>/cli.ts`, which
// exports `run(args: string[]): Promise<number>` (the exit code). Modules load lazily so that
// `vlad rlds info` never pays for onnxruntime or MuJoCo start-up.
import process from 'node:process';

type CommandModule = { run(args: string[]): Promise<number> };

const COMMANDS: Record<string, { load: () => Promise<CommandModule>; help: string }> = {
  bundle: { load: () => import('./cli/bundle.js'), help: 'bundle verify|info DIR [--json]' },
  bench: { load: () => import('./control/bench-cli.js'), help: 'bench --bundle DIR [--json] [--profile NAME] | bench control [--rate HZ] [--duration S] [--json] | bench delay [--json]' },
  control: { load: () => import('./control/cli.js'), help: 'control jitter [--rate HZ] [--duration S] [--latency-ms MS] [--json]' },
  sim: { load: () => import('./sim/cli.js'), help: 'sim --bundle DIR --task T|all --episodes N [--seed S] [--json] [--record DIR] [--video FILE.gif]' },
  collect: { load: async () => ({ run: (await import('./sim/cli.js')).runCollect }), help: 'collect --task T|all --episodes N --out DIR [--seed S]' },
  'sim-bench': { load: async () => ({ run: (await import('./sim/bench.js')).runBench }), help: 'sim-bench [--episodes N]  (expert success, sim speed, render time)' },
  demo: { load: async () => ({ run: (await import('./sim/cli.js')).runDemo }), help: 'demo [--episodes N]  (short closed-loop run on the shipped model)' },
  rlds: { load: () => import('./cli/rlds.js'), help: 'rlds info|validate|cat DIR, rlds bench  (vlad rlds SUBCOMMAND --help)' },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  vlad ${c.help.startsWith(name) ? c.help : `${name} ${c.help}`}`);
  return `usage:\n${lines.join('\n')}`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? 2 : 0;
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
