/**
 * flopsReport(): the arithmetic one inference sample costs, layer by layer, dense and with the
 * weights' masks; JSON-friendly, with a plain-text table (formatFlopsReport).
 *
 * Conventions (per sample, from one traced forward pass in eval mode):
 * - **MACs** are the multiply-accumulates of the weight products only. A Linear costs
 *   out * in dense and nnz sparse per output position (1 position for a [features, n] input); a
 *   Conv2d costs weight.size = outC * (inC / groups) * kh * kw dense and nnz sparse per output
 *   position OH * OW. Taps that fall on zero padding are counted, as an im2col / direct kernel
 *   computes them (the convention of fvcore, ptflops and sparsityReport).
 * - **FLOPs** count a multiply-accumulate as 2 (so the weight part is 2 * MACs, exactly
 *   sparsityReport's flopsDense / flopsSparse), plus 1 per output for a bias, plus the cheap
 *   layers below, whose cost does not depend on the masks.
 * - **transcendentals** counts evaluations of exp, tanh, erf and rsqrt, kept apart from FLOPs
 *   because their cost in FLOPs depends on the implementation.
 *
 * Cheap layers, per element of the output unless said otherwise (the arithmetic of the textbook
 * formula; a sign flip is free):
 * | layer | FLOPs | transcendentals |
 * |---|---|---|
 * | ReLU `max(x, 0)` | 1 | 0 |
 * | LeakyReLU `max(x, a x)` | 2 | 0 |
 * | HardSigmoid `min(max(x + 3, 0), 6) / 6` | 4 | 0 |
 * | HardSwish `x * hardsigmoid(x)` | 5 | 0 |
 * | Tanh | 0 | 1 |
 * | Sigmoid `1 / (1 + exp(-x))` | 2 | 1 |
 * | GELU `x/2 (1 + erf(x/√2))` | 4 | 1 |
 * | GELU, tanh approximation | 8 | 1 |
 * | BatchNorm with running statistics (a per-channel scale and shift once folded) | 2 | 0 |
 * | Add of k inputs | k - 1 | 0 |
 * | Softmax over K values (max, subtract, exp, sum, divide) | 4K - 2 per K values | K per K values |
 * | LayerNorm / GroupNorm / BatchNorm on batch statistics, per group of N values | 5N + 1 (+ 2N affine) | 1 (rsqrt) |
 * | MaxPool2d | window inputs inside the image - 1 (compares) | 0 |
 * | AvgPool2d | window inputs inside the image (adds and one scale) | 0 |
 * | GlobalAvgPool | one per input element | 0 |
 * | Dropout (eval), Flatten, Reshape, Concat, Embedding (a lookup) | 0 | 0 |
 * | Elementwise add / sub / mul / div (two activations or one and a constant, broadcast) | 1 | 0 |
 * | Elementwise pow: by the constant 2 (a square) | 1 | 0 |
 * | Elementwise pow, any other (exp(y log x)) | 0 | 1 |
 * | Unary sqrt / erf / exp / log | 0 | 1 |
 * | Unary reciprocal | 1 | 0 |
 * | Unary neg / abs (a sign bit) | 0 | 0 |
 * | Clip | 1 per finite bound | 0 |
 * | ReduceMean of R values into one (R - 1 adds, one scale) | R per output, so 1 per input; 0 when R = 1 | 0 |
 * | Resize, linear (4 taps: 4 multiplies, 3 adds; the tap weights depend on the position only) | 7 | 0 |
 * | Resize nearest, Identity, Transpose, Slice, Gather, ConstantPad (data movement) | 0 | 0 |
 *
 * Products besides Linear and Conv2d:
 * - an **AlongAxis** layer applies its inner layer at every position of the other sample axes:
 *   it costs the inner layer's cost for one [features] sample times the positions (a Linear
 *   inside costs out * in MACs dense and nnz sparse per position, its bias one add per output);
 * - a **ConvTranspose2d** (weight [inC, outC / groups, kh, kw]) multiplies every input position
 *   by every weight of its input channel: weight.size dense and nnz sparse MACs per input
 *   position H * W, the taps that land in the cropped padding included, as the GEMM + col2im
 *   kernel computes them; the bias one add per output;
 * - **MatMulActs**, a product of two activations, costs M * K * N MACs per matrix (out elements
 *   times the shared dimension K), the same dense and sparse: no mask applies to activations.
 *
 * A batch norm right after a convolution or Linear can be folded into its weights, making its
 * cost 0; it is counted here as run. A module type not in this list (a custom layer) is listed
 * in `uncounted` and left out of the totals; computation a container does in its own forward()
 * outside any module (found through the trace, see trace.ts) makes `complete` false.
 */
