// The on-disk dataset a recorder appends to (spec §5.3): features.json written once, episodes
// appended to an open shard that dataset_info.json does not list, shards closed every N episodes or
// M bytes and then published by an atomic metadata rewrite. Restart recovery lives here too.
import { lstat, open, readFile, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir, writeFileAtomic } from '../core/index.js';
import { cannotWrite, makeDirs, removeCreated } from './dirs.js';
import { decodeExample, encodeExample, type ExampleFeatures } from './example.js';
import { assembleEpisode, episodeIdOf, parseHeader, type EpisodeEnd, type EpisodeHeader } from './episode.js';
import { featureDifference, featureToJson, parseFeature, stableJson, type FeatureNode } from './features.js';
import { datasetInfoToJson, INDEX_TEMPLATE, parseDatasetInfo, shardFileName, type DatasetInfo } from './info.js';
import { frameParts, readRecord, scanTFRecordFile, splitRecords, RECORD_OVERHEAD } from './tfrecord.js';

export interface StoreOptions {
  /** TFDS data_dir; the dataset goes to <root>/<name>/<version>/. */
  root: string;
  name: string;
  version: string;
  features: FeatureNode;
  split?: string;
  description?: string;
  maxEpisodesPerShard?: number;
  maxShardBytes?: number;
  /** Where in-flight episodes are journaled; default <root>/.vlad-journal/<name>/<version>. */
  journalDir?: string;
  /** On restart, write a partial episode as truncated (default) or discard it. */
  recoverPartial?: boolean;
}

export interface RecoveryReport {
  /** Bytes cut from a torn open shard. */
  truncatedShardBytes: number;
  /** Finished episodes found in the open shard (never lost, now counted). */
  adoptedEpisodes: number;
  recoveredEpisodes: string[];
  discardedEpisodes: string[];
}

export function defaultJournalDir(root: string, name: string, version: string): string {
  return join(root, '.vlad-journal', name, version);
}

export function journalPath(journalDir: string, episodeId: string): string {
  return join(journalDir, `${episodeId}.journal`);
}

/** Reads an episode journal: header record, then one record per step; stops at a torn tail. */
export async function readJournal(file: string): Promise<{ header?: EpisodeHeader; steps: ExampleFeatures[] }> {
  const { records } = splitRecords(await readFile(file));
  const header = records[0] ? parseHeader(decodeExample(records[0])) : undefined;
  return { header, steps: records.slice(1).map((r) => decodeExample(r)) };
}

export function ioError(what: string, e: unknown): Error {
  const err = e as NodeJS.ErrnoException;
  const hint = err.code === 'ENOSPC' ? ' (disk full)' : err.code === 'EACCES' || err.code === 'EPERM' ? ' (permission denied)' : err.code === 'EROFS' ? ' (read-only file system)' : '';
  return new Error(`${what}: ${err.message ?? String(e)}${hint}`, { cause: e });
}

export class DatasetStore {
  readonly dir: string;
  readonly journalDir: string;
  readonly split: string;
  private info!: DatasetInfo;
  private shard?: FileHandle;
  /** Size of the open shard up to its last complete record. */
  private shardSize = 0;
  private shardEpisodes = 0;
  private shardPayloadBytes = 0;
  private lastEpisodeId?: string;
  private readonly maxEpisodes: number;
  private readonly maxBytes: number;
  /** Directories and files this open created, outermost first: what abandon() takes back. */
  private readonly created: string[] = [];
  /** This store wrote the LOCK file (and so may remove it on abandon). */
  private ownsLock = false;

  private constructor(readonly opts: StoreOptions) {
    this.dir = join(opts.root, opts.name, opts.version);
    this.journalDir = opts.journalDir ?? defaultJournalDir(opts.root, opts.name, opts.version);
    this.split = opts.split ?? 'train';
    this.maxEpisodes = opts.maxEpisodesPerShard ?? 50;
    this.maxBytes = opts.maxShardBytes ?? 256 * 1024 * 1024;
  }

