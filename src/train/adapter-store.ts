// Adapters learnt on the robot, filed under the base bundle they fit (the OTA store's
// adaptersDir(bundle) = ota.dir/adapters/NAME@VER/, which carryAdapters copies to a new bundle's
// directory when the expert and LoRA layout fit):
//   DIR/state.json        which adapter is active, the last known good one, history (0600, atomic)
//   DIR/ID/               one adapter, whole: adapter_config.json + adapter_model.safetensors (PEFT)
//                         + lineage.json (written last; carries the weights' sha256)
//   DIR/.staging-ID/      an adapter being written, renamed to DIR/ID/ only once whole
// Every change is a rename or an atomic file write, so a SIGKILL leaves the old state or the new
// one, and boot() always answers a whole adapter or the base. A copy by carryAdapters is not
// atomic: an adapter it left half-copied fails its hash and is ignored (never loaded, never
// deleted: the whole one is still under the old bundle), and a state file it left torn is rebuilt
// from the adapters' lineage.
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { allFinite, type Manifest } from '../bundle/index.js';
import { appendEvent, fsyncDir, readFileIfExists, writeFileAtomic } from '../core/index.js';
import { checkLineageInput, LINEAGE_FILE, parseLineage, type AdapterEventKind, type AdapterLineage, type LineageInput } from './lineage.js';
import { PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE, parsePeftAdapter, writePeftAdapter } from './peft.js';

const STATE_FILE = 'state.json';
const STAGING = '.staging-';
/** Creation time (sortable) and 6 random hex digits: unique across bundles, so a carried adapter never collides with one learnt here. */
const ID_RE = /^\d{8}T\d{6}\d{3}Z-[0-9a-f]{6}$/;

export interface AdapterStoreEvent { at: string; event: AdapterEventKind | 'boot_rollback' | 'state_rebuilt'; adapter: string | null; reason?: string }

export interface AdapterState {
  schema: 1;
  /** The adapter the policy serves (null: the base, the zero adapter). */
  active: string | null;
  /** The adapter to return to if the active one fails (null: the base). */
  last_good: string | null;
  history: AdapterStoreEvent[];
}

export interface AdapterRecovery {
  /** Half-written adapters (a kill before their rename) removed. */
  removedStaging: string[];
  /** Adapter directories that are not whole (a torn copy, damage): skipped, left on disk. */
  ignored: { id: string; reason: string }[];
  /** What boot-time recovery changed in the state, for the log. */
  notes: string[];
}

export interface BootAdapter {
  /** The adapter to load (null: serve the base). */
  id: string | null;
  vector: Float32Array | null;
  lineage: AdapterLineage | null;
}

type Bundle = Pick<Manifest, 'name' | 'version' | 'lora'>;

