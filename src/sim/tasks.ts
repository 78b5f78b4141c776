// Language-conditioned tasks: a seeded layout of every object (the rest are distractors), an
// instruction naming the target, and a success test computed from the physics state.
import { Rng } from './rng.js';
import {
  BALL_COLORS, CUBE_COLORS, PAD_COLORS, PAD_HALF, WORKSPACE, objectSizes,
  type BallColor, type CubeColor, type PadColor, type ObjectSizes,
} from './scene.js';
import { NO_VARIATION, formatVariation, type Variation } from './variation.js';

export const TASK_NAMES = ['pick', 'place', 'touch'] as const;
export type TaskName = (typeof TASK_NAMES)[number];

export interface ObjectPlacement {
  /** Body name in the MJCF (cube_red, ball_yellow, pad_white ...). */
  body: string;
  x: number;
  y: number;
  yaw: number;
}

export interface TaskInstance {
  task: TaskName;
  seed: number;
  instruction: string;
  /** Body the instruction refers to. */
  target: string;
  /** Pad body for `place`. */
  goal?: string;
  layout: ObjectPlacement[];
  maxSteps: number;
  /** The objects' sizes in the world the layout was sampled for (object.scale). */
  sizes: ObjectSizes;
  /** The world variation it was sampled for ('' = the original world). */
  variation: string;
}

const CUBES = Object.keys(CUBE_COLORS) as CubeColor[];
const BALLS = Object.keys(BALL_COLORS) as BallColor[];
const PADS = Object.keys(PAD_COLORS) as PadColor[];

export const MAX_STEPS: Record<TaskName, number> = { pick: 400, place: 600, touch: 300 };

export function isTaskName(name: string): name is TaskName {
  return (TASK_NAMES as readonly string[]).includes(name);
}

/** The area objects and pads are sampled in: the workspace, moved by workspace.dx / dy. */
export function workspaceOf(v: Variation = NO_VARIATION): { xMin: number; xMax: number; yMin: number; yMax: number } {
  const dx = v['workspace.dx'], dy = v['workspace.dy'];
  return { xMin: WORKSPACE.xMin + dx, xMax: WORKSPACE.xMax + dx, yMin: WORKSPACE.yMin + dy, yMax: WORKSPACE.yMax + dy };
}

/** Rejection-sample a layout with clearances so nothing starts on a pad or touching. */
function sampleLayout(rng: Rng, v: Variation): ObjectPlacement[] {
  const area = workspaceOf(v);
  const { cubeHalf, ballRadius } = objectSizes(v);
  const margin = 0.01;
  for (let attempt = 0; attempt < 1000; attempt++) {
    const placed: (ObjectPlacement & { radius: number; pad: boolean })[] = [];
    const items: { body: string; radius: number; pad: boolean }[] = [
      ...PADS.map((c) => ({ body: `pad_${c}`, radius: PAD_HALF * Math.SQRT2, pad: true })),
      ...CUBES.map((c) => ({ body: `cube_${c}`, radius: cubeHalf * Math.SQRT2, pad: false })),
      ...BALLS.map((c) => ({ body: `ball_${c}`, radius: ballRadius, pad: false })),
    ];
    let ok = true;
    for (const item of items) {
      let found = false;
      for (let tries = 0; tries < 200 && !found; tries++) {
        const inset = item.pad ? PAD_HALF : 0.02;
        const x = rng.uniform(area.xMin + inset, area.xMax - inset);
        const y = rng.uniform(area.yMin + inset, area.yMax - inset);
        const clear = placed.every((p) => {
          const need = p.pad && item.pad ? p.radius + item.radius + 0.02
            : p.pad || item.pad ? p.radius + item.radius + margin
              : p.radius + item.radius + 0.035; // room for the fingers between objects
          return Math.hypot(p.x - x, p.y - y) > need;
        });
        if (clear) {
          placed.push({ ...item, x, y, yaw: item.pad ? 0 : rng.uniform(-Math.PI, Math.PI) });
          found = true;
        }
      }
      if (!found) { ok = false; break; }
    }
    if (ok) return placed.map(({ body, x, y, yaw }) => ({ body, x, y, yaw }));
  }
  throw new Error('sampleLayout: no valid layout found');
}

/** The seed's task in a world (default the original one); a moved workspace moves the same layout. */
export function sampleTask(task: TaskName, seed: number, variation: Variation = NO_VARIATION): TaskInstance {
  const rng = new Rng(seed);
  const layout = sampleLayout(rng, variation);
  const base = { task, seed, layout, maxSteps: MAX_STEPS[task], sizes: objectSizes(variation), variation: formatVariation(variation) };
  switch (task) {
    case 'pick': {
      const c = rng.pick(CUBES);
      return { ...base, instruction: `pick up the ${c} cube`, target: `cube_${c}` };
    }
    case 'place': {
      const c = rng.pick(CUBES);
      const p = rng.pick(PADS);
      return { ...base, instruction: `put the ${c} cube on the ${p} square`, target: `cube_${c}`, goal: `pad_${p}` };
    }
    case 'touch': {
      const c = rng.pick(BALLS);
      return { ...base, instruction: `touch the ${c} ball`, target: `ball_${c}` };
    }
  }
}

/**
 * The same layout with the instruction naming another object of the target's kind (another cube
 * colour, the other ball): a policy that reads the instruction acts on the new target, one that
 * ignores it keeps going for the original. Deterministic in the instance's seed.
 */
export function swapTargetColour(inst: TaskInstance): TaskInstance {
  const [kind, colour] = inst.target.split('_') as [string, string];
  const others = (kind === 'cube' ? CUBES : BALLS).filter((c) => c !== colour) as string[];
  const next = new Rng(inst.seed ^ 0x5bd1e995).pick(others);
  const instruction = inst.instruction.replace(`the ${colour} ${kind}`, `the ${next} ${kind}`);
  if (instruction === inst.instruction) throw new Error(`swapTargetColour: '${inst.instruction}' does not name '${colour} ${kind}'`);
  return { ...inst, instruction, target: `${kind}_${next}` };
}

/** The physics facts a success test reads (filled by SimWorld). */
export interface SuccessProbe {
  bodyPos(body: string): [number, number, number];
  gripperOpening(): number;
  /** True if any gripper geom touches the body's geom now. */
  gripperTouches(body: string): boolean;
}

/** How far a body sits from a pad's centre in the table plane (m), as max(|dx|, |dy|): under
 *  PAD_HALF means inside the pad's square. */
export function padOffset(probe: Pick<SuccessProbe, 'bodyPos'>, body: string, pad: string): number {
  const [x, y] = probe.bodyPos(body);
  const [px, py] = probe.bodyPos(pad);
  return Math.max(Math.abs(x - px), Math.abs(y - py));
}

export function isSuccess(inst: TaskInstance, probe: SuccessProbe): boolean {
  switch (inst.task) {
    case 'pick':
      // Lifted *and* held: a cube knocked into the air by a flailing arm is not a pick.
      return probe.bodyPos(inst.target)[2] > inst.sizes.cubeHalf + 0.05 && probe.gripperTouches(inst.target);
    case 'place':
      return padOffset(probe, inst.target, inst.goal!) < PAD_HALF && probe.bodyPos(inst.target)[2] < inst.sizes.cubeHalf + 0.008
        && probe.gripperOpening() > 0.05;
    case 'touch':
      return probe.gripperTouches(inst.target);
  }
}
