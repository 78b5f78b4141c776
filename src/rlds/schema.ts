// The recorder's feature schema, derived from the bundle I/O spec, and the per-step checks.
import { feat, type FeatureNode } from './features.js';
import { NAME_RE } from './info.js';

export interface RecorderIOSpec {
  cameras: CameraSpec[];
  stateDim: number;
  actionDim: number;
  stateNames?: string[];
  actionNames?: string[];
}
export type ImageEncoding = 'png' | 'jpeg';
// Step provenance is core's ControlMode (policy, teleop, intervention, hold, perturbation): a
// perturbation is an operator's deliberate error, recorded so learners see the recovery that
// follows (DART-style recovery data); learners must not imitate the perturbed actions themselves.
import { CONTROL_MODES, type CameraSpec, type ControlMode } from '../core/index.js';
export type { CameraSpec };
export { CONTROL_MODES, type ControlMode };

/** One control step as the caller hands it over. Buffers are copied; the caller may reuse them. */
export interface RecordStep {
  /** uint8 HWC RGB per camera name. */
  images: Readonly<Record<string, Uint8Array>>;
  state: Float32Array;
  action: Float32Array;
  /** Defaults to the episode's instruction. */
  instruction?: string;
  /** Defaults to 0, and on the last step to 1 if the episode is labelled a success. */
  reward?: number;
  /** Defaults to 1. */
  discount?: number;
  mode: ControlMode;
  modelVersion?: string;
  adapterVersion?: string;
  noiseSeed?: number | bigint;
  inferenceDelaySteps?: number;
  /** Monotonic capture time, ns. */
  stampNs?: bigint;
}

export interface EpisodeMeta {
  instruction: string;
  episodeId?: string;
  robot?: string;
  hwProfile?: string;
  startTime?: Date;
}

export class StepDataError extends Error {}

/**
 * Dataset names TFDS registers itself (OXE in robotics/rtx, and other robotics / well-known ones).
 * tfds.builder(name) would load the registered code instead of our files. Not exhaustive.
 */
const TFDS_REGISTERED = new Set(`fractal20220817_data kuka bridge taco_play jaco_play berkeley_cable_routing roboturk
nyu_door_opening_surprising_effectiveness viola berkeley_autolab_ur5 toto language_table columbia_cairlab_pusht_real
stanford_kuka_multimodal_dataset_converted_externally_to_rlds nyu_rot_dataset_converted_externally_to_rlds
stanford_hydra_dataset_converted_externally_to_rlds austin_buds_dataset_converted_externally_to_rlds
nyu_franka_play_dataset_converted_externally_to_rlds maniskill_dataset_converted_externally_to_rlds
furniture_bench_dataset_converted_externally_to_rlds cmu_franka_exploration_dataset_converted_externally_to_rlds
ucsd_kitchen_dataset_converted_externally_to_rlds ucsd_pick_and_place_dataset_converted_externally_to_rlds
austin_sailor_dataset_converted_externally_to_rlds austin_sirius_dataset_converted_externally_to_rlds bc_z
usc_cloth_sim_converted_externally_to_rlds utokyo_pr2_opening_fridge_converted_externally_to_rlds
utokyo_pr2_tabletop_manipulation_converted_externally_to_rlds utokyo_saytap_converted_externally_to_rlds
utokyo_xarm_pick_and_place_converted_externally_to_rlds utokyo_xarm_bimanual_converted_externally_to_rlds robo_net
berkeley_mvp_converted_externally_to_rlds berkeley_rpt_converted_externally_to_rlds kaist_nonprehensile_converted_externally_to_rlds
stanford_mask_vit_converted_externally_to_rlds tokyo_u_lsmo_converted_externally_to_rlds dlr_sara_pour_converted_externally_to_rlds
dlr_sara_grid_clamp_converted_externally_to_rlds dlr_edan_shared_control_converted_externally_to_rlds asu_table_top_converted_externally_to_rlds
stanford_robocook_converted_externally_to_rlds eth_agent_affordances imperialcollege_sawyer_wrist_cam
iamlab_cmu_pickup_insert_converted_externally_to_rlds uiuc_d3field utaustin_mutex berkeley_fanuc_manipulation
cmu_food_manipulation cmu_play_fusion cmu_stretch berkeley_gnm_recon berkeley_gnm_cory_hall berkeley_gnm_sac_son droid
aloha_mobile fmb dobbe io_ai_tech mimic_play plex_robosuite qut_dexterous_manpulation robot_vqa spoc tidybot
vima_converted_externally_to_rlds conq_hose_manipulation mt_opt robonet locomotion robosuite_panda_pick_place_can
d4rl_mujoco_halfcheetah d4rl_adroit_door rlu_atari rlu_control_suite mnist cifar10 cifar100 imagenet2012 coco
example_dataset`.split(/\s+/));

