// The table of the daemon's input streams (openpilot's cereal/services.py): every stream with its
// expected rate and staleness limit, and who needs it. The observation store tracks each one's
// `alive` / `freq_ok` and the watchdog asks it, per consumer, whether the streams it needs are alive.
import type { CameraSpec } from '../core/index.js';
import type { StreamSpec } from '../control/index.js';
import type { NodeParams } from './params.js';

export interface StreamRates {
  /** How often the robot publishes joint states, Hz (sim: its physics rate; lockstep: the control rate). */
  jointStatesHz: number;
  /** Camera frame rate, Hz. */
  camerasHz: number;
  /** The teleop device's rate, Hz (the control rate when unknown). */
  teleopHz: number;
}

export function streamTable(params: NodeParams, cameras: readonly CameraSpec[], rates: StreamRates): StreamSpec[] {
  const s = params.streams;
  const rate = (declared: number, derived: number) => (declared > 0 ? declared : derived);
  return [
    { name: 'joint_states', source: 'joint_states', rateHz: rate(s.joint_states.rate_hz, rates.jointStatesHz), maxAgeS: s.joint_states.max_age_s, requiredBy: ['policy', 'operator', 'hold'] },
    ...cameras.map((c): StreamSpec => ({ name: `camera/${c.name}`, source: 'camera', camera: c.name, rateHz: rate(s.cameras.rate_hz, rates.camerasHz), maxAgeS: s.cameras.max_age_s, requiredBy: ['policy'] })),
    // The operator's own freshness is judged by the hand-over (operator_timeout_s); this entry reports its health.
    { name: 'teleop', source: 'teleop', rateHz: rate(s.teleop.rate_hz, rates.teleopHz), maxAgeS: s.teleop.max_age_s, requiredBy: [] },
  ];
}
