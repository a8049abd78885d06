/**
 * Saves two different models over one path in an endless loop, for the kill-during-save test
 * (test/io/kill-during-save.test.ts), which kills this process at a random moment:
 *
 *   node --import tsx test/helpers/save-loop.ts <dir>
 *
 * Writes <dir>/a.ref and <dir>/b.ref (the two files' exact bytes), then saves them in turn
 * to <dir>/model.spnn, alternating saveSpnn (async) and saveSpnnSync, and prints "saved"
 * after the first save and "saving" before every later one.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Linear, ReLU, Sequential, encodeSpnn, manualSeed, saveSpnn, saveSpnnSync } from '../../lib/index.js';

const dir = process.argv[2]!;
const model = (seed: number) => {
  manualSeed(seed);
  return new Sequential(new Linear(1024, 1536), new ReLU(), new Linear(1536, 1024));
};
const a = model(1);
const b = model(2);
writeFileSync(join(dir, 'a.ref'), encodeSpnn(a));
writeFileSync(join(dir, 'b.ref'), encodeSpnn(b));
const path = join(dir, 'model.spnn');
saveSpnnSync(a, path);
console.log('saved');
for (let i = 0; ; i++) {
  console.log('saving');
  if (i % 2 === 0) await saveSpnn(i % 4 === 0 ? b : a, path);
  else saveSpnnSync(i % 4 === 1 ? b : a, path);
}
