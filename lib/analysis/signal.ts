/**
 * signalPropagation(): how the size of the forward signal changes layer by layer, measured on
 * given inputs next to the mean-field prediction (Poole et al. 2016, Schoenholz et al. 2017).
 *
 * Convention. For a weight layer h = W x + b with fan-in N (in * kh * kw for a Conv2d), of
 * which a fraction s of the weights is kept, write the kept weights' variance as σ_w² / N and the
 * bias' second moment as σ_b². The measured quantity is the second moment of the
 * pre-activations, q = mean over units, positions and samples of h². If the previous layer's
 * pre-activations are centred Gaussians of second moment q and φ is the element-wise map between
 * the layers, the mean-field recursion is
 *
 *     q_next = s σ_w² E_z[φ(√q z)²] + σ_b²,   z ~ N(0, 1),
 *
 * which for ReLU (E[φ²] = q / 2) is q_next = s σ_w² q / 2 + σ_b²: the signal keeps its size
 * when s σ_w² = 2 (Kaiming's σ_w² = 2 for dense layers; sparseKaiming's σ_w² = 2 / s for sparse
 * ones) and otherwise grows or decays like (s σ_w² / 2)^depth. The per-layer factor s σ_w² is
 * measured from the weights themselves (`gain` = Σ kept w² / rows), so the prediction is about
 * this network, not an ideal one; E[φ²] is computed by quadrature with the model's own
 * activation modules, so any element-wise chain works.
 *
 * What it leaves out: finite width (the ReLU outputs' common mean couples units, giving
 * per-layer deviations of order 1/√width), zero padding (border outputs of a Conv2d sum fewer
 * terms than N) and layers between weight layers that are not element-wise (batch norm,
 * pooling, residual adds): there the prediction restarts from the measured input.
 */
import { SparsennTypeError } from '../errors.js';
import { Dropout, Flatten, GELU, HardSigmoid, HardSwish, LeakyReLU, ReLU, Reshape, Sigmoid, Tanh } from '../nn/layers/activations.js';
import { Conv2d } from '../nn/layers/conv.js';
import { Linear } from '../nn/layers/linear.js';
import { Module } from '../nn/module.js';
import type { Parameter } from '../nn/parameter.js';
import { noGrad, Tensor } from '../nn/tensor.js';
import { producers, traceModel, typeName, type LeafCall } from '../nn/trace.js';

export interface LayerSignal {
  /** Module name ('name#2' for a second call of the same module). */
  name: string;
  type: string;
  /** N: weights per output unit (in, or in / groups * kh * kw). */
  fanIn: number;
  /** s: fraction of the weights kept (mask, or nonzero without one). */
  density: number;
  /** σ_w²: N times the mean square of the kept weights. */
  sigmaW2: number;
  /** s σ_w² = Σ kept w² / rows: the layer's factor on the signal's second moment. */
  gain: number;
  /** σ_b²: mean square of the bias (0 without one). */
  biasSecondMoment: number;
  /** Measured mean square of the layer's input. */
  inputSecondMoment: number;
  /** Measured q: mean square of the layer's output, the pre-activation. */
  q: number;
  /** Measured mean of the pre-activation. */
  mean: number;
  /** The weight layer whose output reaches this one through element-wise layers only; null when none does (the chain restarts). */
  source: string | null;
  /** Those element-wise layers, in order, joined by ' > ' ('' for none); null with source null. */
  activation: string | null;
  /** q / q of the source layer (null without one, or when that q is 0). */
  ratio: number | null;
  /** The mean-field ratio from the source's measured q: (s σ_w² E[φ(√q z)²] + σ_b²) / q (null without a source). */
  ratioPredicted: number | null;
  /** The mean-field q, chained from the source's predicted q, or from the measured input when there is no source. */
  qPredicted: number;
}

export interface SignalReport {
  layers: LayerSignal[];
  /** Samples in the input batch. */
  samples: number;
}

/** Layers that act on each value alone (or only move values): the mean-field map passes through them. */
const elementwise = [ReLU, LeakyReLU, GELU, Tanh, Sigmoid, HardSwish, HardSigmoid, Dropout, Flatten, Reshape];

/**
 * The ReLU mean-field step: q_next = s σ_w² q / 2 + σ_b² (weights of variance σ_w² / fan_in, a
 * fraction s = density of them kept, σ_b² the bias' second moment).
 */
export function reluMeanField(q: number, density: number, sigmaW2: number, biasSecondMoment = 0): number {
  return (density * sigmaW2 * q) / 2 + biasSecondMoment;
}

function meanSquare(data: Float32Array): { ms: number; mean: number } {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    s += v;
    s2 += v * v;
  }
  return data.length ? { ms: s2 / data.length, mean: s / data.length } : { ms: 0, mean: 0 };
}

function weightStats(p: Parameter): { fanIn: number; density: number; sumSq: number } {
  const rows = p.shape[0]!;
  const fanIn = rows ? p.size / rows : 0;
  let kept = 0;
  let sumSq = 0;
  for (let i = 0; i < p.size; i++) {
    if (p.mask ? p.mask[i] === 0 : p.data[i] === 0) continue;
    kept++;
    sumSq += p.data[i]! * p.data[i]!;
  }
  return { fanIn, density: p.size ? kept / p.size : 1, sumSq };
}

