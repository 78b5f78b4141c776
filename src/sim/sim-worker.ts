// The simulated arm as its own "hardware": physics and camera rendering run on this thread, and
// the control process sees only the shared joint-state / command / frame blocks (shared-io.ts).
// Lockstep mode steps when asked (reproducible, faster than real time); realtime mode free-runs
// on the wall clock at the physics period and renders at the camera rate, like a real arm and
// cameras that do not wait for anyone. The scripted expert lives here because it is privileged:
// it reads object poses that never leave the simulator.
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { Renderer } from './render.js';
import { SimWorld } from './world.js';
import { ScriptedExpert } from './expert.js';
import { sampleTask, isTaskName } from './tasks.js';
import { DIM, H, SharedViews, sharedLayout, type FromSim, type SimWorkerInit, type ToSim } from './shared-io.js';
import { JtcSampler } from './jtc.js';

const init = workerData as SimWorkerInit;
const port = parentPort!;
const views = new SharedViews(init.sab, sharedLayout(init.cameras.length, init.imageSize, init.frameSlots, init.trajectoryPoints));
const world = await SimWorld.create(init.physicsDt);
const renderer = new Renderer(world.mj, world.model, { width: init.imageSize, height: init.imageSize });
const cameraIds = init.cameras.map((n) => renderer.cameraId(n));
const dtNs = Math.round(world.controlDt * 1e9);
const q = new Float32Array(DIM);
const cmd = new Float64Array(DIM);
const target = new Float64Array(DIM);
let lastCmdSeq = 0;
let lastTrajSeq = 0;
/** JointTrajectoryController mode: the reference comes from the newest trajectory, sampled every physics tick. */
const jtc = new JtcSampler(DIM, init.trajectoryPoints);
let frameNo = 0;
let expert: { script: ScriptedExpert; actions: Map<number, Float32Array>; next: number } | undefined;
/** Realtime: stamps are wall ns (process.hrtime); lockstep: sim time since reset. */
let realtime = false;

const now = (): number => Number(process.hrtime.bigint());

/** Takes the newest forward command or trajectory (whichever came last) and sets the arm's target for `stampNs`. */
function applyCommand(stampNs: number): void {
  const seq = views.readCommand(cmd);
  if (seq > 0 && seq !== lastCmdSeq) {
    lastCmdSeq = seq;
    world.setTarget(cmd); // non-finite entries hold the previous target (the arm's own guard)
    jtc.reset(world.copyTarget(target)); // a forward command ends trajectory mode
    Atomics.add(views.header, H.CMD_APPLIED, 1);
  }
  const tseq = Atomics.load(views.header, H.TRAJ_SEQ);
  if (tseq !== lastTrajSeq && views.readTrajectory(tseq, jtc.incoming)) {
    lastTrajSeq = tseq;
    jtc.commit();
    Atomics.add(views.header, H.TRAJ_APPLIED, 1);
  }
  if (jtc.sample(stampNs)) world.setTarget(jtc.reference);
}

function publishState(stampNs: number): void {
  world.jointState(q);
  views.writeState(stampNs, q, world.copyTarget(target));
  Atomics.store(views.header, H.STEP, world.stepCount);
}

/** Publishes a camera frame; without pixels only its stamp and state (a blind frame for planners that do not look). */
function render(stampNs: number, pixels = true): void {
  const n = frameNo + 1;
  const slot = views.frameSlot(n);
  if (pixels) for (let c = 0; c < cameraIds.length; c++) renderer.render(world.data, cameraIds[c]!, views.frames[slot]![c]);
  world.jointState(q);
  views.publishFrame(n, stampNs, q);
  frameNo = n;
}

function tick(stampNs: number): void {
  applyCommand(stampNs);
  world.step();
  if (Atomics.load(views.header, H.SUCCESS) === 0 && world.success()) Atomics.store(views.header, H.SUCCESS, 1);
  publishState(stampNs);
}