import { SparsennTypeError } from '../errors.js';
import { Add, Concat, Dropout, Flatten, GELU, HardSigmoid, HardSwish, LeakyReLU, ReLU, Reshape, Sigmoid, Softmax, Tanh } from '../nn/layers/activations.js';
import { Conv2d } from '../nn/layers/conv.js';
import { Embedding } from '../nn/layers/embedding.js';
import { Linear } from '../nn/layers/linear.js';
import { BatchNormBase, GroupNorm, LayerNorm } from '../nn/layers/norm.js';
import { AvgPool2d, GlobalAvgPool, MaxPool2d } from '../nn/layers/pool.js';
import { AlongAxis, ConstantPad } from '../nn/layers/axis.js';
import { Clip, ConvTranspose2d, Elementwise, Gather, Identity, MatMulActs, ReduceMean, Resize, Slice, Transpose, Unary } from '../nn/layers/tensor-ops.js';
import { Module } from '../nn/module.js';
import { sampleAxis } from '../nn/ops/elementwise.js';
import type { Parameter } from '../nn/parameter.js';
import { Tensor } from '../nn/tensor.js';
import { detectStructure, sparsityReport } from '../prune/report.js';
import { pruneTargets } from '../prune/targets.js';
import { producers, sampleShapeOf, typeName, type LeafCall, type SampleShape } from '../nn/trace.js';
import { traceForAnalysis } from './trace.js';

/** The cost of one call of one leaf module, per sample. */
export interface LayerFlops {
  /** The module's full name ('' when the model is itself a single layer). */
  name: string;
  /** Its class name ('Linear', 'Conv2d', 'ReLU', ...). */
  type: string;
  /** One sample's shape of each input and of the output (batch excluded). */
  inputShapes: number[][];
  outputShape: number[];
  /**
   * Weight entries and kept weights (mask, or nonzeros without one) of a Linear, Conv2d,
   * ConvTranspose2d or the Linear inside an AlongAxis; 0 for other layers.
   */
  params: number;
  nnz: number;
  /**
   * The mask's structure as sparsityReport names it ('dense', '2:4', 'unstructured', ...; a
   * ConvTranspose2d's weight seen as [inC, rest] rows); null for other layers.
   */
  structure: string | null;
  /**
   * Positions each weight is applied at: 1 for a Linear on features, OH * OW for a Conv2d, the
   * input's H * W for a ConvTranspose2d, the positions of the other sample axes for a Linear in
   * an AlongAxis; null for other layers.
   */
  positions: number | null;
  macsDense: number;
  macsSparse: number;
  flopsDense: number;
  flopsSparse: number;
  transcendentals: number;
  /** false for a module type this file cannot count: its cost is 0 here and left out of the totals. */
  counted: boolean;
}

export interface FlopsReport {
  /** One entry per call of a leaf module, in execution order (a module used twice appears twice). */
  layers: LayerFlops[];
  macsDense: number;
  macsSparse: number;
  flopsDense: number;
  flopsSparse: number;
  transcendentals: number;
  /** flopsDense / flopsSparse (1 when both are 0). */
  speedup: number;
  /** 'name (Type)' of each call whose cost is unknown; the totals leave them out. */
  uncounted: string[];
  /** false when the model computes something outside its modules (not counted). */
  complete: boolean;
}

export interface FlopsOptions {
  /**
   * One sample's input shape, batch excluded (e.g. [3, 32, 32]); one per input for a
   * multi-input Graph. Optional when the first layer is a Linear ([inFeatures]).
   */
  sampleShape?: SampleShape;
}

