// The trainer worker: owns the trainer's ORT sessions (prefix, train_step, loss) and its data.
// Requests are served one at a time in arrival order, so a step never overlaps another.
import { parentPort } from 'node:worker_threads';
import { idleThreadPriority, serveRpc } from '../core/index.js';
import type { Request } from './protocol.js';
import { TrainerRunner } from './runner.js';

if (!parentPort) throw new Error('trainer worker must run in a worker thread');
const port = parentPort;
let runner: TrainerRunner | undefined;

async function handle(req: Request): Promise<{ result: unknown; transfer?: ArrayBuffer[] }> {
  if (req.op === 'open') {
    if (runner) throw new Error('trainer worker already has a trainer open');
    // Training is the lowest-priority work on the machine: where the kernel allows, its thread
    // runs only when no other thread wants the CPU (control, inference and recording come first).
    if (req.params.idlePriority !== false) {
      try { idleThreadPriority(); } catch (e) { port.postMessage({ kind: 'log', line: `trainer worker keeps normal priority (${(e as Error).message})` }); }
    }
    runner = await TrainerRunner.open(req.params);
    return { result: runner.status() };
  }
  if (!runner) throw new Error('no trainer open in the trainer worker');
  switch (req.op) {
    case 'step': return { result: await runner.step() };
    case 'status': return { result: runner.status() };
    case 'candidate': return { result: runner.candidate };
    case 'setParent': await runner.setParent(req.version, req.lora); return { result: null };
    case 'gate': return { result: await runner.gate(req.candidate, req.parent) };
    case 'trainingLoss': return { result: await runner.trainingLoss(req.lora) };
    case 'close': await runner.close(); runner = undefined; return { result: null };
  }
}

serveRpc<Request>(port, handle);
