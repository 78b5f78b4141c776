// The node's declared parameters: one JSON schema for the params file (a ROS 2 parameters YAML,
// `launch/vlad.params.yaml`), the same one the ROS node declares its parameters from. Every field
// has a type, a range and a default here, in one place (ros2_control's generate_parameter_library).
import { compileSchema } from '../core/index.js';
import { TRAINING_CONFIG_SCHEMA, type TrainingConfig } from '../train/index.js';

export const ROBOT_KINDS = ['sim', 'ros'] as const;
export type RobotKind = (typeof ROBOT_KINDS)[number];

export interface StreamParams { rate_hz: number; max_age_s: number }

export type ImageLayoutParam = 'auto' | 'hwc' | 'chw';

export interface Gr00tServeParams {
  enabled: boolean;
  endpoint: string;
  /** A file holding GR00T's api_token (mode 0600); "": none. */
  api_token_file: string;
  allow_kill: boolean;
  /** get_modality_config's form: n16 (a map; N1.6+, main) or n15 (a JSON string, prefixed keys). */
  modality_config: 'n16' | 'n15';
  /** GR00T video key -> bundle camera ({}: the bundle's camera names). */
  video: Record<string, string>;
  /** GR00T state key -> [start, end) of the bundle state ({}: one key `state`, the whole vector). */
  state: Record<string, number[]>;
  /** GR00T action key -> [start, end) of the bundle action ({}: one key `action`). */
  action: Record<string, number[]>;
  language: string;
  image_layout: ImageLayoutParam;
  /** Requests per second per client, and the burst allowed. */
  rate: { per_s: number; burst: number };
  /** A request not answered within this gets an error, s. */
  request_timeout_s: number;
}

export interface OpenpiServeParams {
  enabled: boolean;
  host: string;
  port: number;
  /** A file holding the API key clients send as `Authorization: Api-Key K` (mode 0600); "": none (loopback only). */
  api_key_file: string;
  tls: { cert_file: string; key_file: string };
  /** openpi image key -> bundle camera ({}: observation/<camera>). */
  images: Record<string, string>;
  /** openpi keys concatenated into the bundle state ([]: observation/state). */
  state: string[];
  prompt: string;
  image_layout: ImageLayoutParam;
  rate: { per_s: number; burst: number };
  request_timeout_s: number;
}

export interface OtaHealthParams {
  /** The window after a swap: at least this many chunks from the new model and this many seconds. */
  chunks: number;
  seconds: number;
  max_non_finite: number;
  /** Largest rise in the fraction of clamped ticks over the replaced model's rate. */
  max_clamp_rise: number;
  /** p95 inference latency budget, ms; 0: the time the queue covers when a re-plan is asked (replan_threshold x chunk). */
  latency_budget_ms: number;
  max_watchdog_events: number;
}

export interface OtaParams {
  /** The bundle store (A/B state, installed bundles, uploads); "": over-the-air swaps off. */
  dir: string;
  /** Raw ed25519 public keys, base64 (vlad bundle keygen); a bundle must carry `threshold` valid signatures by them. */
  trusted_keys: string[];
  threshold: number;
  max_bundle_mb: number;
  /** Installed bundles kept besides the active and last good ones. */
  keep: number;
  /** Shadow plans on live observations before a swap (compared with the active model's). */
  warmup_runs: number;
  health: OtaHealthParams;
}

/**
 * Idle-time learning: the trainer's own settings (src/train/config.ts documents each) where 0 for
 * idle_after_s, step_budget_ms and max_steps_per_pass means the hw-profile's, plus what only the
 * daemon decides: whether, where, and the promoted adapter's online window.
 */