interface Cost {
  macsDense: number;
  macsSparse: number;
  /** FLOPs besides 2 * MACs (bias, cheap layers); the same dense and sparse. */
  extra: number;
  transcendentals: number;
}

const none: Cost = { macsDense: 0, macsSparse: 0, extra: 0, transcendentals: 0 };

function prod(a: readonly number[]): number {
  return a.reduce((x, y) => x * y, 1);
}

/** Elements of one sample of a tensor. */
function perSample(shape: readonly number[]): number {
  return prod(shape);
}

/** Σ over output indices o of the window inputs inside [0, size): one axis of a pooling window. */
function windowInputs(size: number, outSize: number, kernel: number, stride: number, pad: number): number {
  let total = 0;
  for (let o = 0; o < outSize; o++) {
    const start = o * stride - pad;
    total += Math.max(0, Math.min(start + kernel, size) - Math.max(start, 0));
  }
  return total;
}

/** Cost of a normalisation over `groups` groups of `n` values each, with `affine` per-element scale and shift. */
function normCost(groups: number, n: number, affine: boolean): Cost {
  return { ...none, extra: groups * (5 * n + 1 + (affine ? 2 * n : 0)), transcendentals: groups };
}

/** A layer with a prunable weight. */
type Weighted = Linear | Conv2d | ConvTranspose2d;

/** The weighted layer of a call (the Linear inside an AlongAxis) and the positions its weight is applied at. */
function weightedOf(c: LeafCall): { layer: Weighted; positions: number } | null {
  const m = c.module;
  const outSize = perSample(sampleShapeOf(c.output));
  if (m instanceof Linear || m instanceof Conv2d) return { layer: m, positions: outSize / m.weight.shape[0]! };
  if (m instanceof AlongAxis && m.layer instanceof Linear) return { layer: m.layer, positions: outSize / m.layer.outFeatures };
  // every input pixel meets every weight of its channel
  if (m instanceof ConvTranspose2d) return { layer: m, positions: perSample(sampleShapeOf(c.inputs[0]!)) / m.inChannels };
  return null;
}

/** 1 where a weight is kept: its mask, or nonzero without one (sparsityReport's rule). */
function keptPattern(p: Parameter): Uint8Array {
  if (p.mask) return p.mask;
  const k = new Uint8Array(p.size);
  for (let i = 0; i < p.size; i++) k[i] = p.data[i] !== 0 ? 1 : 0;
  return k;
}

/** Scales every part of a cost (an inner layer's cost at each of `times` positions). */
function times(k: Cost, n: number): Cost {
  return { macsDense: k.macsDense * n, macsSparse: k.macsSparse * n, extra: k.extra * n, transcendentals: k.transcendentals * n };
}

const TRANSCENDENTAL_UNARY = new Set(['sqrt', 'erf', 'exp', 'log']);

