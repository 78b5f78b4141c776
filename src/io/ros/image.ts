// Camera messages to the bundle's camera input (uint8 RGB, HWC, the bundle's size). Raw
// sensor_msgs/Image is unpacked here (8-bit encodings, row padding honoured); CompressedImage is
// decoded by sharp; both are resized by sharp, so there is one resizer (fit: fill, like io/wire's
// peer images: the bundle was trained on the camera's full view, not a crop).
import sharp, { type OutputInfo } from 'sharp';
import type { CameraImage, CameraSpec } from '../../core/index.js';
import { RosInputError } from './errors.js';
import type { CompressedImageMsg, ImageMsg, Uint8Seq } from './messages.js';

/** Raw encodings read (8 bits per channel, so is_bigendian does not matter), with their channel order. */
const RAW_ENCODINGS = {
  rgb8: { channels: 3, rgb: [0, 1, 2] },
  bgr8: { channels: 3, rgb: [2, 1, 0] },
  rgba8: { channels: 4, rgb: [0, 1, 2] },
  bgra8: { channels: 4, rgb: [2, 1, 0] },
  mono8: { channels: 1, rgb: [0, 0, 0] },
} as const;
export type RawEncoding = keyof typeof RAW_ENCODINGS;
export const RAW_ENCODINGS_READ = Object.keys(RAW_ENCODINGS) as readonly RawEncoding[];

/** Largest side accepted: a bound on what one message can make us allocate. */
export const MAX_IMAGE_SIDE = 8192;

const bytesOf = (data: Uint8Seq): Uint8Array => (data instanceof Uint8Array ? data : Uint8Array.from(data));

/**
 * A raw image as tightly packed RGB at its own size (synchronous, no resize). Refuses unknown
 * encodings, zero or oversized sides, a step shorter than a row, and data shorter than step * height.
 */
export function rawToRgb(msg: ImageMsg, what = 'image'): CameraImage {
  const enc = RAW_ENCODINGS[msg.encoding as RawEncoding];
  if (!Object.hasOwn(RAW_ENCODINGS, msg.encoding) || !enc) {
    throw new RosInputError('encoding', `${what}: encoding '${msg.encoding}' is not read (${RAW_ENCODINGS_READ.join(', ')})`);
  }
  const { width: w, height: h, step } = msg;
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1 || w > MAX_IMAGE_SIDE || h > MAX_IMAGE_SIDE) {
    throw new RosInputError('size', `${what}: size ${w}x${h} out of range (1..${MAX_IMAGE_SIDE})`);
  }
  const row = w * enc.channels;
  if (!Number.isInteger(step) || step < row) throw new RosInputError('size', `${what}: step ${step} is shorter than a ${msg.encoding} row of ${w} pixels (${row} bytes)`);
  const src = bytesOf(msg.data);
  if (src.length < step * h) throw new RosInputError('size', `${what}: ${src.length} bytes of data, a ${w}x${h} ${msg.encoding} image with step ${step} needs ${step * h}`);
  const out = new Uint8Array(w * h * 3);
  if (msg.encoding === 'rgb8' && step === row) {
    out.set(src.subarray(0, w * h * 3));
    return { width: w, height: h, data: out };
  }
  const c = enc.channels;
  const [r, g, b] = enc.rgb;
  for (let y = 0; y < h; y++) {
    let s = y * step;
    let d = y * w * 3;
    for (let x = 0; x < w; x++, s += c, d += 3) {
      out[d] = src[s + r]!;
      out[d + 1] = src[s + g]!;
      out[d + 2] = src[s + b]!;
    }
  }
  return { width: w, height: h, data: out };
}

/** RGB pixels resized to the camera's size by sharp (returned as is when the size already matches). */
export async function resizeRgb(img: CameraImage, camera: Pick<CameraSpec, 'width' | 'height'>): Promise<CameraImage> {
  if (img.width === camera.width && img.height === camera.height) return img;
  const out = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(camera.width, camera.height, { fit: 'fill' })
    .raw()
    .toBuffer();
  return { width: camera.width, height: camera.height, data: new Uint8Array(out.buffer, out.byteOffset, out.byteLength) };
}

/** sensor_msgs/Image to the camera's input: unpacked, then resized. */
export async function imageToCamera(msg: ImageMsg, camera: CameraSpec, what = camera.name): Promise<CameraImage> {
  return resizeRgb(rawToRgb(msg, what), camera);
}

export type CompressedCodec = 'jpeg' | 'png';

/**
 * The codec a CompressedImage's `format` names: "jpeg" / "png" (image_transport's old form), or
 * "<encoding>; jpeg compressed <bgr8|rgb8>" / "<encoding>; png compressed ...". Depth formats
 * (compressedDepth) and 16-bit or float source encodings are refused: they are not camera colour.
 * An empty format leaves the codec to the data's magic bytes.
 */
export function compressedCodec(format: string, what = 'image'): CompressedCodec | undefined {
  const f = format.trim().toLowerCase();
  if (f === '') return undefined;
  if (f.includes('compresseddepth')) throw new RosInputError('encoding', `${what}: format '${format}' is a depth image`);
  const [first, second] = f.split(';').map((s) => s.trim());
  if (second !== undefined && /^(mono16|16uc|16sc|32fc|64fc|bgr16|rgb16|bgra16|rgba16)/.test(first!)) {
    throw new RosInputError('encoding', `${what}: format '${format}': source encoding ${first} is not 8-bit colour`);
  }
  const codec = (second ?? first!).split(/\s+/)[0];
  if (codec === 'jpeg' || codec === 'jpg') return 'jpeg';
  if (codec === 'png') return 'png';
  throw new RosInputError('encoding', `${what}: compressed format '${format}' is not read (jpeg, png)`);
}

function sniff(bytes: Uint8Array): CompressedCodec | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  return undefined;
}

/**
 * sensor_msgs/CompressedImage to the camera's input. JPEG and PNG decode to the colours the camera
 * saw whatever the format's "compressed bgr8/rgb8" says (that suffix tells OpenCV's imdecode which
 * order to hand back; the file itself is standard). Grey images become RGB, alpha is dropped.
 */
export async function compressedToCamera(msg: CompressedImageMsg, camera: CameraSpec, what = camera.name): Promise<CameraImage> {
  const declared = compressedCodec(msg.format, what);
  const bytes = bytesOf(msg.data);
  if (bytes.length === 0) throw new RosInputError('size', `${what}: compressed image has no data`);
  const found = sniff(bytes);
  if (!found) throw new RosInputError('decode', `${what}: data is neither JPEG nor PNG (format '${msg.format}')`);
  if (declared && declared !== found) throw new RosInputError('decode', `${what}: format says ${declared}, data is ${found}`);
  let out: { data: Buffer; info: OutputInfo };
  try {
    // failOn 'error': a truncated or corrupt stream is refused, not decoded to a partial grey image.
    out = await sharp(bytes, { failOn: 'error', limitInputPixels: MAX_IMAGE_SIDE * MAX_IMAGE_SIDE })
      .removeAlpha()
      .toColourspace('srgb')
      .resize(camera.width, camera.height, { fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new RosInputError('decode', `${what}: ${found} does not decode: ${(e as Error).message}`);
  }
  if (out.info.channels !== 3) throw new RosInputError('decode', `${what}: decoded to ${out.info.channels} channels, expected 3`);
  return { width: camera.width, height: camera.height, data: new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength) };
}
