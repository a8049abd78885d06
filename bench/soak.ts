/**
 * Soak test (a script, not a unit test): memory must stay flat under long use.
 *
 *   npm run soak [-- --inferences 1000000 --cycles 10000 --quick]
 *
 * 1. Inferences: LeNet-300-100 pruned to 90%, compiled once; 1,000,000 single-sample runs
 *    (sync and async alternating in blocks).
 * 2. Load/unload cycles: 10,000 times decode the model's .spnn bytes, compile it, run it once,
 *    dispose it.
 * After a warm-up (the first 10% of each phase) RSS and V8's external memory (the addon's
 * native matrices are reported there) are sampled after a forced GC; the phase passes when
 * neither grew more than 5% from the first sample to the last (and the peak stayed within 10%;
 * external memory within 16 MB, the scratch buffers a run may hold). Prints a
 * table and writes bench/results/soak-<time>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { compile, decodeSpnn, encodeSpnn, lenet300, manualSeed, prune, setThreads, Tensor } from '../lib/index.js';
import { args } from './common/args.js';

function gcFn(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
const gc = gcFn();

interface Sample {
  at: number;
  rssMb: number;
  externalMb: number;
}

async function sample(at: number): Promise<Sample> {
  gc();
  await new Promise((r) => setImmediate(r)); // let the addon's finalizers run
  gc();
  const m = process.memoryUsage();
  return { at, rssMb: m.rss / 2 ** 20, externalMb: (m.external + m.arrayBuffers) / 2 ** 20 };
}

interface Phase {
  name: string;
  iterations: number;
  seconds: number;
  samples: Sample[];
  rssGrowth: number;
  externalGrowth: number;
  flat: boolean;
}

function verdict(name: string, iterations: number, seconds: number, samples: Sample[]): Phase {
  const first = samples[0]!;
  const last = samples[samples.length - 1]!;
  const peakRss = Math.max(...samples.map((s) => s.rssMb));
  const peakExt = Math.max(...samples.map((s) => s.externalMb));
  const rssGrowth = last.rssMb / first.rssMb - 1;
  const externalGrowth = last.externalMb / first.externalMb - 1;
  // Growth is what a leak looks like; memory that goes down after the warm-up is fine.
  const flat = rssGrowth <= 0.05 && externalGrowth <= 0.05 && peakRss <= first.rssMb * 1.1 && peakExt <= Math.max(first.externalMb * 1.1, first.externalMb + 16);
  return { name, iterations, seconds, samples, rssGrowth, externalGrowth, flat };
}

async function main(): Promise<void> {
  let inferences = 1_000_000;
  let cycles = 10_000;
  for (const a of args(process.argv.slice(2))) {
    if (a.name === '--inferences') inferences = a.int();
    else if (a.name === '--cycles') cycles = a.int();
    else if (a.name === '--quick') {
      inferences = 100_000;
      cycles = 1_000;
    } else throw new Error(`unknown option ${a.name}`);
  }
  setThreads(1);
  manualSeed(0);
  const model = lenet300();
  prune(model, { sparsity: 0.9, scope: 'layer', onWarning: () => {} });
  const bytes = encodeSpnn(model);
  const x = new Tensor(Float32Array.from({ length: 784 }, (_, i) => Math.sin(i)), [1, 28, 28, 1]);
  const phases: Phase[] = [];

  // 1. Inferences on one session.
  {
    const session = compile(model, { sampleShape: [1, 28, 28], batchSizes: [1] });
    const samples: Sample[] = [];
    const warm = Math.floor(inferences / 10);
    const every = Math.max(1, Math.floor((inferences - warm) / 20));
    const t0 = performance.now();
    for (let i = 0; i < inferences; ) {
      // Blocks of 1,000: sync, then async (awaited one by one).
      const block = Math.min(1000, inferences - i);
      if ((i / 1000) % 2 === 0) for (let k = 0; k < block; k++) session.run(x);
      else for (let k = 0; k < block; k++) await session.runAsync(x);
      i += block;
      if (i >= warm && (i - warm) % every < block) samples.push(await sample(i));
    }
    const seconds = (performance.now() - t0) / 1000;
    session.dispose();
    phases.push(verdict('inferences (sync and async, batch 1)', inferences, seconds, samples));
  }

  // 2. Load, compile, run, dispose.
  {
    const samples: Sample[] = [];
    const warm = Math.floor(cycles / 10);
    const every = Math.max(1, Math.floor((cycles - warm) / 20));
    const t0 = performance.now();
    for (let i = 1; i <= cycles; i++) {
      const session = compile(decodeSpnn(bytes), { sampleShape: [1, 28, 28], batchSizes: [1] });
      session.run(x);
      session.dispose();
      // As in a service: the event loop turns between loads (native memory that only the GC
      // frees is released by finalizers that run from the loop).
      await new Promise((r) => setImmediate(r));
      if (i >= warm && (i - warm) % every === 0) samples.push(await sample(i));
    }
    const seconds = (performance.now() - t0) / 1000;
    phases.push(verdict('load + compile + run + dispose cycles', cycles, seconds, samples));
  }

  const lines = [
    '| phase | iterations | time | RSS first → last (MB) | growth | external first → last (MB) | growth | flat (±5%) |',
    '|---|---:|---:|---:|---:|---:|---:|---|',
    ...phases.map((p) => {
      const f = p.samples[0]!;
      const l = p.samples[p.samples.length - 1]!;
      return `| ${p.name} | ${p.iterations} | ${p.seconds.toFixed(0)} s | ${f.rssMb.toFixed(1)} → ${l.rssMb.toFixed(1)} | ${(p.rssGrowth * 100).toFixed(1)}% | ${f.externalMb.toFixed(2)} → ${l.externalMb.toFixed(2)} | ${(p.externalGrowth * 100).toFixed(1)}% | ${p.flat ? 'yes' : 'no'} |`;
    }),
  ];
  console.log(lines.join('\n'));
  const here = dirname(fileURLToPath(import.meta.url));
  const out = join(here, 'results', `soak-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ node: process.version, phases }, null, 2));
  console.log(`\nwrote ${out}`);
  if (phases.some((p) => !p.flat)) process.exitCode = 1;
}

await main();
