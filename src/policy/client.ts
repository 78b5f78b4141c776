// The policy worker as seen from the main thread: core's WorkerRpc, with bundle errors rebuilt
// from their wire form so callers can tell a bad bundle (file + field) from anything else.
import { BundleError } from '../bundle/index.js';
import { WorkerRpc, type WireError } from '../core/index.js';
import type { Request, ResultOf } from './protocol.js';

export class PolicyWorkerError extends Error {
  constructor(wire: WireError) {
    super(wire.message);
    this.name = wire.name;
  }
}

export type PolicyWorker = WorkerRpc<Request, ResultOf>;

export function startPolicyWorker(log: (line: string) => void): PolicyWorker {
  return new WorkerRpc<Request, ResultOf>(new URL('./worker.js', import.meta.url), { name: 'policy worker', log, toError });
}

function toError(e: WireError): Error {
  if (e.file === undefined) return new PolicyWorkerError(e);
  const prefix = `${e.file}: ${e.field}: `;
  return new BundleError(e.file, e.field ?? '', e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message);
}
