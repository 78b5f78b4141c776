// A peer's camera image to the bundle's camera input: leading batch/time axes of size 1 dropped,
// CHW or HWC (declared, or told apart by where the 3 channels are), uint8 or floats (0-1 or 0-255),
// then resized to the bundle's size by sharp when it differs. Everything else is refused.
import sharp from 'sharp';
import type { CameraImage, CameraSpec } from '../../core/index.js';
import { toFloat64, type NdArray } from './ndarray.js';
import { WireError } from './values.js';

export type ImageLayout = 'auto' | 'hwc' | 'chw';

export async function toCameraImage(a: NdArray, camera: CameraSpec, layout: ImageLayout = 'auto', what = camera.name): Promise<CameraImage> {
  const shape = [...a.shape];
  while (shape.length > 3 && shape[0] === 1) shape.shift();
  if (shape.length !== 3) throw new WireError(`${what}: image shape ${JSON.stringify(a.shape)} is not (H, W, 3) or (3, H, W)`);
  const chw = layout === 'chw' || (layout === 'auto' && shape[2] !== 3 && shape[0] === 3);
  const [h, w, c] = chw ? [shape[1]!, shape[2]!, shape[0]!] : [shape[0]!, shape[1]!, shape[2]!];
  if (c !== 3) throw new WireError(`${what}: image has ${c} channels, expected 3 (RGB)`);
  if (h < 1 || w < 1 || h > 4096 || w > 4096) throw new WireError(`${what}: image size ${w}x${h} out of range`);
  let hwc: Uint8Array;
  if (a.dtype === '|u1' && !chw) {
    hwc = a.data as Uint8Array;
  } else {
    const v = a.dtype === '|u1' ? (a.data as Uint8Array) : toFloat64(a);
    let scale = 1;
    if (a.dtype === '<f4' || a.dtype === '<f8') {
      let max = 0;
      for (let i = 0; i < v.length; i++) { const x = v[i]!; if (!Number.isFinite(x)) throw new WireError(`${what}: image has non-finite values`); if (x > max) max = x; }
      scale = max <= 1 ? 255 : 1;
    } else if (a.dtype !== '|u1') throw new WireError(`${what}: image dtype ${a.dtype} refused (uint8 or float)`);
    hwc = new Uint8Array(h * w * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let ch = 0; ch < 3; ch++) {
          const src = chw ? ch * h * w + y * w + x : (y * w + x) * 3 + ch;
          hwc[(y * w + x) * 3 + ch] = Math.max(0, Math.min(255, Math.round(v[src]! * scale)));
        }
      }
    }
  }
  if (h === camera.height && w === camera.width) return { width: w, height: h, data: Uint8Array.from(hwc) };
  const resized = await sharp(Buffer.from(hwc.buffer, hwc.byteOffset, hwc.byteLength), { raw: { width: w, height: h, channels: 3 } })
    .resize(camera.width, camera.height, { fit: 'fill' })
    .raw()
    .toBuffer();
  return { width: camera.width, height: camera.height, data: new Uint8Array(resized.buffer, resized.byteOffset, resized.byteLength) };
}
