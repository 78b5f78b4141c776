// features.json (spec §1.4): strict protobuf-JSON parse into a tree, and the flat leaf list that
// maps feature paths to tf.train.Example keys.

const PKG = 'tensorflow_datasets.core.features.';
export const CLASS = {
  dict: `${PKG}features_dict.FeaturesDict`,
  dataset: `${PKG}dataset_feature.Dataset`,
  sequence: `${PKG}sequence_feature.Sequence`,
  tensor: `${PKG}tensor_feature.Tensor`,
  scalar: `${PKG}scalar.Scalar`,
  image: `${PKG}image_feature.Image`,
  text: `${PKG}text_feature.Text`,
  classLabel: `${PKG}class_label_feature.ClassLabel`,
} as const;

/** Registered class -> the oneof content key it must carry. */
const CONTENT_OF_CLASS: Record<string, string> = {
  [CLASS.dict]: 'featuresDict', [CLASS.dataset]: 'sequence', [CLASS.sequence]: 'sequence',
  [CLASS.tensor]: 'tensor', [CLASS.scalar]: 'tensor', [CLASS.image]: 'image', [CLASS.text]: 'text',
  [CLASS.classLabel]: 'classLabel',
};

export type TensorEncoding = 'none' | 'bytes' | 'zlib';
export type FeatureNode =
  | { type: 'dict'; className: string; description?: string; children: Map<string, FeatureNode> }
  | { type: 'sequence'; className: string; description?: string; feature: FeatureNode; length: number }
  | { type: 'tensor'; className: string; description?: string; shape: number[]; dtype: string; encoding: TensorEncoding; optional?: boolean }
  | { type: 'image'; className: string; description?: string; shape: number[]; dtype: string; encodingFormat?: string }
  | { type: 'text'; className: string; description?: string }
  | { type: 'classLabel'; className: string; description?: string; numClasses?: number };

export type LeafNode = Extract<FeatureNode, { type: 'tensor' | 'image' | 'text' | 'classLabel' }>;
export interface Leaf {
  /** Example key: the feature path joined with '/'. */
  key: string;
  path: string[];
  /** How many Sequence/Dataset levels enclose it (1 for every steps/* leaf). */
  sequenceRank: number;
  /** Path of the outermost enclosing Sequence/Dataset (['steps'] in RLDS). */
  sequencePath?: string[];
  node: LeafNode;
}

export class FeaturesError extends Error {}

// json_format.Parse accepts both the lowerCamel JSON name and the proto field name.
const FIELD_ALIASES: Record<string, string> = {
  python_class_name: 'pythonClassName', value_range: 'valueRange', json_feature: 'jsonFeature',
  features_dict: 'featuresDict', class_label: 'classLabel', bounding_box: 'boundingBox',
  encoding_format: 'encodingFormat', use_colormap: 'useColormap', num_classes: 'numClasses',
};
const FEATURE_KEYS = new Set(['pythonClassName', 'description', 'valueRange', 'jsonFeature', 'featuresDict', 'tensor',
  'classLabel', 'image', 'video', 'audio', 'boundingBox', 'text', 'translation', 'sequence']);
const CONTENT_KEYS = [...FEATURE_KEYS].filter((k) => !['pythonClassName', 'description', 'valueRange'].includes(k));
const MESSAGE_KEYS: Record<string, Set<string>> = {
  featuresDict: new Set(['features']),
  sequence: new Set(['feature', 'length']),
  tensor: new Set(['shape', 'dtype', 'encoding', 'minimum', 'maximum', 'optional']),
  image: new Set(['shape', 'dtype', 'encodingFormat', 'useColormap', 'label']),
  text: new Set([]),
  classLabel: new Set(['numClasses']),
  shape: new Set(['dimensions']),
};
const DTYPES = new Set(['bool', 'uint8', 'uint16', 'uint32', 'uint64', 'int8', 'int16', 'int32', 'int64',
  'float16', 'bfloat16', 'float32', 'float64', 'string', 'object']);

type Json = Record<string, unknown>;

function normalizeKeys(obj: Json, where: string, allowed: Set<string>): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(obj)) {
    const name = FIELD_ALIASES[k] ?? k;
    if (!allowed.has(name)) throw new FeaturesError(`${where}: unknown field '${k}'`);
    out[name] = v;
  }
  return out;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function int64(v: unknown, where: string): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  throw new FeaturesError(`${where}: expected an int64 (string or integer), got ${JSON.stringify(v)}`);
}

function parseShape(v: unknown, where: string): number[] {
  if (v === undefined) return [];
  if (!isObject(v)) throw new FeaturesError(`${where}: shape must be an object`);
  const s = normalizeKeys(v, where, MESSAGE_KEYS.shape!);
  if (s.dimensions === undefined) return [];
  if (!Array.isArray(s.dimensions)) throw new FeaturesError(`${where}.dimensions must be a list`);
  return s.dimensions.map((d, i) => int64(d, `${where}.dimensions[${i}]`));
}

