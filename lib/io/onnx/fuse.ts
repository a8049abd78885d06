/**
 * The importer's pre-pass: patterns exporters write as several ONNX nodes become one node of
 * the 'sparsenn' domain, so they import as one layer with real parameters:
 *
 * - MatMul(x, W) + Add(·, b) with constant W and b -> MatMulAdd: one Linear with a bias.
 * - PyTorch's exact GELU, x * 0.5 * (1 + erf(x / sqrt 2)) in its three association orders
 *   -> Gelu: one GELU layer.
 * - LayerNorm's decomposition (opsets < 17): ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt,
 *   Div, then optionally Mul scale and Add bias -> LayerNormalization: one LayerNorm.
 *
 * A pattern is fused only when its inner values feed nothing else and are no graph outputs.
 * The fused node takes the place of the pattern's last node, so the order stays topological.
 */
import type { ImportNode } from './context.js';
import type { OnnxAttribute, OnnxTensor } from './types.js';

interface Index {
  producer: Map<string, ImportNode>;
  consumers: Map<string, ImportNode[]>;
  outputs: Set<string>;
  constant: (name: string) => OnnxTensor | null;
}

function buildIndex(nodes: readonly ImportNode[], outputs: Set<string>, constant: (name: string) => OnnxTensor | null): Index {
  const producer = new Map<string, ImportNode>();
  const consumers = new Map<string, ImportNode[]>();
  for (const n of nodes) {
    for (const o of n.outputs) if (o) producer.set(o, n);
    for (const i of n.inputs) {
      if (!i) continue;
      const list = consumers.get(i) ?? [];
      list.push(n);
      consumers.set(i, list);
    }
  }
  return { producer, consumers, outputs, constant };
}

/** The one node reading `value` (once), when it is no graph output. */
function sole(ix: Index, value: string | undefined, opType: string): ImportNode | null {
  if (!value || ix.outputs.has(value)) return null;
  const list = ix.consumers.get(value);
  if (!list || list.length !== 1 || list[0]!.opType !== opType || (list[0]!.domain !== '' && list[0]!.domain !== 'ai.onnx')) return null;
  return list[0]!;
}

/** The single value of a constant input, or null. */
function scalar(ix: Index, name: string | undefined): number | null {
  const t = name ? ix.constant(name) : null;
  return t && t.data.length === 1 ? t.data[0]! : null;
}

/** The input of a binary node other than `value`, or null when `value` is not an input of it. */
function other(n: ImportNode, value: string): string | null {
  if (n.inputs[0] === value) return n.inputs[1] ?? null;
  if (n.inputs[1] === value) return n.inputs[0] ?? null;
  return null;
}

function near(v: number | null, target: number, tol: number): boolean {
  return v !== null && Math.abs(v - target) <= tol;
}

interface Fusion {
  nodes: ImportNode[];
  fused: ImportNode;
}

function matchMatMulAdd(ix: Index, m: ImportNode): Fusion | null {
  const [x, w] = m.inputs;
  if (!x || !w || ix.constant(x)) return null;
  const wt = ix.constant(w);
  if (!wt || wt.dims.length < 1) return null;
  const add = sole(ix, m.outputs[0], 'Add');
  if (!add) return null;
  const b = other(add, m.outputs[0]!);
  const bt = b ? ix.constant(b) : null;
  const out = wt.dims[wt.dims.length - 1]!;
  if (!bt || bt.dims.length === 0 || bt.dims[bt.dims.length - 1] !== out || bt.dims.slice(0, -1).some((d) => d !== 1)) return null;
  return {
    nodes: [m, add],
    fused: { ...m, opType: 'MatMulAdd', domain: 'sparsenn', inputs: [x, w, b!], outputs: [add.outputs[0]!], attributes: [], index: add.index, fused: ['MatMul', 'Add'] },
  };
}

function matchGelu(ix: Index, erf: ImportNode): Fusion | null {
  const d = ix.producer.get(erf.inputs[0] ?? '');
  if (!d || sole(ix, d.outputs[0], 'Erf') !== erf) return null;
  const x = d.inputs[0];
  if (!x) return null;
  const scaled = (d.opType === 'Div' && near(scalar(ix, d.inputs[1]), Math.SQRT2, 1e-4)) || (d.opType === 'Mul' && near(scalar(ix, d.inputs[1]), Math.SQRT1_2, 1e-5));
  if (!scaled) return null;
  const add = sole(ix, erf.outputs[0], 'Add');
  if (!add || !near(scalar(ix, other(add, erf.outputs[0]!) ?? undefined), 1, 0)) return null;
  const m1 = sole(ix, add.outputs[0], 'Mul');
  if (!m1) return null;
  const o = other(m1, add.outputs[0]!);
  const make = (nodes: ImportNode[], out: string): Fusion => {
    const last = nodes.reduce((a, b) => (b.index > a.index ? b : a));
    return {
      nodes,
      fused: { name: d.name, opType: 'Gelu', domain: 'sparsenn', inputs: [x], outputs: [out], attributes: [], index: last.index, fused: nodes.map((n) => n.opType) },
    };
  };
  // (a) (x * (1 + erf)) * 0.5
  if (o === x) {
    const m2 = sole(ix, m1.outputs[0], 'Mul');
    if (m2 && near(scalar(ix, other(m2, m1.outputs[0]!) ?? undefined), 0.5, 0)) return make([d, erf, add, m1, m2], m2.outputs[0]!);
    return null;
  }
  // (b) (x * 0.5) * (1 + erf)
  const h = o ? ix.producer.get(o) : undefined;
  if (h && h.opType === 'Mul' && sole(ix, h.outputs[0], 'Mul') === m1 && other(h, x) !== null && near(scalar(ix, other(h, x) ?? undefined), 0.5, 0))
    return make([d, erf, add, h, m1], m1.outputs[0]!);
  // (c) x * ((1 + erf) * 0.5)
  if (near(scalar(ix, o ?? undefined), 0.5, 0)) {
    const m2 = sole(ix, m1.outputs[0], 'Mul');
    if (m2 && other(m2, m1.outputs[0]!) === x) return make([d, erf, add, m1, m2], m2.outputs[0]!);
  }
  return null;
}

