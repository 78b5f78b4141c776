// Recorded data for the trainer's tests: real episodes from the real daemon (shipped bundle,
// MuJoCo arm, ONNX policy worker, scripted operator over ZeroMQ) on the lockstep clock, recorded
// as RLDS by vlad's own recorder, so nothing depends on the machine's speed.
//
// One dataset, in this order (episode index in brackets; with holdout_every 3, [2] and [5] are
// held out):
//   [0] [1] [2]  teleop pick, the operator from the start (successful; no intervention)
//   [3]          autonomous touch, stopped after 80 steps as a failure (policy steps not imitated)
//   [4] [5] [6]  intervention pick: the policy for 40 steps, then the operator takes over to the end
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/core/index.js';
import { Daemon, loadDaemonConfig } from '../../src/daemon/index.js';

export const DATASET = 'vlad_train';

async function daemonFor(dir: string, mode: 'teleop' | 'autonomous' | 'intervention'): Promise<Daemon> {
  const endpoints = { ops: `ipc://${join(dir, `ops-${mode}.sock`)}`, telemetry: `ipc://${join(dir, `tel-${mode}.sock`)}`, teleop: `ipc://${join(dir, `teleop-${mode}.sock`)}` };
  const config = await loadDaemonConfig({ overrides: {
    robot: 'sim', mode, sim: { clock: 'lockstep' }, record: { dir, dataset: DATASET },
    ops: { endpoint: endpoints.ops, telemetry_endpoint: endpoints.telemetry }, teleop: { endpoint: endpoints.teleop },
  } });
  const daemon = new Daemon({ config, clock: 'lockstep', log: silentLogger });
  await daemon.start();
  return daemon;
}

async function untilEnded(daemon: Daemon, maxTicks: number): Promise<void> {
  const ended = daemon.episodes!.whenEnded();
  for (let i = 0; i < maxTicks && daemon.episodes!.isOpen; i++) await daemon.stepLockstep();
  if (daemon.episodes!.isOpen) await daemon.stopEpisode(false, true);
  await ended;
}

/** Records the dataset above under a new temporary folder; returns the dataset's folder. */
export async function recordTrainingData(root = mkdtempSync(join(tmpdir(), 'vlad-train-data-'))): Promise<string> {
  let d = await daemonFor(root, 'teleop');
  for (let i = 0; i < 3; i++) await d.runEpisode({ task: 'pick', seed: 100 + i, operatorSeed: 200 + i, operator: true });
  await d.shutdown();

  d = await daemonFor(root, 'autonomous');
  await d.startEpisode({ task: 'touch', seed: 300, autoEnd: false });
  for (let i = 0; i < 80; i++) await d.stepLockstep();
  await d.stopEpisode(false);
  await d.shutdown();

  d = await daemonFor(root, 'intervention');
  for (let i = 0; i < 3; i++) {
    await d.startEpisode({ task: 'pick', seed: 400 + i, operatorSeed: 500 + i });
    for (let k = 0; k < 40; k++) await d.stepLockstep();
    await d.setScriptedOperator(true, 'drive');
    await untilEnded(d, 2000);
    await d.setScriptedOperator(false);
    // Between episodes (not recorded): the operator's release and the hand-back to the policy.
    for (let k = 0; k < 150; k++) await d.stepLockstep();
  }
  await d.shutdown();
  return join(root, DATASET);
}

if (process.argv[1]?.endsWith('support.js') && process.argv[2]) {
  const out = await recordTrainingData(process.argv[2]);
  process.stdout.write(`${out}\n`);
}
