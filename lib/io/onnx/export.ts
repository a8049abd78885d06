/**
 * ONNX export: a sparsenn model (Sequential, Graph, the built-in layers, the tensor-op modules,
 * the importer's AlongAxis and ConstantPad) as a standard dense ONNX model that any runtime can
 * run. Pruned weights are written as zeros (the file is dense; its zeros compress well), batch
 * norm with its running statistics, dropout as Identity: the inference graph of the model in
 * eval mode.
 *
 * Layout: ONNX is batch-first. A sparsenn value [d0, ..., dk, n] is the ONNX value
 * [N, d0, ..., dk]: sample axis a is ONNX axis a + 1. The exported input is [N, ...sampleShape]
 * with N the symbol 'batch' (or a fixed size without dynamicBatch).
 *
 * How it works: the model runs once in eval mode on a batch of two zero samples, module by
 * module (containers are walked, not called), and each module's ONNX nodes are emitted from its
 * attributes and the exact input and output shapes of that run. Modules without an ONNX mapping
 * are collected and reported together in one FormatError.
 *
 * ```ts
 * const bytes = exportOnnx(model, { sampleShape: [1, 28, 28] });
 * await saveOnnx(model, 'model.onnx', { sampleShape: [784], opset: 17 });
 * ```
 */
import { FormatError, IndexRangeError, ShapeError, SparsennError, SparsennTypeError } from '../../errors.js';
import { Graph } from '../../nn/graph.js';
import {
  Add,
  Concat,
  Dropout,
  Flatten,
  GELU,
  HardSigmoid,
  HardSwish,
  LeakyReLU,
  ReLU,
  Reshape,
  Sigmoid,
  Softmax,
  Tanh,
} from '../../nn/layers/activations.js';
import { Conv2d } from '../../nn/layers/conv.js';
import { Linear } from '../../nn/layers/linear.js';
import { BatchNormBase, LayerNorm } from '../../nn/layers/norm.js';
import { AvgPool2d, GlobalAvgPool, MaxPool2d } from '../../nn/layers/pool.js';
import { Sequential } from '../../nn/layers/sequential.js';
import {
  Clip,
  ConvTranspose2d,
  Elementwise,
  Gather,
  Identity,
  MatMulActs,
  ReduceMean,
  Resize,
  Slice,
  Transpose,
  Unary,
} from '../../nn/layers/tensor-ops.js';
import { Module } from '../../nn/module.js';
import { Parameter } from '../../nn/parameter.js';
import { noGrad, Tensor } from '../../nn/tensor.js';
import { AlongAxis, ConstantPad } from '../../nn/layers/axis.js';
import { writeFileAtomic, writeFileAtomicSync } from '../atomic-file.js';
import { encodeOnnx } from './proto.js';
import { OnnxDataType, type OnnxAttribute, type OnnxGraph, type OnnxModel, type OnnxNode, type OnnxTensor, type OnnxValueInfo } from './types.js';

/** Options of {@link exportOnnx}. */
export interface ExportOnnxOptions {
  /**
   * The sample shape of the input, without the batch (e.g. [784] or [1, 28, 28]); for a Graph
   * with several inputs, one sample shape per input (in declaration order).
   */
  sampleShape: readonly number[] | readonly (readonly number[])[];
  /** The opset version of the default domain, 13 to 23 (default 17). */
  opset?: number;
  /** The input name (default 'input'; a Graph's own input names). An array names a Graph's inputs in order. */
  inputName?: string | readonly string[];
  /** The output name (default 'output'; a Graph's own output names). An array names a Graph's outputs in order. */
  outputName?: string | readonly string[];
  /** A symbolic batch dimension 'batch' (default true); false fixes it to batchSize. */
  dynamicBatch?: boolean;
  /** The fixed batch size without dynamicBatch (default 1). */
  batchSize?: number;
}

export const MIN_EXPORT_OPSET = 13;
export const MAX_EXPORT_OPSET = 23;

/** The IR version that goes with an opset (onnx/helper.py's VERSION_TABLE). */
function irVersionFor(opset: number): number {
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  if (opset <= 22) return 10;
  return 11;
}

/** A traced value: its ONNX name and the value it took on the trace run. */
interface Val {
  name: string;
  probe: Tensor;
}

function sampleShape(v: Val): number[] {
  return v.probe.shape.slice(0, -1);
}

const INT32_MAX = 2147483647;