/** Axes of a ReduceMean (attribute or constant input), or null. */
function reduceAxes(ix: Index, n: ImportNode): number[] | null {
  const a = n.attributes.find((t) => t.name === 'axes');
  if (a && a.value.type === 'ints') return a.value.value;
  const t = n.inputs[1] ? ix.constant(n.inputs[1]) : null;
  return t ? Array.from(t.data) : null;
}

function keepdims(n: ImportNode): boolean {
  const a = n.attributes.find((t) => t.name === 'keepdims');
  return !a || (a.value.type === 'int' && a.value.value === 1);
}

function matchLayerNorm(ix: Index, r1: ImportNode): Fusion | null {
  const x = r1.inputs[0];
  const axes = reduceAxes(ix, r1);
  // Only trailing axes written from the end ([-1], [-2, -1], ...): they need no rank to check.
  if (!x || !axes || axes.length === 0 || !keepdims(r1)) return null;
  const sorted = [...axes].sort((a, b) => a - b);
  if (sorted.some((a, i) => a !== -sorted.length + i)) return null;
  const sub = sole(ix, r1.outputs[0], 'Sub');
  if (!sub || sub.inputs[0] !== x || sub.inputs[1] !== r1.outputs[0]) return null;
  const d = sub.outputs[0]!;
  const users = ix.consumers.get(d) ?? [];
  if (ix.outputs.has(d) || users.length !== 2) return null;
  const pow = users.find((u) => u.opType === 'Pow' && u.inputs[0] === d);
  const div = users.find((u) => u.opType === 'Div' && u.inputs[0] === d);
  if (!pow || !div || !near(scalar(ix, pow.inputs[1]), 2, 0)) return null;
  const r2 = sole(ix, pow.outputs[0], 'ReduceMean');
  const axes2 = r2 ? reduceAxes(ix, r2) : null;
  if (!r2 || !axes2 || !keepdims(r2) || [...axes2].sort((a, b) => a - b).join() !== sorted.join()) return null;
  const addEps = sole(ix, r2.outputs[0], 'Add');
  const eps = addEps ? scalar(ix, other(addEps, r2.outputs[0]!) ?? undefined) : null;
  if (!addEps || eps === null || !(eps > 0)) return null;
  const sqrt = sole(ix, addEps.outputs[0], 'Sqrt');
  if (!sqrt || sole(ix, sqrt.outputs[0], 'Div') !== div || div.inputs[1] !== sqrt.outputs[0]) return null;
  const nodes = [r1, sub, pow, r2, addEps, sqrt, div];
  let out = div.outputs[0]!;
  let scale = '';
  let bias = '';
  const mul = sole(ix, out, 'Mul');
  const w = mul ? other(mul, out) : null;
  if (mul && w && ix.constant(w)) {
    nodes.push(mul);
    scale = w;
    out = mul.outputs[0]!;
    const add = sole(ix, out, 'Add');
    const b = add ? other(add, out) : null;
    if (add && b && ix.constant(b)) {
      nodes.push(add);
      bias = b;
      out = add.outputs[0]!;
    }
  }
  const last = nodes.reduce((a, b) => (b.index > a.index ? b : a));
  const attributes: OnnxAttribute[] = [
    { name: 'axis', value: { type: 'int', value: sorted[0]! } },
    { name: 'epsilon', value: { type: 'float', value: eps } },
  ];
  return {
    nodes,
    fused: { name: r1.name, opType: 'LayerNormalization', domain: 'sparsenn', inputs: [x, scale, bias], outputs: [out], attributes, index: last.index, fused: nodes.map((n) => n.opType) },
  };
}

/**
 * Rewrites `nodes` (topologically ordered) with the fused patterns. `constant` returns the value
 * of an initializer or Constant output; `outputs` are the graph's output names.
 */
export function fusePatterns(nodes: readonly ImportNode[], outputs: Set<string>, constant: (name: string) => OnnxTensor | null): ImportNode[] {
  const ix = buildIndex(nodes, outputs, constant);
  const removed = new Set<ImportNode>();
  const placed = new Map<number, ImportNode>();
  const tryFuse = (f: Fusion | null): void => {
    if (!f || f.nodes.some((n) => removed.has(n))) return;
    for (const n of f.nodes) removed.add(n);
    placed.set(f.fused.index, f.fused);
  };
  for (const n of nodes) {
    if (n.domain !== '' && n.domain !== 'ai.onnx') continue;
    if (n.opType === 'ReduceMean') tryFuse(matchLayerNorm(ix, n));
    else if (n.opType === 'Erf') tryFuse(matchGelu(ix, n));
  }
  for (const n of nodes) if (n.opType === 'MatMul' && !removed.has(n) && (n.domain === '' || n.domain === 'ai.onnx')) tryFuse(matchMatMulAdd(ix, n));
  const out: ImportNode[] = [];
  for (const n of nodes) {
    const f = placed.get(n.index);
    if (f) out.push(f);
    else if (!removed.has(n)) out.push(n);
  }
  return out;
}
