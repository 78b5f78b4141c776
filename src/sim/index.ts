// The simulated robot: a MuJoCo (WASM) table-top scene as a robot driver. SimWorkerRobot runs
// it in its own thread (lockstep or realtime), SimRobot on the caller's thread (lockstep); both
// host the same SimArm. The scripted operator beside it is a teleop device with privileged sight:
// it drives (teleop) or supervises the policy and takes over (intervention). A Variation changes
// the world (workspace, scene camera, objects, light).
export { SimArm, SETTLE_TICKS, TASK_DT_S, DIM, type OperatorRole, type SceneOptions, type SceneInfo, type SceneReport, type PlaceEnd, type OperatorCommand } from './arm.js';
export { expertChunk, expertStride, type SimDriver, type OperatorSample, type ExpertPlanner } from './driver.js';
export { SimRobot, type SimRobotOptions } from './robot.js';
export { SimWorkerRobot, type SimWorkerOptions } from './worker-robot.js';
export { SimWorld, CONTROL_DT } from './world.js';
export { Renderer, type RenderOptions } from './render.js';
export { TASK_NAMES, workspaceOf, sampleTask, isSuccess, isTaskName, swapTargetColour, padOffset, MAX_STEPS, type TaskName, type TaskInstance, type ObjectPlacement } from './tasks.js';
export { ScriptedExpert, type ExpertOptions } from './expert.js';
export { encodeGif, writeGif } from './gif.js';
export { solveTopDownIk, forwardGraspPoint, type ToolPose } from './kinematics.js';
export { Rng, deriveSeed } from './rng.js';
export { JtcSampler, trajectoryBuffer, type TrajectoryBuffer } from './jtc.js';
export { STATE_NAMES, JOINT_NAMES, JOINT_LIMITS, GRIPPER_LIMITS, VELOCITY_LIMITS, PAD_HALF, PAD_COLORS } from './scene.js';
export * as scene from './scene.js';
export { parseVariation, checkVariation, formatVariation, variationHelp, VARIATION_KEYS, NO_VARIATION, VariationError, type Variation, type VariationKey } from './variation.js';
export { Supervisor, SUPERVISION, TAKEOVER_REASONS, type Takeover, type TakeoverReason, type SupervisionLimits } from './supervisor.js';