  get datasetInfo(): DatasetInfo { return this.info; }
  get openShardEpisodes(): number { return this.shardEpisodes; }
  private get splitInfo() { return this.info.splits.find((s) => s.name === this.split)!; }
  get openShardPath(): string {
    const si = this.splitInfo;
    return join(this.dir, shardFileName(si.filepathTemplate, this.info.name, si.name, si.shardLengths.length, si.shardLengths.length + 1));
  }

  /**
   * Opens (creating if needed) and recovers after a crash: torn shard tail cut, finished episodes
   * kept. A refused open (unwritable place, other schema, bad metadata) takes back what it created.
   */
  static async open(opts: StoreOptions): Promise<{ store: DatasetStore; recovery: RecoveryReport }> {
    const s = new DatasetStore(opts);
    try {
      return { store: s, recovery: await s.init() };
    } catch (e) {
      await s.abandon();
      throw e;
    }
  }

  private async init(): Promise<RecoveryReport> {
    const { dir } = this;
    this.created.push(...await makeDirs(dir));
    this.created.push(...await makeDirs(this.journalDir));
    await this.lock();
    // features.json first (spec §5.3 step 4); a different schema needs a new version directory.
    const featuresText = stableJson(featureToJson(this.opts.features), 4);
    const featuresFile = join(dir, 'features.json');
    let existing: string | undefined;
    try { existing = await readFile(featuresFile, 'utf8'); } catch { /* new dataset */ }
    if (existing === undefined) {
      await writeFileAtomic(featuresFile, featuresText).catch((e) => { throw cannotWrite(dir, e); });
      this.created.push(featuresFile);
    } else {
      let json: unknown;
      try { json = JSON.parse(existing); } catch (e) { throw new Error(`${featuresFile}: ${(e as Error).message}`); }
      const have = parseFeature(json, featuresFile);
      if (stableJson(featureToJson(have), 4) !== featuresText) {
        const where = featureDifference(have, this.opts.features) ?? 'the feature trees differ';
        throw new Error(`${featuresFile}: the existing dataset has a different feature schema (${where}); record into a new version directory or under another name`);
      }
    }
    const infoFile = join(dir, 'dataset_info.json');
    let infoText: string | undefined;
    try { infoText = await readFile(infoFile, 'utf8'); } catch { /* new dataset */ }
    if (infoText === undefined) {
      this.info = {
        name: this.opts.name, version: this.opts.version, fileFormat: 'tfrecord', moduleName: 'vlad.rlds',
        description: this.opts.description ?? 'Robot episodes recorded by vlad.',
        releaseNotes: { [this.opts.version]: 'Recorded by vlad.' },
        splits: [{ name: this.split, shardLengths: [], numBytes: 0, filepathTemplate: INDEX_TEMPLATE }], extra: {},
      };
      await this.writeInfo().catch((e) => { throw cannotWrite(dir, e); });
      this.created.push(infoFile);
    } else {
      this.info = parseDatasetInfo(infoText);
      if (this.info.name !== this.opts.name) throw new Error(`${infoFile}: name is '${this.info.name}', expected '${this.opts.name}'`);
      if (!this.info.splits.some((s) => s.name === this.split)) {
        this.info.splits.push({ name: this.split, shardLengths: [], numBytes: 0, filepathTemplate: INDEX_TEMPLATE });
      }
    }
    const report: RecoveryReport = { truncatedShardBytes: 0, adoptedEpisodes: 0, recoveredEpisodes: [], discardedEpisodes: [] };
    await this.openShard(report);
    await this.recoverJournals(report);
    if (this.shardFull()) await this.closeShard();
    return report;
  }

