/**
 * connectivity(): how the kept weights wire a model's inputs to its outputs, at the level of
 * units (features of an MLP, channels of a conv net: see units.ts for how each layer maps units).
 *
 * - **paths**: the number of distinct input-unit → output-unit paths through kept unit
 *   connections, 1ᵀ A_L ⋯ A_1 1 for a chain of 0/1 adjacency matrices A_l (in a DAG, paths
 *   through both sides of an Add are added). It grows like width^depth, so it is kept as a
 *   float64 mantissa with a separate power-of-two exponent (`log10Paths` is always finite or
 *   -Infinity; `paths` is Infinity past 1.8e308) and, on request, exactly in BigInt arithmetic
 *   (`pathsExact`, a decimal string).
 * - per weight layer and per model input: the units reached from any input unit (forward),
 *   those that reach any output unit (backward), and the dead ones, on no input → output path.
 *   Removing a dead unit cannot change how the output depends on the input; a unit cut from the
 *   inputs still passes on a constant (its activated bias), which must be folded into its
 *   readers' biases to keep the output values (lib/infer/dead-units.ts does that).
 * - **disconnected**: no output unit is reached from any input: the output is constant.
 *
 * Channel-level connectivity of a conv net ignores space: a channel pair counts as connected
 * when any tap between them is kept, wherever it lands.
 */
import { SparsennTypeError } from '../errors.js';
import { Graph } from '../nn/graph.js';
import { Module } from '../nn/module.js';
import type { Tensor } from '../nn/tensor.js';
import type { SampleShape } from '../nn/trace.js';
import { unitGraph, unitsOf, type UnitGraph, type UnitOp } from './units.js';

export interface ConnectivityOptions {
  /** One sample's input shape, batch excluded (one per Graph input); optional when the first layer is a Linear. */
  sampleShape?: SampleShape;
  /** Also count the paths exactly (BigInt; slower for wide layers). Default false. */
  exact?: boolean;
}

/** The units of one model input or one weight layer's output. */
export interface UnitLayerConnectivity {
  /** 'input' (or the Graph input's name) for a model input; the module name for a Linear / Conv2d ('name#2' for its second call). */
  name: string;
  /** 'input', 'Linear' or 'Conv2d'. */
  type: string;
  units: number;
  /** Units reached from at least one input unit. */
  reachable: number;
  /** Units from which at least one output unit is reached. */
  reachesOutput: number;
  /** Units on at least one input → output path. */
  alive: number;
  /** Indices of the units on no input → output path. */
  dead: number[];
}

export interface ConnectivityReport {
  /** Model inputs first, then the weight layers in execution order. */
  layers: UnitLayerConnectivity[];
  /** Input → output paths (float64: exact below 2^53; Infinity past the float64 range). */
  paths: number;
  /** log10 of the number of paths (-Infinity when there is none). */
  log10Paths: number;
  /** The exact number of paths as a decimal string (only with `exact: true`). */
  pathsExact?: string;
  /** True when no output unit is reached from any input (no path). */
  disconnected: boolean;
  /** Units, over the listed layers, and how many of them are dead. */
  units: number;
  deadUnits: number;
}

/** Per-unit values of one tensor along its first axis. */
type Vec<T> = T[];

/**
 * Applies one step's map to per-unit values, with `add` the way two contributions combine
 * (+ for path counts, OR for reachability).
 */
function forwardOp<T>(op: UnitOp, ins: ReadonlyArray<Vec<T>>, outUnits: number, add: (a: T, b: T) => T, zero: T): Vec<T> {
  const x = ins[0]!;
  switch (op.kind) {
    case 'weights': {
      const out = new Array<T>(outUnits);
      for (let j = 0; j < outUnits; j++) {
        let acc = zero;
        for (let k = op.rowPtr[j]!; k < op.rowPtr[j + 1]!; k++) acc = add(acc, x[op.cols[k]!]!);
        out[j] = acc;
      }
      return out;
    }
    case 'same':
      return x;
    case 'split':
      return Array.from({ length: outUnits }, (_, u) => x[Math.floor(u / op.factor)]!);
    case 'sum':
      return Array.from({ length: outUnits }, (_, u) => ins.reduce((acc, v) => add(acc, v[u]!), zero));
    case 'concat':
      return ins.flat();
    case 'mix': {
      const out = new Array<T>(outUnits);
      for (let b = 0; b < outUnits; b += op.block) {
        let acc = zero;
        for (let u = b; u < b + op.block; u++) acc = add(acc, x[u]!);
        out.fill(acc, b, b + op.block);
      }
      return out;
    }
  }
}