export function checkDatasetName(name: string): void {
  if (!NAME_RE.test(name)) throw new StepDataError(`dataset name '${name}' is not a TFDS name ([a-zA-Z][a-zA-Z0-9_]*)`);
  if (TFDS_REGISTERED.has(name)) throw new StepDataError(`dataset name '${name}' is registered by TFDS itself; tfds.builder would load TFDS's code, not these files. Pick another name`);
}

export function checkIOSpec(spec: RecorderIOSpec): void {
  const where = 'recorder spec';
  if (!Array.isArray(spec.cameras)) throw new StepDataError(`${where}: cameras must be a list`);
  const names = new Set<string>();
  for (const [i, c] of spec.cameras.entries()) {
    if (!NAME_RE.test(c.name ?? '')) throw new StepDataError(`${where}: cameras[${i}].name '${c.name}' must match [a-zA-Z][a-zA-Z0-9_]*`);
    if (c.name === 'state' || names.has(c.name)) throw new StepDataError(`${where}: camera name '${c.name}' is taken`);
    names.add(c.name);
    for (const k of ['height', 'width'] as const) {
      if (!Number.isInteger(c[k]) || c[k] <= 0 || c[k] > 16384) throw new StepDataError(`${where}: cameras[${i}].${k} must be a positive integer`);
    }
    // OpenVLA/Octo decode without a channel count: anything but RGB breaks them (spec §2.3).
    if (c.channels !== 3) throw new StepDataError(`${where}: cameras[${i}].channels is ${c.channels}; RLDS consumers need 3 (RGB)`);
  }
  for (const k of ['stateDim', 'actionDim'] as const) {
    if (!Number.isInteger(spec[k]) || spec[k] <= 0) throw new StepDataError(`${where}: ${k} must be a positive integer`);
  }
  if (spec.stateNames && spec.stateNames.length !== spec.stateDim) throw new StepDataError(`${where}: stateNames has ${spec.stateNames.length} names for stateDim ${spec.stateDim}`);
  if (spec.actionNames && spec.actionNames.length !== spec.actionDim) throw new StepDataError(`${where}: actionNames has ${spec.actionNames.length} names for actionDim ${spec.actionDim}`);
}

