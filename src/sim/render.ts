// A small software rasterizer over the MuJoCo state: every visible geom becomes a low-poly
// triangle mesh (built once), transformed each frame from geom_xpos/geom_xmat into the camera
// frame, near-clipped, and filled with a z-buffer and flat Lambert shading. The WASM build has
// no OpenGL renderer; rays per pixel are too slow for a 50 Hz control loop (see the report).
import type { MainModule, MjData, MjModel } from 'mujoco-js';
import type { CameraImage } from '../core/index.js';

const GEOM_PLANE = 0, GEOM_SPHERE = 2, GEOM_CAPSULE = 3, GEOM_ELLIPSOID = 4, GEOM_CYLINDER = 5, GEOM_BOX = 6;
const OBJ_CAMERA = 7;
const NEAR = 0.01;

interface MeshGeom {
  geomId: number;
  /** Local-frame vertices, xyz. */
  verts: Float32Array;
  /** Triangles as vertex indices. */
  tris: Uint16Array;
  /** Local-frame unit normal per triangle. */
  normals: Float32Array;
  rgb: [number, number, number];
  /** Planes are seen from above only; everything else is closed and back-face culled. */
  cull: boolean;
}

class MeshBuilder {
  verts: number[] = [];
  tris: number[] = [];
  vertex(x: number, y: number, z: number): number { this.verts.push(x, y, z); return this.verts.length / 3 - 1; }
  quad(a: number, b: number, c: number, d: number): void { this.tris.push(a, b, c, a, c, d); }
}

function boxMesh(sx: number, sy: number, sz: number): MeshBuilder {
  const b = new MeshBuilder();
  const v = [];
  for (let i = 0; i < 8; i++) v.push(b.vertex(i & 1 ? sx : -sx, i & 2 ? sy : -sy, i & 4 ? sz : -sz));
  const [v0, v1, v2, v3, v4, v5, v6, v7] = v as [number, number, number, number, number, number, number, number];
  b.quad(v0, v2, v3, v1); b.quad(v4, v5, v7, v6); // -z, +z
  b.quad(v0, v1, v5, v4); b.quad(v2, v6, v7, v3); // -y, +y
  b.quad(v0, v4, v6, v2); b.quad(v1, v3, v7, v5); // -x, +x
  return b;
}

/** A surface of revolution about z from a profile of (radius, z) rings, closed at both ends. */
function revolve(profile: [number, number][], segments: number, sx = 1, sy = 1): MeshBuilder {
  const b = new MeshBuilder();
  const rings: number[][] = profile.map(([r, z]) => {
    const ring = [];
    for (let s = 0; s < segments; s++) {
      const a = (2 * Math.PI * s) / segments;
      ring.push(b.vertex(r * Math.cos(a) * sx, r * Math.sin(a) * sy, z));
    }
    return ring;
  });
  for (let k = 0; k + 1 < rings.length; k++) {
    const lo = rings[k]!, hi = rings[k + 1]!;
    for (let s = 0; s < segments; s++) {
      const s1 = (s + 1) % segments;
      b.quad(lo[s]!, lo[s1]!, hi[s1]!, hi[s]!);
    }
  }
  const capFirst = b.vertex(0, 0, profile[0]![1]);
  const capLast = b.vertex(0, 0, profile[profile.length - 1]![1]);
  const first = rings[0]!, last = rings[rings.length - 1]!;
  for (let s = 0; s < segments; s++) {
    const s1 = (s + 1) % segments;
    b.tris.push(capFirst, first[s1]!, first[s]!);
    b.tris.push(capLast, last[s]!, last[s1]!);
  }
  return b;
}

function sphereProfile(radius: number, zOffset: number, from: number, to: number, steps: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i <= steps; i++) {
    const a = from + ((to - from) * i) / steps; // polar angle from -z
    out.push([radius * Math.sin(a), zOffset - radius * Math.cos(a)]);
  }
  return out;
}

