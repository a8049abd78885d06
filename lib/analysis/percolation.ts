/**
 * Percolation: at what sparsity random masks cut a network's inputs from its outputs, per layer
 * and for a whole model (percolationThreshold), next to what connectivity() measures.
 *
 * Take a layer whose units each have b potential connections to the next layer, each kept
 * independently with probability 1 - p. Starting from a few units reached from the inputs,
 * each reached unit reaches on average b (1 - p) units of the next layer, so the reached set
 * is a branching process: it dies out geometrically when b (1 - p) < 1 and survives, at a
 * fraction r solving r = 1 - exp(-b (1 - p) r), when b (1 - p) > 1. The critical sparsity is
 *
 *     p_c = 1 - 1 / b,
 *
 * with **b the fan-out** (the units of the next layer a unit can connect to: outFeatures of a
 * Linear, outChannels / groups of a Conv2d) for the signal to reach the output, and the fan-in
 * (inFeatures, inChannels / groups) for the backward question, which units still reach an
 * output. At the channel level of a conv net a unit pair has kh * kw weights (taps) and is
 * connected when any is kept, so if taps are pruned independently at weight sparsity p_w the
 * pair is cut with probability p_w^taps, and the critical weight sparsity is (1 - 1/b)^(1/taps).
 *
 * The threshold is a statement about deep, wide networks. Finite sizes smear it: the first layer
 * starts from every input unit reached, so one subcritical layer rarely disconnects a network
 * by itself (the reached count shrinks by about b (1 - p) per subcritical layer); near p_c a
 * finite layer can lose its few reached units by chance; and at a fixed width, a deep enough
 * stack disconnects at any sparsity > 0, just exponentially slowly in the width below p_c.
 *
 * For a model whose weight layers form a chain (each reads the previous one's output through
 * unit-wise layers, Flatten or a full mix such as LayerNorm), percolationThreshold() also
 * computes the distribution of the number of reached units layer by layer, exactly for
 * independent unit connections: with n units reached, each of the m output units is reached
 * independently with probability 1 - q^n (q the layer's unit sparsity), so the next count is
 * Binomial(m, 1 - q^n). (For grouped convolutions n / groups stands for the reached inputs of
 * each group, an approximation.) From it come the probability that the output is still
 * connected, and the predicted collapse layer: the first where that probability is below 1/2.
 */
import { IndexRangeError, SparsennTypeError } from '../errors.js';
import { Module } from '../nn/module.js';
import type { Tensor } from '../nn/tensor.js';
import type { SampleShape } from '../nn/trace.js';
import { unitGraph, unitsOf, type UnitGraph, type UnitStep, type WeightOp } from './units.js';

/**
 * The weight sparsity above which random pruning cuts the signal: 1 - 1/fan for single
 * connections, (1 - 1/fan)^(1/taps) when a unit pair is cut only if all its `taps` weights are
 * pruned (a Conv2d channel pair, taps = kh * kw). Pass the fan-out for the forward signal.
 *
 * @throws {IndexRangeError} ERR_RANGE unless fan and taps are positive integers.
 */
export function criticalSparsity(fan: number, taps = 1): number {
  for (const [v, what] of [
    [fan, 'fan'],
    [taps, 'taps'],
  ] as const)
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new IndexRangeError('ERR_RANGE', `criticalSparsity: ${what} must be a positive integer, got ${String(v)}`);
  return (1 - 1 / fan) ** (1 / taps);
}

export interface PercolationOptions {
  /** One sample's input shape, batch excluded (one per Graph input); optional when the first layer is a Linear. */
  sampleShape?: SampleShape;
  /**
   * Predict for independent random masks at this weight sparsity (one for every weight layer,
   * or one per weight layer call) instead of each layer's current mask.
   */
  sparsity?: number | readonly number[];
}

export interface LayerPercolation {
  /** Module name ('name#2' for a second call of the same module). */
  name: string;
  type: string;
  unitsIn: number;
  unitsOut: number;
  /** Potential connections per unit: inputs per output unit and outputs per input unit (within a group). */
  fanIn: number;
  fanOut: number;
  groups: number;
  /** Weights per unit pair (kh * kw for a Conv2d; 1 for a Linear on features). */
  taps: number;
  /** Weight sparsity of the current mask, or the `sparsity` option. */
  weightSparsity: number;
  /** Fraction of the potential unit connections cut (current mask), or weightSparsity^taps (the option). */
  unitSparsity: number;
  /** fanOut * (1 - unitSparsity): mean kept outgoing connections per input unit. */
  branching: number;
  /** 1 - 1/fanOut: the unit sparsity above which the forward signal dies out. */
  criticalSparsity: number;
  /** The same at the weight level for independently pruned taps: (1 - 1/fanOut)^(1/taps). */
  criticalWeightSparsity: number;
  /** 1 - 1/fanIn: the unit sparsity above which units stop reaching the output (backward). */
  criticalSparsityBackward: number;
  /** branching > 1. */
  supercritical: boolean;
  /** Probability that at least one unit of this layer is reached from the inputs (chain models; else null). */
  pReached: number | null;
  /** Expected fraction of this layer's units reached from the inputs (chain models; else null). */
  expectedReached: number | null;
}