type Attr = OnnxAttribute;
const ints = (name: string, value: readonly number[]): Attr => ({ name, value: { type: 'ints', value: [...value] } });
const int = (name: string, value: number): Attr => ({ name, value: { type: 'int', value } });
const float = (name: string, value: number): Attr => ({ name, value: { type: 'float', value } });
const str = (name: string, value: string): Attr => ({ name, value: { type: 'string', value } });

/** Builds the ONNX graph: unique names, nodes, initializers (one per parameter or buffer). */
class Builder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  readonly unsupported: string[] = [];
  private readonly used = new Set<string>();
  private readonly initByData = new Map<Float32Array, string>();

  constructor(readonly opset: number) {}

  reserve(name: string): void {
    this.used.add(name);
  }

  /** A value or node name not used yet, derived from `base`. */
  fresh(base: string): string {
    const b = base === '' ? 'v' : base;
    let name = b;
    for (let i = 1; this.used.has(name); i++) name = `${b}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Adds a node; returns its (single) output name. */
  node(opType: string, inputs: readonly string[], base: string, attributes: Attr[] = []): string {
    const out = this.fresh(base);
    this.nodes.push({ name: out, opType, domain: '', inputs: [...inputs], outputs: [out], attributes });
    return out;
  }

  /** A float initializer (a parameter or buffer is written once however often it is used). */
  floatInit(base: string, data: Float32Array, dims: readonly number[], key?: Float32Array): string {
    const known = key ? this.initByData.get(key) : undefined;
    if (known) return known;
    const name = this.fresh(base);
    this.initializers.push({ name, dataType: OnnxDataType.FLOAT, dims: [...dims], data });
    if (key) this.initByData.set(key, name);
    return name;
  }

  /** A parameter's values with pruned (masked) weights as exact zeros. */
  param(base: string, p: Parameter): string {
    const known = this.initByData.get(p.data);
    if (known) return known;
    const data = p.data.slice();
    const mask = p.mask;
    if (mask) for (let i = 0; i < data.length; i++) if (mask[i] === 0) data[i] = 0;
    return this.floatInit(base, data, p.shape, p.data);
  }

  scalar(base: string, v: number): string {
    return this.floatInit(base, Float32Array.of(v), []);
  }

  int64(base: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    const name = this.fresh(base);
    this.initializers.push({ name, dataType: OnnxDataType.INT64, dims: [...dims], data: Int32Array.from(values) });
    return name;
  }

  /** ReduceMean over ONNX axes: the axes an attribute before opset 18, an input from 18. */
  reduceMean(x: string, axes: readonly number[], keepdims: boolean, base: string): string {
    if (this.opset >= 18) return this.node('ReduceMean', [x, this.int64(`${base}.axes`, axes)], base, [int('keepdims', keepdims ? 1 : 0)]);
    return this.node('ReduceMean', [x], base, [ints('axes', axes), int('keepdims', keepdims ? 1 : 0)]);
  }

  /** Reshape to [N, ...sample] (the batch inferred). */
  reshape(x: string, sample: readonly number[], base: string): string {
    return this.node('Reshape', [x, this.int64(`${base}.shape`, [-1, ...sample])], base);
  }

  /** Replaces a value name everywhere it appears. */
  rename(from: string, to: string): void {
    for (const n of this.nodes) {
      n.inputs = n.inputs.map((v) => (v === from ? to : v));
      n.outputs = n.outputs.map((v) => (v === from ? to : v));
      if (n.name === from) n.name = to;
    }
  }
}

function typeName(m: Module): string {
  const t = (() => {
    try {
      return m.config().type;
    } catch {
      return undefined;
    }
  })();
  return typeof t === 'string' ? t : m.constructor.name;
}

function checkOptions(opts: ExportOnnxOptions): { opset: number; dynamicBatch: boolean; batchSize: number } {
  if (typeof opts !== 'object' || opts === null) throw new SparsennTypeError('ERR_TYPE', 'exportOnnx needs options { sampleShape, opset?, ... }');
  const opset = opts.opset ?? 17;
  if (typeof opset !== 'number' || !Number.isInteger(opset) || opset < MIN_EXPORT_OPSET || opset > MAX_EXPORT_OPSET)
    throw new IndexRangeError('ERR_RANGE', `exportOnnx: opset must be an integer in [${MIN_EXPORT_OPSET}, ${MAX_EXPORT_OPSET}], got ${String(opset)}`);
  const dynamicBatch = opts.dynamicBatch ?? true;
  if (typeof dynamicBatch !== 'boolean') throw new SparsennTypeError('ERR_TYPE', `exportOnnx: dynamicBatch must be a boolean, got ${String(dynamicBatch)}`);
  const batchSize = opts.batchSize ?? 1;
  if (typeof batchSize !== 'number' || !Number.isInteger(batchSize) || batchSize < 1)
    throw new IndexRangeError('ERR_RANGE', `exportOnnx: batchSize must be an integer >= 1, got ${String(batchSize)}`);
  return { opset, dynamicBatch, batchSize };
}

function sampleShapes(opts: ExportOnnxOptions, count: number): number[][] {
  const s = opts.sampleShape as unknown;
  if (!Array.isArray(s)) throw new SparsennTypeError('ERR_TYPE', 'exportOnnx: sampleShape must be an array of dimensions (or one array per graph input)');
  const list = (s.length > 0 && Array.isArray(s[0]) ? s : [s]) as unknown[];
  if (list.length !== count)
    throw new ShapeError('ERR_SHAPE', `exportOnnx: the model takes ${count} input${count === 1 ? '' : 's'}, got ${list.length} sample shape${list.length === 1 ? '' : 's'}`);
  return list.map((shape, i) => {
    if (!Array.isArray(shape) || shape.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 1))
      throw new ShapeError('ERR_SHAPE', `exportOnnx: sample shape ${i} must be an array of positive integers (without the batch), got ${JSON.stringify(shape)}`);
    return [...(shape as number[])];
  });
}

function names(given: string | readonly string[] | undefined, defaults: readonly string[], what: string): string[] {
  if (given === undefined) return [...defaults];
  const list = typeof given === 'string' ? [given] : Array.isArray(given) ? [...given] : null;
  if (!list || list.some((n) => typeof n !== 'string' || n === ''))
    throw new SparsennTypeError('ERR_TYPE', `exportOnnx: ${what} must be a non-empty string or an array of them`);
  if (list.length !== defaults.length)
    throw new ShapeError('ERR_SHAPE', `exportOnnx: ${list.length} ${what}${list.length === 1 ? '' : 's'} given, the model has ${defaults.length}`);
  if (new Set(list).size !== list.length) throw new FormatError('ERR_FORMAT', `exportOnnx: ${what}s must be distinct, got [${list.join(', ')}]`);
  return list;
}

/**
 * The ONNX model (the plain objects of types.ts) of `model` in eval mode. See
 * {@link exportOnnx} for the options and the errors.
 */
export function toOnnxModel(model: Module, opts: ExportOnnxOptions): OnnxModel {
  if (!(model instanceof Module)) throw new SparsennTypeError('ERR_TYPE', 'exportOnnx needs a Module');
  const { opset, dynamicBatch, batchSize } = checkOptions(opts);
  const graphInputs = model instanceof Graph ? [...model.inputs] : ['input'];
  const graphOutputs = model instanceof Graph ? [...model.outputs] : ['output'];
  if (model instanceof Graph && graphOutputs.length === 0) throw new FormatError('ERR_FORMAT', 'exportOnnx: the graph declares no output');
  const shapes = sampleShapes(opts, graphInputs.length);
  const inNames = names(opts.inputName, graphInputs, 'input name');
  const outNames = names(opts.outputName, graphOutputs, 'output name');
  const clash = inNames.find((n) => outNames.includes(n));
  if (clash !== undefined) throw new FormatError('ERR_FORMAT', `exportOnnx: '${clash}' names both an input and an output`);

  const b = new Builder(opset);
  for (const n of [...inNames, ...outNames]) b.reserve(n);
  const batchDim: string | number = dynamicBatch ? 'batch' : batchSize;
  // The trace runs on a batch of two zero samples (one would trip layers that need batch
  // statistics before they can be reported as unsupported).
  const inputs: Val[] = inNames.map((name, i) => ({ name, probe: Tensor.zeros([...shapes[i]!, 2]) }));

  const results = noGrad(() =>
    model.inEvalMode(() => {
      try {
        if (model instanceof Graph) return emitGraph(b, model, '', inputs);
        return [emit(b, model, '', inputs)];
      } catch (e) {
        if (e instanceof SparsennError && !(e instanceof FormatError && e.message.startsWith('exportOnnx')))
          throw new (e.constructor as new (code: string, msg: string) => SparsennError)(
            e.code,
            `exportOnnx: the model does not run on samples of shape [${shapes.map((s) => s.join(', ')).join('] and [')}]: ${e.message}`,
          );
        throw e;
      }
    }),
  );
  if (b.unsupported.length > 0)
    throw new FormatError(
      'ERR_FORMAT',
      `exportOnnx: ${b.unsupported.length} module${b.unsupported.length === 1 ? ' has' : 's have'} no ONNX mapping: ${b.unsupported.join('; ')}`,
    );

  // Give the outputs their names: rename the producing node's output where that is safe, else an Identity.
  const inputSet = new Set(inNames);
  const renamed = new Set<string>();
  const outputs: OnnxValueInfo[] = results.map((v, i) => {
    const want = outNames[i]!;
    const produced = b.nodes.some((n) => n.outputs.includes(v.name));
    if (produced && !inputSet.has(v.name) && !renamed.has(v.name)) {
      b.rename(v.name, want);
      renamed.add(v.name);
      // Later outputs that are the same value now find it under its new name.
      for (const r of results) if (r.name === v.name && r !== v) r.name = want;
      v.name = want;
    } else if (v.name !== want) {
      b.nodes.push({ name: b.fresh(`${want}_identity`), opType: 'Identity', domain: '', inputs: [v.name], outputs: [want], attributes: [] });
    }
    return { name: want, elemType: OnnxDataType.FLOAT, shape: [batchDim, ...sampleShape(v)] };
  });

  const graph: OnnxGraph = {
    name: 'sparsenn',
    nodes: b.nodes,
    initializers: b.initializers,
    inputs: inNames.map((name, i) => ({ name, elemType: OnnxDataType.FLOAT, shape: [batchDim, ...shapes[i]!] })),
    outputs,
    valueInfo: [],
  };
  return {
    irVersion: irVersionFor(opset),
    opsetImports: [{ domain: '', version: opset }],
    producerName: 'sparsenn',
    producerVersion: '',
    graph,
    metadata: { 'sparsenn.layout': 'ONNX is batch-first: sparsenn sample axis a is ONNX axis a + 1' },
  };
}

/**
 * Exports `model` (in eval mode) as ONNX file bytes: a dense standard model, pruned weights
 * written as zeros. The input is [N, ...sampleShape] with N symbolic ('batch') unless
 * `dynamicBatch` is false.
 * @throws {FormatError} ERR_FORMAT listing every module without an ONNX mapping (custom modules,
 *   Embedding, GroupNorm, BatchNorm without running statistics, ...).
 * @throws {ShapeError} ERR_SHAPE when the model does not run on the given sample shape.
 * @throws {IndexRangeError} ERR_RANGE for an opset outside 13..23.
 */
export function exportOnnx(model: Module, opts: ExportOnnxOptions): Uint8Array {
  return encodeOnnx(toOnnxModel(model, opts));
}

function checkPath(path: unknown, what: string): string {
  if (typeof path !== 'string' || path === '') throw new SparsennTypeError('ERR_TYPE', `${what}: path must be a non-empty string`);
  return path;
}

/**
 * Writes {@link exportOnnx}'s bytes to `path` atomically (a temporary file in the same folder,
 * fsynced, then renamed over `path`): a failed export or write leaves any previous file as it was.
 */
export async function saveOnnx(model: Module, path: string, opts: ExportOnnxOptions): Promise<void> {
  checkPath(path, 'saveOnnx');
  await writeFileAtomic(path, exportOnnx(model, opts));
}

/** The synchronous {@link saveOnnx}. */
export function saveOnnxSync(model: Module, path: string, opts: ExportOnnxOptions): void {
  checkPath(path, 'saveOnnxSync');
  writeFileAtomicSync(path, exportOnnx(model, opts));
}

// ------------------------------------------------------------------------------ traversal --

function join(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}.${name}`;
}

