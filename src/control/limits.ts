// Robot description for the safety envelope (hw-profiles/robots/*.yaml): per-joint position, velocity,
// acceleration limits and an optional per-tick step. Validated like hw-profiles: unknown keys and
// bad values are errors naming the file and the field.
import { compileSchema, ConfigError, readYamlFile, validateConfig } from '../core/index.js';

export interface JointLimits {
  name: string;
  position: { min: number; max: number };
  /** |v| bound, units/s. */
  velocity: number;
  /** |a| bound, units/s^2; also the watchdog's braking deceleration. */
  acceleration: number;
  /** Hard-stop deceleration, units/s^2 (>= acceleration). Default: acceleration. */
  emergency_deceleration?: number;
  /** Largest position change in one control tick (a rate-independent jump guard). */
  max_step?: number;
}

export interface RobotDescription {
  name: string;
  description?: string;
  joints: JointLimits[];
}

const positive = { type: 'number', exclusiveMinimum: 0 } as const;
const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'joints'],
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9-]+$' },
    description: { type: 'string' },
    joints: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'position', 'velocity', 'acceleration'],
        properties: {
          name: { type: 'string', minLength: 1 },
          position: {
            type: 'object',
            additionalProperties: false,
            required: ['min', 'max'],
            properties: { min: { type: 'number' }, max: { type: 'number' } },
          },
          velocity: positive,
          acceleration: positive,
          emergency_deceleration: positive,
          max_step: positive,
        },
      },
    },
  },
} as const;

const validate = compileSchema<RobotDescription>(SCHEMA);

export class RobotDescriptionError extends ConfigError {
  constructor(file: string, field: string, message: string) {
    super(file, field, message);
    this.name = 'RobotDescriptionError';
  }
}

const descriptionError = (file: string, field: string, message: string) => new RobotDescriptionError(file, field, message);

/** Validates a parsed object (YAML or JSON) as a robot description. */
export function parseRobotDescription(raw: unknown, file: string): RobotDescription {
  const desc = validateConfig(validate, raw, file, descriptionError);
  const seen = new Set<string>();
  desc.joints.forEach((j, i) => {
    const at = `joints.${i}`;
    if (seen.has(j.name)) throw new RobotDescriptionError(file, `${at}.name`, `joint '${j.name}' listed twice`);
    seen.add(j.name);
    if (!(j.position.min < j.position.max)) throw new RobotDescriptionError(file, `${at}.position`, `min (${j.position.min}) must be below max (${j.position.max})`);
    if (j.emergency_deceleration !== undefined && j.emergency_deceleration < j.acceleration) {
      throw new RobotDescriptionError(file, `${at}.emergency_deceleration`, `must be >= acceleration (${j.acceleration})`);
    }
  });
  return desc;
}

export async function loadRobotDescription(path: string): Promise<RobotDescription> {
  return parseRobotDescription(await readYamlFile(path, 'robot description', descriptionError), path);
}
