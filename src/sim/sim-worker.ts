// The simulated arm as its own "hardware": physics and camera rendering run on this thread, and
// the control process sees only the shared joint-state / command / frame blocks (shared-io.ts).
// Lockstep mode steps when asked (reproducible, faster than real time); realtime mode free-runs
// on the wall clock at the physics period and renders at the camera rate, like a real arm and
// cameras that do not wait for anyone. The scripted operator lives here because it is privileged:
// it reads object poses that never leave the simulator; its commands leave through the shared
// operator block, as a teleop device's would.
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { serveRpc, type RpcReply } from '../core/index.js';
import { DIM, SimArm } from './arm.js';
import { isTaskName } from './tasks.js';
import { H, SharedViews, sharedLayout, type SimWorkerInit, type ToSim } from './shared-io.js';

const init = workerData as SimWorkerInit;
const port = parentPort!;
const views = new SharedViews(init.sab, sharedLayout(init.cameras.length, init.imageSize, init.frameSlots, init.trajectoryPoints));
const arm = await SimArm.create({ physicsDt: init.physicsDt, imageSize: init.imageSize, cameras: init.cameras, variation: init.variation }, init.trajectoryPoints);
const dtNs = Math.round(arm.physicsDt * 1e9);
const q = new Float32Array(DIM);
const cmd = new Float64Array(DIM);
const target = new Float64Array(DIM);
let lastCmdSeq = 0;
let lastTrajSeq = 0;
let frameNo = 0;
let sceneReady = false;
/** Realtime: stamps are wall ns (process.hrtime); lockstep: sim time since reset. */
let realtime = false;

const now = (): number => Number(process.hrtime.bigint());

/** Takes the newest forward command or trajectory (whichever came last). */
function takeCommands(): void {
  const seq = views.readCommand(cmd);
  if (seq > 0 && seq !== lastCmdSeq) {
    lastCmdSeq = seq;
    arm.applyCommand(cmd); // non-finite entries hold the previous target (the arm's own guard)
    Atomics.add(views.header, H.CMD_APPLIED, 1);
  }
  const tseq = Atomics.load(views.header, H.TRAJ_SEQ);
  if (tseq !== lastTrajSeq && arm.takeTrajectory((buf) => views.readTrajectory(tseq, buf))) {
    lastTrajSeq = tseq;
    Atomics.add(views.header, H.TRAJ_APPLIED, 1);
  }
}

function publishState(stampNs: number): void {
  arm.jointState(q);
  views.writeState(stampNs, q, arm.reference(target));
  Atomics.store(views.header, H.STEP, arm.steps);
}

/** Publishes a camera frame; without pixels only its stamp and state (a blind frame for planners that do not look). */
function publishFrame(stampNs: number, pixels = true): void {
  const n = frameNo + 1;
  const slot = views.frameSlot(n);
  if (pixels) arm.render(views.frames[slot]!);
  arm.jointState(q);
  views.publishFrame(n, stampNs, q);
  frameNo = n;
}

function tick(stampNs: number): void {
  takeCommands();
  arm.step(stampNs);
  if (arm.success) Atomics.store(views.header, H.SUCCESS, 1);
  publishState(stampNs);
  const op = arm.operatorAct();
  if (op) views.writeOperator(op.positions, op.perturbation);
  Atomics.store(views.header, H.OP_ACTIVE, arm.operatorActive ? 1 : 0);
}

/** Realtime: physics on the wall clock until 'stop' arrives (polled between ticks). */
function runRealtime(epochNs: number): void {
  realtime = true;
  const frameEvery = Math.max(1, Math.round(1 / (init.cameraHz * arm.physicsDt)));
  let k = 0;
  for (;;) {
    const due = epochNs + k * dtNs;
    let t = now();
    while (t < due) {
      const msg = receiveMessageOnPort(port);
      if (msg) { if (dispatch(msg.message as ToSim)) return; continue; }
      const waitMs = (due - t) / 1e6;
      if (waitMs > 0.05) Atomics.wait(views.header, H.WAKE, 0, waitMs - 0.05);
      t = now();
    }
    const msg = receiveMessageOnPort(port);
    if (msg && dispatch(msg.message as ToSim)) return;
    if (t - due > dtNs) {
      // Fell behind by a whole period: count it and realign instead of bursting.
      const lost = Math.floor((t - due) / dtNs);
      Atomics.add(views.header, H.OVERRUNS, lost);
      k += lost;
    }
    if (sceneReady) {
      tick(t);
      if (k % frameEvery === 0) publishFrame(t);
    }
    k++;
  }
}

function handle(m: ToSim): { result: unknown; transfer?: ArrayBuffer[] } {
  switch (m.op) {
    case 'reset': {
      if (!isTaskName(m.scene.task)) throw new Error(`unknown task '${String(m.scene.task)}'`);
      const info = arm.reset(m.scene);
      Atomics.store(views.header, H.OP_ACTIVE, 0);
      sceneReady = true;
      lastCmdSeq = Atomics.load(views.header, H.CMD_SEQ); // commands from before the reset are void
      lastTrajSeq = Atomics.load(views.header, H.TRAJ_SEQ);
      Atomics.store(views.header, H.SUCCESS, 0);
      const stamp = realtime ? now() : arm.clockNs;
      publishState(stamp);
      publishFrame(stamp);
      return { result: info };
    }
    case 'advance':
      if (!sceneReady) throw new Error('advance: start an episode (reset) first');
      for (let i = 0; i < m.ticks; i++) tick(arm.clockNs + dtNs);
      publishFrame(arm.clockNs, m.render);
      return { result: arm.steps };
    case 'operator':
      if (m.on) {
        arm.startOperator(m.role);
        const op = arm.operatorAct(); // its command for the next tick, as after every tick
        if (op) views.writeOperator(op.positions, op.perturbation);
      } else arm.stopOperator();
      Atomics.store(views.header, H.OP_ACTIVE, arm.operatorActive ? 1 : 0);
      return { result: null };
    case 'report': return { result: arm.report() };
    case 'view': {
      const img = arm.renderView(m.camera, arm.newRenderer(m.size));
      return { result: img, transfer: [img.data.buffer as ArrayBuffer] };
    }
    case 'expertPlan': {
      const actions = arm.expertPlan(m.stampNs, m.horizon, m.stride);
      return { result: actions, transfer: [actions.buffer as ArrayBuffer] };
    }
    case 'physicsState': return { result: arm.physicsState() };
    case 'start': case 'stop': case 'close': return { result: null }; // answered in dispatch()
  }
}

const reply = (msg: RpcReply, transfer: ArrayBuffer[] = []): void => port.postMessage(msg, transfer);

/** Handles one message in realtime mode (the RPC server is paused while physics runs); true when the run must end. */
function dispatch(m: ToSim): boolean {
  try {
    const { result, transfer } = handle(m);
    reply({ kind: 'reply', id: m.id, ok: true, result }, transfer);
  } catch (err) {
    reply({ kind: 'reply', id: m.id, ok: false, error: { name: 'Error', message: (err as Error).message } });
  }
  if (m.op === 'stop') { realtime = false; return true; }
  return false;
}

serveRpc<ToSim>(port, (m) => {
  if (m.op === 'start') {
    // Reply first, then block this thread in the realtime loop until 'stop' comes through dispatch().
    setImmediate(() => runRealtime(m.epochNs));
    return { result: null };
  }
  if (m.op === 'close') {
    arm.dispose();
    setImmediate(() => port.close());
    return { result: null };
  }
  return handle(m);
});
port.postMessage({ kind: 'ready' } satisfies RpcReply);