function emitGraph(b: Builder, g: Graph, path: string, inputs: Val[]): Val[] {
  const config = g.config() as unknown as { inputs: string[]; nodes: Array<{ name: string; inputs: string[] }>; outputs: Record<string, string> };
  if (inputs.length !== config.inputs.length)
    throw new ShapeError('ERR_SHAPE', `exportOnnx: graph '${path || '(root)'}' takes ${config.inputs.length} inputs, got ${inputs.length}`);
  const children = new Map(g.children());
  const values = new Map<string, Val>();
  config.inputs.forEach((n, i) => values.set(n, inputs[i]!));
  for (const node of config.nodes) {
    const m = children.get(node.name)!;
    values.set(node.name, emit(b, m, join(path, node.name), node.inputs.map((n) => values.get(n)!)));
  }
  return Object.values(config.outputs).map((v) => ({ ...values.get(v)! }));
}

/** Emits the nodes of one module applied to `ins`; returns its output. */
function emit(b: Builder, m: Module, path: string, ins: Val[]): Val {
  if (m instanceof Sequential) {
    if (ins.length !== 1) throw new ShapeError('ERR_SHAPE', `exportOnnx: Sequential '${path || '(root)'}' takes one input, got ${ins.length}`);
    let v = ins[0]!;
    for (const [name, child] of m.children()) v = emit(b, child, join(path, name), [v]);
    return v;
  }
  if (m instanceof Graph) {
    const outs = emitGraph(b, m, path, ins);
    return outs[0]!;
  }
  const probe = m.forward(...ins.map((v) => v.probe));
  const base = path === '' ? typeName(m).toLowerCase() : path;
  const name = emitLeaf(b, m, base, ins, probe);
  if (name === null) {
    b.unsupported.push(`${path || '(root)'} (${typeName(m)})`);
    return { name: b.fresh(`${base}_unsupported`), probe };
  }
  return { name, probe };
}