const emptyState = (): AdapterState => ({ schema: 1, active: null, last_good: null, history: [] });
const now = (): string => new Date().toISOString();
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export class AdapterStore {
  /** Operations run one at a time: each reads the state the previous one wrote. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly dir: string,
    private readonly bundle: Bundle,
    private current: AdapterState,
    private readonly whole: Map<string, AdapterLineage>,
    readonly recovery: AdapterRecovery,
  ) {}

  /**
   * Opens (creating) the store for `bundle` at `dir` and recovers from a crash: half-written
   * adapters go, adapters that are not whole are ignored, and a state naming an adapter that is
   * not whole falls back to the last known good one, then to the base.
   */
  static async open(dir: string, bundle: Bundle): Promise<AdapterStore> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    const recovery: AdapterRecovery = { removedStaging: [], ignored: [], notes: [] };
    const whole = new Map<string, AdapterLineage>();
    for (const name of (await readdir(dir)).sort()) {
      const p = join(dir, name);
      if (name.startsWith(STAGING)) {
        await rm(p, { recursive: true, force: true });
        recovery.removedStaging.push(name.slice(STAGING.length));
      } else if (name.startsWith(`${STATE_FILE}.tmp-`)) {
        await rm(p, { force: true });
      } else if (ID_RE.test(name)) {
        for (const f of await readdir(p).catch(() => [] as string[])) if (f.includes('.tmp-')) await rm(join(p, f), { force: true });
        try {
          whole.set(name, await checkWhole(p, name, bundle));
        } catch (err) {
          recovery.ignored.push({ id: name, reason: (err as Error).message });
        }
      }
    }
    let state: AdapterState;
    try {
      state = await readAdapterState(join(dir, STATE_FILE));
    } catch (err) {
      state = rebuildState(whole, (err as Error).message);
      recovery.notes.push(`${STATE_FILE} was unreadable (${(err as Error).message}): rebuilt from the adapters' lineage (last good ${state.last_good ?? 'the base'})`);
    }
    let fixed = state;
    if (fixed.last_good !== null && !whole.has(fixed.last_good)) {
      recovery.notes.push(`last good adapter ${fixed.last_good} is not whole: the base is the last good now`);
      fixed = withEvent({ ...fixed, last_good: null }, 'rolled_back', fixed.last_good, 'not whole at boot');
    }
    if (fixed.active !== null && !whole.has(fixed.active)) {
      recovery.notes.push(`active adapter ${fixed.active} is not whole: back to ${fixed.last_good ?? 'the base'}`);
      fixed = withEvent({ ...fixed, active: fixed.last_good }, 'rolled_back', fixed.active, 'not whole at boot');
    }
    if (fixed !== state || !(await exists(join(dir, STATE_FILE)))) await writeAdapterState(join(dir, STATE_FILE), fixed);
    return new AdapterStore(dir, bundle, fixed, whole, recovery);
  }

  get state(): AdapterState { return this.current; }

  /** Whole adapters, oldest first. */
  list(): AdapterLineage[] {
    return [...this.whole.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  get(id: string): AdapterLineage {
    const l = this.whole.get(id);
    if (!l) throw new Error(`no adapter '${id}' in ${this.dir} (whole adapters: ${[...this.whole.keys()].join(', ') || 'none'})`);
    return l;
  }

  /** The packed vector (manifest lora.layout) for PolicyEngine.loadAdapter; checks the weights' hash. */
  async load(id: string): Promise<Float32Array> {
    this.get(id);
    return (await checkAndRead(join(this.dir, id), id, this.bundle)).vector;
  }

  /**
   * Files a candidate: PEFT files and lineage into .staging-ID/, then one rename to ID/. Validates
   * everything first; a bad candidate leaves the store as it was.
   */
  add(vector: Float32Array, input: LineageInput): Promise<string> {
    return this.serial(async () => {
      const lineageIn = checkLineageInput(structuredClone(input));
      if (vector.length !== this.bundle.lora.size) throw new Error(`adapter vector has ${vector.length} values, ${this.bundleId} lora.size is ${this.bundle.lora.size}`);
      if (!allFinite(vector)) throw new Error('adapter vector contains NaN or Inf');
      if (lineageIn.parent !== null) this.get(lineageIn.parent);
      const at = now();
      const id = `${at.replace(/[-:.]/g, '')}-${randomBytes(3).toString('hex')}`;
      const staging = join(this.dir, `${STAGING}${id}`);
      await writePeftAdapter(staging, this.bundle, vector);
      const lineage: AdapterLineage = {
        schema: 1, id, base_bundle: this.bundleId, created_at: at,
        weights_sha256: sha256(await readFile(join(staging, PEFT_WEIGHTS_FILE))),
        ...lineageIn,
        history: [{ at, event: 'added' }],
      };
      await writeFileAtomic(join(staging, LINEAGE_FILE), `${JSON.stringify(lineage, null, 1)}\n`, 0o600);
      await fsyncDir(staging);
      await rename(staging, join(this.dir, id));
      await fsyncDir(this.dir);
      this.whole.set(id, lineage);
      await this.setState(withEvent(this.current, 'added', id));
      return id;
    });
  }

  /** Makes `id` the served adapter (on trial until markGood); null: the base, which needs no trial. */
  activate(id: string | null): Promise<void> {
    return this.serial(async () => {
      if (id === null) {
        await this.setState(withEvent({ ...this.current, active: null, last_good: null }, 'activated', null));
        return;
      }
      await this.load(id); // whole and loadable, or refused before anything changes
      await this.setState(withEvent({ ...this.current, active: id }, 'activated', id));
      await this.record(id, 'activated');
    });
  }

  /** `id` (the active adapter) passed its health window: it is the one to return to. */
  markGood(id: string): Promise<void> {
    return this.serial(async () => {
      this.get(id);
      if (this.current.active !== id) throw new Error(`adapter '${id}' is not the active one (${this.current.active ?? 'the base'}): only the adapter serving can prove itself`);
      await this.setState(withEvent({ ...this.current, last_good: id }, 'good', id));
      await this.record(id, 'good');
    });
  }

  /**
   * The active adapter failed: back to the last known good one, or to the base if the active one
   * was that. Returns the adapter now active (null: the base).
   */
  rollback(reason = 'rollback requested'): Promise<string | null> {
    return this.serial(async () => {
      const { active, last_good } = this.current;
      if (active === null) return null;
      const target = last_good === active ? null : last_good;
      await this.setState(withEvent({ ...this.current, active: target, last_good: target }, 'rolled_back', active, reason));
      await this.record(active, 'rolled_back', reason);
      return target;
    });
  }

  /**
   * The adapter to load after a (re)start. One still on trial when the daemon stopped counts as
   * failed (as the bundle store does): back to the last known good one. The answer is whole.
   */
  boot(): Promise<BootAdapter> {
    return this.serial(async () => {
      let s = this.current;
      if (s.active !== s.last_good) {
        const trial = s.active;
        s = withEvent({ ...s, active: s.last_good }, 'boot_rollback', trial, 'restarted before its health window passed');
        this.recovery.notes.push(`adapter ${trial ?? 'base'} was on trial when the daemon stopped: back to ${s.last_good ?? 'the base'}`);
        await this.setState(s);
        if (trial !== null) await this.record(trial, 'rolled_back', 'restarted before its health window passed');
      }
      if (s.active === null) return { id: null, vector: null, lineage: null };
      try {
        return { id: s.active, vector: await this.load(s.active), lineage: this.get(s.active) };
      } catch (err) {
        // Damaged since open (outside interference): serve the base rather than a doubtful adapter.
        this.recovery.notes.push(`adapter ${s.active} failed to load (${(err as Error).message}): serving the base`);
        await this.setState(withEvent({ ...s, active: null, last_good: null }, 'rolled_back', s.active, (err as Error).message));
        return { id: null, vector: null, lineage: null };
      }
    });
  }

  private get bundleId(): string { return `${this.bundle.name}@${this.bundle.version}`; }

  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(op, op);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async setState(next: AdapterState): Promise<void> {
    await writeAdapterState(join(this.dir, STATE_FILE), next);
    this.current = next;
  }

  /** Appends to the adapter's own lineage history (after the state: the state decides, lineage records). */
  private async record(id: string, event: AdapterEventKind, reason?: string): Promise<void> {
    const l = this.get(id);
    const next: AdapterLineage = { ...l, history: appendEvent(l.history, { at: now(), event, ...(reason ? { reason } : {}) }) };
    await writeFileAtomic(join(this.dir, id, LINEAGE_FILE), `${JSON.stringify(next, null, 1)}\n`, 0o600);
    this.whole.set(id, next);
  }
}

function withEvent(s: AdapterState, event: AdapterStoreEvent['event'], adapter: string | null, reason?: string): AdapterState {
  const e: AdapterStoreEvent = { at: now(), event, adapter, ...(reason ? { reason } : {}) };
  return { ...s, history: appendEvent(s.history, e) };
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(() => true, () => false);
}

async function readAdapterState(file: string): Promise<AdapterState> {
  const bytes = await readFileIfExists(file);
  if (bytes === undefined) return emptyState();
  const text = bytes.toString('utf8');
  const s = JSON.parse(text) as AdapterState;
  const id = (x: unknown) => x === null || (typeof x === 'string' && ID_RE.test(x));
  if (s?.schema !== 1 || !id(s.active) || !id(s.last_good) || !Array.isArray(s.history)) throw new Error(`${file}: not an adapter state file`);
  return s;
}

async function writeAdapterState(file: string, s: AdapterState): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(s, null, 1)}\n`, 0o600);
}

/** The last adapter whose lineage says it passed its health window and was not rolled back since. */
function rebuildState(whole: ReadonlyMap<string, AdapterLineage>, why: string): AdapterState {
  let best: { id: string; at: string } | null = null;
  for (const l of whole.values()) {
    const last = [...l.history].reverse().find((e) => e.event === 'good' || e.event === 'rolled_back');
    if (last?.event === 'good' && (!best || last.at > best.at)) best = { id: l.id, at: last.at };
  }
  const id = best?.id ?? null;
  return withEvent({ ...emptyState(), active: id, last_good: id }, 'state_rebuilt', id, why);
}

async function checkAndRead(dir: string, id: string, bundle: Bundle): Promise<{ lineage: AdapterLineage; vector: Float32Array }> {
  const lineage = parseLineage(await readFile(join(dir, LINEAGE_FILE), 'utf8'), join(id, LINEAGE_FILE));
  if (lineage.id !== id) throw new Error(`${id}/${LINEAGE_FILE} names adapter '${lineage.id}'`);
  const weights = await readFile(join(dir, PEFT_WEIGHTS_FILE));
  if (sha256(weights) !== lineage.weights_sha256) throw new Error(`${id}/${PEFT_WEIGHTS_FILE} does not match the sha256 in its lineage (torn or altered)`);
  const { vector } = parsePeftAdapter(dir, await readFile(join(dir, PEFT_CONFIG_FILE), 'utf8'), weights, bundle.lora);
  return { lineage, vector };
}

async function checkWhole(dir: string, id: string, bundle: Bundle): Promise<AdapterLineage> {
  return (await checkAndRead(dir, id, bundle)).lineage;
}