export type TrainingParams = Omit<TrainingConfig, 'checkpoint_every' | 'cache_segment_steps' | 'threads'> & {
  /** Learn a LoRA adapter on the robot while it is idle (needs record.dir and a bundle with train_step/loss graphs). */
  enabled: boolean;
  /** Trainer state and (without ota.dir) the adapters; "": <ota.dir or record.dir>/learning. */
  dir: string;
  /** The promoted adapter's online window: episodes with the policy acting, and what rolls it back. */
  /**
   * The promoted adapter's online window: over its next `episodes` episodes against the replaced
   * adapter's recent ones; `max_task_intervention_rise` per task (the sim's task, else the
   * instruction) where both hold `min_task_episodes` of it.
   */
  health: { episodes: number; max_success_drop: number; max_intervention_rise: number; max_clamp_rise: number; max_non_finite: number; max_task_intervention_rise: number; min_task_episodes: number };
};

export interface NodeParams {
  /** sim: the embedded MuJoCo arm; ros: the ROS 2 driver (rclnodejs, ROS sourced). */
  robot: RobotKind;
  /** Bundle directory; empty: the shipped model. */
  bundle: string;
  /** hw-profiles/<name>.yaml or a path. */
  hw_profile: string;
  /** Robot description (safety envelope) YAML; empty: hw-profiles/robots/vlad-sim-arm.yaml for the sim. */
  robot_description: string;
  /** Operating mode after activation. */
  mode: 'idle' | 'autonomous' | 'teleop' | 'intervention';
  /** Configure and activate at start (else wait for `transition` requests). */
  autostart: boolean;
  /** Chunk joining. */
  join: 'replace' | 'ensemble' | 'rtc';
  /** forward: per-tick commands (forward_command_controller); trajectory: JointTrajectoryController. */
  output_mode: 'forward' | 'trajectory';
  /** Re-plan when this fraction of the chunk is left. */
  replan_threshold: number;
  /** Denoising steps override (0: the hw-profile's, else the bundle's). */
  denoising_steps: number;
  /** Initial-noise scale override (0: the bundle's). */
  noise_scale: number;
  /** Run seed: chunk noise seeds derive from it. */
  seed: number;
  handover: { blend_s: number; release_after_s: number; operator_timeout_s: number };
  /** The input streams' expected rates and staleness limits (0 rate: derived from the robot). */
  streams: { joint_states: StreamParams; cameras: StreamParams; teleop: StreamParams };
  record: { dir: string; dataset: string; image_encoding: 'jpeg' | 'png' };
  ops: {
    endpoint: string;
    telemetry_endpoint: string;
    /** CURVE: required when an endpoint is not loopback. Key files are z85 text (vlad ctl keygen). */
    curve: { secret_key_file: string; public_key_file: string; allowed_clients: string[] };
  };
  teleop: { endpoint: string };
  /** Prometheus /metrics on 127.0.0.1:PORT; 0: off. */
  metrics_port: number;
  /** variation: the simulated world's variation, `KEY=VALUE[,KEY=VALUE...]` (src/sim/variation.ts; '' = the original world). */
  sim: { clock: 'realtime' | 'lockstep'; physics_dt: number; camera_hz: number; variation: string };
  /** The peers' policy protocols (off by default): GR00T's ZeroMQ service and openpi's WebSocket server. */
  serve: { gr00t: Gr00tServeParams; openpi: OpenpiServeParams };
  /** Over-the-air model swaps: store, trust, health window. */
  ota: OtaParams;
  /** Idle-time LoRA learning: when, how, and the promoted adapter's health window. */
  training: TrainingParams;
  // The ROS 2 driver's topics (used by --robot ros).
  joint_names: string[];
  camera_topics: Record<string, string>;
  joint_states_topic: string;
  instruction_topic: string;
  command_topic: string;
  /** sensor_msgs/JointState positions from an operator's device (teleop / intervention); "": none. */
  teleop_topic: string;
  /** Per camera: raw (sensor_msgs/Image) or compressed (sensor_msgs/CompressedImage); absent: raw. */
  camera_transport: Record<string, 'raw' | 'compressed'>;
  /** Published joints the policy does not use (a second arm, a base): read past, not refused. */
  ignored_joints: string[];
  /** Configure waits this long for the first joint state (its names are checked), s. */
  joint_states_timeout_s: number;
}