/** Resolves a possibly negative sample axis of a value of sample rank r to its ONNX axis. */
function onnxAxis(axis: number, r: number): number {
  return (axis < 0 ? axis + r : axis) + 1;
}

const UNARY_ONNX: Record<string, string> = { sqrt: 'Sqrt', erf: 'Erf', exp: 'Exp', log: 'Log', neg: 'Neg', abs: 'Abs', reciprocal: 'Reciprocal' };
const BINARY_ONNX: Record<string, string> = { add: 'Add', sub: 'Sub', mul: 'Mul', div: 'Div', pow: 'Pow' };

/** x reshaped so its sample rank is `rank` (1s inserted after the batch), for numpy alignment. */
function padRank(b: Builder, x: Val, rank: number, base: string): string {
  const s = sampleShape(x);
  if (s.length >= rank) return x.name;
  return b.reshape(x.name, [...new Array<number>(rank - s.length).fill(1), ...s], `${base}/unsqueeze`);
}

/**
 * The ONNX nodes of a leaf module; returns the output value name, or null when the module has
 * no ONNX mapping.
 */
function emitLeaf(b: Builder, m: Module, base: string, ins: Val[], out: Tensor): string | null {
  const x = ins[0]!;
  const xs = sampleShape(x);
  const outSample = out.shape.slice(0, -1);
  const opset = b.opset;

  if (m instanceof Linear) {
    const a = xs.length === 1 ? x.name : b.node('Flatten', [x.name], `${base}/flatten`, [int('axis', 1)]);
    const inputs = [a, b.param(`${base}.weight`, m.weight)];
    if (m.bias) inputs.push(b.param(`${base}.bias`, m.bias));
    return b.node('Gemm', inputs, base, [int('transB', 1)]);
  }
  if (m instanceof Conv2d) {
    const inputs = [x.name, b.param(`${base}.weight`, m.weight)];
    if (m.bias) inputs.push(b.param(`${base}.bias`, m.bias));
    return b.node('Conv', inputs, base, [
      ints('kernel_shape', m.kernelSize),
      ints('strides', m.stride),
      ints('pads', [m.padding[0], m.padding[1], m.padding[0], m.padding[1]]),
      ints('dilations', m.dilation),
      int('group', m.groups),
    ]);
  }
  if (m instanceof ConvTranspose2d) {
    const inputs = [x.name, b.param(`${base}.weight`, m.weight)];
    if (m.bias) inputs.push(b.param(`${base}.bias`, m.bias));
    return b.node('ConvTranspose', inputs, base, [
      ints('kernel_shape', m.kernelSize),
      ints('strides', m.stride),
      ints('pads', [m.padding[0], m.padding[1], m.padding[0], m.padding[1]]),
      ints('output_padding', m.outputPadding),
      ints('dilations', m.dilation),
      int('group', m.groups),
    ]);
  }
  if (m instanceof BatchNormBase) {
    // Without running statistics eval mode normalises with the batch's own: not an inference op.
    if (!m.runningMean || !m.runningVar) return null;
    const c = m.numFeatures;
    const scale = m.weight ? b.param(`${base}.weight`, m.weight) : b.floatInit(`${base}.weight`, new Float32Array(c).fill(1), [c]);
    const bias = m.bias ? b.param(`${base}.bias`, m.bias) : b.floatInit(`${base}.bias`, new Float32Array(c), [c]);
    const mean = b.floatInit(`${base}.running_mean`, m.runningMean.slice(), [c], m.runningMean);
    const variance = b.floatInit(`${base}.running_var`, m.runningVar.slice(), [c], m.runningVar);
    return b.node('BatchNormalization', [x.name, scale, bias, mean, variance], base, [float('epsilon', m.eps)]);
  }
  if (m instanceof LayerNorm) return emitLayerNorm(b, m, base, x.name, 1, xs.length + 1);
  if (m instanceof AlongAxis) return emitAlongAxis(b, m, base, x.name, xs.length);
  if (m instanceof ReLU) return b.node('Relu', [x.name], base);
  if (m instanceof LeakyReLU) return b.node('LeakyRelu', [x.name], base, [float('alpha', m.negativeSlope)]);
  if (m instanceof Tanh) return b.node('Tanh', [x.name], base);
  if (m instanceof Sigmoid) return b.node('Sigmoid', [x.name], base);
  if (m instanceof HardSigmoid) return b.node('HardSigmoid', [x.name], base, [float('alpha', 1 / 6), float('beta', 0.5)]);
  if (m instanceof HardSwish) {
    if (opset >= 14) return b.node('HardSwish', [x.name], base);
    const hs = b.node('HardSigmoid', [x.name], `${base}/hardsigmoid`, [float('alpha', 1 / 6), float('beta', 0.5)]);
    return b.node('Mul', [x.name, hs], base);
  }
  if (m instanceof GELU) return emitGelu(b, m, base, x.name);
  if (m instanceof Softmax) return b.node('Softmax', [x.name], base, [int('axis', onnxAxis(m.axis, xs.length))]);
  if (m instanceof Dropout || m instanceof Identity) return b.node('Identity', [x.name], base);
  if (m instanceof Flatten) return b.node('Flatten', [x.name], base, [int('axis', 1)]);
  if (m instanceof Reshape) return b.reshape(x.name, outSample, base);
  if (m instanceof Add) return b.node('Add', [x.name, ins[1]!.name], base);
  if (m instanceof Concat)
    return b.node(
      'Concat',
      ins.map((v) => v.name),
      base,
      [int('axis', onnxAxis(m.axis, xs.length))],
    );
  if (m instanceof MaxPool2d)
    return b.node('MaxPool', [x.name], base, [
      ints('kernel_shape', m.kernelSize),
      ints('strides', m.stride),
      ints('pads', [m.padding[0], m.padding[1], m.padding[0], m.padding[1]]),
      int('ceil_mode', m.ceilMode ? 1 : 0),
    ]);
  if (m instanceof AvgPool2d)
    return b.node('AveragePool', [x.name], base, [
      ints('kernel_shape', m.kernelSize),
      ints('strides', m.stride),
      ints('pads', [m.padding[0], m.padding[1], m.padding[0], m.padding[1]]),
      int('ceil_mode', m.ceilMode ? 1 : 0),
      int('count_include_pad', m.countIncludePad ? 1 : 0),
    ]);
  if (m instanceof GlobalAvgPool) return b.node('Flatten', [b.node('GlobalAveragePool', [x.name], `${base}/pool`)], base, [int('axis', 1)]);

  // ---- the tensor-op modules
  if (m instanceof Elementwise) {
    const op = BINARY_ONNX[m.op]!;
    if (m.constant) {
      const cs = [...m.constantShape!];
      const c = b.floatInit(`${base}.constant`, m.constant.slice(), cs, m.constant);
      const a = padRank(b, x, cs.length, base);
      return b.node(op, m.constantFirst ? [c, a] : [a, c], base);
    }
    const r = Math.max(xs.length, sampleShape(ins[1]!).length);
    return b.node(op, [padRank(b, x, r, `${base}/a`), padRank(b, ins[1]!, r, `${base}/b`)], base);
  }
  if (m instanceof Unary) return b.node(UNARY_ONNX[m.op]!, [x.name], base);
  if (m instanceof Clip) {
    const inputs = [x.name, Number.isFinite(m.min) ? b.scalar(`${base}.min`, m.min) : ''];
    if (Number.isFinite(m.max)) inputs.push(b.scalar(`${base}.max`, m.max));
    return b.node('Clip', inputs, base);
  }
  if (m instanceof MatMulActs) return emitMatMul(b, base, x, ins[1]!, outSample);
  if (m instanceof Transpose) {
    const r = xs.length;
    return b.node('Transpose', [x.name], base, [ints('perm', [0, ...m.perm.map((a) => onnxAxis(a, r))])]);
  }
  if (m instanceof Slice) {
    const r = xs.length;
    const clampI = (v: number) => Math.max(-INT32_MAX, Math.min(INT32_MAX, v));
    const axes = (m.axes ?? m.starts.map((_, i) => i)).map((a) => onnxAxis(a, r));
    const inputs = [x.name, b.int64(`${base}.starts`, m.starts.map(clampI)), b.int64(`${base}.ends`, m.ends.map(clampI)), b.int64(`${base}.axes`, axes)];
    if (m.steps) inputs.push(b.int64(`${base}.steps`, m.steps));
    return b.node('Slice', inputs, base);
  }
  if (m instanceof Gather) {
    const idx = b.int64(`${base}.indices`, [...m.indices], m.indicesShape);
    return b.node('Gather', [x.name, idx], base, [int('axis', onnxAxis(m.axis, xs.length))]);
  }
  if (m instanceof ReduceMean) {
    if (m.axes !== null && m.axes.length === 0) return b.node('Identity', [x.name], base);
    const axes = (m.axes ?? xs.map((_, i) => i)).map((a) => onnxAxis(a, xs.length));
    return b.reduceMean(x.name, axes, m.keepdims, base);
  }
  if (m instanceof ConstantPad) {
    // ONNX pads name every axis, begins then ends: 0 for the batch (ONNX axis 0), then the
    // sample axes in order. Pads are an input from opset 11, below the exporter's range.
    const r = xs.length;
    const pads = [0, ...m.pads.slice(0, r), 0, ...m.pads.slice(r)];
    // A float32 initializer holds -Infinity (a max pool's padding) exactly.
    const value = b.floatInit(`${base}.value`, Float32Array.of(m.value), []);
    return b.node('Pad', [x.name, b.int64(`${base}.pads`, pads), value], base, [str('mode', 'constant')]);
  }
  if (m instanceof Resize) {
    const attrs = [str('mode', m.mode), str('coordinate_transformation_mode', m.coordinateTransformationMode), str('nearest_mode', m.nearestMode)];
    if (m.scales) {
      const scales = b.floatInit(`${base}.scales`, Float32Array.from([1, 1, m.scales[0], m.scales[1]]), [4]);
      return b.node('Resize', [x.name, '', scales], base, attrs);
    }
    // Sizes must name every axis, the batch included: Shape(x)[0:2] ++ [OH, OW].
    const shape = b.node('Shape', [x.name], `${base}/shape`);
    const lead = b.node('Slice', [shape, b.int64(`${base}.lead_start`, [0]), b.int64(`${base}.lead_end`, [2])], `${base}/lead`);
    const sizes = b.node('Concat', [lead, b.int64(`${base}.hw`, [m.sizes![0], m.sizes![1]])], `${base}/sizes`, [int('axis', 0)]);
    return b.node('Resize', [x.name, '', '', sizes], base, attrs);
  }
  return null;
}

