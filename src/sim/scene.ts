// The table-top arm and its scene in MJCF. Geometry constants live here so the analytic
// kinematics (kinematics.ts) and the model can never disagree. A Variation (variation.ts) moves
// the scene camera, resizes the objects and scales their friction.
import { NO_VARIATION, type Variation } from './variation.js';

export const ARM = {
  shoulderHeight: 0.16,
  upperArm: 0.32,
  forearm: 0.3,
  /** Wrist-pitch joint to the hand frame. */
  wristLink: 0.05,
  /** Hand frame to the grasp point between the finger pads. */
  graspOffset: 0.07,
  fingerTravel: 0.04,
} as const;

/** Wrist pitch joint to the grasp point, along the tool axis. */
export const TOOL_LENGTH = ARM.wristLink + ARM.graspOffset;

export const JOINT_NAMES = ['joint1', 'joint2', 'joint3', 'joint4', 'joint5', 'joint6'] as const;
export const STATE_NAMES = [...JOINT_NAMES, 'gripper'] as const;

/** Position limits (rad; gripper: opening in m), as a real 6-axis arm's controller would enforce. */
export const JOINT_LIMITS: readonly (readonly [number, number])[] = [
  [-2.9, 2.9], [-1.6, 2.0], [-0.3, 2.7], [-2.9, 2.9], [-2.1, 2.1], [-2.9, 2.9],
];
export const GRIPPER_LIMITS = [0, 2 * ARM.fingerTravel] as const;
/** Per-joint velocity limits (rad/s), gripper (m/s). */
export const VELOCITY_LIMITS = [2.0, 2.0, 2.5, 3.0, 3.0, 3.0, 0.2] as const;

/** Home pose: tool pointing down above the workspace centre. */
export const HOME_QPOS = [0, 0.35, 1.55, 0, 1.24, 0] as const;

export const CUBE_HALF = 0.02;
export const BALL_RADIUS = 0.025;
export const PAD_HALF = 0.05;

export const CUBE_COLORS = { red: [0.85, 0.12, 0.1], blue: [0.12, 0.25, 0.85], green: [0.1, 0.65, 0.2] } as const;
export const BALL_COLORS = { yellow: [0.95, 0.85, 0.1], orange: [0.95, 0.5, 0.05] } as const;
export const PAD_COLORS = { purple: [0.55, 0.2, 0.7], white: [0.95, 0.95, 0.95] } as const;
export type CubeColor = keyof typeof CUBE_COLORS;
export type BallColor = keyof typeof BALL_COLORS;
export type PadColor = keyof typeof PAD_COLORS;

/** Workspace where objects are placed (m, robot base frame). */
export const WORKSPACE = { xMin: 0.27, xMax: 0.5, yMin: -0.2, yMax: 0.2 } as const;

const rgba = (c: readonly number[]): string => `${c.join(' ')} 1`;

/** The manipulated objects' sizes in a world (m): object.scale times the original ones. */
export interface ObjectSizes { cubeHalf: number; ballRadius: number }

export function objectSizes(v: Variation = NO_VARIATION): ObjectSizes {
  return { cubeHalf: CUBE_HALF * v['object.scale'], ballRadius: BALL_RADIUS * v['object.scale'] };
}

/** The scene camera of the original world: where it sits and its image axes (right, up) in the world. */
const SCENE_CAMERA = { pos: [0.98, 0, 0.6], right: [0, 1, 0], up: [-0.62, 0, 0.785] } as const;

type Vec3 = [number, number, number];
const unit = (v: readonly number[]): Vec3 => { const n = Math.hypot(v[0]!, v[1]!, v[2]!); return [v[0]! / n, v[1]! / n, v[2]! / n]; };
const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const fmt = (v: readonly number[]): string => v.map((x) => Number(x.toFixed(6))).join(' ');

/**
 * The scene camera's pose under a variation: moved in its own frame (right, up, back), tilted up
 * about its own right axis (pitch), then turned about the vertical (yaw).
 */
export function sceneCameraPose(v: Variation = NO_VARIATION): { pos: Vec3; right: Vec3; up: Vec3 } {
  const moved = (['camera.scene.dx', 'camera.scene.dy', 'camera.scene.dz', 'camera.scene.yaw', 'camera.scene.pitch'] as const).some((k) => v[k] !== 0);
  // the original world's camera exactly as it always was (no rounding of normalised axes)
  if (!moved) return { pos: [...SCENE_CAMERA.pos], right: [...SCENE_CAMERA.right], up: [...SCENE_CAMERA.up] };
  const right0 = unit(SCENE_CAMERA.right), up0 = unit(SCENE_CAMERA.up), back0 = cross(right0, up0);
  const pos = [0, 1, 2].map((i) => SCENE_CAMERA.pos[i]! + v['camera.scene.dx'] * right0[i]! + v['camera.scene.dy'] * up0[i]! + v['camera.scene.dz'] * back0[i]!) as Vec3;
  const p = (v['camera.scene.pitch'] * Math.PI) / 180, y = (v['camera.scene.yaw'] * Math.PI) / 180;
  const pitched = [0, 1, 2].map((i) => up0[i]! * Math.cos(p) + back0[i]! * Math.sin(p)) as Vec3;
  const yawed = (a: Vec3): Vec3 => [a[0] * Math.cos(y) - a[1] * Math.sin(y), a[0] * Math.sin(y) + a[1] * Math.cos(y), a[2]];
  return { pos, right: yawed(right0), up: yawed(pitched) };
}