/** ORs into `ins` the input units from which a marked output unit of the step is reached. */
function backwardOp(op: UnitOp, out: Uint8Array, ins: Uint8Array[]): void {
  const x = ins[0]!;
  switch (op.kind) {
    case 'weights':
      for (let j = 0; j < out.length; j++) if (out[j]) for (let k = op.rowPtr[j]!; k < op.rowPtr[j + 1]!; k++) x[op.cols[k]!] = 1;
      return;
    case 'same':
      for (let u = 0; u < out.length; u++) x[u]! |= out[u]!;
      return;
    case 'split':
      for (let u = 0; u < out.length; u++) x[Math.floor(u / op.factor)]! |= out[u]!;
      return;
    case 'sum':
      for (const v of ins) for (let u = 0; u < out.length; u++) v[u]! |= out[u]!;
      return;
    case 'concat': {
      let offset = 0;
      for (const v of ins) {
        for (let u = 0; u < v.length; u++) v[u]! |= out[offset + u]!;
        offset += v.length;
      }
      return;
    }
    case 'mix':
      for (let b = 0; b < out.length; b += op.block) if (out.subarray(b, b + op.block).some((v) => v)) x.fill(1, b, b + op.block);
      return;
  }
}

/** A vector of path counts as mantissas times 2^exp, renormalised so the largest is in [1, 2). */
interface Scaled {
  v: Vec<number>;
  exp: number;
}

function normalise(s: Scaled): Scaled {
  const max = s.v.reduce((a, b) => Math.max(a, b), 0);
  if (max === 0 || !Number.isFinite(max)) return max === 0 ? { v: s.v, exp: 0 } : s;
  const k = Math.floor(Math.log2(max));
  const f = 2 ** -k;
  return { v: s.v.map((x) => x * f), exp: s.exp + k };
}

/** The inputs brought to one common exponent (the largest), so their mantissas can be added. */
function align(ins: readonly Scaled[]): { vs: Array<Vec<number>>; exp: number } {
  const exp = Math.max(...ins.map((s) => s.exp));
  return { vs: ins.map((s) => (s.exp === exp ? s.v : s.v.map((x) => x * 2 ** (s.exp - exp)))), exp };
}

const plus = (a: number, b: number) => a + b;

/** Sum of scaled vectors' entries as a scaled number. */
function total(vecs: readonly Scaled[]): Scaled {
  const { vs, exp } = align(vecs);
  return normalise({ v: [vs.reduce((a, v) => a + v.reduce(plus, 0), 0)], exp });
}

/** Every tensor's per-unit values, propagated forward through the steps. */
function propagate<V>(g: UnitGraph, init: (t: Tensor) => V, step: (op: UnitOp, ins: V[], outUnits: number) => V): Map<Tensor, V> {
  const values = new Map<Tensor, V>();
  for (const t of g.trace.inputs) values.set(t, init(t));
  for (const s of g.steps) values.set(s.call.output, step(s.op, s.call.inputs.map((t) => values.get(t)!), s.outUnits));
  return values;
}

/** Units reached from the inputs, of every tensor. */
export function forwardReach(g: UnitGraph): Map<Tensor, Uint8Array> {
  const or = (a: number, b: number) => a | b;
  return propagate(
    g,
    (t) => new Uint8Array(unitsOf(t)).fill(1),
    (op, ins, n) => Uint8Array.from(forwardOp(op, ins.map((v) => Array.from(v)), n, or, 0)),
  );
}

