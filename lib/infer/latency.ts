/**
 * Latency and throughput of a model, compiled sparse vs compiled dense vs onnxruntime-node
 * running the dense model (exported to ONNX, zeros included), at several batch sizes, with the
 * same thread count for everyone, measured in the same run: the sides are timed in turn
 * (interleaved batches of calls, see sides.ts) and medians reported, so a noisy machine
 * slows them alike. Used by `sparsenn bench`, the demo and `npm run bench:models`.
 */
import { exportOnnx } from '../io/onnx/export.js';
import type { Module } from '../nn/module.js';
import { Tensor } from '../nn/tensor.js';
import { getThreads, setThreads } from '../runtime.js';
import { compile } from './compile.js';
import type { PlanReport } from './plan-report.js';
import { measureSides, type Side, type TimingOptions } from './sides.js';
import type { TimingCache } from './timing.js';

export interface LatencyOptions {
  sampleShape: readonly number[];
  batchSizes?: readonly number[];
  /** Threads for sparsenn and onnxruntime alike (default: the current setting). */
  threads?: number;
  /** Include onnxruntime-node when it can be loaded (default true). */
  ort?: boolean;
  /** Timing effort per batch size (default: about 0.5 s per side). */
  timing?: Partial<TimingOptions>;
  /** The kernel-timing cache compile() uses to pick formats (default: the per-machine file; false: time afresh). */
  timingCache?: TimingCache;
  /** Called before each batch size is measured. */
  onBatch?: (batch: number, index: number, total: number) => void;
}

export interface LatencyRow {
  batch: number;
  /** Median milliseconds per call. */
  sparseMs: number;
  denseMs: number;
  ortMs: number | null;
  /** Samples per second at the median. */
  sparseThroughput: number;
  denseThroughput: number;
  ortThroughput: number | null;
  /** denseMs / sparseMs and ortMs / sparseMs. */
  speedupVsDense: number;
  speedupVsOrt: number | null;
  /** Largest |sparse − reference| relative to the reference's largest magnitude (checked once per batch size). */
  maxRelDiffVsOrt: number | null;
}

export interface LatencyResult {
  threads: number;
  ortVersion: string | null;
  /** Why onnxruntime-node is missing from the table, when it is. */
  ortNote: string | null;
  rows: LatencyRow[];
  plan: PlanReport;
}

/** A rough measurement in a fraction of the time (tests, smoke runs). */
export const QUICK_TIMING: Partial<TimingOptions> = { minSamples: 3, maxSamples: 5, budgetMs: 30, hardCapMs: 300, warmupMs: 5, batchMs: 2 };

const DEFAULT_TIMING: TimingOptions = { minSamples: 7, maxSamples: 41, budgetMs: 500, hardCapMs: 4000, warmupMs: 40, batchMs: 10, gapMs: 0 };
// With more than one thread the sides are timed one after another, each in its steady state,
// with a gap between them: onnxruntime's intra-op workers spin for about 50 ms after a run
// (measured here from /proc schedstat), so interleaved, the side after it would start with a
// core taken; and after an idle gap, the first few milliseconds of any side run slow on this VM.
const MULTI_THREAD: Partial<TimingOptions> = { order: 'blocks', gapMs: 100, warmCalls: 3 };

interface OrtModule {
  InferenceSession: { create(bytes: Uint8Array, opts: object): Promise<OrtSession> };
  Tensor: new (type: string, data: Float32Array, dims: number[]) => unknown;
  env: { versions: Record<string, string | undefined> };
}
interface OrtSession {
  inputNames: readonly string[];
  outputNames: readonly string[];
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown }>>;
  release(): Promise<void>;
}

async function loadOrt(): Promise<OrtModule | string> {
  try {
    const name = 'onnxruntime-node';
    return (await import(name)) as OrtModule;
  } catch (e) {
    return `onnxruntime-node could not be loaded (${(e as Error).message.split('\n')[0]}); install it to compare`;
  }
}

/** [...sample, n] (batch-last) → [n, ...sample] (batch-first). */
function batchFirst(x: Float32Array, sampleSize: number, n: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let f = 0; f < sampleSize; f++) for (let b = 0; b < n; b++) out[b * sampleSize + f] = x[f * n + b]!;
  return out;
}

function maxRelDiff(ours: Float32Array, theirsBatchFirst: Float32Array, n: number): number {
  const features = ours.length / n;
  let scale = 0;
  let diff = 0;
  for (let f = 0; f < features; f++)
    for (let b = 0; b < n; b++) {
      const want = theirsBatchFirst[b * features + f]!;
      scale = Math.max(scale, Math.abs(want));
      diff = Math.max(diff, Math.abs(ours[f * n + b]! - want));
    }
  return scale === 0 ? diff : diff / scale;
}

