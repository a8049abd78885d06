/**
 * bench:models — whole models, compiled by sparsenn, against onnxruntime-node running the
 * dense model (the same weights exported to ONNX, zeros included), same thread count, same
 * run, timed in turn (see lib/infer/latency.ts): LeNet-300-100 and the small CNN pruned to 90%
 * (and 2:4), and a transformer-encoder-sized MLP block (768 → 3072 → 768) at 90%. Latency at
 * batch 1, 8 and 64, throughput, and the `.spnn` file size against its bound
 * (values bytes + N·H(p) bits) and the dense fp32 size.
 *
 * Targets (issue 5): at 90%, ≥ 3× faster than onnxruntime-node for batch ≥ 8 and ≥ 1.5× at
 * batch 1; `.spnn` ≤ 1.1× (values + N·H(p)) and ≤ 12% of dense fp32 at 90% unstructured.
 *
 *   npm run bench:models [-- --threads 1,2 --models lenet300,cnn,mlp-block --batch 1,8,64 --quick]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  capabilities,
  formatLatency,
  lenet300,
  manualSeed,
  measureLatency,
  mlpBlock,
  nm,
  prune,
  sizeReport,
  smallCnn,
  type LatencyResult,
  type Module,
} from '../lib/index.js';
import { loadModelFile } from '../lib/io/files.js';
import { packageRoot } from '../lib/package-root.js';
import { CHECKPOINT } from '../lib/cli/demo.js';
import { args } from './common/args.js';

interface Case {
  name: string;
  model: string;
  pruning: '90%' | '2:4';
  sampleShape: number[];
  build(): Module;
}

function lenetWeights(): Module {
  // The trained checkpoint: real weights give real magnitude masks (dead border pixels and all).
  return loadModelFile(join(packageRoot(), CHECKPOINT)).model;
}

function pruned(build: () => Module, pruning: '90%' | '2:4'): () => Module {
  return () => {
    manualSeed(0);
    const m = build();
    if (pruning === '2:4') prune(m, { sparsity: 0.5, structure: nm(2, 4) });
    else prune(m, { sparsity: 0.9, scope: 'layer', onWarning: () => {} });
    return m;
  };
}

const CASES: Case[] = [
  { name: 'lenet300 90%', model: 'lenet300', pruning: '90%', sampleShape: [1, 28, 28], build: pruned(lenetWeights, '90%') },
  { name: 'lenet300 2:4', model: 'lenet300', pruning: '2:4', sampleShape: [1, 28, 28], build: pruned(lenetWeights, '2:4') },
  { name: 'cnn 90%', model: 'cnn', pruning: '90%', sampleShape: [1, 28, 28], build: pruned(smallCnn, '90%') },
  { name: 'cnn 2:4', model: 'cnn', pruning: '2:4', sampleShape: [1, 28, 28], build: pruned(smallCnn, '2:4') },
  { name: 'mlp-block 90%', model: 'mlp-block', pruning: '90%', sampleShape: [768], build: pruned(() => mlpBlock(768, 'gelu'), '90%') },
];

interface Options {
  threads: number[];
  models: string[];
  batch: number[];
  quick: boolean;
}

function options(argv: readonly string[]): Options {
  const o: Options = { threads: [1, 2], models: ['lenet300', 'cnn', 'mlp-block'], batch: [1, 8, 64], quick: false };
  for (const a of args(argv)) {
    if (a.name === '--threads') o.threads = a.value().split(',').map(Number);
    else if (a.name === '--models') o.models = a.value().split(',');
    else if (a.name === '--batch') o.batch = a.value().split(',').map(Number);
    else if (a.name === '--quick') o.quick = true;
    else throw new Error(`unknown option ${a.name}`);
  }
  return o;
}

function sizeCheck(m: Module) {
  const t = sizeReport(m).totals;
  const bound = t.valueBytes + t.boundBytes;
  return { fileBytes: t.fileBytes, valueBytes: t.valueBytes, indexBytes: t.indexBytes, boundBytes: t.boundBytes, denseBytes: t.denseBytes, ratioToBound: t.fileBytes / bound, ratioToDense: t.fileBytes / t.denseBytes };
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const caps = capabilities();
  const timing = o.quick ? { minSamples: 3, maxSamples: 7, budgetMs: 100, hardCapMs: 600 } : { minSamples: 9, maxSamples: 61, budgetMs: 1200, hardCapMs: 8000 };
  const results: Array<{ case: string; model: string; pruning: string; threads: number; latency: LatencyResult; size: ReturnType<typeof sizeCheck> }> = [];
  console.log(`bench:models on ${caps.cpuModel || caps.cpuVendor} (${caps.isa}); sparsenn compiled vs onnxruntime-node on the dense model\n`);
  for (const c of CASES.filter((x) => o.models.includes(x.model))) {
    const model = c.build();
    const size = sizeCheck(model);
    for (const threads of o.threads) {
      // Formats timed afresh: a cache filled while the machine was busy could pin a slower one.
      const latency = await measureLatency(model, { sampleShape: c.sampleShape, batchSizes: o.batch, threads, timing, timingCache: false });
      results.push({ case: c.name, model: c.model, pruning: c.pruning, threads, latency, size });
      console.log(`${c.name}, ${threads} thread(s): plan ${latency.plan.layers.map((l) => `${l.name} ${Object.values(l.formats).join('/')}`).join(', ')}`);
      console.log(formatLatency(latency));
      const worst = Math.max(...latency.rows.map((r) => r.maxRelDiffVsOrt ?? 0));
      console.log(`outputs vs onnxruntime: max relative difference ${worst.toExponential(2)}\n`);
    }
    console.log(`${c.name}: .spnn ${size.fileBytes} B = ${size.ratioToBound.toFixed(3)}x (values + N·H(p)), ${(size.ratioToDense * 100).toFixed(1)}% of dense fp32\n`);
  }

  // Summary against the targets.
  const lines = ['| case | threads | batch | sparse ms | dense ms | onnxruntime ms | vs onnxruntime | target | holds |', '|---|---|---|---|---|---|---|---|---|'];
  for (const r of results)
    for (const row of r.latency.rows) {
      const target = r.pruning === '90%' ? (row.batch >= 8 ? 3 : 1.5) : null;
      const s = row.speedupVsOrt;
      lines.push(`| ${r.case} | ${r.threads} | ${row.batch} | ${row.sparseMs.toFixed(3)} | ${row.denseMs.toFixed(3)} | ${row.ortMs?.toFixed(3) ?? '-'} | ${s === null ? '-' : `${s.toFixed(2)}x`} | ${target === null ? '-' : `≥ ${target}x`} | ${target === null || s === null ? '-' : s >= target ? 'yes' : 'no'} |`);
    }
  const sizeLines = ['| case | .spnn bytes | / (values + N·H(p)) | / dense fp32 | targets (90% unstructured) |', '|---|---|---|---|---|'];
  const seen = new Set<string>();
  for (const r of results) {
    if (seen.has(r.case)) continue;
    seen.add(r.case);
    const s = r.size;
    sizeLines.push(`| ${r.case} | ${s.fileBytes} | ${s.ratioToBound.toFixed(3)} | ${(s.ratioToDense * 100).toFixed(1)}% | ${r.pruning === '90%' ? `≤ 1.1: ${s.ratioToBound <= 1.1 ? 'yes' : 'no'}; ≤ 12%: ${s.ratioToDense <= 0.12 ? 'yes' : 'no'}` : '-'} |`);
  }
  console.log(lines.join('\n'));
  console.log('\n' + sizeLines.join('\n'));

  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const root = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(root, { recursive: true });
  const json = { date: new Date().toISOString(), machine: { cpu: caps.cpuModel, isa: caps.isa, node: process.version, openblasCoretype: process.env['OPENBLAS_CORETYPE'] ?? null }, options: o, results };
  const file = join(root, `models-${stamp}.json`);
  writeFileSync(file, JSON.stringify(json, null, 2));
  if (!o.quick) {
    writeFileSync(join(root, 'models-latest.json'), JSON.stringify(json, null, 2));
    writeFileSync(join(root, `models-${stamp}.md`), `${lines.join('\n')}\n\n${sizeLines.join('\n')}\n`);
  }
  console.log(`\nwrote ${file}`);
}

await main();
