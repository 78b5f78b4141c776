// The policy worker: owns every ORT session of the serving bundle. Requests are handled strictly
// one at a time, in arrival order, so replays are deterministic and sessions never interleave.
import { parentPort } from 'node:worker_threads';
import { BundleError } from '../bundle/index.js';
import { plainWireError, serveRpc, type RpcReply, type WireError } from '../core/index.js';
import type { Request } from './protocol.js';
import { PolicyRunner } from './runner.js';

if (!parentPort) throw new Error('policy worker must run in a worker thread');
const port = parentPort;
let runner: PolicyRunner | undefined;

function send(reply: RpcReply): void {
  port.postMessage(reply);
}

async function handle(req: Request): Promise<{ result: unknown; transfer?: ArrayBuffer[] }> {
  if (req.op === 'open') {
    if (runner) throw new Error('policy worker already has a bundle open');
    runner = await PolicyRunner.open(req.params.dir, { ...req.params, log: (line) => send({ kind: 'log', line }) });
    return { result: { manifest: runner.manifest, provider: runner.provider, steps: runner.sampler.steps, samplerKind: runner.sampler.kind } };
  }
  if (!runner) throw new Error('no bundle open in the policy worker');
  switch (req.op) {
    case 'plan': {
      const result = await runner.plan(req.request);
      return { result, transfer: [result.actions.buffer as ArrayBuffer] };
    }
    case 'selfTest': return { result: await runner.selfTest(req.scope) };
    case 'loadAdapter': runner.adapters.load(req.slot, req.vector, req.version); return { result: null };
    case 'activateAdapter': runner.adapters.activate(req.slot); return { result: null };
    case 'removeAdapter': runner.adapters.remove(req.slot); return { result: null };
    case 'close': await runner.close(); runner = undefined; return { result: null };
  }
}

function toWire(err: unknown): WireError {
  return err instanceof BundleError ? { name: err.name, message: err.message, file: err.file, field: err.field } : plainWireError(err);
}

serveRpc<Request>(port, handle, toWire);
