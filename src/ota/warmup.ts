// Warm-up comparison: the shadow model plans on the live observations the active model just
// planned on, and the two chunks are compared in action units (joint radians): how different the
// new model's behaviour will be, reported before the swap.
export interface ChunkComparison { mean_abs: number; max_abs: number; finite: boolean }

export function compareChunks(next: Float32Array, active: Float32Array): ChunkComparison {
  const n = Math.min(next.length, active.length);
  let sum = 0, max = 0, finite = true;
  for (let i = 0; i < next.length; i++) if (!Number.isFinite(next[i]!)) finite = false;
  for (let i = 0; i < n; i++) {
    const d = Math.abs(next[i]! - active[i]!);
    sum += d;
    if (d > max) max = d;
  }
  return { mean_abs: n ? sum / n : 0, max_abs: max, finite };
}

export function allFiniteChunk(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return false;
  return true;
}
