// Why an incoming ROS message was refused. The driver counts every refusal per topic and reason
// (counters.ts) and drops the message: a bad message never throws past its subscription callback
// and never changes what the robot sees.

export const ROS_INPUT_REASONS = ['encoding', 'size', 'decode', 'nan', 'unknown_joint', 'missing_joint', 'length', 'stale', 'timing', 'internal'] as const;
/**
 * encoding: an image encoding or compressed format we do not read; size: zero, too large, or data
 * shorter than its declared size; decode: compressed bytes that do not decode; nan: a non-finite
 * joint position; unknown_joint / missing_joint: joint names that do not match the configured ones;
 * length: arrays of one message that disagree in length; stale: a header stamp older than allowed
 * (or a trajectory that ends in the past); timing: trajectory times that do not strictly increase;
 * internal: a converter bug (anything that is not a RosInputError), counted rather than thrown.
 */
export type RosInputReason = (typeof ROS_INPUT_REASONS)[number];

export class RosInputError extends Error {
  constructor(readonly reason: RosInputReason, message: string) {
    super(message);
    this.name = 'RosInputError';
  }
}

/** Configuration that cannot work with this robot (joint names, topics): refused at configure. */
export class RosConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RosConfigError';
  }
}
