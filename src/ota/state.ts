// The OTA store's persisted state (Uptane's "trusted state" and RAUC's slot status in one file):
// which installed bundle is active, which is the last known good one, whether the active one is
// still in its health window, and the anti-rollback record. Written atomically, mode 0600.
import semver from 'semver';
import { appendEvent, readFileIfExists, writeFileAtomic } from '../core/index.js';
import { OtaRefusal } from './errors.js';

export interface OtaEvent { at: string; event: string; bundle: string | null; reason?: string }

export interface OtaState {
  schema: 1;
  /** The installed bundle the daemon runs (null: the configured `bundle` param). */
  active: string | null;
  /** The bundle to return to if the active one fails (null: the configured one). */
  last_good: string | null;
  /** Set while the active bundle's health window has not passed. */
  trial: { bundle: string; since: string } | null;
  /** Anti-rollback: the highest version ever installed, per bundle name. */
  highest: Record<string, string>;
  /** Every bundle that has run here (an explicit rollback may return only to one of these). */
  ran: string[];
  history: OtaEvent[];
}

export const emptyState = (): OtaState => ({ schema: 1, active: null, last_good: null, trial: null, highest: {}, ran: [], history: [] });


export async function readState(file: string): Promise<OtaState> {
  const bytes = await readFileIfExists(file);
  if (bytes === undefined) return emptyState();
  const text = bytes.toString('utf8');
  let s: OtaState;
  try {
    s = JSON.parse(text) as OtaState;
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message}); it is written atomically, so this is damage from outside: move it aside to start fresh`);
  }
  if (s.schema !== 1 || !Array.isArray(s.ran) || typeof s.highest !== 'object' || !Array.isArray(s.history)) throw new Error(`${file}: not an OTA state file (schema ${String(s.schema)})`);
  return s;
}

export async function writeState(file: string, s: OtaState): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(s, null, 1)}\n`, 0o600);
}

export function withEvent(s: OtaState, event: string, bundle: string | null, reason?: string): OtaState {
  const e: OtaEvent = { at: new Date().toISOString(), event, bundle, ...(reason ? { reason } : {}) };
  return { ...s, history: appendEvent(s.history, e) };
}

export const bundleId = (m: { name: string; version: string }): string => `${m.name}@${m.version}`;

export function parseBundleId(id: string): { name: string; version: string } {
  const at = id.lastIndexOf('@');
  return { name: id.slice(0, at), version: id.slice(at + 1) };
}

/**
 * Anti-rollback: a bundle must be newer than every version of its name installed before, unless
 * the operator asks for a rollback and the version has already run on this robot.
 */
export function checkVersion(s: OtaState, m: { name: string; version: string }, rollback: boolean): void {
  const id = bundleId(m);
  if (!semver.valid(m.version)) throw new OtaRefusal('version', `${id}: version '${m.version}' is not semver`);
  const highest = s.highest[m.name];
  if (!highest || semver.gt(m.version, highest)) return;
  if (rollback && s.ran.includes(id)) return;
  if (rollback) throw new OtaRefusal('version', `${id}: a rollback may return only to a version that has run on this robot (ran: ${s.ran.filter((r) => r.startsWith(`${m.name}@`)).join(', ') || 'none'})`);
  throw new OtaRefusal('version', `${id} is not newer than ${m.name}@${highest}, already installed here (ask for a rollback to return to a version that ran)`);
}

export function recordInstalled(s: OtaState, m: { name: string; version: string }): OtaState {
  const highest = s.highest[m.name];
  return highest && semver.gte(highest, m.version) ? s : { ...s, highest: { ...s.highest, [m.name]: m.version } };
}

/**
 * Activating an installed bundle: the newest version of its name goes; an older one only as an
 * explicit rollback to a version that has run here.
 */
export function checkActivation(s: OtaState, m: { name: string; version: string }, rollback: boolean): void {
  const highest = s.highest[m.name];
  if (!highest || semver.gte(m.version, highest)) return;
  const id = bundleId(m);
  if (rollback && s.ran.includes(id)) return;
  throw new OtaRefusal('version', rollback
    ? `${id}: a rollback may return only to a version that has run on this robot (ran: ${s.ran.filter((r) => r.startsWith(`${m.name}@`)).join(', ') || 'none'})`
    : `${id} is older than ${m.name}@${highest}, installed here: activate it as a rollback (it must have run here before)`);
}