const str = { type: 'string' } as const;
const stream = {
  type: 'object', additionalProperties: false, required: ['rate_hz', 'max_age_s'],
  properties: { rate_hz: { type: 'number', minimum: 0, maximum: 10000 }, max_age_s: { type: 'number', exclusiveMinimum: 0, maximum: 60 } },
} as const;
const endpoint = { type: 'string', pattern: '^(tcp|ipc|inproc)://.+$' } as const;
const slice = { type: 'array', minItems: 2, maxItems: 2, items: { type: 'integer', minimum: 0 } } as const;
const rate = { type: 'object', additionalProperties: false, properties: { per_s: { type: 'number', exclusiveMinimum: 0, maximum: 1e6 }, burst: { type: 'integer', minimum: 1, maximum: 1e6 } } } as const;
const requestTimeout = { type: 'number', exclusiveMinimum: 0, maximum: 600 } as const;
const topic = { type: 'string', pattern: '^~?/?[A-Za-z_][A-Za-z0-9_/]*$' } as const;

export const PARAMS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    robot: { enum: ROBOT_KINDS },
    bundle: str,
    hw_profile: { type: 'string', minLength: 1 },
    robot_description: str,
    mode: { enum: ['idle', 'autonomous', 'teleop', 'intervention'] },
    autostart: { type: 'boolean' },
    join: { enum: ['replace', 'ensemble', 'rtc'] },
    output_mode: { enum: ['forward', 'trajectory'] },
    replan_threshold: { type: 'number', minimum: 0, maximum: 1 },
    denoising_steps: { type: 'integer', minimum: 0, maximum: 100 },
    noise_scale: { type: 'number', minimum: 0, maximum: 4 },
    seed: { type: 'integer', minimum: 0, maximum: 2147483647 },
    handover: {
      type: 'object', additionalProperties: false,
      properties: { blend_s: { type: 'number', minimum: 0, maximum: 10 }, release_after_s: { type: 'number', exclusiveMinimum: 0, maximum: 60 }, operator_timeout_s: { type: 'number', exclusiveMinimum: 0, maximum: 10 } },
    },
    streams: { type: 'object', additionalProperties: false, properties: { joint_states: stream, cameras: stream, teleop: stream } },
    record: {
      type: 'object', additionalProperties: false,
      properties: { dir: str, dataset: { type: 'string', pattern: '^[a-zA-Z][a-zA-Z0-9_]*$' }, image_encoding: { enum: ['jpeg', 'png'] } },
    },
    ops: {
      type: 'object', additionalProperties: false,
      properties: {
        endpoint, telemetry_endpoint: endpoint,
        curve: {
          type: 'object', additionalProperties: false,
          properties: { secret_key_file: str, public_key_file: str, allowed_clients: { type: 'array', items: { type: 'string', pattern: '^[0-9A-Za-z.:+=^!/*?&<>()\\[\\]{}@%$#-]{40}$' } } },
        },
      },
    },
    teleop: { type: 'object', additionalProperties: false, properties: { endpoint } },
    metrics_port: { type: 'integer', minimum: 0, maximum: 65535 },
    sim: {
      type: 'object', additionalProperties: false,
      properties: { clock: { enum: ['realtime', 'lockstep'] }, physics_dt: { type: 'number', minimum: 0.001, maximum: 0.05 }, camera_hz: { type: 'number', exclusiveMinimum: 0, maximum: 240 }, variation: { type: 'string' } },
    },
    serve: {
      type: 'object', additionalProperties: false,
      properties: {
        gr00t: {
          type: 'object', additionalProperties: false,
          properties: {
            enabled: { type: 'boolean' }, endpoint, api_token_file: str, allow_kill: { type: 'boolean' }, modality_config: { enum: ['n16', 'n15'] },
            video: { type: 'object', additionalProperties: { type: 'string', minLength: 1 } },
            state: { type: 'object', additionalProperties: slice },
            action: { type: 'object', additionalProperties: slice },
            language: { type: 'string', minLength: 1 },
            image_layout: { enum: ['auto', 'hwc', 'chw'] },
            rate, request_timeout_s: requestTimeout,
          },
        },
        openpi: {
          type: 'object', additionalProperties: false,
          properties: {
            enabled: { type: 'boolean' }, host: { type: 'string', minLength: 1 }, port: { type: 'integer', minimum: 0, maximum: 65535 }, api_key_file: str,
            tls: { type: 'object', additionalProperties: false, properties: { cert_file: str, key_file: str } },
            images: { type: 'object', additionalProperties: { type: 'string', minLength: 1 } },
            state: { type: 'array', items: { type: 'string', minLength: 1 } },
            prompt: { type: 'string', minLength: 1 },
            image_layout: { enum: ['auto', 'hwc', 'chw'] },
            rate, request_timeout_s: requestTimeout,
          },
        },
      },
    },
    ota: {
      type: 'object', additionalProperties: false,
      properties: {
        dir: str,
        trusted_keys: { type: 'array', maxItems: 64, items: { type: 'string', pattern: '^[A-Za-z0-9+/]{43}=$' } },
        threshold: { type: 'integer', minimum: 1, maximum: 64 },
        max_bundle_mb: { type: 'number', exclusiveMinimum: 0, maximum: 65536 },
        keep: { type: 'integer', minimum: 0, maximum: 100 },
        warmup_runs: { type: 'integer', minimum: 1, maximum: 1000 },
        health: {
          type: 'object', additionalProperties: false,
          properties: {
            chunks: { type: 'integer', minimum: 1, maximum: 1e6 }, seconds: { type: 'number', minimum: 0, maximum: 86400 },
            max_non_finite: { type: 'integer', minimum: 0 }, max_clamp_rise: { type: 'number', minimum: 0, maximum: 1 },
            latency_budget_ms: { type: 'number', minimum: 0, maximum: 60000 }, max_watchdog_events: { type: 'integer', minimum: 0 },
          },
        },
      },
    },
    training: {
      type: 'object', additionalProperties: false,
      properties: {
        ...(({ checkpoint_every: _c, cache_segment_steps: _s, threads: _t, ...shared }) => shared)(TRAINING_CONFIG_SCHEMA.properties),
        // 0: the hw-profile's training section.
        step_budget_ms: { type: 'number', minimum: 0, maximum: 60000 }, max_steps_per_pass: { type: 'integer', minimum: 0, maximum: 1e7 },
        enabled: { type: 'boolean' }, dir: str,
        health: {
          type: 'object', additionalProperties: false,
          properties: {
            episodes: { type: 'integer', minimum: 1, maximum: 10000 }, max_success_drop: { type: 'number', minimum: 0, maximum: 1 },
            max_intervention_rise: { type: 'number', minimum: 0, maximum: 1 }, max_clamp_rise: { type: 'number', minimum: 0, maximum: 1 }, max_non_finite: { type: 'integer', minimum: 0 },
            max_task_intervention_rise: { type: 'number', minimum: 0, maximum: 1 }, min_task_episodes: { type: 'integer', minimum: 1, maximum: 10000 },
          },
        },
      },
    },
    joint_names: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
    camera_topics: { type: 'object', additionalProperties: topic },
    joint_states_topic: topic,
    instruction_topic: topic,
    command_topic: topic,
    teleop_topic: { type: 'string', pattern: '^$|^~?/?[A-Za-z_][A-Za-z0-9_/]*$' },
    camera_transport: { type: 'object', additionalProperties: { enum: ['raw', 'compressed'] } },
    ignored_joints: { type: 'array', items: { type: 'string', minLength: 1 } },
    joint_states_timeout_s: { type: 'number', exclusiveMinimum: 0, maximum: 600 },
  },
} as const;

