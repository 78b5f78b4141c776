// Camera messages to the bundle's camera input: every raw encoding (padded rows, channel order,
// grey expansion), resizing to a shipped bundle's camera size, JPEG/PNG decoding, and each refusal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp, { type Sharp } from 'sharp';
import { readManifest } from '../../../src/bundle/index.js';
import type { CameraImage, CameraSpec } from '../../../src/core/index.js';
import { compressedCodec, compressedToCamera, imageToCamera, rawToRgb, RosInputError, type ImageMsg, type RosInputReason } from '../../../src/io/ros/index.js';
import { bundlePath } from '../../support/bundles.js';

const header = { stamp: { sec: 1, nanosec: 0 }, frame_id: 'cam' };
const px = (img: CameraImage, x: number, y: number): number[] => Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));

/** A w x h image whose pixel (x, y) is RGB (10x + 1, 20y + 2, 100 + x + y), laid out in `encoding` with `pad` bytes after each row. */
function rawImage(encoding: string, w: number, h: number, pad = 0): ImageMsg & { data: Uint8Array } {
  const rgb = (x: number, y: number) => [10 * x + 1, 20 * y + 2, 100 + x + y];
  const order: Record<string, (p: number[]) => number[]> = {
    rgb8: (p) => p, bgr8: (p) => [p[2]!, p[1]!, p[0]!], rgba8: (p) => [...p, 255], bgra8: (p) => [p[2]!, p[1]!, p[0]!, 255], mono8: (p) => [p[0]!],
  };
  const c = order[encoding]!([0, 0, 0]).length;
  const step = w * c + pad;
  const data = new Uint8Array(step * h).fill(0xee); // padding bytes that must never show
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(order[encoding]!(rgb(x, y)), y * step + x * c);
  return { header, height: h, width: w, encoding, is_bigendian: 0, step, data };
}

async function refused(reason: RosInputReason, f: () => unknown): Promise<RosInputError> {
  try {
    await f();
  } catch (e) {
    assert.ok(e instanceof RosInputError, `not a RosInputError: ${e}`);
    assert.equal(e.reason, reason, e.message);
    return e;
  }
  assert.fail(`expected a '${reason}' refusal`);
}

test('raw rgb8 and bgr8, tight and with padded rows, come out as the same RGB pixels', () => {
  for (const encoding of ['rgb8', 'bgr8', 'rgba8', 'bgra8']) {
    for (const pad of [0, 5]) {
      const img = rawToRgb(rawImage(encoding, 4, 3, pad));
      assert.equal(img.width, 4);
      assert.equal(img.height, 3);
      assert.equal(img.data.length, 4 * 3 * 3);
      assert.deepEqual(px(img, 0, 0), [1, 2, 100], `${encoding} pad ${pad}`);
      assert.deepEqual(px(img, 3, 2), [31, 42, 105], `${encoding} pad ${pad}`);
      assert.ok(!img.data.includes(0xee), `${encoding} pad ${pad}: padding leaked into the pixels`);
    }
  }
});

test('bgr8: the first byte of a pixel is blue', () => {
  const msg: ImageMsg = { header, height: 1, width: 2, encoding: 'bgr8', is_bigendian: 0, step: 6, data: Uint8Array.of(255, 0, 0, 0, 0, 255) };
  const img = rawToRgb(msg);
  assert.deepEqual(px(img, 0, 0), [0, 0, 255], 'blue');
  assert.deepEqual(px(img, 1, 0), [255, 0, 0], 'red');
});

test('mono8 expands to three equal channels, honouring the step; a plain number[] data field works too', () => {
  const img = rawToRgb(rawImage('mono8', 3, 2, 3));
  assert.deepEqual(px(img, 2, 1), [21, 21, 21]);
  assert.deepEqual(px(img, 0, 1), [1, 1, 1]);
  const plain = rawToRgb({ header, height: 1, width: 2, encoding: 'mono8', is_bigendian: 1, step: 2, data: [7, 200] });
  assert.deepEqual(Array.from(plain.data), [7, 7, 7, 200, 200, 200]);
});

test('a raw image is resized to the shipped bundle\'s camera size, keeping where things are', async () => {
  const manifest = await readManifest(bundlePath('vlad-base-flow'));
  const cam = manifest.io.cameras[0]! as CameraSpec;
  assert.deepEqual([cam.width, cam.height], [96, 96]);
  // 200x150 bgr8: left half red, right half blue, 8 bytes of row padding.
  const w = 200, h = 150, step = w * 3 + 8;
  const data = new Uint8Array(step * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(x < w / 2 ? [0, 0, 255] : [255, 0, 0], y * step + x * 3);
  const img = await imageToCamera({ header, height: h, width: w, encoding: 'bgr8', is_bigendian: 0, step, data }, cam);
  assert.equal(img.width, 96);
  assert.equal(img.height, 96);
  assert.equal(img.data.length, 96 * 96 * 3);
  assert.deepEqual(px(img, 10, 48), [255, 0, 0]);
  assert.deepEqual(px(img, 85, 48), [0, 0, 255]);
  // Already the right size: the pixels pass unchanged.
  const same = await imageToCamera(rawImage('rgb8', 96, 96), cam);
  assert.deepEqual(px(same, 5, 7), [51, 142, 112]);
});

/** 160x120: top half orange (230, 120, 20), bottom half teal (20, 150, 140). */
async function twoTone(): Promise<Sharp> {
  const w = 160, h = 120;
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set(y < h / 2 ? [230, 120, 20] : [20, 150, 140], (y * w + x) * 3);
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } });
}

