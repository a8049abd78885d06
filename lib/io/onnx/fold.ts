/**
 * Constant folding: the ONNX operators evaluated at import on constants, in ONNX layout with
 * numpy broadcasting. Integer constants may carry the symbolic batch size N (see ConstValue):
 * Shape of an activation gives [N, d1, ...], and N survives Gather, Concat, Slice, Unsqueeze,
 * Cast and the arithmetic that keeps a value linear in N, so PyTorch's
 * `x.view(x.size(0), -1)` folds into a Reshape whose first entry is N.
 *
 * Every function throws a plain Error with what went wrong; converters add the node's name.
 */
import { erf } from '../../nn/ops/elementwise.js';
import { sliceRange } from '../../nn/ops/indexing.js';
import { dataTypeName, isFloatType, saturateInt32 } from './dtypes.js';
import { OnnxDataType, type OnnxTensor } from './types.js';
import { floatConst, formatConst, maxImportElements, size, type ConstValue } from './values.js';

export class FoldError extends Error {}

function fail(message: string): never {
  throw new FoldError(message);
}

export function constFromTensor(t: OnnxTensor): ConstValue {
  return isFloatType(t.dataType)
    ? { kind: 'const', float: true, dims: [...t.dims], data: t.data instanceof Float32Array ? t.data : Float32Array.from(t.data), batch: null }
    : { kind: 'const', float: false, dims: [...t.dims], data: Float64Array.from(t.data), batch: null };
}

/** A constant back as an ONNX tensor (the batch symbol cannot be written). */
export function tensorFromConst(c: ConstValue, name: string): OnnxTensor {
  if (c.batch) fail(`constant ${formatConst(c)} depends on the batch size`);
  return c.float
    ? { name, dataType: OnnxDataType.FLOAT, dims: [...c.dims], data: Float32Array.from(c.data) }
    : { name, dataType: OnnxDataType.INT64, dims: [...c.dims], data: Int32Array.from(c.data, saturateInt32) };
}

function make(float: boolean, dims: readonly number[], data: Float32Array | Float64Array, batch: Float64Array | null): ConstValue {
  const b = batch && batch.some((v) => v !== 0) ? batch : null;
  return { kind: 'const', float, dims: [...dims], data, batch: b };
}

function alloc(float: boolean, n: number): Float32Array | Float64Array {
  if (!(n <= maxImportElements())) fail(`a folded constant of ${n} values is larger than sparsenn imports (${maxImportElements()})`);
  return float ? new Float32Array(n) : new Float64Array(n);
}

export function strides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i]!;
  }
  return s;
}