function buildMesh(type: number, size: ArrayLike<number>): MeshBuilder | undefined {
  const s0 = size[0]!, s1 = size[1]!, s2 = size[2]!;
  switch (type) {
    case GEOM_BOX: return boxMesh(s0, s1, s2);
    case GEOM_SPHERE: return revolve(sphereProfile(s0, 0, 0.35, Math.PI - 0.35, 5), 12);
    case GEOM_ELLIPSOID: return revolve(sphereProfile(s2, 0, 0.35, Math.PI - 0.35, 5).map(([r, z]) => [r / s2, z]), 12, s0, s1);
    case GEOM_CYLINDER: return revolve([[s0, -s1], [s0, s1]], 14);
    case GEOM_CAPSULE: return revolve([
      ...sphereProfile(s0, -s1, 0.4, Math.PI / 2, 2),
      ...sphereProfile(s0, s1, Math.PI / 2, Math.PI - 0.4, 2),
    ], 12);
    case GEOM_PLANE: {
      const b = new MeshBuilder();
      const hx = s0 > 0 ? s0 : 5, hy = s1 > 0 ? s1 : 5;
      b.quad(b.vertex(-hx, -hy, 0), b.vertex(hx, -hy, 0), b.vertex(hx, hy, 0), b.vertex(-hx, hy, 0));
      return b;
    }
    default: return undefined;
  }
}

function finishMesh(geomId: number, b: MeshBuilder, rgb: [number, number, number], cull: boolean): MeshGeom {
  const verts = Float32Array.from(b.verts);
  const tris = Uint16Array.from(b.tris);
  const normals = new Float32Array(tris.length);
  for (let t = 0; t < tris.length; t += 3) {
    const a = 3 * tris[t]!, c = 3 * tris[t + 1]!, d = 3 * tris[t + 2]!;
    const ux = verts[c]! - verts[a]!, uy = verts[c + 1]! - verts[a + 1]!, uz = verts[c + 2]! - verts[a + 2]!;
    const vx = verts[d]! - verts[a]!, vy = verts[d + 1]! - verts[a + 1]!, vz = verts[d + 2]! - verts[a + 2]!;
    let nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;
    const len = Math.hypot(nx, ny, nz) || 1;
    nx /= len; ny /= len; nz /= len;
    normals[t] = nx; normals[t + 1] = ny; normals[t + 2] = nz;
  }
  return { geomId, verts, tris, normals, rgb, cull };
}

export interface RenderOptions {
  width: number;
  height: number;
  /** Brightness of the light and the room behind the scene (light.gain; default 1). */
  lightGain?: number;
}

// Light from above and slightly in front of the robot, plus ambient.
const LIGHT = (() => { const l = [0.35, 0.25, 0.9]; const n = Math.hypot(l[0]!, l[1]!, l[2]!); return l.map((v) => v / n) as [number, number, number]; })();
const AMBIENT = 0.42, DIFFUSE = 0.62;
const SKY_TOP = [150, 175, 205], SKY_BOTTOM = [205, 215, 225];

export class Renderer {
  private readonly meshes: MeshGeom[] = [];
  private readonly zbuf: Float32Array;
  private readonly background: Uint8Array;
  private readonly camVerts: Float32Array;
  readonly width: number;
  readonly height: number;
  private readonly ambient: number;
  private readonly diffuse: number;

  constructor(private readonly mj: MainModule, private readonly model: MjModel, opts: RenderOptions) {
    this.width = opts.width;
    this.height = opts.height;
    const gain = opts.lightGain ?? 1;
    if (!(gain > 0 && Number.isFinite(gain))) throw new RangeError(`Renderer: lightGain ${gain} is not a positive number`);
    this.ambient = AMBIENT * gain;
    this.diffuse = DIFFUSE * gain;
    const types = model.geom_type as Int32Array;
    const sizes = model.geom_size as Float64Array;
    const rgba = model.geom_rgba as Float32Array;
    const groups = model.geom_group as Int32Array;
    let maxVerts = 0;
    for (let g = 0; g < model.ngeom; g++) {
      if (rgba[4 * g + 3]! <= 0 || groups[g]! > 2) continue;
      const b = buildMesh(types[g]!, sizes.subarray(3 * g, 3 * g + 3));
      if (!b) continue;
      const mesh = finishMesh(g, b, [rgba[4 * g]!, rgba[4 * g + 1]!, rgba[4 * g + 2]!], types[g] !== GEOM_PLANE);
      maxVerts = Math.max(maxVerts, mesh.verts.length);
      this.meshes.push(mesh);
    }
    this.camVerts = new Float32Array(maxVerts);
    this.zbuf = new Float32Array(this.width * this.height);
    this.background = new Uint8Array(this.width * this.height * 3);
    for (let y = 0; y < this.height; y++) {
      const f = y / Math.max(1, this.height - 1);
      for (let x = 0; x < this.width; x++) {
        const o = 3 * (y * this.width + x);
        for (let c = 0; c < 3; c++) this.background[o + c] = Math.min(255, Math.round((SKY_TOP[c]! * (1 - f) + SKY_BOTTOM[c]! * f) * gain));
      }
    }
  }