/** The cost of one call; null for a module type not counted. `nnz`: kept weights of the module's weight. */
function callCost(c: LeafCall, nnz: (m: Weighted) => number): Cost | null {
  const m = c.module;
  const inShape = c.inputs[0] ? sampleShapeOf(c.inputs[0]) : [];
  const outShape = sampleShapeOf(c.output);
  const outSize = perSample(outShape);
  if (m instanceof Linear || m instanceof Conv2d || m instanceof ConvTranspose2d) {
    const { positions } = weightedOf(c)!;
    return {
      macsDense: m.weight.size * positions,
      macsSparse: nnz(m) * positions,
      extra: m.bias ? outSize : 0,
      transcendentals: 0,
    };
  }
  if (m instanceof AlongAxis) {
    // The inner layer sees [features, positions * n]: its cost for one [features] sample, per position.
    const a = sampleAxis(m.axis, c.inputs[0]!.rank, 'AlongAxis', c.inputs[0]!.shape);
    const features = inShape[a]!;
    const inner = callCost({ module: m.layer, name: c.name, inputs: [Tensor.zeros([features, 1])], output: Tensor.zeros([outShape[a]!, 1]) }, nnz);
    return inner && times(inner, perSample(inShape) / features);
  }
  if (m instanceof ReLU) return { ...none, extra: outSize };
  if (m instanceof LeakyReLU) return { ...none, extra: 2 * outSize };
  if (m instanceof HardSigmoid) return { ...none, extra: 4 * outSize };
  if (m instanceof HardSwish) return { ...none, extra: 5 * outSize };
  if (m instanceof Tanh) return { ...none, transcendentals: outSize };
  if (m instanceof Sigmoid) return { ...none, extra: 2 * outSize, transcendentals: outSize };
  if (m instanceof GELU) return { ...none, extra: (m.approximate === 'tanh' ? 8 : 4) * outSize, transcendentals: outSize };
  if (m instanceof BatchNormBase) {
    if (m.trackRunningStats) return { ...none, extra: 2 * outSize };
    const channels = outShape[0] ?? 1;
    return normCost(channels, outSize / channels, m.affine);
  }
  if (m instanceof LayerNorm) return normCost(1, outSize, m.elementwiseAffine);
  if (m instanceof GroupNorm) return normCost(m.numGroups, outSize / m.numGroups, m.affine);
  if (m instanceof Softmax) {
    const k = outShape[sampleAxis(m.axis, c.output.rank, 'Softmax', c.output.shape)]!;
    const vectors = outSize / k;
    return { ...none, extra: vectors * (4 * k - 2), transcendentals: outSize };
  }
  if (m instanceof Add) return { ...none, extra: (c.inputs.length - 1) * outSize };
  if (m instanceof MaxPool2d || m instanceof AvgPool2d) {
    const [channels, h, w] = inShape as [number, number, number];
    const [, oh, ow] = outShape as [number, number, number];
    const inside =
      channels * windowInputs(h, oh, m.kernelSize[0], m.stride[0], m.padding[0]) * windowInputs(w, ow, m.kernelSize[1], m.stride[1], m.padding[1]);
    return { ...none, extra: m instanceof MaxPool2d ? inside - outSize : inside };
  }
  if (m instanceof GlobalAvgPool) return { ...none, extra: perSample(inShape) };
  if (m instanceof Dropout || m instanceof Flatten || m instanceof Reshape || m instanceof Concat || m instanceof Embedding) return none;
  if (m instanceof Elementwise) {
    if (m.op !== 'pow') return { ...none, extra: outSize };
    const square = m.constant !== null && !m.constantFirst && m.constant.every((v) => v === 2);
    return square ? { ...none, extra: outSize } : { ...none, transcendentals: outSize };
  }
  if (m instanceof Unary) {
    if (TRANSCENDENTAL_UNARY.has(m.op)) return { ...none, transcendentals: outSize };
    return m.op === 'reciprocal' ? { ...none, extra: outSize } : none;
  }
  if (m instanceof Clip) return { ...none, extra: outSize * ((Number.isFinite(m.min) ? 1 : 0) + (Number.isFinite(m.max) ? 1 : 0)) };
  if (m instanceof MatMulActs) {
    const k = inShape[inShape.length - 1]!; // the shared dimension: the last axis of the left operand
    return { ...none, macsDense: outSize * k, macsSparse: outSize * k };
  }
  if (m instanceof ReduceMean) {
    const inSize = perSample(inShape);
    return { ...none, extra: inSize > outSize ? inSize : 0 };
  }
  if (m instanceof Resize) return { ...none, extra: m.mode === 'linear' ? 7 * outSize : 0 };
  if (m instanceof Identity || m instanceof Transpose || m instanceof Slice || m instanceof Gather || m instanceof ConstantPad) return none;
  return null;
}

/**
 * MACs, FLOPs and transcendentals per sample of every layer call, dense and with masks, and the
 * totals (conventions in the file note). Traces the model once on zero inputs of `sampleShape`.
 *
 * @throws {SparsennTypeError} ERR_TYPE when `model` is not a Module, or without `sampleShape` when the first layer is not a Linear.
 * @throws {ShapeError} ERR_SHAPE when `sampleShape` holds anything but positive integers or does not fit the model.
 */
