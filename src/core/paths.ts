// Files that ship with the package (hw-profiles, models/bundles, launch) are found relative to the
// package root, never the current directory: `vlad demo` works from anywhere.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The package root: the nearest directory above this module holding package.json and hw-profiles/. */
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'hw-profiles'))) return (root = dir);
    dir = dirname(dir);
  }
  throw new Error(`package root (package.json + hw-profiles/) not found above ${fileURLToPath(import.meta.url)}`);
}

/** A path inside the package, e.g. packagePath('models', 'bundles', 'vlad-base-flow'). */
export const packagePath = (...parts: string[]): string => join(packageRoot(), ...parts);

/** The shipped model every command uses by default. */
export const shippedBundlePath = (): string => packagePath('models', 'bundles', 'vlad-base-flow');