/**
 * Layer norm over the ONNX axes axis..rank-1 (the LayerNorm's normalizedShape):
 * LayerNormalization from opset 17, the mean / variance pattern before.
 */
function emitLayerNorm(b: Builder, m: LayerNorm, base: string, x: string, axis: number, rank: number): string {
  const s = [...m.normalizedShape];
  const size = s.reduce((p, d) => p * d, 1);
  if (b.opset >= 17) {
    const inputs = [x, m.weight ? b.param(`${base}.weight`, m.weight) : b.floatInit(`${base}.weight`, new Float32Array(size).fill(1), s)];
    if (m.bias) inputs.push(b.param(`${base}.bias`, m.bias));
    return b.node('LayerNormalization', inputs, base, [int('axis', axis), float('epsilon', m.eps)]);
  }
  const axes = Array.from({ length: rank - axis }, (_, i) => axis + i);
  const mean = b.reduceMean(x, axes, true, `${base}/mean`);
  const d = b.node('Sub', [x, mean], `${base}/centered`);
  const v = b.reduceMean(b.node('Mul', [d, d], `${base}/square`), axes, true, `${base}/var`);
  const den = b.node('Sqrt', [b.node('Add', [v, b.scalar(`${base}.eps`, m.eps)], `${base}/var_eps`)], `${base}/std`);
  let y = b.node('Div', [d, den], m.weight || m.bias ? `${base}/normalized` : base);
  if (m.weight) y = b.node('Mul', [y, b.param(`${base}.weight`, m.weight)], m.bias ? `${base}/scaled` : base);
  if (m.bias) y = b.node('Add', [y, b.param(`${base}.bias`, m.bias)], base);
  return y;
}

