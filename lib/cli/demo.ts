/**
 * The main job: LeNet-300-100 on Fashion-MNIST, from the shipped dense checkpoint (or trained
 * here with --retrain), pruned gradually to 90% while fine-tuning (Zhu & Gupta), compiled, and
 * compared dense vs sparse vs onnxruntime-node for accuracy, size and latency; the numbers go
 * into a self-contained HTML report. Data: the full Fashion-MNIST when the Debian package is
 * installed, else the subset shipped with sparsenn.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeSpnn, sizeReport } from '../io/spnn.js';
import { saveModelFile, loadModelFile } from '../io/files.js';
import { measureLatency, QUICK_TIMING, type LatencyResult } from '../infer/latency.js';
import { moduleFromConfig } from '../nn/registry.js';
import type { Module } from '../nn/module.js';
import { Adam } from '../nn/optim/adam.js';
import { manualSeed } from '../nn/init.js';
import { evaluate, fit } from '../nn/train/fit.js';
import { lenet300 } from '../nn/zoo.js';
import { packageRoot } from '../package-root.js';
import { prune, Pruner } from '../prune/pruner.js';
import { sparsityReport } from '../prune/report.js';
import { polynomialDecay } from '../prune/schedules.js';
import { writeReport } from '../report/write.js';
import type { ReportData } from '../report/types.js';
import { capabilities } from '../runtime.js';
import type { CliContext } from './context.js';
import { loadData, type DataChoice } from './data.js';

export const CHECKPOINT = 'data/checkpoints/lenet300-fashion-mnist.spnn';
const SAMPLE_SHAPE = [1, 28, 28];

export interface DemoOptions {
  sparsity: number;
  /** Gradual-pruning epochs (default: 3 on the full set, 15 on the subset). */
  epochs?: number;
  /** Train the dense model here instead of loading the checkpoint. */
  retrain: boolean;
  data: string;
  outDir: string;
  batchSizes: number[];
  threads: number;
  ort: boolean;
  seed: number;
  /** Rough latency numbers (few samples). */
  quick?: boolean;
}

export interface DemoResult {
  data: string;
  checkpoint: string | null;
  dense: { accuracy: number; bytes: number };
  sparse: { accuracy: number; sparsity: number; bytes: number; file: string };
  oneShot: Array<{ sparsity: number; accuracy: number }>;
  latency: LatencyResult;
  report: string;
  seconds: number;
}

function copyOf(model: Module): Module {
  const m = moduleFromConfig(model.config());
  m.loadStateDict(model.stateDict(), { masks: model.masks() });
  return m;
}

async function denseModel(opts: DemoOptions, data: DataChoice, ctx: CliContext): Promise<{ model: Module; checkpoint: string | null }> {
  const path = join(packageRoot(), CHECKPOINT);
  if (!opts.retrain && existsSync(path)) {
    ctx.note(`dense model: the shipped checkpoint ${CHECKPOINT}`);
    return { model: loadModelFile(path).model, checkpoint: CHECKPOINT };
  }
  const epochs = data.full ? 8 : 30;
  ctx.note(`dense model: training LeNet-300-100 for ${epochs} epochs on ${data.description}`);
  manualSeed(opts.seed);
  const model = lenet300();
  await fit(model, data.train, { optimizer: new Adam(model.parameters(), { lr: 1e-3 }), epochs, batchSize: 64, seed: opts.seed, progress: ctx.trainingProgress });
  return { model, checkpoint: null };
}

async function gradualPrune(dense: Module, opts: DemoOptions, data: DataChoice, ctx: CliContext): Promise<Module> {
  const model = copyOf(dense);
  const epochs = opts.epochs ?? (data.full ? 3 : 15);
  const batch = 64;
  const steps = Math.ceil(data.train.length / batch) * epochs;
  const frequency = Math.max(1, Math.min(100, Math.floor(steps / 30)));
  const begin = Math.round((0.1 * steps) / frequency) * frequency;
  const end = begin + Math.max(1, Math.round((0.5 * steps) / frequency)) * frequency;
  ctx.note(`pruning gradually to ${(opts.sparsity * 100).toFixed(0)}% (global magnitude, cubic schedule) while fine-tuning ${epochs} epochs`);
  const schedule = polynomialDecay(new Pruner(model, { scope: 'global', onWarning: () => {} }), { finalSparsity: opts.sparsity, beginStep: begin, endStep: end, frequency });
  await fit(model, data.train, { optimizer: new Adam(model.parameters(), { lr: 5e-4 }), epochs, batchSize: batch, seed: opts.seed, callbacks: [schedule], progress: ctx.trainingProgress });
  return model;
}

