/**
 * A process killed (SIGKILL) while it saves a model never leaves the model corrupt or
 * missing: after every kill the file holds one complete earlier save, byte for byte, and
 * loads with its checksum verified. Temporary files of the interrupted write may remain
 * (nothing can clean up after SIGKILL); they never take the model's place.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { loadSpnnSync } from '../../lib/index.js';
import { mulberry32 } from '../helpers/random.js';

const script = join(__dirname, '..', 'helpers', 'save-loop.ts');

/** Starts the save loop, lets it run for `ms` after its first save, kills it. */
async function killDuringSaves(dir: string, ms: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout });
  await new Promise<void>((resolve, reject) => {
    lines.on('line', (l) => l === 'saved' && resolve());
    child.once('exit', (code) => reject(new Error(`the save loop exited (code ${code}) before its first save`)));
  });
  await new Promise((r) => setTimeout(r, ms));
  child.kill('SIGKILL');
  await exited;
}

describe('killing a process while it saves', () => {
  it('leaves a complete, loadable earlier save every time', async () => {
    const rng = mulberry32(2026);
    // Rounds until three kills have landed mid-write (a save is ~3/4 encoding, ~1/4 writing
    // on a typical machine), at most 40.
    let interrupted = 0;
    let rounds = 0;
    for (let round = 0; round < 40 && interrupted < 3; round++, rounds++) {
      const dir = mkdtempSync(join(tmpdir(), 'sparsenn-kill-'));
      await killDuringSaves(dir, 20 + Math.floor(rng() * 200));
      const bytes = readFileSync(join(dir, 'model.spnn'));
      const refs = [readFileSync(join(dir, 'a.ref')), readFileSync(join(dir, 'b.ref'))];
      expect(refs.some((r) => r.equals(bytes)), `round ${round}: the file is not one of the two saves`).toBe(true);
      expect(() => loadSpnnSync(join(dir, 'model.spnn'))).not.toThrow();
      if (readdirSync(dir).some((f) => f.startsWith('model.spnn.tmp-'))) interrupted++;
    }
    // The kills must land inside writes, or the test proves nothing.
    expect(interrupted, `${interrupted} of ${rounds} kills landed mid-write`).toBeGreaterThan(0);
  }, 240_000);
});
