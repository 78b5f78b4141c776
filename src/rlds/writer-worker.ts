// The writer worker: owns the dataset files. Crash recovery at start, then one finished episode at a
// time from its journal into the open shard. Assembling and encoding a long episode takes a while;
// it runs here so the encoder worker keeps releasing step slots meanwhile.
import { parentPort, workerData } from 'node:worker_threads';
import { rm } from 'node:fs/promises';
import { DatasetStore, type RecoveryReport, type StoreOptions } from './store.js';
import { renice } from './nice.js';

export type ToWriter =
  | { t: 'finish'; ep: string; success: boolean; truncated: boolean; droppedSteps: number }
  | { t: 'discard'; ep: string }
  | { t: 'close' }
  /** The recorder will not start after all: undo this open (DatasetStore.abandon) and stop. */
  | { t: 'abandon' };

export type FromWriter =
  | { t: 'ready'; recovery: RecoveryReport }
  | { t: 'fatal'; message: string }
  | { t: 'ended'; ep: string; ok: true; shardIndex: number; steps: number; bytes: number }
  | { t: 'ended'; ep: string; ok: false; message: string }
  | { t: 'closed'; error?: string };

const port = parentPort!;
const init = workerData as { store: StoreOptions; nice: number };
const post = (m: FromWriter) => port.postMessage(m);
let store: DatasetStore;
renice(init.nice);

let chain: Promise<unknown> = DatasetStore.open(init.store).then(
  ({ store: s, recovery }) => { store = s; post({ t: 'ready', recovery }); },
  (e) => { post({ t: 'fatal', message: (e as Error).message }); port.close(); },
);

port.on('message', (m: ToWriter) => {
  chain = chain.then(async () => {
    switch (m.t) {
      case 'finish':
        try {
          const r = await store.finishFromJournal(m.ep, m);
          post({ t: 'ended', ep: m.ep, ok: true, ...r });
        } catch (e) {
          post({ t: 'ended', ep: m.ep, ok: false, message: (e as Error).message });
        }
        return;
      case 'discard':
        await rm(store.journalPath(m.ep), { force: true }).catch(() => undefined);
        return;
      case 'abandon':
        await store.abandon();
        post({ t: 'closed' });
        port.close();
        return;
      case 'close':
        try {
          await store.close();
          post({ t: 'closed' });
        } catch (e) {
          post({ t: 'closed', error: (e as Error).message });
        }
        port.close();
    }
  });
});