/**
 * Contact pairs that scale the friction of every contact a manipulated object makes with the
 * hand and the table. MuJoCo combines two geoms' friction by their maximum, so lowering the
 * object's own value alone would change nothing against the grippier fingers; an explicit pair
 * replaces the dynamic contact of the same two geoms. None in the original world.
 */
function frictionPairsXml(v: Variation): string {
  const f = v['object.friction'];
  if (f === 1) return '';
  const others = [['finger_l', FINGER_FRICTION, 4], ['finger_r', FINGER_FRICTION, 4], ['palm', DEFAULT_FRICTION, 3], ['table', DEFAULT_FRICTION, 3]] as const;
  const objects = [
    ...Object.keys(CUBE_COLORS).map((c) => [`cube_${c}`, CUBE_FRICTION, 4] as const),
    ...Object.keys(BALL_COLORS).map((c) => [`ball_${c}`, BALL_FRICTION, 6] as const),
  ];
  return objects.flatMap(([obj, of, oc]) => others.map(([geom, gf, gc]) => {
    const combined = [0, 1, 2].map((i) => Math.max(of[i]!, gf[i]!));
    combined[0] = combined[0]! * f;
    return `\n    <pair geom1="${obj}" geom2="${geom}" condim="${Math.max(oc, gc)}" friction="${fmt([combined[0]!, combined[0]!, combined[1]!, combined[2]!, combined[2]!])}"/>`;
  })).join('');
}

const CUBE_FRICTION = [1.2, 0.01, 0.001] as const;
const BALL_FRICTION = [1, 0.02, 0.02] as const;
const FINGER_FRICTION = [1.5, 0.02, 0.002] as const;
/** MuJoCo's default geom friction (the palm and the table set none). */
const DEFAULT_FRICTION = [1, 0.005, 0.0001] as const;

function jointXml(i: number, axis: string): string {
  const [lo, hi] = JOINT_LIMITS[i]!;
  return `<joint name="${JOINT_NAMES[i]}" axis="${axis}" range="${lo} ${hi}" class="arm"/>`;
}

function actuatorXml(i: number, kp: number, force: number): string {
  const [lo, hi] = JOINT_LIMITS[i]!;
  return `<position name="act${i + 1}" joint="${JOINT_NAMES[i]}" kp="${kp}" ctrlrange="${lo} ${hi}" forcerange="-${force} ${force}"/>`;
}

