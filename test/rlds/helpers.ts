// Shared by the rlds tests (node --test also loads this file; it defines no tests).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repo root: this file runs from dist/test/rlds/. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** test/fixtures/rlds in the repository (README.md there says what is in it and where it comes from). */
export function fixturesDir(): string {
  const dir = join(repoRoot, 'test', 'fixtures', 'rlds');
  if (!existsSync(join(dir, 'PROVENANCE.md'))) throw new Error(`RLDS fixtures not found at ${dir}`);
  return dir;
}

const created: string[] = [];
process.on('exit', () => { for (const d of created) rmSync(d, { recursive: true, force: true }); });

/** A fresh temporary directory, removed when the test process exits. */
export function tempDir(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `vlad-rlds-${tag}-`));
  created.push(d);
  return d;
}

export const cliPath = join(repoRoot, 'dist', 'src', 'cli', 'main.js');

/** Deterministic test image, uint8 HWC RGB. */
export function testImage(h: number, w: number, seed: number): Uint8Array {
  const a = new Uint8Array(h * w * 3);
  let r = (seed * 2654435761) >>> 0;
  for (let i = 0; i < a.length; i++) { r = (r * 1664525 + 1013904223) >>> 0; a[i] = r >>> 24; }
  return a;
}