/** numpy broadcast of two shapes (trailing alignment); null when they do not broadcast. */
export function broadcastDims(a: readonly number[], b: readonly number[]): number[] | null {
  const r = Math.max(a.length, b.length);
  const out = new Array<number>(r);
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return null;
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** For each element of `out` (row-major), the flat index of the broadcast source of shape `dims`. */
function broadcastMap(dims: readonly number[], out: readonly number[]): Int32Array {
  const n = size(out);
  if (!(n <= maxImportElements())) fail(`a folded constant of ${n} values is larger than sparsenn imports (${maxImportElements()})`);
  const map = new Int32Array(n);
  const r = out.length;
  const st = strides(dims);
  // Effective strides: 0 where the source dim is 1 (or missing).
  const eff = out.map((_, i) => {
    const k = i - (r - dims.length);
    return k < 0 || dims[k] === 1 ? 0 : st[k]!;
  });
  const idx = new Array<number>(r).fill(0);
  let flat = 0;
  for (let o = 0; o < n; o++) {
    map[o] = flat;
    for (let d = r - 1; d >= 0; d--) {
      idx[d]++;
      flat += eff[d]!;
      if (idx[d]! < out[d]!) break;
      flat -= eff[d]! * out[d]!;
      idx[d] = 0;
    }
  }
  return map;
}

export type FoldBinary = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'equal' | 'less' | 'greater' | 'max' | 'min';

/** a op b with numpy broadcasting. Integer division truncates (ONNX / C semantics). */
export function binaryConst(op: FoldBinary, a: ConstValue, b: ConstValue): ConstValue {
  const dims = broadcastDims(a.dims, b.dims);
  if (!dims) fail(`shapes [${a.dims.join(', ')}] and [${b.dims.join(', ')}] do not broadcast`);
  const cmp = op === 'equal' || op === 'less' || op === 'greater';
  const float = !cmp && (a.float || b.float);
  const n = size(dims);
  const ma = broadcastMap(a.dims, dims);
  const mb = broadcastMap(b.dims, dims);
  const data = alloc(float, n);
  const batch = a.batch || b.batch ? new Float64Array(n) : null;
  for (let i = 0; i < n; i++) {
    const x = a.data[ma[i]!]!;
    const y = b.data[mb[i]!]!;
    const kx = a.batch ? a.batch[ma[i]!]! : 0;
    const ky = b.batch ? b.batch[mb[i]!]! : 0;
    if (kx === 0 && ky === 0) {
      data[i] = evalScalar(op, x, y, float);
      continue;
    }
    // A value linear in N (k N + v) stays so under + and -, and under * and / by a plain number.
    const sym = `${kx ? formatConst(make(false, [], new Float64Array([x]), new Float64Array([kx]))) : x} ${op} ${ky ? formatConst(make(false, [], new Float64Array([y]), new Float64Array([ky]))) : y}`;
    switch (op) {
      case 'add':
        data[i] = x + y;
        batch![i] = kx + ky;
        break;
      case 'sub':
        data[i] = x - y;
        batch![i] = kx - ky;
        break;
      case 'mul':
        if (kx !== 0 && ky !== 0) fail(`cannot fold ${sym}: a product of two batch-dependent values`);
        data[i] = x * y;
        batch![i] = kx * y + ky * x;
        break;
      case 'div':
        if (ky !== 0 || y === 0 || x % y !== 0 || kx % y !== 0) fail(`cannot fold ${sym}: the quotient is not a whole multiple of the batch size`);
        data[i] = x / y;
        batch![i] = kx / y;
        break;
      case 'equal':
        // k N + v = k' N + v' for every N only when k = k' (then it is v = v'); otherwise it depends on N.
        if (kx !== ky) fail(`cannot fold ${sym}: the result depends on the batch size`);
        data[i] = x === y ? 1 : 0;
        break;
      default:
        fail(`cannot fold ${sym}: the result depends on the batch size`);
    }
  }
  return make(float, dims, data, batch);
}

function evalScalar(op: FoldBinary, x: number, y: number, float: boolean): number {
  switch (op) {
    case 'add':
      return x + y;
    case 'sub':
      return x - y;
    case 'mul':
      return x * y;
    case 'div':
      if (float) return x / y;
      if (y === 0) fail('integer division by zero');
      return Math.trunc(x / y);
    case 'pow':
      return Math.pow(x, y);
    case 'equal':
      return x === y ? 1 : 0;
    case 'less':
      return x < y ? 1 : 0;
    case 'greater':
      return x > y ? 1 : 0;
    case 'max':
      return Math.max(x, y);
    case 'min':
      return Math.min(x, y);
  }
}

export type FoldUnary = 'sqrt' | 'neg' | 'abs' | 'erf' | 'exp' | 'log' | 'reciprocal' | 'relu' | 'sigmoid' | 'tanh' | 'floor' | 'ceil';

export function unaryConst(op: FoldUnary, c: ConstValue): ConstValue {
  if (c.batch) {
    if (op !== 'neg') fail(`cannot fold ${op} of ${formatConst(c)}: it depends on the batch size`);
    return make(c.float, c.dims, c.data.map((v) => -v), c.batch.map((v) => -v));
  }
  const f: (v: number) => number = {
    sqrt: Math.sqrt,
    neg: (v: number) => -v,
    abs: Math.abs,
    erf,
    exp: Math.exp,
    log: Math.log,
    reciprocal: (v: number) => 1 / v,
    relu: (v: number) => (v > 0 ? v : 0),
    sigmoid: (v: number) => 1 / (1 + Math.exp(-v)),
    tanh: Math.tanh,
    floor: Math.floor,
    ceil: Math.ceil,
  }[op];
  const float = c.float || op === 'sqrt' || op === 'erf' || op === 'exp' || op === 'log' || op === 'reciprocal' || op === 'sigmoid' || op === 'tanh';
  const data = alloc(float, c.data.length);
  for (let i = 0; i < data.length; i++) data[i] = f(c.data[i]!);
  return make(float, c.dims, data, null);
}

/** Cast to an ONNX element type: to integers truncates toward zero (ONNX Runtime's static_cast). */
export function castConst(c: ConstValue, to: number): ConstValue {
  if (to === OnnxDataType.STRING || to === 0 || to === 14 || to === 15) fail(`cannot cast to ${dataTypeName(to)}`);
  if (isFloatType(to)) {
    if (c.batch) fail(`cannot cast the batch-dependent ${formatConst(c)} to ${dataTypeName(to)}`);
    return make(true, c.dims, Float32Array.from(c.data), null);
  }
  const data = new Float64Array(c.data.length);
  for (let i = 0; i < data.length; i++) {
    const v = c.data[i]!;
    data[i] = to === OnnxDataType.BOOL ? (v !== 0 ? 1 : 0) : Number.isFinite(v) ? Math.trunc(v) : v;
  }
  if (c.batch && to === OnnxDataType.BOOL) fail(`cannot cast the batch-dependent ${formatConst(c)} to BOOL`);
  return make(false, c.dims, data, c.batch ? Float64Array.from(c.batch) : null);
}

/** Same values, new dims (sizes must agree). */
export function reshapeConst(c: ConstValue, dims: readonly number[]): ConstValue {
  if (size(dims) !== c.data.length) fail(`cannot reshape [${c.dims.join(', ')}] to [${dims.join(', ')}]`);
  return make(c.float, dims, c.data, c.batch);
}

/** Gathers elements by a flat index map into a new constant of shape `dims`. */
function takeConst(c: ConstValue, map: ArrayLike<number>, dims: readonly number[]): ConstValue {
  const data = alloc(c.float, map.length);
  const batch = c.batch ? new Float64Array(map.length) : null;
  for (let i = 0; i < map.length; i++) {
    data[i] = c.data[map[i]!]!;
    if (batch) batch[i] = c.batch![map[i]!]!;
  }
  return make(c.float, dims, data, batch);
}

/** Normalises an axis in [-rank, rank). */
export function normAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) fail(`${what} ${axis} is out of range for rank ${rank}`);
  return a;
}