  private async openShard(report?: RecoveryReport): Promise<void> {
    const file = this.openShardPath;
    let size = 0;
    try { size = (await stat(file)).size; } catch { /* none yet */ }
    this.shardEpisodes = 0;
    this.shardPayloadBytes = 0;
    this.lastEpisodeId = undefined;
    if (size > 0) {
      const scan = await scanTFRecordFile(file, true);
      if (report) { report.truncatedShardBytes = scan.fileSize - scan.validEnd; report.adoptedEpisodes = scan.records.length; }
      this.shardEpisodes = scan.records.length;
      this.shardPayloadBytes = scan.records.reduce((a, r) => a + r.length, 0);
      size = scan.validEnd;
      const last = scan.records[scan.records.length - 1];
      const fh = await open(file, 'r+');
      try {
        if (scan.validEnd < scan.fileSize) { await fh.truncate(scan.validEnd); await fh.sync(); }
        if (last) this.lastEpisodeId = episodeIdOf(decodeExample(await readRecord(fh, file, last)));
      } finally { await fh.close(); }
    }
    try { this.shard = await open(file, 'a'); } catch (e) { throw ioError(`cannot open shard ${file}`, e); }
    // A new file's directory entry must be durable too, or a power cut could lose a "durable" episode.
    if (size === 0) await fsyncDir(this.dir).catch(() => undefined);
    this.shardSize = size;
  }

  private shardFull(): boolean {
    return this.shardEpisodes >= this.maxEpisodes || this.shardSize >= this.maxBytes;
  }

  /**
   * Appends one finished episode durably (fsync). On failure the shard is cut back to its last
   * complete record, so the dataset stays valid and only this episode is lost.
   */
  async appendEpisode(example: Uint8Array, episodeId: string): Promise<{ shardIndex: number; bytes: number }> {
    if (!this.shard) throw new Error('dataset store is closed');
    const parts = frameParts(example);
    const size = example.byteLength + RECORD_OVERHEAD;
    try {
      // One writev: a killed process leaves the whole record or none of it; only power loss can tear it.
      const { bytesWritten } = await this.shard.writev(parts);
      if (bytesWritten !== size) throw Object.assign(new Error(`short write (${bytesWritten} of ${size} bytes)`), { code: 'ENOSPC' });
      await this.shard.datasync();
    } catch (e) {
      await this.shard.truncate(this.shardSize).catch(() => undefined);
      throw ioError(`cannot append episode ${episodeId} to ${this.openShardPath}`, e);
    }
    this.shardSize += size;
    this.shardEpisodes += 1;
    this.shardPayloadBytes += example.byteLength;
    this.lastEpisodeId = episodeId;
    return { shardIndex: this.splitInfo.shardLengths.length, bytes: example.byteLength };
  }

  /** Closes the open shard if it reached N episodes or M bytes. */
  async maybeCloseShard(): Promise<boolean> {
    if (!this.shardFull()) return false;
    await this.closeShard();
    return true;
  }

  /** Publishes the open shard in dataset_info.json (if it holds any episode) and starts a new one. */
  async closeShard(): Promise<void> {
    if (!this.shard || this.shardEpisodes === 0) return;
    await this.shard.sync();
    await this.shard.close();
    this.shard = undefined;
    const si = this.splitInfo;
    si.shardLengths.push(this.shardEpisodes);
    si.numBytes += this.shardPayloadBytes;
    try {
      await this.writeInfo();
    } catch (e) {
      si.shardLengths.pop();
      si.numBytes -= this.shardPayloadBytes;
      await this.openShard();
      throw ioError(`cannot publish shard in ${join(this.dir, 'dataset_info.json')}`, e);
    }
    await this.openShard();
  }

  private async writeInfo(): Promise<void> {
    await writeFileAtomic(join(this.dir, 'dataset_info.json'), datasetInfoToJson(this.info));
  }

  private get lockPath(): string { return join(this.journalDir, 'LOCK'); }