const near = (a: number[], b: number[], tol: number) => a.every((v, i) => Math.abs(v - b[i]!) <= tol);

test('CompressedImage: JPEG and PNG decode to the right colours at the bundle size, whatever the format string', async () => {
  const cam: CameraSpec = { name: 'wrist', width: 96, height: 96, channels: 3 };
  const jpeg = await (await twoTone()).jpeg({ quality: 95 }).toBuffer();
  const png = await (await twoTone()).png().toBuffer();
  for (const format of ['jpeg', 'rgb8; jpeg compressed bgr8', 'bgr8; jpeg compressed bgr8', '']) {
    const img = await compressedToCamera({ header, format, data: new Uint8Array(jpeg) }, cam);
    assert.equal(img.width, 96);
    assert.ok(near(px(img, 48, 10), [230, 120, 20], 12), `${format}: top ${px(img, 48, 10)}`);
    assert.ok(near(px(img, 48, 85), [20, 150, 140], 12), `${format}: bottom ${px(img, 48, 85)}`);
  }
  for (const format of ['png', 'rgb8; png compressed rgb8']) {
    const img = await compressedToCamera({ header, format, data: new Uint8Array(png) }, cam);
    assert.deepEqual(px(img, 48, 10), [230, 120, 20], format);
    assert.deepEqual(px(img, 48, 85), [20, 150, 140], format);
  }
  // A grey PNG with alpha becomes RGB with equal channels.
  const grey = await sharp({ create: { width: 40, height: 30, channels: 4, background: { r: 90, g: 90, b: 90, alpha: 1 } } }).toColourspace('b-w').png().toBuffer();
  const g = await compressedToCamera({ header, format: 'mono8; png compressed mono8', data: new Uint8Array(grey) }, cam);
  assert.deepEqual(px(g, 3, 3), [90, 90, 90]);
});

test('every refusal has its reason: encoding, size, decode', async () => {
  const cam: CameraSpec = { name: 'scene', width: 96, height: 96, channels: 3 };
  const ok = rawImage('rgb8', 4, 3);
  const e = await refused('encoding', () => rawToRgb({ ...ok, encoding: '16UC1' }));
  assert.match(e.message, /16UC1.*rgb8, bgr8/);
  await refused('encoding', () => rawToRgb({ ...ok, encoding: 'toString' }));
  await refused('size', () => rawToRgb({ ...ok, data: ok.data.subarray(0, ok.data.length - 1) }));
  await refused('size', () => rawToRgb({ ...ok, width: 0, step: 0, data: new Uint8Array(0) }));
  await refused('size', () => rawToRgb({ ...ok, height: 0 }));
  await refused('size', () => rawToRgb({ ...ok, step: 11 })); // a row of 4 rgb8 pixels is 12 bytes
  await refused('size', () => rawToRgb({ ...ok, width: 100_000, step: 300_000 }));

  const jpeg = new Uint8Array(await (await twoTone()).jpeg().toBuffer());
  const png = new Uint8Array(await (await twoTone()).png().toBuffer());
  const truncated = jpeg.subarray(0, Math.floor(jpeg.length / 2));
  await refused('decode', () => compressedToCamera({ header, format: 'jpeg', data: truncated }, cam));
  const scrambled = Uint8Array.from(jpeg);
  for (let i = 200; i < scrambled.length - 2; i++) scrambled[i] = (i * 31) & 0xff;
  await refused('decode', () => compressedToCamera({ header, format: 'jpeg', data: scrambled }, cam));
  await refused('decode', () => compressedToCamera({ header, format: 'jpeg', data: new Uint8Array(64).fill(7) }, cam));
  await refused('decode', () => compressedToCamera({ header, format: 'png', data: jpeg }, cam));
  await refused('size', () => compressedToCamera({ header, format: 'png', data: new Uint8Array(0) }, cam));
  await refused('encoding', () => compressedToCamera({ header, format: 'tiff', data: png }, cam));
  await refused('encoding', () => compressedToCamera({ header, format: '16UC1; compressedDepth png', data: png }, cam));
  await refused('encoding', () => compressedToCamera({ header, format: 'mono16; png compressed mono16', data: png }, cam));
  assert.equal(compressedCodec('JPEG'), 'jpeg');
  assert.equal(compressedCodec(''), undefined);
});
