// The one flag parser of every `vlad` command: node:util parseArgs plus the conventions all
// commands share. `--help` prints the usage to stdout and exits 0; any usage error (unknown flag,
// missing or malformed value) prints the reason and the usage to stderr and exits 2.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import process from 'node:process';
import { ConfigError } from '../core/index.js';
import { formatVariation, parseVariation } from '../sim/index.js';

/** Configuration errors that came from the command line's own flags are usage errors too. */
export const COMMAND_LINE = '(command line)';

export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>>;

export interface CommandSpec<O extends Options> {
  /** e.g. 'sim' or 'rlds info': used in error lines. */
  readonly name: string;
  readonly usage: string;
  readonly options: O;
  /** How many positionals the command takes (default 0: any positional is a usage error). */
  readonly positionals?: { min?: number; max: number };
}

/** True for errors that mean "bad usage": ours and node:util's own parse errors. */
export function isUsageError(err: unknown): boolean {
  return err instanceof UsageError || (err instanceof ConfigError && err.file === COMMAND_LINE) || ((err as { code?: unknown })?.code as string | undefined)?.startsWith?.('ERR_PARSE_ARGS') === true;
}

/**
 * Parses `args` for one command and runs `body`. Returns the exit code: `--help` -> 0, usage
 * errors (here or thrown from `body` as UsageError) -> 2, otherwise what `body` returns.
 */
export async function command<O extends Options>(spec: CommandSpec<O>, args: readonly string[], body: (values: Parsed<O>['values'], positionals: string[]) => Promise<number> | number): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`usage: ${spec.usage}\n`);
    return 0;
  }
  try {
    const parsed = parseArgs({ args: [...args], options: spec.options, allowPositionals: true, strict: true });
    const { min = 0, max } = spec.positionals ?? { max: 0 };
    if (parsed.positionals.length > max) throw new UsageError(`unexpected argument '${parsed.positionals[max]}'`);
    if (parsed.positionals.length < min) throw new UsageError(`expected ${min} argument${min === 1 ? '' : 's'}, got ${parsed.positionals.length}`);
    return await body(parsed.values, parsed.positionals);
  } catch (err) {
    if (!isUsageError(err)) throw err;
    process.stderr.write(`vlad ${spec.name}: ${(err as Error).message}\nusage: ${spec.usage}\n`);
    return 2;
  }
}

/** Typed readers of flag values; each throws a UsageError naming the flag. */
export const flag = {
  int(name: string, value: string | undefined, o: { min?: number; max?: number; default?: number } = {}): number {
    if (value === undefined) {
      if (o.default === undefined) throw new UsageError(`--${name} is required`);
      return o.default;
    }
    const n = Number(value);
    const min = o.min ?? Number.MIN_SAFE_INTEGER, max = o.max ?? Number.MAX_SAFE_INTEGER;
    if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name}: expected an integer in [${min}, ${max}], got '${value}'`);
    return n;
  },
  num(name: string, value: string | undefined, o: { min?: number; max?: number; default?: number; exclusiveMin?: boolean } = {}): number {
    if (value === undefined) {
      if (o.default === undefined) throw new UsageError(`--${name} is required`);
      return o.default;
    }
    const n = Number(value);
    const min = o.min ?? -Infinity, max = o.max ?? Infinity;
    const low = o.exclusiveMin ? n <= min : n < min;
    if (value.trim() === '' || !Number.isFinite(n) || low || n > max) throw new UsageError(`--${name}: expected a number in ${o.exclusiveMin ? '(' : '['}${min}, ${max}], got '${value}'`);
    return n;
  },
  oneOf<T extends string>(name: string, value: string | undefined, choices: readonly T[], fallback?: T): T {
    if (value === undefined) {
      if (fallback === undefined) throw new UsageError(`--${name} is required (${choices.join(', ')})`);
      return fallback;
    }
    if (!(choices as readonly string[]).includes(value)) throw new UsageError(`--${name}: expected one of ${choices.join(', ')}, got '${value}'`);
    return value as T;
  },
  required(name: string, value: string | undefined): string {
    if (value === undefined || value === '') throw new UsageError(`--${name} is required`);
    return value;
  },
  /** A world variation `KEY=VALUE[,KEY=VALUE...]` (src/sim/variation.ts), checked; returned as its canonical spec. */
  variation(name: string, value: string): string {
    try { return formatVariation(parseVariation(value)); } catch (err) { throw new UsageError(`--${name}: ${(err as Error).message}`); }
  },
  /** Comma-separated list, each entry checked by `each`. */
  list<T>(name: string, value: string, each: (entry: string) => T): T[] {
    const entries = value.split(',').map((s) => s.trim()).filter(Boolean);
    if (entries.length === 0) throw new UsageError(`--${name}: expected at least one entry`);
    return entries.map(each);
  },
};
