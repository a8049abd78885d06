/**
 * Shared by the ONNX import tests: fixtures, layout conversion (ONNX batch-first <-> sparsenn
 * batch-last) and the onnxruntime-node reference run on the same bytes and inputs.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { expect } from 'vitest';
import type { Graph } from '../../lib/nn/graph.js';
import { noGrad, Tensor } from '../../lib/nn/tensor.js';
import { mulberry32, type Rng } from '../helpers/random.js';

export const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/onnx/', import.meta.url));

export function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(FIXTURE_DIR + name));
}

/** ONNX [N, ...s] (row-major) -> sparsenn [...s, N]. */
export function toBatchLast(data: Float32Array, dims: readonly number[]): Tensor {
  const n = dims[0]!;
  const s = data.length / n;
  const out = new Float32Array(data.length);
  for (let b = 0; b < n; b++) for (let j = 0; j < s; j++) out[j * n + b] = data[b * s + j]!;
  return new Tensor(out, [...dims.slice(1), n]);
}

/** sparsenn [...s, N] -> ONNX [N, ...s] values. */
export function toBatchFirst(t: Tensor): Float32Array {
  const n = t.batch;
  const s = t.size / n;
  const out = new Float32Array(t.size);
  for (let b = 0; b < n; b++) for (let j = 0; j < s; j++) out[b * s + j] = t.data[j * n + b]!;
  return out;
}

export function randomValues(rng: Rng, count: number, scale = 1): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (rng() * 2 - 1) * scale;
  return out;
}

/** One input feed: ONNX dims and values (float, or int64 ids). */
export interface Feed {
  dims: number[];
  data: Float32Array;
  int64?: boolean;
}

/** onnxruntime-node's outputs on `bytes` for `feeds` (by ONNX input name). */
export async function runOrt(bytes: Uint8Array, feeds: Record<string, Feed>): Promise<Record<string, { dims: number[]; data: Float32Array }>> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'disabled' });
  try {
    const input: Record<string, ort.Tensor> = {};
    for (const [name, f] of Object.entries(feeds))
      input[name] = f.int64 ? new ort.Tensor('int64', BigInt64Array.from(f.data, (v) => BigInt(v)), f.dims) : new ort.Tensor('float32', f.data, f.dims);
    const out = await session.run(input);
    const result: Record<string, { dims: number[]; data: Float32Array }> = {};
    for (const [name, t] of Object.entries(out)) result[name] = { dims: [...t.dims].map(Number), data: t.data as Float32Array };
    return result;
  } finally {
    await session.release();
  }
}

/** The imported graph's outputs for the same feeds (batch-first, by graph output name). */
export function runImported(graph: Graph, feeds: Record<string, Feed>, names: Record<string, string> = {}): Record<string, { dims: number[]; data: Float32Array }> {
  const inputs: Record<string, Tensor> = {};
  for (const [name, f] of Object.entries(feeds)) inputs[names[name] ?? name] = toBatchLast(f.data, f.dims);
  const out = noGrad(() => graph.run(inputs));
  const result: Record<string, { dims: number[]; data: Float32Array }> = {};
  for (const [name, t] of Object.entries(out)) result[name] = { dims: [t.batch, ...t.shape.slice(0, -1)], data: toBatchFirst(t) };
  return result;
}

/** |got - want| <= tol * (1 + |want|) element-wise, same dims. */
export function expectAllClose(got: { dims: number[]; data: Float32Array }, want: { dims: number[]; data: Float32Array }, tol = 1e-4, label = ''): void {
  expect(got.dims, `${label} dims`).toEqual(want.dims);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.data.length; i++) {
    const err = Math.abs(got.data[i]! - want.data[i]!) / (1 + Math.abs(want.data[i]!));
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  expect(worst, `${label}: worst relative error at ${at}: got ${got.data[at]}, want ${want.data[at]}`).toBeLessThanOrEqual(tol);
}

/**
 * Imports nothing itself: runs `graph` and onnxruntime on random inputs of each batch size and
 * checks every output. `inputs` gives each ONNX input's sample dims.
 */
export async function compareWithOrt(
  bytes: Uint8Array,
  graph: Graph,
  inputs: Record<string, number[]>,
  opts: { batches?: number[]; seed?: number; tol?: number; int64?: Record<string, number>; scale?: number } = {},
): Promise<void> {
  const rng = mulberry32(opts.seed ?? 1234);
  for (const n of opts.batches ?? [1, 3, 8]) {
    const feeds: Record<string, Feed> = {};
    for (const [name, sample] of Object.entries(inputs)) {
      const count = n * sample.reduce((p, d) => p * d, 1);
      const hi = opts.int64?.[name];
      feeds[name] =
        hi !== undefined
          ? { dims: [n, ...sample], data: Float32Array.from({ length: count }, () => Math.floor(rng() * hi)), int64: true }
          : { dims: [n, ...sample], data: randomValues(rng, count, opts.scale ?? 1) };
    }
    const want = await runOrt(bytes, feeds);
    const got = runImported(graph, feeds);
    expect(Object.keys(got).sort(), 'output names').toEqual(Object.keys(want).sort());
    for (const name of Object.keys(want)) expectAllClose(got[name]!, want[name]!, opts.tol ?? 1e-4, `batch ${n} output ${name}`);
  }
}