function parseDtype(v: unknown, where: string): string {
  if (typeof v !== 'string' || !DTYPES.has(v)) throw new FeaturesError(`${where}: unknown dtype ${JSON.stringify(v)}`);
  return v;
}

/** Parses one Feature message (strict, like json_format.ParseDict + from_proto). */
export function parseFeature(raw: unknown, where = 'features.json'): FeatureNode {
  if (!isObject(raw)) throw new FeaturesError(`${where}: expected an object`);
  if ('type' in raw && 'content' in raw) throw new FeaturesError(`${where}: legacy {type, content} form is not supported`);
  const f = normalizeKeys(raw, where, FEATURE_KEYS);
  const className = f.pythonClassName;
  if (typeof className !== 'string' || className === '') throw new FeaturesError(`${where}: missing pythonClassName`);
  const expected = CONTENT_OF_CLASS[className];
  if (!expected) throw new FeaturesError(`${where}: unsupported or unregistered pythonClassName '${className}'`);
  const present = CONTENT_KEYS.filter((k) => k in f);
  if (present.length !== 1 || present[0] !== expected) {
    throw new FeaturesError(`${where}: ${className} needs exactly one content field '${expected}', found [${present.join(', ')}]`);
  }
  const description = typeof f.description === 'string' ? f.description : undefined;
  const content = f[expected];
  if (!isObject(content)) throw new FeaturesError(`${where}.${expected}: expected an object`);
  const c = normalizeKeys(content, `${where}.${expected}`, MESSAGE_KEYS[expected]!);
  const base = description === undefined ? { className } : { className, description };
  switch (expected) {
    case 'featuresDict': {
      const children = new Map<string, FeatureNode>();
      const feats = c.features ?? {};
      if (!isObject(feats)) throw new FeaturesError(`${where}.featuresDict.features must be an object`);
      for (const [name, child] of Object.entries(feats)) {
        if (!/^[^/]+$/.test(name)) throw new FeaturesError(`${where}: bad feature name '${name}'`);
        children.set(name, parseFeature(child, `${where}/${name}`));
      }
      return { type: 'dict', ...base, children };
    }
    case 'sequence': {
      if (c.feature === undefined) throw new FeaturesError(`${where}.sequence: missing feature`);
      return { type: 'sequence', ...base, feature: parseFeature(c.feature, where), length: c.length === undefined ? 0 : int64(c.length, `${where}.sequence.length`) };
    }
    case 'tensor': {
      const encoding = (c.encoding ?? 'none') as string;
      if (!['none', 'bytes', 'zlib'].includes(encoding)) throw new FeaturesError(`${where}: unknown tensor encoding '${encoding}'`);
      const node: FeatureNode = { type: 'tensor', ...base, shape: parseShape(c.shape, `${where}.tensor.shape`), dtype: parseDtype(c.dtype, `${where}.tensor.dtype`), encoding: encoding as TensorEncoding };
      if (c.optional === true) node.optional = true;
      if (node.shape.filter((d) => d < 0).length > 0 && encoding === 'none') {
        throw new FeaturesError(`${where}: tensors with unknown dimensions are not supported with encoding none`);
      }
      return node;
    }
    case 'image': {
      const node: FeatureNode = { type: 'image', ...base, shape: parseShape(c.shape, `${where}.image.shape`), dtype: parseDtype(c.dtype, `${where}.image.dtype`) };
      if (typeof c.encodingFormat === 'string' && c.encodingFormat !== '') node.encodingFormat = c.encodingFormat;
      if (node.shape.length !== 3) throw new FeaturesError(`${where}: image shape must be [h, w, c]`);
      return node;
    }
    case 'text':
      return { type: 'text', ...base };
    default: {
      const node: FeatureNode = { type: 'classLabel', ...base };
      if (c.numClasses !== undefined) node.numClasses = int64(c.numClasses, `${where}.classLabel.numClasses`);
      return node;
    }
  }
}

export function flattenLeaves(node: FeatureNode, path: string[] = [], sequenceRank = 0, out: Leaf[] = [], sequencePath?: string[]): Leaf[] {
  switch (node.type) {
    case 'dict':
      for (const [name, child] of node.children) flattenLeaves(child, [...path, name], sequenceRank, out, sequencePath);
      break;
    case 'sequence':
      flattenLeaves(node.feature, path, sequenceRank + 1, out, sequencePath ?? path);
      break;
    default:
      out.push({ key: path.join('/'), path, sequenceRank, node, ...(sequencePath ? { sequencePath } : {}) });
  }
  return out;
}

