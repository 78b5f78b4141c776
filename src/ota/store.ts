// The robot's bundle store (RAUC's A/B slots over a directory):
//   DIR/state.json          which bundle is active, last known good, on trial (state.ts), 0600
//   DIR/bundles/NAME@VER/   installed bundles: whole and verified, files read-only, never edited
//   DIR/staging/UPLOAD/     uploads in progress (resumable), moved into bundles/ by one rename
//   DIR/adapters/NAME@VER/  adapters learnt on the robot, filed under the base bundle they fit
// Every change is a rename or an atomic state write, so a SIGKILL at any moment leaves the old or
// the new state, and boot() always finds a whole bundle to run.
import { chmod, cp, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readManifest, verifyHashes, type Manifest } from '../bundle/index.js';
import { fsyncDir } from '../core/index.js';
import { OtaRefusal } from './errors.js';
import { adaptersCarryOver } from './fit.js';
import { bundleId, readState, recordInstalled, withEvent, writeState, type OtaState } from './state.js';

export interface BootChoice {
  /** The bundle directory to open. */
  dir: string;
  /** Its id in the store, or null for the configured bundle. */
  bundle: string | null;
  /** Why this one (a rollback at boot, a damaged bundle skipped), for the log. */
  notes: string[];
}

const ID_RE = /^[A-Za-z0-9._-]+@[0-9A-Za-z.+-]+$/;

export class BundleStore {
  private constructor(readonly dir: string, private current: OtaState) {}

  static async open(dir: string): Promise<BundleStore> {
    for (const d of [dir, join(dir, 'bundles'), join(dir, 'staging'), join(dir, 'adapters')]) await mkdir(d, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    // A temp file from a write that a kill interrupted is garbage: the rename never happened.
    for (const f of await readdir(dir)) if (f.startsWith('state.json.tmp-')) await rm(join(dir, f), { force: true });
    for (const f of await readdir(join(dir, 'bundles'))) if (!ID_RE.test(f)) await rm(join(dir, 'bundles', f), { recursive: true, force: true });
    return new BundleStore(dir, await readState(join(dir, 'state.json')));
  }

  get state(): OtaState { return this.current; }
  get stagingDir(): string { return join(this.dir, 'staging'); }
  bundleDir(id: string): string { return join(this.dir, 'bundles', id); }
  adaptersDir(id: string | null): string { return join(this.dir, 'adapters', id ?? 'configured'); }

  async setState(next: OtaState): Promise<void> {
    await writeState(join(this.dir, 'state.json'), next);
    this.current = next;
  }

  async installed(): Promise<string[]> {
    return (await readdir(join(this.dir, 'bundles'))).filter((f) => ID_RE.test(f)).sort();
  }

  async isInstalled(id: string): Promise<boolean> {
    return ID_RE.test(id) && (await stat(join(this.bundleDir(id), 'manifest.json')).then(() => true, () => false));
  }

  /** Reads an installed bundle's manifest and checks every file against it. */
  async verifyInstalled(id: string): Promise<Manifest> {
    const dir = this.bundleDir(id);
    const m = await readManifest(dir);
    await verifyHashes(dir, m);
    return m;
  }

  /**
   * Moves a verified staged bundle into bundles/ (one rename), makes its files read-only and
   * records its version for anti-rollback. The same bundle installed again is a no-op.
   */
  async commitStaged(staged: string, m: Manifest): Promise<string> {
    const id = bundleId(m);
    const target = this.bundleDir(id);
    if (await this.isInstalled(id)) {
      const same = (await readFile(join(target, 'manifest.json'), 'utf8')) === (await readFile(join(staged, 'manifest.json'), 'utf8'));
      await rm(staged, { recursive: true, force: true });
      if (!same) throw new OtaRefusal('version', `${id} is already installed with different content: a new build needs a new version`);
      return id;
    }
    for (const f of await readdir(staged)) if (f.startsWith('.')) await rm(join(staged, f), { force: true });
    for (const f of Object.keys(m.files)) await chmod(join(staged, f), 0o444);
    await chmod(join(staged, 'manifest.json'), 0o444);
    await rename(staged, target);
    await fsyncDir(join(this.dir, 'bundles'));
    await this.setState(withEvent(recordInstalled(this.current, m), 'installed', id));
    return id;
  }

  /**
   * What to run after a (re)start. A bundle still in its health window when the daemon stopped
   * counts as failed (Mender and greenboot do the same after an unexpected reboot), and a
   * damaged installed bundle is skipped: the answer is always a whole bundle.
   */
  async boot(configured: string): Promise<BootChoice> {
    const notes: string[] = [];
    let s = this.current;
    if (s.trial) {
      notes.push(`${s.trial.bundle} was in its health window when the daemon stopped: rolled back to ${s.last_good ?? 'the configured bundle'}`);
      s = withEvent({ ...s, active: s.last_good, trial: null }, 'rollback', s.trial.bundle, 'restarted during the health window');
    }
    for (const id of [s.active, s.last_good]) {
      if (id === null) break;
      try {
        await this.verifyInstalled(id);
        if (id !== s.active) s = { ...s, active: id };
        if (s !== this.current) await this.setState(s);
        return { dir: this.bundleDir(id), bundle: id, notes };
      } catch (err) {
        notes.push(`${id} is damaged (${(err as Error).message}): skipped`);
        s = withEvent({ ...s, active: s.last_good === id ? null : s.last_good, last_good: s.last_good === id ? null : s.last_good }, 'damaged', id, (err as Error).message);
      }
    }
    if (s.active !== null) s = { ...s, active: null };
    if (s !== this.current) await this.setState(s);
    return { dir: configured, bundle: null, notes };
  }

  /**
   * Adapters belong to a base bundle. Moving to `next`: when the expert and LoRA layout are the
   * same they are copied over (kept); otherwise they stay filed under the old base (parked), to be
   * used again if it returns.
   */
  async carryAdapters(from: string | null, fromManifest: Manifest, to: string, toManifest: Manifest): Promise<{ outcome: 'kept' | 'parked' | 'none'; files: number }> {
    const src = this.adaptersDir(from);
    const files = await readdir(src).catch(() => [] as string[]);
    if (files.length === 0) return { outcome: 'none', files: 0 };
    if (!adaptersCarryOver(toManifest, fromManifest)) return { outcome: 'parked', files: files.length };
    const dst = this.adaptersDir(to);
    await mkdir(dst, { recursive: true, mode: 0o700 });
    await cp(src, dst, { recursive: true, force: false, errorOnExist: false });
    return { outcome: 'kept', files: files.length };
  }

  /** Removes installed bundles beyond the newest `keep`, never the active, last good or trial one. */
  async prune(keep: number): Promise<string[]> {
    const s = this.current;
    const pinned = new Set([s.active, s.last_good, s.trial?.bundle].filter((x): x is string => x !== null && x !== undefined));
    const byInstall = new Map<string, number>();
    s.history.forEach((e, i) => { if (e.event === 'installed' && e.bundle) byInstall.set(e.bundle, i); });
    const candidates = (await this.installed()).filter((id) => !pinned.has(id)).sort((a, b) => (byInstall.get(b) ?? -1) - (byInstall.get(a) ?? -1));
    const removed = candidates.slice(Math.max(0, keep - pinned.size));
    for (const id of removed) {
      const dir = this.bundleDir(id);
      // Out of bundles/ first (one rename), then delete: a kill mid-delete leaves no half bundle there.
      const doomed = join(this.stagingDir, `.removing-${id}`);
      await rename(dir, doomed);
      await rm(doomed, { recursive: true, force: true });
    }
    return removed;
  }
}
