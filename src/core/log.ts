// The one logger: pino, a child per part (`log.child({ part: 'control' })`). JSON lines when
// stderr is not a terminal (journald, launch files, CI), one readable line per record when it is.
import { Writable } from 'node:stream';
import pino, { type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const OMIT = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'part', 'name']);

/** One record as a readable line: `12:00:01.123 WARN  control  message  key=value ...`. */
export function formatLine(record: Record<string, unknown>): string {
  const t = new Date(typeof record.time === 'number' ? record.time : Date.now());
  const clock = t.toISOString().slice(11, 23);
  const level = (LEVELS[record.level as number] ?? String(record.level)).toUpperCase().padEnd(5);
  const part = String(record.part ?? record.name ?? 'vlad').padEnd(8);
  const extras = Object.entries(record).filter(([k]) => !OMIT.has(k)).map(([k, v]) => {
    const err = v as { message?: unknown } | undefined;
    if (k === 'err' && err && typeof err === 'object' && 'message' in err) return `err=${JSON.stringify(err.message)}`;
    return `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`;
  });
  return `${clock} ${level} ${part} ${String(record.msg ?? '')}${extras.length ? `  ${extras.join(' ')}` : ''}`;
}

function prettyStream(out: NodeJS.WritableStream): DestinationStream {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        try { out.write(`${formatLine(JSON.parse(line) as Record<string, unknown>)}\n`); } catch { out.write(`${line}\n`); }
      }
      done();
    },
  });
}

export interface LoggerOptions {
  level?: string;
  /** Force the format; default: readable when stderr is a TTY, JSON otherwise. */
  pretty?: boolean;
  /** Where records go (default stderr, fd 2). */
  destination?: NodeJS.WritableStream;
}

/** The process's root logger. Parts take children: `root.child({ part: 'recorder' })`. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? process.env.VLAD_LOG_LEVEL ?? 'info';
  const pretty = opts.pretty ?? Boolean(process.stderr.isTTY);
  const out = opts.destination ?? process.stderr;
  if (pretty) return pino({ level, base: undefined }, prettyStream(out));
  return pino({ level, base: { pid: process.pid } }, opts.destination ? (opts.destination as DestinationStream) : pino.destination({ fd: 2, sync: true }));
}

let root: Logger | undefined;

/** The shared root logger (created on first use). */
export function rootLogger(): Logger {
  root ??= createLogger();
  return root;
}

/** A logger that drops everything (tests, `--json` commands that must keep stderr quiet). */
export const silentLogger: Logger = pino({ level: 'silent' });

/** The logger of an in-process command (vlad sim, collect, bench): warnings and errors only, unless VLAD_LOG_LEVEL says otherwise. */
export function commandLogger(): Logger {
  return createLogger({ level: process.env.VLAD_LOG_LEVEL ?? 'warn' });
}