function version(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export async function runDemo(opts: DemoOptions, ctx: CliContext): Promise<{ result: DemoResult; report: ReportData }> {
  const t0 = performance.now();
  const data = await loadData(opts.data);
  ctx.note(`data: ${data.description}`);
  const { model: dense, checkpoint } = await denseModel(opts, data, ctx);
  const denseAccuracy = evaluate(dense, data.test).accuracy;

  // Accuracy vs sparsity without any retraining: what one-shot pruning alone costs.
  const oneShot = [0.5, 0.8, 0.9, 0.95, 0.98].map((sparsity) => {
    const m = copyOf(dense);
    prune(m, { sparsity, scope: 'global', onWarning: () => {} });
    return { sparsity, accuracy: evaluate(m, data.test).accuracy };
  });

  const sparse = await gradualPrune(dense, opts, data, ctx);
  const sparseAccuracy = evaluate(sparse, data.test).accuracy;
  const file = join(opts.outDir, `lenet300-${Math.round(opts.sparsity * 100)}.spnn`);
  await saveModelFile(sparse, file, { sampleShape: SAMPLE_SHAPE });
  const sizes = sizeReport(sparse).totals;
  const denseBytes = encodeSpnn(dense).length;
  const sparsity = sparsityReport(sparse, { sampleShape: SAMPLE_SHAPE });

  ctx.note(`compiling and timing dense vs sparse${opts.ort ? ' vs onnxruntime-node' : ''} at batch ${opts.batchSizes.join(', ')} (${opts.threads} thread(s))`);
  const latency = await measureLatency(sparse, { sampleShape: SAMPLE_SHAPE, batchSizes: opts.batchSizes, threads: opts.threads, ort: opts.ort, timing: opts.quick ? QUICK_TIMING : undefined });
  const seconds = (performance.now() - t0) / 1000;

  const reportPath = join(opts.outDir, 'report.html');
  const caps = capabilities();
  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  const best = latency.rows.reduce((a, r) => (r.speedupVsDense > a.speedupVsDense ? r : a));
  const report: ReportData = {
    title: `LeNet-300-100 pruned to ${(opts.sparsity * 100).toFixed(0)}% — sparsenn demo`,
    generatedAt: new Date().toISOString(),
    machine: { cpu: caps.cpuModel || caps.cpuVendor || 'unknown', isa: caps.isa, threads: latency.threads, node: process.version, sparsenn: version() },
    model: { name: 'LeNet-300-100', parameters: dense.parameters().reduce((a, p) => a + p.size, 0), sampleShape: SAMPLE_SHAPE, description: `784-300-100-10 MLP on ${data.description}` },
    summary: [
      { label: 'Test accuracy, dense', value: pct(denseAccuracy) },
      { label: `Test accuracy, ${(opts.sparsity * 100).toFixed(0)}% sparse (gradual)`, value: pct(sparseAccuracy) },
      { label: 'Model file, dense → sparse (.spnn)', value: `${(denseBytes / 1024).toFixed(0)} KiB → ${(sizes.fileBytes / 1024).toFixed(0)} KiB` },
      { label: `Speed-up vs dense (batch ${best.batch})`, value: `${best.speedupVsDense.toFixed(2)}×` },
      ...latency.rows.filter((r) => r.speedupVsOrt !== null).map((r) => ({ label: `Speed-up vs onnxruntime-node, batch ${r.batch}`, value: `${r.speedupVsOrt!.toFixed(2)}×` })),
    ],
    accuracy: {
      dense: { accuracy: denseAccuracy * 100 },
      series: [
        { method: 'one-shot magnitude (no retraining)', points: oneShot.map((p) => ({ sparsity: p.sparsity, accuracy: p.accuracy * 100 })) },
        { method: 'gradual magnitude + fine-tuning', points: [{ sparsity: sparsity.sparsity, accuracy: sparseAccuracy * 100 }] },
      ],
    },
    layers: sparsity.layers.map((l) => ({ name: l.name, shape: [...l.shape], nnz: l.nnz, size: l.size, sparsity: l.sparsity, structure: l.structure, flopsDense: l.flopsDense, flopsSparse: l.flopsSparse })),
    size: {
      denseBytes: sizes.denseBytes,
      fileBytes: sizes.fileBytes,
      valuesBytes: sizes.valueBytes,
      indexBytes: sizes.indexBytes,
      entropyBoundBytes: sizes.valueBytes + sizes.boundBytes,
      otherBytes: sizes.headerBytes,
    },
    latency: latency.rows.map((r) => ({ batch: r.batch, denseMs: r.denseMs, sparseMs: r.sparseMs, ...(r.ortMs !== null ? { ortMs: r.ortMs } : {}) })),
    plan: { layers: latency.plan.layers, steps: latency.plan.steps },
    notes: [
      checkpoint ? `The dense model is the checkpoint shipped with sparsenn (${checkpoint}), trained on the full Fashion-MNIST training set.` : 'The dense model was trained in this run.',
      `Latency: medians of interleaved repeated runs, ${latency.threads} thread(s) for every side; onnxruntime-node runs the dense model exported to ONNX.${latency.ortNote ? ` ${latency.ortNote}.` : ''}`,
      `Total time of the demo: ${seconds.toFixed(1)} s.`,
    ],
  };
  await writeReport(report, reportPath);
  return {
    result: {
      data: data.description,
      checkpoint,
      dense: { accuracy: denseAccuracy, bytes: denseBytes },
      sparse: { accuracy: sparseAccuracy, sparsity: sparsity.sparsity, bytes: sizes.fileBytes, file },
      oneShot,
      latency,
      report: reportPath,
      seconds,
    },
    report,
  };
}