export interface PercolationReport {
  layers: LayerPercolation[];
  /** The first weight layer with branching <= 1, where the theory says the signal starts to die out. */
  firstSubcritical: string | null;
  /** The first weight layer where the output is reached with probability < 1/2 (chain models; else null). */
  collapseLayer: string | null;
  /** Probability that the output stays connected to the input (chain models; else null). */
  pConnected: number | null;
  /** Whether the weight layers form a chain, so that the probabilities could be computed. */
  chain: boolean;
  /** Why the model is not treated as a chain (absent when it is). */
  reason?: string;
}

/**
 * Binomial(m, pi) probabilities from `start` on, cut where they fall below 1e-17 of the mode's
 * (computed outward from the mode by the ratio of successive terms: no factorials, no underflow).
 */
export function binomialPmf(m: number, pi: number): { start: number; p: Float64Array } {
  if (pi <= 0) return { start: 0, p: Float64Array.of(1) };
  if (pi >= 1) return { start: m, p: Float64Array.of(1) };
  const mode = Math.min(m, Math.floor((m + 1) * pi));
  const odds = pi / (1 - pi);
  const up: number[] = [];
  for (let k = mode, v = 1; k < m; k++) {
    v *= ((m - k) / (k + 1)) * odds;
    if (v < 1e-17) break;
    up.push(v);
  }
  const down: number[] = [];
  for (let k = mode, v = 1; k > 0; k--) {
    v *= k / (m - k + 1) / odds;
    if (v < 1e-17) break;
    down.push(v);
  }
  const p = Float64Array.from([...down.reverse(), 1, ...up]);
  const sum = p.reduce((a, b) => a + b, 0);
  for (let i = 0; i < p.length; i++) p[i]! /= sum;
  return { start: mode - down.length, p };
}

/** Distribution of the reached count after a weight layer, from the one before it. */
function weightTransition(dist: Float64Array, unitsOut: number, q: number, groups: number): Float64Array {
  const out = new Float64Array(unitsOut + 1);
  for (let n = 0; n < dist.length; n++) {
    const mass = dist[n]!;
    if (mass < 1e-300) continue;
    const { start, p } = binomialPmf(unitsOut, n === 0 ? 0 : 1 - q ** (n / groups));
    for (let k = 0; k < p.length; k++) out[start + k]! += mass * p[k]!;
  }
  return out;
}

/** The chain of weight steps, each with the unit-wise steps leading to it; null and a reason otherwise. */
function findChain(g: UnitGraph, weights: UnitStep[]): { links: UnitStep[][]; tail: UnitStep[] } | { reason: string } {
  const stepOf = new Map(g.steps.map((s) => [s.call, s] as const));
  /** Walks back from `t` through single-input unit-wise steps; returns them (in order) and where it stopped. */
  const walk = (t: Tensor): { path: UnitStep[]; from: Tensor } | { reason: string } => {
    const path: UnitStep[] = [];
    for (;;) {
      const call = g.producer.get(t);
      if (!call) return { path: path.reverse(), from: t };
      const s = stepOf.get(call)!;
      if (s.op.kind === 'weights') return { path: path.reverse(), from: t };
      const fullMix = s.op.kind === 'mix' && s.op.block === s.outUnits;
      if (!(s.op.kind === 'same' || s.op.kind === 'split' || fullMix) || s.call.inputs.length !== 1)
        return { reason: `'${s.call.name}' (${s.call.module.constructor.name}) joins or mixes units` };
      path.push(s);
      t = s.call.inputs[0]!;
    }
  };
  if (g.trace.inputs.length !== 1 || g.trace.outputs.length !== 1) return { reason: 'the model has several inputs or outputs' };
  if (weights.length === 0) return { reason: 'the model has no weight layer' };
  const links: UnitStep[][] = [];
  for (let i = 0; i < weights.length; i++) {
    const w = walk(weights[i]!.call.inputs[0]!);
    if ('reason' in w) return w;
    const expected = i === 0 ? g.trace.inputs[0]! : weights[i - 1]!.call.output;
    if (w.from !== expected) return { reason: `'${weights[i]!.call.name}' does not read ${i === 0 ? 'the model input' : `the output of '${weights[i - 1]!.call.name}'`}` };
    links.push(w.path);
  }
  const tail = walk(g.trace.outputs[0]!);
  if ('reason' in tail) return tail;
  if (tail.from !== weights[weights.length - 1]!.call.output) return { reason: 'the model output does not come from its last weight layer' };
  return { links, tail: tail.path };
}