/** One node in a few words: "Tensor float32[4]", "Image uint8[48,48,3] png", "Text". */
function nodeSummary(n: FeatureNode): string {
  const cls = n.className.slice(n.className.lastIndexOf('.') + 1);
  switch (n.type) {
    case 'tensor': return `${cls} ${n.dtype}[${n.shape.join(',')}]${n.encoding !== 'none' ? ` ${n.encoding}` : ''}${n.optional ? ' optional' : ''}`;
    case 'image': return `${cls} ${n.dtype}[${n.shape.join(',')}]${n.encodingFormat ? ` ${n.encodingFormat}` : ''}`;
    case 'classLabel': return `${cls}(${n.numClasses ?? '?'})`;
    case 'sequence': return `${cls}(length ${n.length})`;
    default: return cls;
  }
}

/**
 * The first place where two feature trees differ, as "steps/observation/state: Tensor float32[4]
 * in the existing dataset, Tensor float32[5] here"; undefined when they are the same.
 */
export function featureDifference(existing: FeatureNode, wanted: FeatureNode, path: string[] = []): string | undefined {
  const key = path.length ? path.join('/') : 'the top-level feature';
  const there = nodeSummary(existing), here = nodeSummary(wanted);
  if (existing.type !== wanted.type || there !== here) return `${key}: ${there} in the existing dataset, ${here} here`;
  if (existing.type === 'dict' && wanted.type === 'dict') {
    for (const name of wanted.children.keys()) if (!existing.children.has(name)) return `${[...path, name].join('/')}: not in the existing dataset`;
    for (const name of existing.children.keys()) if (!wanted.children.has(name)) return `${[...path, name].join('/')}: only in the existing dataset`;
    for (const [name, child] of wanted.children) {
      const d = featureDifference(existing.children.get(name)!, child, [...path, name]);
      if (d) return d;
    }
  }
  if (existing.type === 'sequence' && wanted.type === 'sequence') {
    const d = featureDifference(existing.feature, wanted.feature, path);
    if (d) return d;
  }
  if ((existing.description ?? '') !== (wanted.description ?? '')) {
    return `${key}: description ${JSON.stringify(existing.description ?? '')} in the existing dataset, ${JSON.stringify(wanted.description ?? '')} here`;
  }
  return undefined;
}

// ---- writing (MessageToDict form; defaults omitted; int64 as strings) ----

export function featureToJson(node: FeatureNode): Json {
  const base: Json = { pythonClassName: node.className };
  if (node.description) base.description = node.description;
  const shape = (dims: number[]): Json => (dims.length === 0 ? {} : { dimensions: dims.map(String) });
  switch (node.type) {
    case 'dict': {
      const features: Json = {};
      for (const [name, child] of node.children) features[name] = featureToJson(child);
      return { ...base, featuresDict: { features } };
    }
    case 'sequence':
      return { ...base, sequence: { feature: featureToJson(node.feature), length: String(node.length) } };
    case 'tensor': {
      const t: Json = { shape: shape(node.shape), dtype: node.dtype, encoding: node.encoding };
      if (node.optional) t.optional = true;
      return { ...base, tensor: t };
    }
    case 'image': {
      const img: Json = { shape: shape(node.shape), dtype: node.dtype };
      if (node.encodingFormat) img.encodingFormat = node.encodingFormat;
      return { ...base, image: img };
    }
    case 'text':
      return { ...base, text: {} };
    default:
      return { ...base, classLabel: node.numClasses === undefined ? {} : { numClasses: String(node.numClasses) } };
  }
}

/** Python's json.dumps(..., indent=4, sort_keys=True) layout, as TFDS writes features.json. */
export function stableJson(value: unknown, indent: number): string {
  const sortDeep = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortDeep);
    if (isObject(v)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortDeep(v[k])]));
    return v;
  };
  return JSON.stringify(sortDeep(value), null, indent);
}

// Small builders for the recorder's schema.
export const feat = {
  dict: (children: Record<string, FeatureNode>, description?: string): FeatureNode =>
    ({ type: 'dict', className: CLASS.dict, children: new Map(Object.entries(children)), ...(description ? { description } : {}) }),
  steps: (children: Record<string, FeatureNode>): FeatureNode =>
    ({ type: 'sequence', className: CLASS.dataset, feature: feat.dict(children), length: -1 }),
  tensor: (dtype: string, shape: number[], description?: string): FeatureNode =>
    ({ type: 'tensor', className: CLASS.tensor, shape, dtype, encoding: 'none', ...(description ? { description } : {}) }),
  scalar: (dtype: string, description?: string): FeatureNode =>
    ({ type: 'tensor', className: CLASS.scalar, shape: [], dtype, encoding: 'none', ...(description ? { description } : {}) }),
  image: (h: number, w: number, c: number, format: 'png' | 'jpeg', description?: string): FeatureNode =>
    ({ type: 'image', className: CLASS.image, shape: [h, w, c], dtype: 'uint8', encodingFormat: format, ...(description ? { description } : {}) }),
  text: (description?: string): FeatureNode => ({ type: 'text', className: CLASS.text, ...(description ? { description } : {}) }),
};