export function flopsReport(model: Module, opts: FlopsOptions = {}): FlopsReport {
  if (!(model instanceof Module)) throw new SparsennTypeError('ERR_TYPE', 'flopsReport needs a Module');
  if (opts === null || typeof opts !== 'object') throw new SparsennTypeError('ERR_TYPE', 'flopsReport options must be an object');
  const trace = traceForAnalysis(model, opts.sampleShape, 'flopsReport');
  // kept weights and mask structure exactly as sparsityReport counts them (Linear and Conv2d;
  // a ConvTranspose2d is no prune target, its weight is counted by the same rule here)
  const targets = pruneTargets(model);
  const sparsity = sparsityReport(model);
  const byModule = new Map<Module, { nnz: number; structure: string }>(targets.map((t, i) => [t.module, sparsity.layers[i]!]));
  const weightInfo = (m: Weighted) => {
    let info = byModule.get(m);
    if (!info) {
      const k = keptPattern(m.weight);
      const rows = m.weight.shape[0]!;
      info = { nnz: k.reduce((a, b) => a + b, 0), structure: detectStructure(k, rows, m.weight.size / rows) };
      byModule.set(m, info);
    }
    return info;
  };
  const nnz = (m: Weighted) => weightInfo(m).nnz;
  const uncounted: string[] = [];
  const layers = trace.calls.map((c): LayerFlops => {
    const cost = callCost(c, nnz);
    if (!cost) uncounted.push(`${c.name || '(model)'} (${typeName(c.module)}${c.module instanceof AlongAxis ? ` of ${typeName(c.module.layer)}` : ''})`);
    const k = cost ?? none;
    const weighted = weightedOf(c);
    const outputShape = sampleShapeOf(c.output);
    return {
      name: c.name,
      type: typeName(c.module),
      inputShapes: c.inputs.map(sampleShapeOf),
      outputShape,
      params: weighted ? weighted.layer.weight.size : 0,
      nnz: weighted ? nnz(weighted.layer) : 0,
      structure: weighted ? weightInfo(weighted.layer).structure : null,
      positions: weighted ? weighted.positions : null,
      macsDense: k.macsDense,
      macsSparse: k.macsSparse,
      flopsDense: 2 * k.macsDense + k.extra,
      flopsSparse: 2 * k.macsSparse + k.extra,
      transcendentals: k.transcendentals,
      counted: cost !== null,
    };
  });
  const sum = (f: (l: LayerFlops) => number) => layers.reduce((a, l) => a + f(l), 0);
  const flopsDense = sum((l) => l.flopsDense);
  const flopsSparse = sum((l) => l.flopsSparse);
  return {
    layers,
    macsDense: sum((l) => l.macsDense),
    macsSparse: sum((l) => l.macsSparse),
    flopsDense,
    flopsSparse,
    transcendentals: sum((l) => l.transcendentals),
    speedup: flopsSparse === 0 ? (flopsDense === 0 ? 1 : Infinity) : flopsDense / flopsSparse,
    uncounted,
    complete: producers(trace).foreign.length === 0,
  };
}

/** 1234567 -> '1.23 M'. */
function human(n: number): string {
  const units: Array<[number, string]> = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [scale, unit] of units) if (n >= scale) return `${(n / scale).toFixed(2)} ${unit}`;
  return String(n);
}

/** A plain-text table of the report, one row per layer call and a total. */
export function formatFlopsReport(r: FlopsReport): string {
  const head = ['layer', 'type', 'output', 'MACs dense', 'MACs sparse', 'FLOPs dense', 'FLOPs sparse', 'transc.'];
  const rows = r.layers.map((l) => [
    l.name || '(model)',
    l.counted ? l.type : `${l.type} (not counted)`,
    l.outputShape.join('x'),
    human(l.macsDense),
    human(l.macsSparse),
    human(l.flopsDense),
    human(l.flopsSparse),
    human(l.transcendentals),
  ]);
  rows.push(['total', '', '', human(r.macsDense), human(r.macsSparse), human(r.flopsDense), human(r.flopsSparse), human(r.transcendentals)]);
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join('  ');
  const out = [line(head), width.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line), `FLOPs dense / sparse: ${r.speedup.toFixed(2)}x`];
  if (r.uncounted.length) out.push(`not counted (unknown layer types): ${r.uncounted.join(', ')}`);
  if (!r.complete) out.push('the model computes outside its modules: that part is not counted');
  return out.join('\n');
}
