// ROS 2 parameters from the daemon's one JSON schema of node parameters (daemon/params.ts; passed
// in, since this floor is below daemon/). Nested objects are flattened with dots, as a ROS params
// file writes them (`ota.health.chunks`); JSON types map to rcl_interfaces ParameterType; minimum /
// maximum become integer_range / floating_point_range; everything is read-only except the few
// parameters the daemon can change while it runs (RUNTIME_PARAMS). The descriptors are plain data:
// the driver's ROS-facing file turns them into rclnodejs Parameter / ParameterDescriptor objects.

/** rcl_interfaces/msg/ParameterType (rclnodejs ParameterType). */
export const ParameterType = {
  PARAMETER_NOT_SET: 0, PARAMETER_BOOL: 1, PARAMETER_INTEGER: 2, PARAMETER_DOUBLE: 3, PARAMETER_STRING: 4,
  PARAMETER_BYTE_ARRAY: 5, PARAMETER_BOOL_ARRAY: 6, PARAMETER_INTEGER_ARRAY: 7, PARAMETER_DOUBLE_ARRAY: 8, PARAMETER_STRING_ARRAY: 9,
} as const;
export type ParameterType = (typeof ParameterType)[keyof typeof ParameterType];

/** The JSON schema subset the node parameters use. */
export interface ParamSchema {
  readonly type?: string;
  readonly enum?: readonly unknown[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
  readonly pattern?: string;
  readonly minLength?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly items?: ParamSchema;
  readonly properties?: Readonly<Record<string, ParamSchema>>;
  readonly additionalProperties?: boolean | ParamSchema;
}

/** rclnodejs Range: inclusive bounds; step 0 = any value between (rclnodejs defaults step to 1). */
export interface ParamRange { readonly fromValue: number; readonly toValue: number; readonly step: number }

export interface ParamDescriptor {
  /** Dotted name: `ota.health.chunks`. */
  readonly name: string;
  readonly type: ParameterType;
  readonly description: string;
  /** What ROS does not check itself (enums, patterns, exclusive bounds): the daemon's schema does. */
  readonly additionalConstraints: string;
  readonly readOnly: boolean;
  readonly integerRange?: ParamRange;
  readonly floatingPointRange?: ParamRange;
  /** Its value now (the params file merged over the defaults). */
  readonly value: unknown;
}

/** Parameters the running daemon applies without a restart: who commands, how chunks join, and the denoising steps of the next plan. */
export const RUNTIME_PARAMS: readonly string[] = ['mode', 'join', 'denoising_steps'];

export type RuntimeChange = { readonly accepted: true; readonly value: unknown } | { readonly accepted: false; readonly reason: string };

export interface ParamTable {
  readonly descriptors: readonly ParamDescriptor[];
  /** Schema paths that have no ROS parameter form (say, an array of arrays), with why. */
  readonly skipped: readonly string[];
  /** Whether a `ros2 param set` of `name` to `value` may go ahead now, with the value in JSON form. */
  runtimeChange(name: string, value: unknown): RuntimeChange;
}

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

function scalarType(s: ParamSchema): 'boolean' | 'integer' | 'number' | 'string' | undefined {
  if (s.type === 'boolean' || s.type === 'integer' || s.type === 'number' || s.type === 'string') return s.type;
  if (s.enum && s.enum.length > 0) {
    if (s.enum.every((e) => typeof e === 'string')) return 'string';
    if (s.enum.every((e) => typeof e === 'boolean')) return 'boolean';
    if (s.enum.every((e) => Number.isInteger(e))) return 'integer';
    if (s.enum.every((e) => typeof e === 'number')) return 'number';
  }
  return undefined;
}

const SCALAR: Record<string, ParameterType> = { boolean: ParameterType.PARAMETER_BOOL, integer: ParameterType.PARAMETER_INTEGER, number: ParameterType.PARAMETER_DOUBLE, string: ParameterType.PARAMETER_STRING };
const ARRAY: Record<string, ParameterType> = { boolean: ParameterType.PARAMETER_BOOL_ARRAY, integer: ParameterType.PARAMETER_INTEGER_ARRAY, number: ParameterType.PARAMETER_DOUBLE_ARRAY, string: ParameterType.PARAMETER_STRING_ARRAY };

function constraints(s: ParamSchema): string {
  const c: string[] = [];
  if (s.enum) c.push(`one of: ${s.enum.join(', ')}`);
  if (s.exclusiveMinimum !== undefined) c.push(`> ${s.exclusiveMinimum}`);
  if (s.exclusiveMaximum !== undefined) c.push(`< ${s.exclusiveMaximum}`);
  if (s.pattern) c.push(`matches /${s.pattern}/`);
  if (s.minLength) c.push(`at least ${s.minLength} characters`);
  return c.join('; ');
}

function range(s: ParamSchema, integer: boolean): ParamRange | undefined {
  const lo = s.minimum ?? s.exclusiveMinimum;
  const hi = s.maximum ?? s.exclusiveMaximum;
  if (lo === undefined && hi === undefined) return undefined;
  // ROS ranges are inclusive; an exclusive bound is kept as the bound and named in additional_constraints.
  const big = integer ? Number.MAX_SAFE_INTEGER : Number.MAX_VALUE;
  return { fromValue: lo ?? -big, toValue: hi ?? big, step: integer ? 1 : 0 };
}

/**
 * The node's parameters as ROS descriptors: one per leaf of `schema`, valued from `values` (the
 * validated parameters). Objects with fixed properties recurse; objects with free keys (maps such
 * as `camera_topics`) give one parameter per key present in `values`.
 */
export function paramTable(schema: ParamSchema, values: unknown, runtime: readonly string[] = RUNTIME_PARAMS): ParamTable {
  const descriptors: ParamDescriptor[] = [];
  const skipped: string[] = [];
  const leaves = new Map<string, ParamSchema>();

  const walk = (s: ParamSchema, v: unknown, path: string): void => {
    if (s.type === 'object' || s.properties || s.additionalProperties !== undefined) {
      const obj = isPlain(v) ? v : {};
      for (const [k, sub] of Object.entries(s.properties ?? {})) walk(sub, obj[k], path ? `${path}.${k}` : k);
      if (isPlain(s.additionalProperties)) {
        for (const k of Object.keys(obj)) if (!s.properties?.[k]) walk(s.additionalProperties, obj[k], path ? `${path}.${k}` : k);
      }
      return;
    }
    if (v === undefined) { skipped.push(`${path}: no value`); return; }
    const readOnly = !runtime.includes(path);
    const st = scalarType(s);
    if (st) {
      const r = st === 'integer' || st === 'number' ? range(s, st === 'integer') : undefined;
      leaves.set(path, s);
      descriptors.push({
        name: path, type: SCALAR[st]!, description: path, additionalConstraints: constraints(s), readOnly, value: v,
        ...(r && st === 'integer' ? { integerRange: r } : {}), ...(r && st === 'number' ? { floatingPointRange: r } : {}),
      });
      return;
    }
    const it = s.type === 'array' && s.items ? scalarType(s.items) : undefined;
    if (it) {
      leaves.set(path, s);
      const c = [constraints(s.items!), s.minItems ? `at least ${s.minItems} items` : '', s.maxItems !== undefined ? `at most ${s.maxItems} items` : ''].filter(Boolean).join('; ');
      descriptors.push({ name: path, type: ARRAY[it]!, description: path, additionalConstraints: c, readOnly, value: v });
      return;
    }
    skipped.push(`${path}: no ROS parameter type for this schema`);
  };
  walk(schema, values, '');

  const runtimeChange = (name: string, value: unknown): RuntimeChange => {
    const s = leaves.get(name);
    if (!s) return { accepted: false, reason: `'${name}' is not a parameter of this node` };
    if (!runtime.includes(name)) return { accepted: false, reason: `'${name}' is read at configure: set it in the params file and restart (run-time changes: ${runtime.join(', ')})` };
    const problem = checkValue(s, fromRosValue(value), name);
    return problem ? { accepted: false, reason: problem } : { accepted: true, value: fromRosValue(value) };
  };
  return { descriptors, skipped, runtimeChange };
}

/** Why `v` does not fit the leaf schema `s`, or undefined. */
function checkValue(s: ParamSchema, v: unknown, name: string): string | undefined {
  const t = scalarType(s);
  if (t) {
    const ok = t === 'string' ? typeof v === 'string' : t === 'boolean' ? typeof v === 'boolean' : t === 'integer' ? Number.isInteger(v) : typeof v === 'number' && Number.isFinite(v);
    if (!ok) return `'${name}' must be ${t === 'integer' ? 'an integer' : `a ${t}`}, got ${JSON.stringify(v)}`;
    if (s.enum && !s.enum.includes(v)) return `'${name}' must be one of ${s.enum.join(', ')}, got ${JSON.stringify(v)}`;
    if (typeof v === 'number') {
      if (s.minimum !== undefined && v < s.minimum) return `'${name}' must be >= ${s.minimum}, got ${v}`;
      if (s.maximum !== undefined && v > s.maximum) return `'${name}' must be <= ${s.maximum}, got ${v}`;
      if (s.exclusiveMinimum !== undefined && v <= s.exclusiveMinimum) return `'${name}' must be > ${s.exclusiveMinimum}, got ${v}`;
      if (s.exclusiveMaximum !== undefined && v >= s.exclusiveMaximum) return `'${name}' must be < ${s.exclusiveMaximum}, got ${v}`;
    }
    if (typeof v === 'string' && s.pattern && !new RegExp(s.pattern).test(v)) return `'${name}' must match /${s.pattern}/`;
    return undefined;
  }
  if (!Array.isArray(v)) return `'${name}' must be an array`;
  for (const x of v) { const p = checkValue(s.items!, x, name); if (p) return p; }
  return undefined;
}

/** A value as rclnodejs wants it for `type`: integers as bigint (scalars and arrays), the rest as is. */
export function toRosValue(type: ParameterType, value: unknown): unknown {
  if (type === ParameterType.PARAMETER_INTEGER) return BigInt(value as number);
  if (type === ParameterType.PARAMETER_INTEGER_ARRAY) return (value as number[]).map((x) => BigInt(x));
  return value;
}

/** A value rclnodejs handed back (bigint integers, typed arrays) in JSON form. */
export function fromRosValue(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number | bigint>, (x) => (typeof x === 'bigint' ? Number(x) : x));
  if (Array.isArray(value)) return value.map((x) => (typeof x === 'bigint' ? Number(x) : x));
  return value;
}

/** Flat dotted parameters (as ROS hands them over) back to the nested form the schema validates. */
export function unflattenParams(flat: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Plain = {};
  for (const [name, v] of Object.entries(flat)) {
    const parts = name.split('.');
    let o = out;
    for (const p of parts.slice(0, -1)) { if (!isPlain(o[p])) o[p] = {}; o = o[p] as Plain; }
    o[parts[parts.length - 1]!] = fromRosValue(v);
  }
  return out;
}