function expertPlan(tick: number, horizon: number, stride: number): Float32Array {
  if (!expert) throw new Error('expertPlan: reset() an episode first');
  // The script is stateful per physics tick: compute each tick's command once, in order.
  const last = tick + (horizon - 1) * stride;
  while (expert.next <= last) expert.actions.set(expert.next++, Float32Array.from(expert.script.act()));
  const out = new Float32Array(horizon * DIM);
  for (let k = 0; k < horizon; k++) out.set(expert.actions.get(tick + k * stride)!, k * DIM);
  return out;
}

/** Realtime: physics on the wall clock until 'stop' arrives (polled between ticks). */
function runRealtime(epochNs: number): void {
  realtime = true;
  const frameEvery = Math.max(1, Math.round(1 / (init.cameraHz * world.controlDt)));
  let k = 0;
  for (;;) {
    const due = epochNs + k * dtNs;
    let t = now();
    while (t < due) {
      const msg = receiveMessageOnPort(port);
      if (msg) { if (handle(msg.message as ToSim)) return; continue; }
      const waitMs = (due - t) / 1e6;
      if (waitMs > 0.05) Atomics.wait(views.header, H.WAKE, 0, waitMs - 0.05);
      t = now();
    }
    const msg = receiveMessageOnPort(port);
    if (msg && handle(msg.message as ToSim)) return;
    if (t - due > dtNs) {
      // Fell behind by a whole period: count it and realign instead of bursting.
      const lost = Math.floor((t - due) / dtNs);
      Atomics.add(views.header, H.OVERRUNS, lost);
      k += lost;
    }
    tick(t);
    if (k % frameEvery === 0) render(t);
    k++;
  }
}

/** Handles one message; true when a realtime run must end. */
function handle(m: ToSim): boolean {
  const reply = (msg: FromSim, transfer: ArrayBuffer[] = []): void => port.postMessage(msg, transfer);
  try {
    switch (m.op) {
      case 'reset': {
        if (!isTaskName(m.task)) throw new Error(`unknown task '${m.task}'`);
        const inst = sampleTask(m.task, m.taskSeed);
        world.reset(inst);
        expert = { script: new ScriptedExpert(world, inst, m.operatorSeed), actions: new Map(), next: 0 };
        lastCmdSeq = Atomics.load(views.header, H.CMD_SEQ); // commands from before the reset are void
        lastTrajSeq = Atomics.load(views.header, H.TRAJ_SEQ);
        jtc.reset(world.copyTarget(target));
        Atomics.store(views.header, H.SUCCESS, 0);
        const stamp = realtime ? now() : 0;
        publishState(stamp);
        render(stamp);
        reply({ id: m.id, ok: true, value: { instruction: inst.instruction, maxSteps: inst.maxSteps, task: inst.task } });
        return false;
      }
      case 'advance':
        for (let i = 0; i < m.ticks; i++) tick(world.stepCount * dtNs + dtNs);
        render(world.stepCount * dtNs, m.render);
        reply({ id: m.id, ok: true, value: world.stepCount });
        return false;
      case 'expertPlan': {
        const actions = expertPlan(m.tick, m.horizon, m.stride);
        reply({ id: m.id, ok: true, value: actions }, [actions.buffer as ArrayBuffer]);
        return false;
      }
      case 'physicsState':
        reply({ id: m.id, ok: true, value: world.physicsState() });
        return false;
      case 'start':
        reply({ id: m.id, ok: true });
        runRealtime(m.epochNs);
        return false;
      case 'stop':
        realtime = false;
        reply({ id: m.id, ok: true });
        return true;
      case 'close':
        world.dispose();
        reply({ id: m.id, ok: true });
        port.close();
        return true;
    }
  } catch (err) {
    reply({ id: m.id, ok: false, error: err instanceof Error ? err.message : String(err) });
  }
  return false;
}

port.on('message', (m: ToSim) => { handle(m); });
port.postMessage({ id: -1, ok: true, ready: true, controlDt: world.controlDt } satisfies FromSim);