/** Units from which an output is reached, of every tensor. */
export function backwardReach(g: UnitGraph): Map<Tensor, Uint8Array> {
  const marks = new Map<Tensor, Uint8Array>();
  const get = (t: Tensor) => {
    let m = marks.get(t);
    if (!m) marks.set(t, (m = new Uint8Array(unitsOf(t))));
    return m;
  };
  for (const t of g.trace.outputs) get(t).fill(1);
  for (let i = g.steps.length - 1; i >= 0; i--) {
    const s = g.steps[i]!;
    backwardOp(s.op, get(s.call.output), s.call.inputs.map(get));
  }
  return marks;
}

function graphInputNames(model: Module, count: number): string[] {
  if (model instanceof Graph) return [...model.inputs];
  return count === 1 ? ['input'] : Array.from({ length: count }, (_, i) => `input${i}`);
}

/**
 * Paths, reachability and dead units of `model` at the unit level (see the file note).
 *
 * @throws {SparsennTypeError} ERR_TYPE for a layer the unit graph cannot follow, or without
 *   `sampleShape` when the first layer is not a Linear.
 * @throws {ShapeError} ERR_SHAPE when `sampleShape` does not fit the model.
 */
export function connectivity(model: Module, opts: ConnectivityOptions = {}): ConnectivityReport {
  if (!(model instanceof Module)) throw new SparsennTypeError('ERR_TYPE', 'connectivity needs a Module');
  if (opts === null || typeof opts !== 'object') throw new SparsennTypeError('ERR_TYPE', 'connectivity options must be an object');
  const g = unitGraph(model, opts.sampleShape, 'connectivity');
  const fwd = forwardReach(g);
  const bwd = backwardReach(g);

  const counts = propagate<Scaled>(
    g,
    (t) => ({ v: new Array<number>(unitsOf(t)).fill(1), exp: 0 }),
    (op, ins, n) => {
      const { vs, exp } = align(ins);
      return normalise({ v: forwardOp(op, vs, n, plus, 0), exp });
    },
  );
  const paths = total(g.trace.outputs.map((t) => counts.get(t)!));
  const mantissa = paths.v[0]!;
  // from reachability, not the float counts: a tiny count could vanish when added to a huge one
  const connected = g.trace.outputs.some((t) => fwd.get(t)!.some((v) => v === 1));

  let pathsExact: string | undefined;
  if (opts.exact) {
    const big = propagate<Vec<bigint>>(
      g,
      (t) => new Array<bigint>(unitsOf(t)).fill(1n),
      (op, ins, n) => forwardOp(op, ins, n, (a, b) => a + b, 0n),
    );
    pathsExact = g.trace.outputs.reduce((acc, t) => acc + big.get(t)!.reduce((a, b) => a + b, 0n), 0n).toString();
  }

  const layers: UnitLayerConnectivity[] = [];
  const describe = (name: string, type: string, t: Tensor) => {
    const f = fwd.get(t)!;
    const b = bwd.get(t) ?? new Uint8Array(f.length);
    const dead: number[] = [];
    let reachable = 0;
    let reachesOutput = 0;
    for (let u = 0; u < f.length; u++) {
      reachable += f[u]!;
      reachesOutput += b[u]!;
      if (!(f[u] && b[u])) dead.push(u);
    }
    layers.push({ name, type, units: f.length, reachable, reachesOutput, alive: f.length - dead.length, dead });
  };
  const names = graphInputNames(model, g.trace.inputs.length);
  g.trace.inputs.forEach((t, i) => describe(names[i]!, 'input', t));
  const calls = new Map<Module, number>();
  for (const s of g.steps) {
    if (s.op.kind !== 'weights') continue;
    const k = (calls.get(s.call.module) ?? 0) + 1;
    calls.set(s.call.module, k);
    describe(k === 1 ? s.call.name : `${s.call.name}#${k}`, s.call.module.constructor.name, s.call.output);
  }
  return {
    layers,
    paths: mantissa * 2 ** paths.exp,
    log10Paths: mantissa === 0 ? -Infinity : Math.log10(mantissa) + paths.exp * Math.log10(2),
    ...(pathsExact !== undefined ? { pathsExact } : {}),
    disconnected: !connected,
    units: layers.reduce((a, l) => a + l.units, 0),
    deadUnits: layers.reduce((a, l) => a + l.dead.length, 0),
  };
}
