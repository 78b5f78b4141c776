// The daemon as the realtime benchmarks run it: the simulated arm in realtime (physics 250 Hz,
// cameras 30 Hz in its own thread), autonomous, ops and telemetry on ipc sockets in a scratch
// directory, with episodes running. bench ops and bench swap/ota-faults share it.
import { join } from 'node:path';
import { commandLogger } from '../core/index.js';
import { attachServing, Daemon, loadDaemonConfig, type ParamOverrides } from '../daemon/index.js';

export interface BenchDaemon {
  daemon: Daemon;
  /** The ops endpoint (ipc) clients connect to. */
  ops: string;
  /** Stops starting episodes and ends the open one (not a success). */
  stopEpisodes(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Starts the daemon and its episodes; returns once the loop runs. `episodes`: 'one open' (one
 * instruction episode that only stopEpisodes ends) or 'tasks' (pick/place/touch scenes back to
 * back, each ending itself on success or at its time limit, as a working robot runs them).
 */
export async function startBenchDaemon(work: string, o: { rateHz: number; overrides: ParamOverrides; episodes: 'one open' | 'tasks' }): Promise<BenchDaemon> {
  const ops = `ipc://${join(work, 'ops.sock')}`;
  const config = await loadDaemonConfig({ overrides: {
    robot: 'sim', mode: 'autonomous',
    ops: { endpoint: ops, telemetry_endpoint: `ipc://${join(work, 'telemetry.sock')}` }, teleop: { endpoint: `ipc://${join(work, 'teleop.sock')}` },
    sim: { clock: 'realtime', physics_dt: 0.004, camera_hz: 30 },
    ...o.overrides,
  } });
  const daemon = new Daemon({ config, log: commandLogger(), serve: true, rateHz: o.rateHz });
  attachServing(daemon, config.params, daemon.log, () => undefined);
  let stopping = false;
  try {
    await daemon.serveOnly();
    await daemon.start();
    if (o.episodes === 'tasks') {
      const tasks = ['pick', 'place', 'touch'] as const;
      let n = 0;
      const next = () => { if (!stopping) daemon.startEpisode({ task: tasks[n % 3]!, seed: 7000 + n++ }).catch(() => undefined); };
      daemon.onEpisodeEnd(() => setImmediate(next));
      next();
    } else {
      await daemon.startEpisode({ instruction: 'pick up the red cube' });
    }
    while (daemon.controlLoop!.state !== 'run') await sleep(5);
  } catch (err) {
    await daemon.shutdown();
    throw err;
  }
  return {
    daemon, ops,
    stopEpisodes: async () => { stopping = true; if (daemon.status().episode) await daemon.stopEpisode(false).catch(() => undefined); },
  };
}