export function transposeConst(c: ConstValue, perm: readonly number[] | null): ConstValue {
  const r = c.dims.length;
  const p = perm ?? c.dims.map((_, i) => r - 1 - i);
  if (p.length !== r || new Set(p).size !== r || p.some((a) => a < 0 || a >= r)) fail(`perm [${p.join(', ')}] is not a permutation of ${r} axes`);
  const dims = p.map((a) => c.dims[a]!);
  const st = strides(c.dims);
  const map = stridedMap(
    dims,
    p.map((a) => st[a]!),
    0,
  );
  return takeConst(c, map, dims);
}

/** Flat indices base + sum idx[d] * st[d] over the row-major positions of `dims`. */
function stridedMap(dims: readonly number[], st: readonly number[], base: number): Int32Array {
  const n = size(dims);
  if (!(n <= maxImportElements())) fail(`a folded constant of ${n} values is larger than sparsenn imports (${maxImportElements()})`);
  const map = new Int32Array(n);
  const idx = new Array<number>(dims.length).fill(0);
  let flat = base;
  for (let o = 0; o < n; o++) {
    map[o] = flat;
    for (let d = dims.length - 1; d >= 0; d--) {
      idx[d]++;
      flat += st[d]!;
      if (idx[d]! < dims[d]!) break;
      flat -= st[d]! * dims[d]!;
      idx[d] = 0;
    }
  }
  return map;
}

/** ONNX Slice (axes normalised by the caller's rank; starts / ends clamp). */
export function sliceConst(c: ConstValue, starts: readonly number[], ends: readonly number[], axes: readonly number[], steps: readonly number[]): ConstValue {
  const r = c.dims.length;
  const st = strides(c.dims);
  const dims = [...c.dims];
  const s = [...st];
  let base = 0;
  axes.forEach((ax, i) => {
    const a = normAxis(ax, r, 'Slice axis');
    if (steps[i] === 0) fail('Slice step 0');
    const range = sliceRange(starts[i]!, ends[i]!, steps[i]!, c.dims[a]!);
    dims[a] = range.count;
    s[a] = st[a]! * range.step;
    if (range.count > 0) base += range.start * st[a]!;
  });
  return takeConst(c, stridedMap(dims, s, base), dims);
}

/** ONNX Gather of constant data by constant indices along `axis`. */
export function gatherConst(c: ConstValue, indices: ConstValue, axis: number): ConstValue {
  if (indices.batch) fail(`Gather indices ${formatConst(indices)} depend on the batch size`);
  const r = c.dims.length;
  const a = normAxis(axis, r, 'Gather axis');
  const dim = c.dims[a]!;
  const outer = size(c.dims.slice(0, a));
  const inner = size(c.dims.slice(a + 1));
  const idx = Array.from(indices.data, (v) => {
    if (!Number.isInteger(v) || v < -dim || v >= dim) fail(`Gather index ${v} is out of range for an axis of length ${dim}`);
    return v < 0 ? v + dim : v;
  });
  const dims = [...c.dims.slice(0, a), ...indices.dims, ...c.dims.slice(a + 1)];
  if (!(size(dims) <= maxImportElements())) fail(`a folded constant of ${size(dims)} values is larger than sparsenn imports`);
  const map = new Int32Array(outer * idx.length * inner);
  let o = 0;
  for (let u = 0; u < outer; u++)
    for (const i of idx) {
      const b = (u * dim + i) * inner;
      for (let v = 0; v < inner; v++) map[o++] = b + v;
    }
  return takeConst(c, map, dims);
}

