// World variations: a shifted workspace, a moved scene camera, bigger or slipperier objects,
// dimmer light. One spec grammar everywhere (`--variation KEY=VALUE[,KEY=VALUE...]`, the params
// file's `sim.variation`), one table of keys with units and sane ranges, and a `Variation` with
// every key filled (the defaults are the original world, so an empty spec changes nothing).

export interface VariationKeySpec {
  /** The original world's value. */
  readonly neutral: number;
  readonly min: number;
  readonly max: number;
  readonly unit: string;
  readonly doc: string;
}

export const VARIATION_KEYS = {
  'workspace.dx': { neutral: 0, min: -0.08, max: 0.08, unit: 'm', doc: 'moves every object\'s sampling area (objects and pads) along x, away from the robot' },
  'workspace.dy': { neutral: 0, min: -0.08, max: 0.08, unit: 'm', doc: 'moves every object\'s sampling area along y (to the robot\'s left)' },
  'camera.scene.dx': { neutral: 0, min: -0.2, max: 0.2, unit: 'm', doc: 'moves the scene camera to its right (sideways in its image)' },
  'camera.scene.dy': { neutral: 0, min: -0.2, max: 0.2, unit: 'm', doc: 'moves the scene camera up (in its image)' },
  'camera.scene.dz': { neutral: 0, min: -0.2, max: 0.2, unit: 'm', doc: 'moves the scene camera back, away from what it looks at' },
  'camera.scene.yaw': { neutral: 0, min: -30, max: 30, unit: 'deg', doc: 'turns the scene camera left about the vertical' },
  'camera.scene.pitch': { neutral: 0, min: -30, max: 30, unit: 'deg', doc: 'tilts the scene camera up' },
  'object.scale': { neutral: 1, min: 0.6, max: 1.5, unit: 'x', doc: 'size of the manipulated objects (cubes and balls)' },
  'object.friction': { neutral: 1, min: 0.2, max: 3, unit: 'x', doc: 'sliding friction of every contact of the manipulated objects' },
  'light.gain': { neutral: 1, min: 0.2, max: 3, unit: 'x', doc: 'brightness of the scene light (and the room behind it)' },
} as const satisfies Record<string, VariationKeySpec>;

export type VariationKey = keyof typeof VARIATION_KEYS;
/** Every key with its value; NO_VARIATION is the original world. */
export type Variation = Readonly<Record<VariationKey, number>>;

export const NO_VARIATION: Variation = Object.fromEntries(Object.entries(VARIATION_KEYS).map(([k, s]) => [k, s.neutral])) as Variation;

export class VariationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VariationError';
  }
}

const isKey = (k: string): k is VariationKey => Object.hasOwn(VARIATION_KEYS, k);

/**
 * Parses `KEY=VALUE[,KEY=VALUE...]` (an empty spec is the original world). Errors name the
 * offending item: an unknown key (with the known ones), a value that is not a number, one out of
 * its range, a key given twice.
 */
export function parseVariation(spec: string): Variation {
  const out: Record<string, number> = { ...NO_VARIATION };
  const seen = new Set<string>();
  const trimmed = spec.trim();
  if (trimmed === '') return NO_VARIATION;
  for (const item of trimmed.split(',')) {
    const eq = item.indexOf('=');
    if (eq < 0) throw new VariationError(`'${item.trim()}' is not KEY=VALUE`);
    const key = item.slice(0, eq).trim(), raw = item.slice(eq + 1).trim();
    if (!isKey(key)) throw new VariationError(`unknown key '${key}' (known: ${Object.keys(VARIATION_KEYS).join(', ')})`);
    if (seen.has(key)) throw new VariationError(`'${key}' is given twice`);
    seen.add(key);
    const value = Number(raw);
    if (raw === '' || !Number.isFinite(value)) throw new VariationError(`${key}: '${raw}' is not a number`);
    const s = VARIATION_KEYS[key];
    if (value < s.min || value > s.max) throw new VariationError(`${key}: ${value} ${s.unit} is out of range [${s.min}, ${s.max}] ${s.unit}`);
    out[key] = value;
  }
  return out as Variation;
}

/** Checks a Variation that arrived as data (a worker message, a params object): every key known, in range. */
export function checkVariation(v: Partial<Record<string, number>>): Variation {
  return parseVariation(Object.entries(v).filter(([k, x]) => !(isKey(k) && x === VARIATION_KEYS[k].neutral)).map(([k, x]) => `${k}=${x}`).join(','));
}

/** The spec of the keys that differ from the original world ('' for none): for logs and reports. */
export function formatVariation(v: Variation): string {
  return (Object.keys(VARIATION_KEYS) as VariationKey[]).filter((k) => v[k] !== VARIATION_KEYS[k].neutral).map((k) => `${k}=${v[k]}`).join(',');
}

/** One line per key, for usage texts. */
export function variationHelp(): string {
  return Object.entries(VARIATION_KEYS).map(([k, s]) => `  ${k.padEnd(19)} ${s.unit.padEnd(3)} [${s.min}, ${s.max}] ${s.doc}`).join('\n');
}