export function buildFeatures(spec: RecorderIOSpec, encoding: ImageEncoding): FeatureNode {
  const observation: Record<string, FeatureNode> = {};
  for (const c of spec.cameras) observation[c.name] = feat.image(c.height, c.width, 3, encoding, `Camera ${c.name}, RGB.`);
  observation.state = feat.tensor('float32', [spec.stateDim], spec.stateNames ? `Robot state: [${spec.stateNames.join(', ')}].` : 'Robot state.');
  return feat.dict({
    steps: feat.steps({
      observation: feat.dict(observation),
      action: feat.tensor('float32', [spec.actionDim], spec.actionNames ? `Executed action: [${spec.actionNames.join(', ')}].` : 'Executed action.'),
      language_instruction: feat.text('Language instruction.'),
      reward: feat.scalar('float32', 'Reward; 1 on the last step of a successful demonstration.'),
      discount: feat.scalar('float32', 'Discount, 1.0.'),
      is_first: feat.tensor('bool', []),
      is_last: feat.tensor('bool', []),
      is_terminal: feat.tensor('bool', [], 'True on the last step unless the episode was truncated.'),
      provenance: feat.dict({
        control_mode: feat.text('Who produced the action: policy, teleop, intervention, or perturbation (a deliberate error before a recovery; not to be imitated).'),
        model_version: feat.text('Policy model version, empty for teleop.'),
        adapter_version: feat.text('LoRA adapter version, empty if none.'),
        noise_seed: feat.scalar('int64', 'Noise seed of the sampled action chunk.'),
        inference_delay_steps: feat.scalar('int32', 'Control steps that elapsed while the chunk was computed.'),
        timestamp_ns: feat.scalar('int64', 'Monotonic capture time of the observation, ns.'),
      }),
    }),
    episode_metadata: feat.dict({
      episode_id: feat.text('Unique episode id.'),
      success: feat.scalar('bool', 'Operator-given success label.'),
      truncated: feat.scalar('bool', 'True if the episode was cut short (abort, crash recovery).'),
      start_time: feat.text('Episode start, ISO 8601 UTC.'),
      robot: feat.text('Robot name.'),
      hw_profile: feat.text('Hardware profile.'),
      dropped_steps: feat.scalar('int32', 'Steps dropped because the recorder queue was full.'),
    }),
  });
}

function isFiniteArray(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return false;
  return true;
}

/** Cheap synchronous checks (sizes, NaN/Inf) done on the caller's thread before queueing. */
export function checkStep(spec: RecorderIOSpec, step: RecordStep): void {
  if (typeof step !== 'object' || step === null) throw new StepDataError('step must be an object');
  for (const c of spec.cameras) {
    const img = step.images?.[c.name];
    if (!(img instanceof Uint8Array)) throw new StepDataError(`step.images.${c.name}: missing (expected Uint8Array ${c.height}x${c.width}x3)`);
    if (img.byteLength !== c.height * c.width * 3) throw new StepDataError(`step.images.${c.name}: ${img.byteLength} bytes, expected ${c.height}x${c.width}x3 = ${c.height * c.width * 3}`);
  }
  for (const [k, dim] of [['state', spec.stateDim], ['action', spec.actionDim]] as const) {
    const v = step[k];
    if (!(v instanceof Float32Array)) throw new StepDataError(`step.${k}: expected Float32Array[${dim}]`);
    if (v.length !== dim) throw new StepDataError(`step.${k}: length ${v.length}, expected ${dim}`);
    if (!isFiniteArray(v)) throw new StepDataError(`step.${k}: contains NaN or Infinity`);
  }
  for (const k of ['reward', 'discount'] as const) {
    if (step[k] !== undefined && !Number.isFinite(step[k])) throw new StepDataError(`step.${k}: must be a finite number`);
  }
  if (!CONTROL_MODES.includes(step.mode)) throw new StepDataError(`step.mode: '${String(step.mode)}' is not one of ${CONTROL_MODES.join(', ')}`);
  if (step.inferenceDelaySteps !== undefined && !Number.isInteger(step.inferenceDelaySteps)) throw new StepDataError('step.inferenceDelaySteps: must be an integer');
  if (typeof step.noiseSeed === 'number' && !Number.isSafeInteger(step.noiseSeed)) throw new StepDataError('step.noiseSeed: must be an integer');
  if (step.instruction !== undefined && typeof step.instruction !== 'string') throw new StepDataError('step.instruction: must be a string');
}

/** The bundle manifest's `io` block (models/BUNDLE_FORMAT.md), snake_case as written there. */
export interface BundleIO {
  cameras: CameraSpec[];
  state_dim: number;
  action_dim: number;
  state_names?: string[];
  action_names?: string[];
}

export function recorderSpecFromBundleIO(io: BundleIO): RecorderIOSpec {
  const spec: RecorderIOSpec = { cameras: io.cameras.map((c) => ({ ...c })), stateDim: io.state_dim, actionDim: io.action_dim };
  if (io.state_names) spec.stateNames = [...io.state_names];
  if (io.action_names) spec.actionNames = [...io.action_names];
  checkIOSpec(spec);
  return spec;
}
