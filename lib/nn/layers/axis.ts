/**
 * Two layers the ONNX importer needs (and anyone may use):
 *
 * - AlongAxis applies a feature layer (Linear, LayerNorm) along one sample axis of a larger
 *   activation, every other sample axis treated as more batch. ONNX MatMul with a constant
 *   weight on [N, L, K] (a transformer's projections) and LayerNormalization over the last axis
 *   become a real Linear / LayerNorm inside it, so pruning, calibration hooks and fine-tuning
 *   see them as usual: the inner layer's input is [K, L * N], each position a sample.
 * - ConstantPad pads sample axes with a constant (ONNX Pad in constant mode; uneven
 *   convolution padding as Pad + Conv2d).
 *
 * Both are listed in lib/nn/registry.ts, so moduleFromConfig() rebuilds them.
 */
import { ShapeError, SparsennTypeError } from '../../errors.js';
import { Module, type ModuleConfig } from '../module.js';
import { sampleAxis } from '../ops/elementwise.js';
import { transpose } from '../ops/indexing.js';
import { moduleFromConfig } from '../registry.js';
import { accumulateGrad, accumulateOwnedGrad, opResult, Tensor } from '../tensor.js';

/** The same values under another shape of the same size (the batch may change): a view. */
function view(x: Tensor, shape: readonly number[]): Tensor {
  return opResult(x.data, shape, [x], 'view', (g) => accumulateGrad(x, g));
}

export class AlongAxis extends Module {
  /** The sample axis the inner layer works along (negative counts back from the last sample axis). */
  readonly axis: number;
  /** The feature layer: takes [F, m] and returns [F', m]. */
  readonly layer: Module;

  constructor(layer: Module, axis = -1) {
    super();
    if (!(layer instanceof Module)) throw new SparsennTypeError('ERR_TYPE', 'AlongAxis needs a Module');
    if (typeof axis !== 'number' || !Number.isInteger(axis)) throw new SparsennTypeError('ERR_TYPE', `AlongAxis axis must be an integer, got ${String(axis)}`);
    this.axis = axis;
    this.layer = this.registerModule('layer', layer);
  }

  /** x [..., F (at axis), ..., n] -> [..., F', ..., n]. */
  forward(x: Tensor): Tensor {
    if (!(x instanceof Tensor)) throw new SparsennTypeError('ERR_TYPE', 'AlongAxis: input must be a Tensor');
    const a = sampleAxis(this.axis, x.rank, 'AlongAxis', x.shape);
    const r = x.rank - 1;
    // Move the axis to the front, fold the rest into the batch: [F, rest * n] is a view.
    const perm = [a, ...Array.from({ length: r }, (_, i) => i).filter((i) => i !== a)];
    const moved = a === 0 ? x : transpose(x, perm);
    const f = moved.shape[0]!;
    const rest = moved.shape.slice(1);
    const m = rest.reduce((p, d) => p * d, 1);
    const y2 = this.layer.forward(view(moved, [f, m]));
    if (y2.rank !== 2 || y2.shape[1] !== m)
      throw new ShapeError('ERR_SHAPE', `AlongAxis: the inner ${this.layer.constructor.name} turned [${f}, ${m}] into [${y2.shape.join(', ')}], expected [features, ${m}]`);
    const y = view(y2, [y2.shape[0]!, ...rest]);
    if (a === 0) return y;
    const inverse = new Array<number>(r);
    perm.forEach((p, i) => (inverse[p] = i));
    return transpose(y, inverse);
  }

  config(): ModuleConfig {
    return { type: 'AlongAxis', axis: this.axis, layer: this.layer.config() };
  }

  static fromConfig(c: ModuleConfig): AlongAxis {
    return new AlongAxis(moduleFromConfig(c['layer']), c['axis'] as number);
  }
}

/** For each input sample position (row-major), its position in the padded output. */
function padMap(shape: readonly number[], pads: readonly number[]): { out: number[]; map: Int32Array } {
  const r = shape.length;
  const out = shape.map((d, i) => d + pads[i]! + pads[i + r]!);
  const n = shape.reduce((p, d) => p * d, 1);
  const ost: number[] = new Array<number>(r);
  let acc = 1;
  for (let i = r - 1; i >= 0; i--) {
    ost[i] = acc;
    acc *= out[i]!;
  }
  const map = new Int32Array(n);
  const idx = new Array<number>(r).fill(0);
  let flat = pads.slice(0, r).reduce((p, b, i) => p + b * ost[i]!, 0);
  for (let o = 0; o < n; o++) {
    map[o] = flat;
    for (let d = r - 1; d >= 0; d--) {
      idx[d]++;
      flat += ost[d]!;
      if (idx[d]! < shape[d]!) break;
      flat -= ost[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
  return { out, map };
}

/**
 * Pads the sample axes with a constant: pads = [b0, b1, ..., e0, e1, ...] (before and after each
 * sample axis, non-negative), ONNX's order without the batch axis. -Infinity pads for a max pool.
 */
export class ConstantPad extends Module {
  readonly pads: readonly number[];
  readonly value: number;

  constructor(pads: readonly number[], value = 0) {
    super();
    if (!Array.isArray(pads as unknown) || pads.length % 2 !== 0 || pads.some((p) => !Number.isInteger(p) || p < 0))
      throw new SparsennTypeError('ERR_TYPE', `ConstantPad pads must be an even-length array of non-negative integers, got ${String(pads)}`);
    if (typeof value !== 'number' || Number.isNaN(value)) throw new SparsennTypeError('ERR_TYPE', `ConstantPad value must be a number, got ${String(value)}`);
    this.pads = Object.freeze([...pads]);
    this.value = value;
  }

  forward(x: Tensor): Tensor {
    if (!(x instanceof Tensor)) throw new SparsennTypeError('ERR_TYPE', 'ConstantPad: input must be a Tensor');
    const shape = x.shape.slice(0, -1);
    if (shape.length * 2 !== this.pads.length)
      throw new ShapeError('ERR_SHAPE', `ConstantPad with ${this.pads.length} pads needs ${this.pads.length / 2} sample axes, got input [${x.shape.join(', ')}]`);
    const n = x.batch;
    const { out, map } = padMap(shape, this.pads);
    const y = new Float32Array(out.reduce((p, d) => p * d, 1) * n).fill(this.value);
    const xd = x.data;
    for (let o = 0; o < map.length; o++) y.set(xd.subarray(o * n, (o + 1) * n), map[o]! * n);
    return opResult(y, [...out, n], [x], 'constantPad', (g) => {
      const dx = new Float32Array(x.size);
      for (let o = 0; o < map.length; o++) dx.set(g.subarray(map[o]! * n, (map[o]! + 1) * n), o * n);
      accumulateOwnedGrad(x, dx);
    });
  }

  /** JSON has no Infinity: an infinite value is written as the string '-Infinity' / 'Infinity'. */
  config(): ModuleConfig {
    return { type: 'ConstantPad', pads: [...this.pads], value: Number.isFinite(this.value) ? this.value : String(this.value) };
  }

  static fromConfig(c: ModuleConfig): ConstantPad {
    const v = c['value'];
    return new ConstantPad(c['pads'] as number[], typeof v === 'string' ? Number(v) : ((v as number | undefined) ?? 0));
  }
}