export async function measureLatency(model: Module, opts: LatencyOptions): Promise<LatencyResult> {
  const batchSizes = [...(opts.batchSizes ?? [1, 8, 64])];
  const previousThreads = getThreads();
  const threads = opts.threads ?? previousThreads;
  setThreads(threads);
  const timing = { ...DEFAULT_TIMING, ...(threads > 1 ? MULTI_THREAD : {}), ...opts.timing };
  const sampleShape = [...opts.sampleShape];
  const sampleSize = sampleShape.reduce((a, b) => a * b, 1);
  const sparse = compile(model, { sampleShape, batchSizes, ...(opts.timingCache === undefined ? {} : { timingCache: opts.timingCache }) });
  const dense = compile(model, { sampleShape, batchSizes, formats: 'dense', removeDeadUnits: false, timingCache: false });
  let ort: OrtModule | null = null;
  let ortSession: OrtSession | null = null;
  let ortNote: string | null = null;
  if (opts.ort ?? true) {
    const loaded = await loadOrt();
    if (typeof loaded === 'string') ortNote = loaded;
    else {
      ort = loaded;
      ortSession = await ort.InferenceSession.create(exportOnnx(model, { sampleShape }), {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      });
    }
  }
  const rows: LatencyRow[] = [];
  try {
    for (const [i, n] of batchSizes.entries()) {
      opts.onBatch?.(n, i, batchSizes.length);
      const x = new Float32Array(sampleSize * n);
      for (let k = 0; k < x.length; k++) x[k] = Math.sin(k * 0.7311) * 0.5 + 0.5;
      const input = new Tensor(x, [...sampleShape, n]);
      const sides: Side[] = [
        { label: 'sparse', call: () => sparse.run(input) },
        { label: 'dense', call: () => dense.run(input) },
      ];
      let check: number | null = null;
      if (ort && ortSession) {
        const session = ortSession;
        const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', batchFirst(x, sampleSize, n), [n, ...sampleShape]) };
        const theirs = (await session.run(feeds))[session.outputNames[0]!]!.data as Float32Array;
        const ours = Object.values(sparse.run(input))[0]!.data;
        check = maxRelDiff(ours, theirs, n);
        sides.push({ label: 'onnxruntime', call: () => session.run(feeds) });
      }
      const stats = await measureSides(sides, timing);
      const ms = (label: string) => {
        const s = stats.find((t) => t.label === label);
        return s ? s.medianUs / 1000 : null;
      };
      const sparseMs = ms('sparse')!;
      const denseMs = ms('dense')!;
      const ortMs = ms('onnxruntime');
      rows.push({
        batch: n,
        sparseMs,
        denseMs,
        ortMs,
        sparseThroughput: (n * 1000) / sparseMs,
        denseThroughput: (n * 1000) / denseMs,
        ortThroughput: ortMs === null ? null : (n * 1000) / ortMs,
        speedupVsDense: denseMs / sparseMs,
        speedupVsOrt: ortMs === null ? null : ortMs / sparseMs,
        maxRelDiffVsOrt: check,
      });
    }
    return { threads, ortVersion: ort ? (ort.env.versions['node'] ?? ort.env.versions['common'] ?? null) : null, ortNote, rows, plan: sparse.plan() };
  } finally {
    sparse.dispose();
    dense.dispose();
    await ortSession?.release();
    setThreads(previousThreads);
  }
}

/** The rows as a table: latency and throughput per batch size, speed-ups. */
export function formatLatency(r: LatencyResult): string {
  const head = ['batch', 'sparse ms', 'dense ms', 'onnxruntime ms', 'sparse samples/s', 'vs dense', 'vs onnxruntime'];
  const f = (v: number | null, d = 3) => (v === null ? '-' : v.toFixed(d));
  const rows = r.rows.map((x) => [String(x.batch), f(x.sparseMs), f(x.denseMs), f(x.ortMs), Math.round(x.sparseThroughput).toLocaleString('en-US'), `${f(x.speedupVsDense, 2)}x`, x.speedupVsOrt === null ? '-' : `${f(x.speedupVsOrt, 2)}x`]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (c: string[]) => c.map((s, i) => s.padStart(w[i]!)).join('  ');
  const out = [line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)];
  out.push(`threads: ${r.threads}${r.ortVersion ? `; onnxruntime-node ${r.ortVersion}` : ''}${r.ortNote ? `; ${r.ortNote}` : ''}`);
  return out.join('\n');
}