  /** One recorder per dataset: a second one would interleave records. A dead owner's lock is taken over. */
  private async lock(): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fh = await open(this.lockPath, 'wx'); // O_EXCL: of two recorders starting at once, one wins
        this.ownsLock = true;
        try { await fh.writeFile(`${process.pid}\n`); await fh.sync(); } finally { await fh.close(); }
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw cannotWrite(this.journalDir, e);
      }
      const owner = Number((await readFile(this.lockPath, 'utf8').catch(() => '')).trim());
      if (owner === process.pid) return;
      let alive = false;
      if (owner > 0) { try { process.kill(owner, 0); alive = true; } catch (e) { alive = (e as NodeJS.ErrnoException).code === 'EPERM'; } }
      if (alive) throw new Error(`dataset ${this.dir} is being recorded by process ${owner} (lock ${this.lockPath})`);
      await rm(this.lockPath, { force: true }); // its owner died (crash): take over
    }
    throw new Error(`cannot lock ${this.lockPath}: another recorder keeps taking it`);
  }

  journalPath(episodeId: string): string {
    return journalPath(this.journalDir, episodeId);
  }

  /**
   * Turns a finished episode's journal into a shard record: the same path crash recovery takes,
   * so every normal episode also exercises the journal format. The journal goes away either way.
   */
  async finishFromJournal(episodeId: string, end: EpisodeEnd): Promise<{ shardIndex: number; bytes: number; steps: number }> {
    const file = this.journalPath(episodeId);
    try {
      const { header, steps } = await readJournal(file);
      if (!header || header.episodeId !== episodeId) throw new Error(`journal ${file} has no valid header`);
      const example = encodeExample(assembleEpisode(header, steps, end));
      const r = await this.appendEpisode(example, episodeId);
      return { ...r, steps: steps.length };
    } finally {
      await rm(file, { force: true });
      await this.maybeCloseShard();
    }
  }

  /**
   * Replays journals left by a crash: an episode already in the shard (crash between append and
   * journal removal) is just cleaned up; a partial one is written as truncated, or discarded.
   */
  private async recoverJournals(report: RecoveryReport): Promise<void> {
    const recoverPartial = this.opts.recoverPartial ?? true;
    let names: string[] = [];
    try { names = (await readdir(this.journalDir)).filter((n) => n.endsWith('.journal')); } catch { return; }
    for (const name of names.sort()) {
      const file = join(this.journalDir, name);
      if (!(await lstat(file)).isFile()) continue; // only journals we wrote; never read a device or follow a link
      const { header, steps } = await readJournal(file);
      const id = header?.episodeId ?? name.replace(/\.journal$/, '');
      if (header && header.episodeId === this.lastEpisodeId) {
        await rm(file, { force: true });
        continue;
      }
      if (!header || steps.length === 0 || !recoverPartial) {
        report.discardedEpisodes.push(id);
      } else {
        const ex = encodeExample(assembleEpisode(header, steps, { success: false, truncated: true, droppedSteps: 0 }));
        await this.appendEpisode(ex, header.episodeId);
        report.recoveredEpisodes.push(header.episodeId);
      }
      await rm(file, { force: true });
      if (this.shardFull()) await this.closeShard();
    }
  }

  async close(): Promise<void> {
    await this.closeShard();
    if (this.shard) { await this.shard.close(); this.shard = undefined; }
    await this.removeEmptyOpenShard();
    await rm(this.lockPath, { force: true });
  }

  /** An empty open shard file is not listed anywhere; removed so the directory stays tidy. */
  private async removeEmptyOpenShard(): Promise<void> {
    if (!this.info) return;
    const file = this.openShardPath;
    try { if ((await stat(file)).size === 0) await rm(file); } catch { /* gone */ }
  }

  /** Episodes in this dataset, listed or in the open shard (recovery may have just written some). */
  private get holdsEpisodes(): boolean {
    return this.shardEpisodes > 0 || (this.info?.splits.some((s) => s.shardLengths.length > 0) ?? false);
  }

  /**
   * Undoes an open whose recorder will not run: closes the shard, gives the lock back, and
   * removes the directories and files this open created. Never touches what was there before;
   * and if the dataset holds episodes (recovered from journals during this open) it stays as it is.
   */
  async abandon(): Promise<void> {
    await this.shard?.close().catch(() => undefined);
    this.shard = undefined;
    if (this.ownsLock) { await rm(this.lockPath, { force: true }).catch(() => undefined); this.ownsLock = false; }
    if (this.holdsEpisodes) return;
    await this.removeEmptyOpenShard();
    await removeCreated(this.created);
    this.created.length = 0;
  }
}

export { RECORD_OVERHEAD };
export type { EpisodeHeader };
