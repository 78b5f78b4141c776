// Daemons for tests: the real pipeline (shipped bundle, MuJoCo arm, ONNX policy worker) on the
// lockstep clock, so nothing depends on the machine's speed; private ipc endpoints for sockets.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/core/index.js';
import { Daemon, loadDaemonConfig, type DaemonOptions, type ParamOverrides } from '../../src/daemon/index.js';

export interface TestDaemon { daemon: Daemon; dir: string; endpoints: { ops: string; telemetry: string; teleop: string }; cleanup(): Promise<void> }

export async function testDaemon(overrides: ParamOverrides = {}, opts: Partial<DaemonOptions> = {}): Promise<TestDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'vlad-daemon-test-'));
  const endpoints = { ops: `ipc://${join(dir, 'ops.sock')}`, telemetry: `ipc://${join(dir, 'telemetry.sock')}`, teleop: `ipc://${join(dir, 'teleop.sock')}` };
  const config = await loadDaemonConfig({ overrides: {
    robot: 'sim', sim: { clock: 'lockstep' }, ops: { endpoint: endpoints.ops, telemetry_endpoint: endpoints.telemetry }, teleop: { endpoint: endpoints.teleop },
    ...overrides,
  } });
  const daemon = new Daemon({ config, clock: 'lockstep', log: silentLogger, ...opts });
  return {
    daemon, dir, endpoints,
    cleanup: async () => { await daemon.shutdown().catch(() => undefined); rmSync(dir, { recursive: true, force: true }); },
  };
}

/** Steps the lockstep daemon `n` ticks. */
export async function steps(daemon: Daemon, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await daemon.stepLockstep();
}