// Simpson's rule for E_z[f(z)], z ~ N(0, 1), on [-Z, Z]: the tails beyond 10 sigma weigh < 1e-22.
const Z = 10;
const INTERVALS = 4000;
const grid = Float64Array.from({ length: INTERVALS + 1 }, (_, i) => -Z + (2 * Z * i) / INTERVALS);
const weights = grid.map((z, i) => ((i === 0 || i === INTERVALS ? 1 : i % 2 ? 4 : 2) * (2 * Z)) / INTERVALS / 3 / Math.sqrt(2 * Math.PI) * Math.exp(-z * z / 2));

/** E_z[φ(√q z)²] for φ the composition of `layers` (applied in order). */
function gaussianSecondMoment(layers: readonly Module[], q: number): number {
  const sd = Math.sqrt(Math.max(q, 0));
  let x = new Tensor(Float32Array.from(grid, (z) => z * sd), [grid.length, 1]);
  for (const m of layers) if (!(m instanceof Flatten || m instanceof Reshape)) x = m.forward(x);
  let e = 0;
  for (let i = 0; i < grid.length; i++) e += weights[i]! * x.data[i]! * x.data[i]!;
  return e;
}

/** The weight call whose output reaches `t` through element-wise calls only, and those calls in order. */
function source(t: Tensor, producer: ReadonlyMap<Tensor, LeafCall | null>): { from: LeafCall; path: LeafCall[] } | null {
  const path: LeafCall[] = [];
  for (;;) {
    const c = producer.get(t);
    if (!c) return null;
    if (c.module instanceof Linear || c.module instanceof Conv2d) return { from: c, path: path.reverse() };
    if (!elementwise.some((cls) => c.module instanceof cls) || c.inputs.length !== 1) return null;
    path.push(c);
    t = c.inputs[0]!;
  }
}

/**
 * Runs `model` on `input` (batch-last; one tensor per Graph input) in eval mode and reports, for
 * every Linear / Conv2d call, the measured second moment of its pre-activations next to the
 * mean-field prediction (conventions in the file note).
 *
 * @throws {SparsennTypeError} ERR_TYPE when `model` is not a Module or `input` not a Tensor (or an array of them).
 * @throws {ShapeError} ERR_SHAPE when the input does not fit the model.
 */
export function signalPropagation(model: Module, input: Tensor | readonly Tensor[]): SignalReport {
  if (!(model instanceof Module)) throw new SparsennTypeError('ERR_TYPE', 'signalPropagation needs a Module');
  const inputs = input instanceof Tensor ? [input] : Array.isArray(input) ? [...(input as readonly Tensor[])] : null;
  if (!inputs || inputs.length === 0 || inputs.some((t) => !(t instanceof Tensor)))
    throw new SparsennTypeError('ERR_TYPE', 'signalPropagation needs the input batch as a Tensor (batch-last), or one Tensor per Graph input');
  const trace = traceModel(model, inputs);
  const { producer } = producers(trace);
  const byCall = new Map<LeafCall, LayerSignal>();
  const calls = new Map<Module, number>();
  const layers: LayerSignal[] = [];
  model.inEvalMode(() =>
    noGrad(() => {
      for (const c of trace.calls) {
        const m = c.module;
        if (!(m instanceof Linear || m instanceof Conv2d)) continue;
        const k = (calls.get(m) ?? 0) + 1;
        calls.set(m, k);
        const { fanIn, density, sumSq } = weightStats(m.weight);
        const gain = sumSq / m.weight.shape[0]!;
        const beta = m.bias ? meanSquare(m.bias.data).ms : 0;
        const inputSecondMoment = meanSquare(c.inputs[0]!.data).ms;
        const { ms: q, mean } = meanSquare(c.output.data);
        const src = source(c.inputs[0]!, producer);
        const prev = src ? byCall.get(src.from)! : null;
        const phi = src ? src.path.map((p) => p.module) : [];
        const step = (qIn: number) => gain * gaussianSecondMoment(phi, qIn) + beta;
        const layer: LayerSignal = {
          name: k === 1 ? c.name : `${c.name}#${k}`,
          type: typeName(m),
          fanIn,
          density,
          sigmaW2: density > 0 ? gain / density : 0,
          gain,
          biasSecondMoment: beta,
          inputSecondMoment,
          q,
          mean,
          source: prev ? prev.name : null,
          activation: src ? src.path.map((p) => typeName(p.module)).join(' > ') : null,
          ratio: prev && prev.q > 0 ? q / prev.q : null,
          ratioPredicted: prev && prev.q > 0 ? step(prev.q) / prev.q : null,
          qPredicted: prev ? step(prev.qPredicted) : gain * inputSecondMoment + beta,
        };
        byCall.set(c, layer);
        layers.push(layer);
      }
    }),
  );
  return { layers, samples: inputs[0]!.batch };
}
