// Animated GIF of camera frames (for `vlad sim --video`), via gifenc. One palette, quantized
// from a sample of the frames, keeps colours stable across the clip and encoding fast.
import { writeFile } from 'node:fs/promises';
import gifenc from 'gifenc';

const { GIFEncoder, quantize, applyPalette } = gifenc; // CommonJS package
import type { CameraImage } from '../core/index.js';

function toRgba(img: CameraImage): Uint8Array {
  const n = img.width * img.height;
  const out = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    out[4 * i] = img.data[3 * i]!; out[4 * i + 1] = img.data[3 * i + 1]!; out[4 * i + 2] = img.data[3 * i + 2]!; out[4 * i + 3] = 255;
  }
  return out;
}

export function encodeGif(frames: readonly CameraImage[], frameDelayMs: number): Uint8Array {
  if (frames.length === 0) throw new Error('encodeGif: no frames');
  const { width, height } = frames[0]!;
  const sampleEvery = Math.max(1, Math.floor(frames.length / 8));
  const sample: Uint8Array[] = [];
  for (let i = 0; i < frames.length; i += sampleEvery) sample.push(toRgba(frames[i]!));
  const joined = new Uint8Array(sample.reduce((s, a) => s + a.length, 0));
  let o = 0;
  for (const s of sample) { joined.set(s, o); o += s.length; }
  const palette = quantize(joined, 256);
  const gif = GIFEncoder();
  frames.forEach((f, i) => {
    if (f.width !== width || f.height !== height) throw new Error(`encodeGif: frame ${i} is ${f.width}x${f.height}, expected ${width}x${height}`);
    gif.writeFrame(applyPalette(toRgba(f), palette), width, height, i === 0 ? { palette, delay: frameDelayMs } : { delay: frameDelayMs });
  });
  gif.finish();
  return gif.bytes();
}

export async function writeGif(path: string, frames: readonly CameraImage[], frameDelayMs: number): Promise<void> {
  await writeFile(path, encodeGif(frames, frameDelayMs));
}
