/**
 * Finds the root folder of the sparsenn package (the folder of the package.json whose name is
 * 'sparsenn'), for files that ship with the package (data/, the native build). The same walk as
 * lib/native.ts, which keeps its own copy so that the addon loader depends on nothing else.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeError } from './errors.js';

let cached: string | undefined;

/**
 * The package root: the nearest folder at or above this module holding a package.json named
 * 'sparsenn'. Works from lib/ (sources run by tsx or vitest), dist/ and the bundled CommonJS build.
 * @throws {NativeError} ERR_INTERNAL when there is no such folder (a broken installation).
 */
export function packageRoot(): string {
  if (cached !== undefined) return cached;
  const start = fileURLToPath(import.meta.url);
  let dir = dirname(start);
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'sparsenn') {
          cached = dir;
          return dir;
        }
      } catch {
        // not ours (or unreadable); keep looking
      }
    }
    const up = dirname(dir);
    if (up === dir) {
      throw new NativeError('ERR_INTERNAL', `sparsenn: cannot find the package root (a package.json named 'sparsenn') above ${start}`);
    }
    dir = up;
  }
}