export function concatConst(list: readonly ConstValue[], axis: number): ConstValue {
  const first = list[0]!;
  const r = first.dims.length;
  const a = normAxis(axis, r, 'Concat axis');
  for (const c of list)
    if (c.dims.length !== r || c.dims.some((d, i) => i !== a && d !== first.dims[i]))
      fail(`Concat inputs [${first.dims.join(', ')}] and [${c.dims.join(', ')}] differ off axis ${a}`);
  const float = list.some((c) => c.float);
  const total = list.reduce((s, c) => s + c.dims[a]!, 0);
  const dims = first.dims.map((d, i) => (i === a ? total : d));
  const outer = size(first.dims.slice(0, a));
  const inner = size(first.dims.slice(a + 1));
  const n = size(dims);
  const data = alloc(float, n);
  const anyBatch = list.some((c) => c.batch);
  const batch = anyBatch ? new Float64Array(n) : null;
  let o = 0;
  for (let u = 0; u < outer; u++)
    for (const c of list) {
      const len = c.dims[a]! * inner;
      for (let k = 0; k < len; k++) {
        data[o] = c.data[u * len + k]!;
        if (batch && c.batch) batch[o] = c.batch[u * len + k]!;
        o++;
      }
    }
  return make(float, dims, data, batch);
}

/** numpy broadcast of a constant to `dims` (ONNX Expand takes the broadcast of both shapes). */
export function expandConst(c: ConstValue, dims: readonly number[]): ConstValue {
  const out = broadcastDims(c.dims, dims);
  if (!out) fail(`cannot expand [${c.dims.join(', ')}] to [${dims.join(', ')}]`);
  return takeConst(c, broadcastMap(c.dims, out), out);
}

/** ONNX Where(cond, x, y) on constants. */
export function whereConst(cond: ConstValue, x: ConstValue, y: ConstValue): ConstValue {
  if (cond.batch) fail(`Where condition ${formatConst(cond)} depends on the batch size`);
  const d1 = broadcastDims(cond.dims, x.dims);
  const dims = d1 && broadcastDims(d1, y.dims);
  if (!dims) fail(`Where shapes [${cond.dims.join(', ')}], [${x.dims.join(', ')}], [${y.dims.join(', ')}] do not broadcast`);
  const mc = broadcastMap(cond.dims, dims);
  const mx = broadcastMap(x.dims, dims);
  const my = broadcastMap(y.dims, dims);
  const float = x.float || y.float;
  const n = size(dims);
  const data = alloc(float, n);
  const batch = x.batch || y.batch ? new Float64Array(n) : null;
  for (let i = 0; i < n; i++) {
    const pick = cond.data[mc[i]!] !== 0;
    const src = pick ? x : y;
    const j = pick ? mx[i]! : my[i]!;
    data[i] = src.data[j]!;
    if (batch && src.batch) batch[i] = src.batch[j]!;
  }
  return make(float, dims, data, batch);
}

/** A constant of `dims` filled with `value` (ConstantOfShape). */
export function filledConst(dims: readonly number[], value: number, float: boolean): ConstValue {
  const data = alloc(float, size(dims));
  data.fill(value);
  return make(float, dims, data, null);
}

/** Mean over axes (ReduceMean on constants). */
export function reduceMeanConst(c: ConstValue, axes: readonly number[] | null, keepdims: boolean): ConstValue {
  if (c.batch) fail(`cannot average the batch-dependent ${formatConst(c)}`);
  const r = c.dims.length;
  const ax = new Set((axes ?? c.dims.map((_, i) => i)).map((a) => normAxis(a, r, 'ReduceMean axis')));
  const kept = c.dims.map((d, i) => (ax.has(i) ? 1 : d));
  const n = size(kept);
  const sums = new Float64Array(n);
  const ks = strides(kept);
  const idx = new Array<number>(r).fill(0);
  for (let i = 0; i < c.data.length; i++) {
    let o = 0;
    for (let d = 0; d < r; d++) if (!ax.has(d)) o += idx[d]! * ks[d]!;
    sums[o] += c.data[i]!;
    for (let d = r - 1; d >= 0; d--) {
      idx[d]++;
      if (idx[d]! < c.dims[d]!) break;
      idx[d] = 0;
    }
  }
  const count = c.data.length / Math.max(n, 1);
  const dims = keepdims ? kept : c.dims.filter((_, i) => !ax.has(i));
  return floatConst(
    dims,
    Array.from(sums, (s) => s / count),
  );
}