  cameraId(name: string): number {
    const id = this.mj.mj_name2id(this.model, OBJ_CAMERA, name);
    if (id < 0) throw new Error(`model has no camera ${name}`);
    return id;
  }

  /** Draw camera `camId` from the current (forwarded) data into a new or given image. */
  render(data: MjData, camId: number, out?: Uint8Array): CameraImage {
    const W = this.width, H = this.height;
    const img = out ?? new Uint8Array(W * H * 3);
    img.set(this.background);
    this.zbuf.fill(0); // stores 1/depth; 0 = infinitely far
    const camPos = data.cam_xpos as Float64Array;
    const camMat = data.cam_xmat as Float64Array;
    const gpos = data.geom_xpos as Float64Array;
    const gmat = data.geom_xmat as Float64Array;
    const px = camPos[3 * camId]!, py = camPos[3 * camId + 1]!, pz = camPos[3 * camId + 2]!;
    const c = camMat.subarray(9 * camId, 9 * camId + 9);
    // Rows of R_c^T are the camera axes in world coordinates (columns of cam_xmat).
    const cx0 = c[0]!, cx1 = c[3]!, cx2 = c[6]!;
    const cy0 = c[1]!, cy1 = c[4]!, cy2 = c[7]!;
    const cz0 = c[2]!, cz1 = c[5]!, cz2 = c[8]!;
    const fovy = (this.model.cam_fovy as Float64Array)[camId]! * Math.PI / 180;
    const focal = (H / 2) / Math.tan(fovy / 2);
    const cv = this.camVerts;
    for (const mesh of this.meshes) {
      const g = mesh.geomId;
      const m = gmat.subarray(9 * g, 9 * g + 9);
      const m0 = m[0]!, m1 = m[1]!, m2 = m[2]!, m3 = m[3]!, m4 = m[4]!, m5 = m[5]!, m6 = m[6]!, m7 = m[7]!, m8 = m[8]!;
      const dx = gpos[3 * g]! - px, dy = gpos[3 * g + 1]! - py, dz = gpos[3 * g + 2]! - pz;
      // Combined local -> camera transform.
      const a00 = cx0 * m0 + cx1 * m3 + cx2 * m6, a01 = cx0 * m1 + cx1 * m4 + cx2 * m7, a02 = cx0 * m2 + cx1 * m5 + cx2 * m8;
      const a10 = cy0 * m0 + cy1 * m3 + cy2 * m6, a11 = cy0 * m1 + cy1 * m4 + cy2 * m7, a12 = cy0 * m2 + cy1 * m5 + cy2 * m8;
      const a20 = cz0 * m0 + cz1 * m3 + cz2 * m6, a21 = cz0 * m1 + cz1 * m4 + cz2 * m7, a22 = cz0 * m2 + cz1 * m5 + cz2 * m8;
      const t0 = cx0 * dx + cx1 * dy + cx2 * dz, t1 = cy0 * dx + cy1 * dy + cy2 * dz, t2 = cz0 * dx + cz1 * dy + cz2 * dz;
      const v = mesh.verts;
      let anyFront = false;
      for (let i = 0; i < v.length; i += 3) {
        const lx = v[i]!, ly = v[i + 1]!, lz = v[i + 2]!;
        cv[i] = a00 * lx + a01 * ly + a02 * lz + t0;
        cv[i + 1] = a10 * lx + a11 * ly + a12 * lz + t1;
        const z = a20 * lx + a21 * ly + a22 * lz + t2;
        cv[i + 2] = z;
        if (z < -NEAR) anyFront = true;
      }
      if (!anyFront) continue;
      const [r, gr, b] = mesh.rgb;
      const n = mesh.normals, tris = mesh.tris;
      for (let t = 0; t < tris.length; t += 3) {
        const ia = 3 * tris[t]!, ib = 3 * tris[t + 1]!, ic = 3 * tris[t + 2]!;
        // Normal in camera frame, for culling and shading (light is fixed in the world).
        const nx = n[t]!, ny = n[t + 1]!, nz = n[t + 2]!;
        const wnx = m0 * nx + m1 * ny + m2 * nz, wny = m3 * nx + m4 * ny + m5 * nz, wnz = m6 * nx + m7 * ny + m8 * nz;
        if (mesh.cull) {
          // Back-face test: the vector from the camera to the triangle against the normal.
          const ncx = cx0 * wnx + cx1 * wny + cx2 * wnz, ncy = cy0 * wnx + cy1 * wny + cy2 * wnz, ncz = cz0 * wnx + cz1 * wny + cz2 * wnz;
          if (ncx * cv[ia]! + ncy * cv[ia + 1]! + ncz * cv[ia + 2]! >= 0) continue;
        }
        const lambert = Math.max(0, wnx * LIGHT[0] + wny * LIGHT[1] + wnz * LIGHT[2]);
        const shade = this.ambient + this.diffuse * lambert;
        const cr = Math.min(255, r * shade * 255), cg = Math.min(255, gr * shade * 255), cb = Math.min(255, b * shade * 255);
        this.clipAndFill(cv, ia, ib, ic, focal, img, cr, cg, cb);
      }
    }
    return { width: W, height: H, data: img };
  }

