// io/ros: the ROS 2 robot driver's ROS-free half (message shapes, message <-> observation and
// command conversion, parameters, counters, diagnostics), tested without rclnodejs or any double.
// The rclnodejs glue imports these and nothing of control/, daemon/ or cli/.
export { ROS_INPUT_REASONS, RosInputError, RosConfigError, type RosInputReason } from './errors.js';
export {
  MSG, DiagnosticLevel, ZERO_TIME, nsToTime, timeToNs, secondsToDuration, durationToSeconds, isZeroTime, checkFresh,
  type Time, type Duration, type Header, type ImageMsg, type CompressedImageMsg, type JointStateMsg, type JointTrajectoryMsg,
  type JointTrajectoryPointMsg, type MultiArrayDimension, type Float64MultiArrayMsg, type StringMsg, type KeyValue,
  type DiagnosticStatusMsg, type DiagnosticArrayMsg, type Float64Seq, type Uint8Seq,
} from './messages.js';
export { rawToRgb, resizeRgb, imageToCamera, compressedToCamera, compressedCodec, RAW_ENCODINGS_READ, MAX_IMAGE_SIDE, type RawEncoding, type CompressedCodec } from './image.js';
export { JointStateMapper, checkJointNames, sourceJoints, type JointMapOptions } from './joints.js';
export { trajectoryMessage, chunkTrajectory, forwardCommandMessage, type TrajectoryMessageOptions, type ChunkInput } from './trajectory.js';
export { jointStateMessage, rgbImageMessage, jpegImageMessage, trajectoryFromMessage, forwardCommandPositions, type TrajectoryClocks } from './arm-messages.js';
export { InputCounters, type TopicCounts } from './counters.js';
export {
  diagnosticArray, controlStatus, plannerStatus, recorderStatus, streamStatuses, topicStatuses, DEFAULT_THRESHOLDS,
  type DiagnosticsInput, type DiagnosticThresholds, type DistributionMs,
} from './diagnostics.js';
export {
  ParameterType, RUNTIME_PARAMS, paramTable, toRosValue, fromRosValue, unflattenParams,
  type ParamSchema, type ParamRange, type ParamDescriptor, type ParamTable, type RuntimeChange,
} from './params.js';
// The rclnodejs glue: the slice of rclnodejs used (and its loader), the driver, the node, and the
// simulated arm's ros2_control face (vlad sim-ros).
export { loadRclnodejs, RosNotSourcedError, ROS_ENV_VARS, CallbackReturnCode, type Rcl, type RclNode, type RclLifecycleNode, type RclPublisher, type RclLifecyclePublisher, type RclSubscription, type RclService, type RclServiceResponse, type RclTimer, type RclTime, type RclParameter, type RclParameterDescriptor, type RclRange, type RclOptions, type RclState, type RclCallbackReturnValue, type SetParametersResult } from './rclnodejs.js';
export { STATE, TRANSITION, TRANSITIONING, availableTransitions, requestedTransition, stateMsg, type PrimaryState, type StateLabel, type TransitionLabel, type StateMsg, type TransitionMsg, type TransitionDescriptionMsg } from './lifecycle.js';
export { RosRobot, type RosRobotOptions, type RosTopics, type RosOperatorCommand } from './driver.js';
export { RosLifecycleNode, type RosNodeOptions, type LifecycleTarget, type NodeService, type ServiceResult } from './node.js';
export { RosSimArm, SIM_ARM_TOPICS, cameraTopic, type RosSimArmOptions } from './sim-arm-node.js';