export function buildSceneXml(v: Variation = NO_VARIATION): string {
  const A = ARM;
  const { cubeHalf, ballRadius } = objectSizes(v);
  const cam = sceneCameraPose(v);
  const cubes = Object.entries(CUBE_COLORS).map(([name, c]) => `
    <body name="cube_${name}" pos="0.4 0 ${cubeHalf}">
      <freejoint name="cube_${name}_free"/>
      <geom name="cube_${name}" type="box" size="${cubeHalf} ${cubeHalf} ${cubeHalf}" rgba="${rgba(c)}" mass="0.05" friction="${fmt(CUBE_FRICTION)}" condim="4"/>
    </body>`).join('');
  const balls = Object.entries(BALL_COLORS).map(([name, c]) => `
    <body name="ball_${name}" pos="0.4 0.1 ${ballRadius}">
      <freejoint name="ball_${name}_free"/>
      <geom name="ball_${name}" type="sphere" size="${ballRadius}" rgba="${rgba(c)}" mass="0.3" friction="${fmt(BALL_FRICTION)}" condim="6"/>
    </body>`).join('');
  const pads = Object.entries(PAD_COLORS).map(([name, c]) => `
    <body name="pad_${name}" mocap="true" pos="0.4 -0.1 0">
      <geom name="pad_${name}" type="box" size="${PAD_HALF} ${PAD_HALF} 0.0005" pos="0 0 0.0005" rgba="${rgba(c)}" contype="0" conaffinity="0"/>
    </body>`).join('');
  return `<mujoco model="vlad_tabletop">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="0.004" integrator="implicitfast" cone="elliptic" impratio="3"/>
  <default>
    <default class="arm">
      <joint damping="2" armature="0.05"/>
      <geom contype="1" conaffinity="1" group="1"/>
    </default>
  </default>
  <worldbody>
    <geom name="table" type="plane" size="0.9 0.7 0.05" pos="0.3 0 0" rgba="0.62 0.5 0.38 1"/>
    <camera name="scene" pos="${fmt(cam.pos)}" xyaxes="${fmt(cam.right)} ${fmt(cam.up)}" fovy="48"/>
    <body name="base" pos="0 0 0">
      <geom name="pedestal" type="cylinder" fromto="0 0 0 0 0 ${A.shoulderHeight - 0.02}" size="0.06" rgba="0.25 0.25 0.28 1" contype="0" conaffinity="0"/>
      <body name="link1" pos="0 0 0" gravcomp="1">
        ${jointXml(0, '0 0 1')}
        <geom name="shoulder" type="cylinder" fromto="0 -0.05 ${A.shoulderHeight} 0 0.05 ${A.shoulderHeight}" size="0.05" rgba="0.85 0.85 0.88 1" contype="0" conaffinity="0" mass="1.5"/>
        <body name="link2" pos="0 0 ${A.shoulderHeight}" gravcomp="1">
          ${jointXml(1, '0 1 0')}
          <geom name="upper_arm" type="capsule" fromto="0 0 0 0 0 ${A.upperArm}" size="0.035" rgba="0.85 0.85 0.88 1" contype="0" conaffinity="0" mass="1.2"/>
          <body name="link3" pos="0 0 ${A.upperArm}" gravcomp="1">
            ${jointXml(2, '0 1 0')}
            <geom name="elbow" type="cylinder" fromto="0 -0.04 0 0 0.04 0" size="0.04" rgba="0.25 0.25 0.28 1" contype="0" conaffinity="0" mass="0.4"/>
            <geom name="forearm_a" type="capsule" fromto="0 0 0 0 0 0.12" size="0.03" rgba="0.85 0.85 0.88 1" mass="0.5"/>
            <body name="link4" pos="0 0 0.12" gravcomp="1">
              ${jointXml(3, '0 0 1')}
              <geom name="forearm_b" type="capsule" fromto="0 0 0 0 0 ${A.forearm - 0.12}" size="0.027" rgba="0.85 0.85 0.88 1" mass="0.4"/>
              <body name="link5" pos="0 0 ${A.forearm - 0.12}" gravcomp="1">
                ${jointXml(4, '0 1 0')}
                <geom name="wrist" type="cylinder" fromto="0 -0.03 0 0 0.03 0" size="0.03" rgba="0.25 0.25 0.28 1" mass="0.2"/>
                <body name="hand" pos="0 0 ${A.wristLink}" gravcomp="1">
                  ${jointXml(5, '0 0 1')}
                  <geom name="palm" type="box" size="0.055 0.022 0.012" pos="0 0 0" rgba="0.3 0.3 0.33 1" mass="0.2"/>
                  <camera name="wrist" pos="0 -0.055 -0.01" xyaxes="1 0 0 0 -0.94 0.34" fovy="75"/>
                  <site name="grasp" pos="0 0 ${A.graspOffset}" size="0.005"/>
                  <body name="finger_l" pos="0 0 0.012" gravcomp="1">
                    <joint name="finger_l" type="slide" axis="1 0 0" range="0 ${A.fingerTravel}" damping="5" armature="0.01"/>
                    <geom name="finger_l" type="box" size="0.006 0.014 0.037" pos="0.006 0 0.037" rgba="0.2 0.2 0.22 1" friction="${fmt(FINGER_FRICTION)}" condim="4" mass="0.05"/>
                  </body>
                  <body name="finger_r" pos="0 0 0.012" gravcomp="1">
                    <joint name="finger_r" type="slide" axis="-1 0 0" range="0 ${A.fingerTravel}" damping="5" armature="0.01"/>
                    <geom name="finger_r" type="box" size="0.006 0.014 0.037" pos="-0.006 0 0.037" rgba="0.2 0.2 0.22 1" friction="${fmt(FINGER_FRICTION)}" condim="4" mass="0.05"/>
                  </body>
                </body>
              </body>
            </body>
          </body>
        </body>
      </body>
    </body>${cubes}${balls}${pads}
  </worldbody>
  <equality>
    <joint joint1="finger_l" joint2="finger_r" polycoef="0 1 0 0 0" solref="0.005 1"/>
  </equality>
  <contact>
    <exclude body1="link5" body2="hand"/>${frictionPairsXml(v)}
  </contact>
  <actuator>
    ${actuatorXml(0, 600, 80)}
    ${actuatorXml(1, 800, 120)}
    ${actuatorXml(2, 600, 80)}
    ${actuatorXml(3, 150, 20)}
    ${actuatorXml(4, 200, 25)}
    ${actuatorXml(5, 120, 15)}
    <position name="gripper" joint="finger_l" kp="400" ctrlrange="0 ${A.fingerTravel}" forcerange="-12 12"/>
  </actuator>
</mujoco>
`;
}