  private readonly poly = new Float64Array(4 * 3);
  private readonly sx = new Float64Array(4);
  private readonly sy = new Float64Array(4);
  private readonly iz = new Float64Array(4);

  /** Clip the triangle against the near plane (z = -NEAR), then fill the 1 or 2 pieces. */
  private clipAndFill(cv: Float32Array, ia: number, ib: number, ic: number, focal: number, img: Uint8Array, r: number, g: number, b: number): void {
    const poly = this.poly;
    let count = 0;
    for (let k = 0; k < 3; k++) {
      const p = k === 0 ? ia : k === 1 ? ib : ic;
      const q = k === 0 ? ib : k === 1 ? ic : ia;
      const pz = cv[p + 2]!, qz = cv[q + 2]!;
      const pin = pz < -NEAR, qin = qz < -NEAR;
      if (pin) { poly[3 * count] = cv[p]!; poly[3 * count + 1] = cv[p + 1]!; poly[3 * count + 2] = pz; count++; }
      if (pin !== qin) {
        const s = (-NEAR - pz) / (qz - pz);
        poly[3 * count] = cv[p]! + s * (cv[q]! - cv[p]!);
        poly[3 * count + 1] = cv[p + 1]! + s * (cv[q + 1]! - cv[p + 1]!);
        poly[3 * count + 2] = -NEAR;
        count++;
      }
    }
    if (count < 3) return;
    const W = this.width, H = this.height;
    const sx = this.sx, sy = this.sy, iz = this.iz;
    for (let k = 0; k < count; k++) {
      const depth = -poly[3 * k + 2]!;
      sx[k] = W / 2 + (focal * poly[3 * k]!) / depth;
      sy[k] = H / 2 - (focal * poly[3 * k + 1]!) / depth;
      iz[k] = 1 / depth;
    }
    for (let k = 1; k + 1 < count; k++) this.fillTriangle(sx[0]!, sy[0]!, iz[0]!, sx[k]!, sy[k]!, iz[k]!, sx[k + 1]!, sy[k + 1]!, iz[k + 1]!, img, r, g, b);
  }

  private fillTriangle(x0: number, y0: number, z0: number, x1: number, y1: number, z1: number, x2: number, y2: number, z2: number,
    img: Uint8Array, r: number, g: number, b: number): void {
    const W = this.width, H = this.height;
    const area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0);
    if (area === 0 || !Number.isFinite(area)) return;
    const minX = Math.max(0, Math.floor(Math.min(x0, x1, x2)));
    const maxX = Math.min(W - 1, Math.ceil(Math.max(x0, x1, x2)));
    const minY = Math.max(0, Math.floor(Math.min(y0, y1, y2)));
    const maxY = Math.min(H - 1, Math.ceil(Math.max(y0, y1, y2)));
    if (minX > maxX || minY > maxY) return;
    const inv = 1 / area;
    const zbuf = this.zbuf;
    const R = Math.round(r), G = Math.round(g), B = Math.round(b);
    for (let y = minY; y <= maxY; y++) {
      const py = y + 0.5;
      for (let x = minX; x <= maxX; x++) {
        const px = x + 0.5;
        // Barycentric weights (orientation-independent via the signed area).
        const w0 = ((x1 - px) * (y2 - py) - (x2 - px) * (y1 - py)) * inv;
        const w1 = ((x2 - px) * (y0 - py) - (x0 - px) * (y2 - py)) * inv;
        const w2 = 1 - w0 - w1;
        if (w0 < 0 || w1 < 0 || w2 < 0) continue;
        const z = w0 * z0 + w1 * z1 + w2 * z2;
        const o = y * W + x;
        if (z <= zbuf[o]!) continue;
        zbuf[o] = z;
        img[3 * o] = R; img[3 * o + 1] = G; img[3 * o + 2] = B;
      }
    }
  }
}