export const validateParams = compileSchema<Partial<NodeParams>>(PARAMS_SCHEMA);

export const DEFAULT_PARAMS: NodeParams = {
  robot: 'sim',
  bundle: '',
  hw_profile: 'cpu',
  robot_description: '',
  mode: 'idle',
  autostart: true,
  join: 'rtc',
  output_mode: 'forward',
  replan_threshold: 0.2,
  denoising_steps: 0,
  noise_scale: 0,
  seed: 0,
  handover: { blend_s: 0.3, release_after_s: 1.0, operator_timeout_s: 0.25 },
  streams: {
    joint_states: { rate_hz: 0, max_age_s: 0.1 },
    cameras: { rate_hz: 0, max_age_s: 0.25 },
    teleop: { rate_hz: 0, max_age_s: 0.25 },
  },
  record: { dir: '', dataset: 'vlad_episodes', image_encoding: 'jpeg' },
  ops: { endpoint: 'tcp://127.0.0.1:5570', telemetry_endpoint: 'tcp://127.0.0.1:5571', curve: { secret_key_file: '', public_key_file: '', allowed_clients: [] } },
  teleop: { endpoint: 'tcp://127.0.0.1:5572' },
  metrics_port: 0,
  sim: { clock: 'realtime', physics_dt: 0.004, camera_hz: 30, variation: '' },
  serve: {
    gr00t: { enabled: false, endpoint: 'tcp://127.0.0.1:5555', api_token_file: '', allow_kill: false, modality_config: 'n16', video: {}, state: {}, action: {}, language: 'annotation.human.task_description', image_layout: 'auto', rate: { per_s: 200, burst: 50 }, request_timeout_s: 10 },
    openpi: { enabled: false, host: '127.0.0.1', port: 8000, api_key_file: '', tls: { cert_file: '', key_file: '' }, images: {}, state: [], prompt: 'prompt', image_layout: 'auto', rate: { per_s: 200, burst: 50 }, request_timeout_s: 10 },
  },
  ota: {
    dir: '', trusted_keys: [], threshold: 1, max_bundle_mb: 1024, keep: 2, warmup_runs: 5,
    health: { chunks: 50, seconds: 10, max_non_finite: 0, max_clamp_rise: 0.25, latency_budget_ms: 0, max_watchdog_events: 0 },
  },
  training: {
    enabled: true, dir: '', idle_after_s: 0, step_budget_ms: 0, max_steps_per_pass: 0,
    lr: 3e-4, warmup_steps: 10, seed: 0, weights: { intervention: 4, teleop: 2, policy: 1 }, pre_takeover_s: 1.0,
    replay_fraction: 0.3, window_stride: 1, holdout_every: 5, gate: { max_windows: 64, min_improvement: 0, max_regression: 0.05 },
    health: { episodes: 6, max_success_drop: 0.2, max_intervention_rise: 0.1, max_clamp_rise: 0.15, max_non_finite: 0, max_task_intervention_rise: 0.2, min_task_episodes: 2 },
  },
  joint_names: ['joint1', 'joint2', 'joint3', 'joint4', 'joint5', 'joint6', 'gripper'],
  camera_topics: { scene: '/cameras/scene/image_raw', wrist: '/cameras/wrist/image_raw' },
  joint_states_topic: '/joint_states',
  instruction_topic: '/vlad/instruction',
  command_topic: '/joint_trajectory_controller/joint_trajectory',
  teleop_topic: '',
  camera_transport: {},
  ignored_joints: [],
  joint_states_timeout_s: 5,
};

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Deep merge of parameter objects: later ones win field by field; arrays and scalars replace. */
export function mergeParams<T>(base: T, ...layers: readonly unknown[]): T {
  let out: unknown = structuredClone(base);
  for (const layer of layers) out = mergeOne(out, layer);
  return out as T;
}

function mergeOne(a: unknown, b: unknown): unknown {
  if (!isPlain(a) || !isPlain(b)) return b === undefined ? a : structuredClone(b);
  const out: Plain = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = k in a ? mergeOne(a[k], v) : structuredClone(v);
  return out;
}
