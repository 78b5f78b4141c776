// A new bundle replaces the running one under a live control loop, recorder and robot: its I/O
// must be the running one's exactly (cameras and their sizes, state and action vectors, chunk
// timing), or the loop, the dataset's features and the robot would disagree.
import type { Manifest } from '../bundle/index.js';
import { OtaRefusal } from './errors.js';
import { bundleId } from './state.js';

export function ioDifferences(next: Manifest['io'], running: Manifest['io']): string[] {
  const d: string[] = [];
  const cams = (io: Manifest['io']) => io.cameras.map((c) => `${c.name} ${c.width}x${c.height}`).join(', ');
  if (cams(next) !== cams(running)) d.push(`cameras [${cams(next)}], running [${cams(running)}]`);
  if (next.state_dim !== running.state_dim) d.push(`state_dim ${next.state_dim}, running ${running.state_dim}`);
  if (next.action_dim !== running.action_dim) d.push(`action_dim ${next.action_dim}, running ${running.action_dim}`);
  const names = (io: Manifest['io']) => (io.action_names ?? []).join(', ');
  if (next.action_names && running.action_names && names(next) !== names(running)) d.push(`action_names [${names(next)}], running [${names(running)}]`);
  if (next.chunk_length !== running.chunk_length) d.push(`chunk_length ${next.chunk_length}, running ${running.chunk_length}`);
  if (next.control_dt !== running.control_dt) d.push(`control_dt ${next.control_dt}, running ${running.control_dt}`);
  return d;
}

export function checkIoFits(next: Manifest, running: Manifest): void {
  const d = ioDifferences(next.io, running.io);
  if (d.length) throw new OtaRefusal('io_mismatch', `${bundleId(next)} does not fit this robot: ${d.join('; ')}`);
}

/** Adapters learnt on the robot fit a new base only if the expert and the LoRA layout are the same. */
export function adaptersCarryOver(next: Manifest, running: Manifest): boolean {
  const layout = (m: Manifest) => JSON.stringify([m.lora.rank, m.lora.alpha, m.lora.size, m.lora.targets, m.lora.layout]);
  return next.expert.kind === running.expert.kind && layout(next) === layout(running);
}