/** Applies unit-wise steps (split, full mix) to a reached-count distribution. */
function passThrough(dist: Float64Array, steps: readonly UnitStep[]): Float64Array {
  for (const s of steps) {
    const next = new Float64Array(s.outUnits + 1);
    for (let n = 0; n < dist.length; n++) {
      if (!dist[n]) continue;
      const to = s.op.kind === 'split' ? n * s.op.factor : s.op.kind === 'mix' ? (n > 0 ? s.outUnits : 0) : n;
      next[to]! += dist[n]!;
    }
    dist = next;
  }
  return dist;
}

function checkSparsityOption(opt: PercolationOptions['sparsity'], layers: number): number[] | null {
  if (opt === undefined) return null;
  const list = typeof opt === 'number' ? new Array<number>(layers).fill(opt) : Array.isArray(opt) ? [...opt] : null;
  if (!list) throw new SparsennTypeError('ERR_TYPE', `percolationThreshold: sparsity must be a number or an array of numbers, got ${typeof opt}`);
  if (list.length !== layers) throw new IndexRangeError('ERR_RANGE', `percolationThreshold: sparsity lists ${list.length} values for ${layers} weight layers`);
  for (const p of list)
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new IndexRangeError('ERR_RANGE', `percolationThreshold: a sparsity must be in [0, 1], got ${String(p)}`);
  return list;
}

/**
 * Per weight layer: fan-in, fan-out, unit sparsity, branching factor and critical sparsities;
 * for chain models, the probability that each layer is still reached from the inputs and the
 * predicted collapse layer (see the file note for the model and its limits).
 *
 * @throws {SparsennTypeError} ERR_TYPE for a layer the unit graph cannot follow (see units.ts).
 * @throws {IndexRangeError} ERR_RANGE for a sparsity outside [0, 1] or a list of the wrong length.
 */
export function percolationThreshold(model: Module, opts: PercolationOptions = {}): PercolationReport {
  if (!(model instanceof Module)) throw new SparsennTypeError('ERR_TYPE', 'percolationThreshold needs a Module');
  if (opts === null || typeof opts !== 'object') throw new SparsennTypeError('ERR_TYPE', 'percolationThreshold options must be an object');
  const g = unitGraph(model, opts.sampleShape, 'percolationThreshold');
  const weights = g.steps.filter((s) => s.op.kind === 'weights');
  const override = checkSparsityOption(opts.sparsity, weights.length);
  const calls = new Map<Module, number>();
  const layers = weights.map((s, i): LayerPercolation => {
    const op = s.op as WeightOp;
    const k = (calls.get(s.call.module) ?? 0) + 1;
    calls.set(s.call.module, k);
    const potential = s.outUnits * op.fanIn;
    const weightSparsity = override ? override[i]! : op.size === 0 ? 0 : 1 - op.nnz / op.size;
    const unitSparsity = override ? weightSparsity ** op.taps : potential === 0 ? 0 : 1 - op.cols.length / potential;
    const branching = op.fanOut * (1 - unitSparsity);
    return {
      name: k === 1 ? s.call.name : `${s.call.name}#${k}`,
      type: s.call.module.constructor.name,
      unitsIn: s.inUnits[0]!,
      unitsOut: s.outUnits,
      fanIn: op.fanIn,
      fanOut: op.fanOut,
      groups: op.groups,
      taps: op.taps,
      weightSparsity,
      unitSparsity,
      branching,
      criticalSparsity: 1 - 1 / op.fanOut,
      criticalWeightSparsity: criticalSparsity(op.fanOut, op.taps),
      criticalSparsityBackward: 1 - 1 / op.fanIn,
      supercritical: branching > 1,
      pReached: null,
      expectedReached: null,
    };
  });
  const firstSubcritical = layers.find((l) => !l.supercritical)?.name ?? null;
  const chain = findChain(g, weights);
  if ('reason' in chain) return { layers, firstSubcritical, collapseLayer: null, pConnected: null, chain: false, reason: chain.reason };

  let dist: Float64Array = new Float64Array(unitsOf(g.trace.inputs[0]!) + 1);
  dist[dist.length - 1] = 1; // every input unit is reached
  let collapseLayer: string | null = null;
  layers.forEach((l, i) => {
    dist = passThrough(dist, chain.links[i]!);
    dist = weightTransition(dist, l.unitsOut, l.unitSparsity, l.groups);
    let reached = 0;
    let mean = 0;
    for (let n = 1; n < dist.length; n++) {
      reached += dist[n]!;
      mean += n * dist[n]!;
    }
    l.pReached = Math.min(1, reached);
    l.expectedReached = l.unitsOut === 0 ? 0 : mean / l.unitsOut;
    if (collapseLayer === null && l.pReached < 0.5) collapseLayer = l.name;
  });
  dist = passThrough(dist, chain.tail);
  const pConnected = Math.min(1, dist.reduce((a, v, n) => (n > 0 ? a + v : a), 0));
  return { layers, firstSubcritical, collapseLayer, pConnected, chain: true };
}
