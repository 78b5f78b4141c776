// One validated configuration for the daemon: the node parameters (a ROS 2 params file, merged over
// the declared defaults, then command-line overrides), the hw-profile, the bundle directory and
// the robot description. Every error names the file and the field.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, packagePath, readYamlFile, shippedBundlePath, validateConfig } from '../core/index.js';
import { loadProfile, type HwProfile } from '../hw/index.js';
import { loadRobotDescription, type RobotDescription } from '../control/index.js';
import { parseVariation } from '../sim/index.js';
import { DEFAULT_PARAMS, mergeParams, validateParams, type NodeParams } from './params.js';

export interface DaemonConfig {
  params: NodeParams;
  /** Where the parameters came from (for status and errors). */
  paramsFile: string | undefined;
  profile: HwProfile;
  bundleDir: string;
  robotDescription: RobotDescription;
  robotDescriptionFile: string;
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** Deep-partial overrides (command-line flags, tests): merged over the params field by field. */
export type ParamOverrides = DeepPartial<NodeParams>;

export const NODE_NAME = 'vlad';

/**
 * The `ros__parameters` of this node in a ROS 2 params file: the `/**` wildcard block first, then
 * the node's own (`vlad`, `/vlad` or `/<ns>/vlad`). Returns the parameters and the dotted path they
 * were found at (for error messages).
 */
export function nodeParamsFromFile(raw: unknown, file: string, node = NODE_NAME): { params: Record<string, unknown>; at: string }[] {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(file, '(root)', 'expected a ROS 2 parameters file: a map of node names to { ros__parameters: ... }');
  const found: { params: Record<string, unknown>; at: string }[] = [];
  const entries = Object.entries(raw as Record<string, unknown>);
  const matches = (key: string) => key === '/**' || key === node || key === `/${node}` || key.endsWith(`/${node}`);
  for (const [key, value] of [...entries.filter(([k]) => k === '/**'), ...entries.filter(([k]) => k !== '/**')]) {
    if (!matches(key)) continue;
    const block = value as { ros__parameters?: unknown } | null;
    if (typeof block !== 'object' || block === null || !('ros__parameters' in block)) throw new ConfigError(file, key, 'expected { ros__parameters: { ... } }');
    const p = block.ros__parameters;
    if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new ConfigError(file, `${key}.ros__parameters`, 'expected a map of parameters');
    found.push({ params: p as Record<string, unknown>, at: `${key}.ros__parameters` });
  }
  if (found.length === 0) throw new ConfigError(file, '(root)', `no parameters for node '${node}' (expected a '${node}:' or '/**:' block with ros__parameters)`);
  return found;
}

/** Validates one parameter layer; errors name the file and the dotted field. */
function checkLayer(layer: unknown, file: string, at: string): void {
  validateConfig(validateParams, layer, file, (f, field, message) => new ConfigError(f, field === '(root)' ? at : `${at}.${field}`, message));
  // the variation's own grammar (keys, numbers, ranges) beyond "a string"
  const variation = (layer as { sim?: { variation?: string } }).sim?.variation;
  if (variation !== undefined) {
    try { parseVariation(variation); } catch (err) { throw new ConfigError(file, `${at}.sim.variation`, (err as Error).message); }
  }
}

export interface LoadOptions {
  paramsFile?: string;
  overrides?: ParamOverrides;
}

export async function loadDaemonConfig(opts: LoadOptions = {}): Promise<DaemonConfig> {
  const layers: unknown[] = [];
  const paramsFile = opts.paramsFile ? resolve(opts.paramsFile) : undefined;
  if (paramsFile) {
    const raw = await readYamlFile(paramsFile, 'parameters file');
    for (const { params, at } of nodeParamsFromFile(raw, paramsFile)) {
      checkLayer(params, paramsFile, at);
      layers.push(params);
    }
  }
  if (opts.overrides) {
    checkLayer(opts.overrides, '(command line)', 'flags');
    layers.push(opts.overrides);
  }
  const params = mergeParams(DEFAULT_PARAMS, ...layers);
  // A bad value given as a flag is the command line's fault; one from the file is the file's.
  const where = (field: 'bundle' | 'robot_description' | 'robot') => (opts.overrides?.[field] !== undefined || !paramsFile ? '(command line)' : paramsFile);
  const profile = await loadProfile(params.hw_profile);
  const bundleDir = params.bundle ? resolve(params.bundle) : shippedBundlePath();
  if (!existsSync(resolve(bundleDir, 'manifest.json'))) throw new ConfigError(where('bundle'), 'bundle', `no bundle at ${bundleDir} (manifest.json missing)`);
  let robotDescriptionFile = params.robot_description;
  if (!robotDescriptionFile) {
    if (params.robot !== 'sim') throw new ConfigError(where('robot'), 'robot_description', `required for robot '${params.robot}' (the safety envelope: hw-profiles/robots/*.yaml)`);
    robotDescriptionFile = packagePath('hw-profiles', 'robots', 'vlad-sim-arm.yaml');
  } else if (!/[/\\]/.test(robotDescriptionFile) && !robotDescriptionFile.endsWith('.yaml')) {
    robotDescriptionFile = packagePath('hw-profiles', 'robots', `${robotDescriptionFile}.yaml`);
  }
  const robotDescription = await loadRobotDescription(resolve(robotDescriptionFile));
  return { params, paramsFile, profile, bundleDir, robotDescription, robotDescriptionFile: resolve(robotDescriptionFile) };
}