/**
 * The importer's AlongAxis (a Linear or a one-axis LayerNorm applied along one sample axis):
 * the axis moved last, MatMul with W^T (+ bias) or LayerNormalization over the last axis, and
 * moved back. null for other inner layers.
 */
function emitAlongAxis(b: Builder, m: AlongAxis, base: string, x: string, sampleRank: number): string | null {
  const inner = m.layer;
  const isLinear = inner instanceof Linear;
  const isNorm = inner instanceof LayerNorm && inner.normalizedShape.length === 1;
  if (!isLinear && !isNorm) return null;
  const a = onnxAxis(m.axis, sampleRank);
  const last = sampleRank; // ONNX rank is sampleRank + 1
  const perm = [...Array.from({ length: last + 1 }, (_, i) => i).filter((i) => i !== a), a];
  const inverse = new Array<number>(perm.length);
  perm.forEach((p, i) => (inverse[p] = i));
  const moved = a === last ? x : b.node('Transpose', [x], `${base}/to_last`, [ints('perm', perm)]);
  const done = a === last ? base : `${base}/along`;
  let y: string;
  if (inner instanceof Linear) {
    // x [..., in] @ W^T [in, out]: W^T with pruned weights as zeros.
    const [out, inF] = inner.weight.shape as [number, number];
    const mask = inner.weight.mask;
    const wt = new Float32Array(inF * out);
    for (let o = 0; o < out; o++) for (let i = 0; i < inF; i++) wt[i * out + o] = mask && mask[o * inF + i] === 0 ? 0 : inner.weight.data[o * inF + i]!;
    y = b.node('MatMul', [moved, b.floatInit(`${base}.layer.weight_t`, wt, [inF, out])], inner.bias ? `${base}/matmul` : done);
    if (inner.bias) y = b.node('Add', [y, b.param(`${base}.layer.bias`, inner.bias)], done);
  } else y = emitLayerNorm(b, inner as LayerNorm, a === last ? base : `${base}.layer`, moved, last, last + 1);
  return a === last ? y : b.node('Transpose', [y], base, [ints('perm', inverse)]);
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

function emitGelu(b: Builder, m: GELU, base: string, x: string): string {
  if (b.opset >= 20) return b.node('Gelu', [x], base, [str('approximate', m.approximate)]);
  const half = b.node('Mul', [x, b.scalar(`${base}.half`, 0.5)], `${base}/half_x`);
  const one = b.scalar(`${base}.one`, 1);
  let inner: string;
  if (m.approximate === 'tanh') {
    // 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
    const x3 = b.node('Mul', [b.node('Mul', [x, x], `${base}/x2`), x], `${base}/x3`);
    const poly = b.node('Add', [x, b.node('Mul', [x3, b.scalar(`${base}.c`, 0.044715)], `${base}/cx3`)], `${base}/poly`);
    inner = b.node('Tanh', [b.node('Mul', [poly, b.scalar(`${base}.k`, SQRT_2_OVER_PI)], `${base}/scaled`)], `${base}/tanh`);
  } else {
    // 0.5 x (1 + erf(x / sqrt 2))
    inner = b.node('Erf', [b.node('Mul', [x, b.scalar(`${base}.inv_sqrt2`, Math.SQRT1_2)], `${base}/scaled`)], `${base}/erf`);
  }
  return b.node('Mul', [half, b.node('Add', [inner, one], `${base}/one_plus`)], base);
}

/**
 * numpy matmul of the sample shapes per batch element as one ONNX MatMul: vectors become
 * [1, k] / [k, 1] matrices and the leading dims are padded to equal rank, so the batch lines up
 * with the batch; the result is reshaped back to the module's output shape when they differ.
 */
function emitMatMul(b: Builder, base: string, a: Val, c: Val, outSample: number[]): string {
  const sa = sampleShape(a);
  const sc = sampleShape(c);
  const a2 = sa.length === 1 ? [1, sa[0]!] : sa;
  const c2 = sc.length === 1 ? [sc[0]!, 1] : sc;
  const r = Math.max(a2.length, c2.length);
  const pa = [...new Array<number>(r - a2.length).fill(1), ...a2];
  const pc = [...new Array<number>(r - c2.length).fill(1), ...c2];
  const an = pa.length === sa.length && pa.every((d, i) => d === sa[i]) ? a.name : b.reshape(a.name, pa, `${base}/a`);
  const cn = pc.length === sc.length && pc.every((d, i) => d === sc[i]) ? c.name : b.reshape(c.name, pc, `${base}/b`);
  const lead = pa.slice(0, -2).map((d, i) => (d === 1 ? pc[i]! : d));
  const full = [...lead, pa[pa.length - 2]!, pc[pc.length - 1]!];
  if (full.length === outSample.length && full.every((d, i) => d === outSample[i])) return b.node('MatMul', [an, cn], base);
  return b.reshape(b.node('MatMul', [an, cn], `${base}/matmul`), outSample, base);
}
