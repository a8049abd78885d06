/**
 * What importOnnx refuses, and how it says so: one FormatError listing every unsupported
 * operator with its nodes; operators that would move, slice, gather or reduce the batch axis
 * rejected naming the node; opsets, shapes and outputs it cannot take. Also the constant-only
 * operators (shape arithmetic) folded at import, checked against onnxruntime.
 */
import { describe, expect, it } from 'vitest';
import { encodeOnnx, importOnnx, OnnxDataType, type OnnxModel, type OnnxNode, type OnnxTensor } from '../../lib/io/onnx/index.js';
import { FormatError } from '../../lib/errors.js';
import { expectThrows } from '../helpers/errors.js';
import { compareWithOrt } from './onnx-helpers.js';

const f32 = (name: string, dims: number[], data?: number[]): OnnxTensor => ({
  name,
  dataType: OnnxDataType.FLOAT,
  dims,
  data: data ? Float32Array.from(data) : Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => ((i * 37) % 11) / 10 - 0.5),
});
const i64 = (name: string, data: number[], dims = [data.length]): OnnxTensor => ({ name, dataType: OnnxDataType.INT64, dims, data: Int32Array.from(data) });
const node = (opType: string, inputs: string[], outputs: string[], name = '', attrs: Record<string, number | number[] | string> = {}): OnnxNode => ({
  name,
  opType,
  domain: '',
  inputs,
  outputs,
  attributes: Object.entries(attrs).map(([k, v]) => ({
    name: k,
    value: typeof v === 'string' ? { type: 'string', value: v } : Array.isArray(v) ? { type: 'ints', value: v } : Number.isInteger(v) ? { type: 'int', value: v } : { type: 'float', value: v },
  })),
});

/** A one-input model x [N, ...sample] -> y. */
function model(nodes: OnnxNode[], sample: Array<number | string>, opts: { inits?: OnnxTensor[]; opset?: number; output?: string } = {}): OnnxModel {
  return {
    irVersion: 8,
    opsetImports: [{ domain: '', version: opts.opset ?? 13 }],
    producerName: 'test',
    producerVersion: '',
    metadata: {},
    graph: {
      name: 'g',
      nodes,
      initializers: opts.inits ?? [],
      inputs: [{ name: 'x', elemType: OnnxDataType.FLOAT, shape: ['N', ...sample] }],
      outputs: [{ name: opts.output ?? 'y', elemType: OnnxDataType.FLOAT, shape: null }],
      valueInfo: [],
    },
  };
}

function rejects(m: OnnxModel, pattern: RegExp): void {
  const e = expectThrows(() => importOnnx(encodeOnnx(m)), FormatError, 'ERR_FORMAT');
  if (process.env.SHOW_MSG) console.log(e.message);
  expect(e.message).toMatch(pattern);
}

describe('unsupported operators', () => {
  it('one error lists every unsupported operator and all the nodes using it, before anything is built', () => {
    const m = model(
      [
        node('LSTM', ['x'], ['a'], 'lstm_1'),
        node('Relu', ['a'], ['b'], 'relu'),
        node('TopK', ['b', 'k'], ['c', 'idx'], 'top'),
        node('LSTM', ['c'], ['d'], 'lstm_2'),
        { ...node('FusedThing', ['d'], ['e'], ''), domain: 'com.example' },
        node('NonMaxSuppression', ['e'], ['y'], ''),
      ],
      [4],
      { inits: [i64('k', [2])] },
    );
    const e = expectThrows(() => importOnnx(m), FormatError, 'ERR_FORMAT');
    expect(e.message).toMatch(/4 operators sparsenn does not convert/);
    expect(e.message).toMatch(/LSTM \(nodes 'lstm_1', 'lstm_2'\)/);
    expect(e.message).toMatch(/TopK \(node 'top'\)/);
    expect(e.message).toMatch(/com\.example\.FusedThing \(node #4\)/);
    expect(e.message).toMatch(/NonMaxSuppression \(node #5\)/);
    expect(e.message).not.toMatch(/Relu \(/);
    expect(e.message).toMatch(/Supported .*Conv.*Gemm/);
  });

  it('opsets outside 9-23 and models without a default opset are rejected', () => {
    rejects(model([node('Relu', ['x'], ['y'])], [3], { opset: 8 }), /opset 8 is not supported.*9-23/);
    rejects(model([node('Relu', ['x'], ['y'])], [3], { opset: 24 }), /opset 24 is not supported/);
    const none = model([node('Relu', ['x'], ['y'])], [3]);
    none.opsetImports = [];
    rejects(none, /no default-domain opset/);
  });
});

describe('the batch axis stays put', () => {
  const cases: Array<[string, OnnxNode[], Array<number | string>, OnnxTensor[], RegExp]> = [
    ['Transpose moving the batch', [node('Transpose', ['x'], ['y'], 'tr', { perm: [1, 0, 2] })], [3, 4], [], /'tr' \(Transpose\).*moves the batch axis/],
    ['Reshape merging the batch', [node('Reshape', ['x', 's'], ['y'], 'rs')], [3, 4], [i64('s', [-1, 4])], /'rs' \(Reshape\).*merge the batch/],
    ['Reshape with the batch moved', [node('Shape', ['x'], ['sh']), node('Gather', ['sh', 'zero'], ['n'], '', { axis: 0 }), node('Unsqueeze', ['n', 'ax'], ['nu']), node('Concat', ['c3', 'nu'], ['s'], '', { axis: 0 }), node('Reshape', ['x', 's'], ['y'], 'rs2')], [3], [i64('zero', [0], []), i64('ax', [0]), i64('c3', [3])], /'rs2' \(Reshape\).*moves the batch size to axis 1/],
    ['Flatten at axis 2', [node('Flatten', ['x'], ['y'], 'fl', { axis: 2 })], [3, 4], [], /'fl' \(Flatten\).*merges the batch/],
    ['Concat along the batch', [node('Concat', ['x', 'x'], ['y'], 'cat', { axis: 0 })], [3], [], /'cat' \(Concat\).*batch axis/],
    ['Slice of the batch', [node('Slice', ['x', 'st', 'en', 'ax'], ['y'], 'sl')], [3], [i64('st', [1]), i64('en', [5]), i64('ax', [0])], /'sl' \(Slice\).*slice the batch/],
    ['Gather along the batch', [node('Gather', ['x', 'i'], ['y'], 'ga', { axis: 0 })], [3], [i64('i', [0])], /'ga' \(Gather\).*batch axis/],
    ['ReduceMean over everything', [node('ReduceMean', ['x'], ['y'], 'rm')], [3], [], /'rm' \(ReduceMean\).*every axis, the batch included/],
    ['ReduceMean over the batch', [node('ReduceMean', ['x'], ['y'], 'rm0', { axes: [0] })], [3], [], /'rm0' \(ReduceMean\).*batch axis/],
    ['Squeeze of the batch', [node('Squeeze', ['x', 'ax'], ['y'], 'sq')], [3], [i64('ax', [0])], /'sq' \(Squeeze\).*remove the batch/],
    ['Unsqueeze before the batch', [node('Unsqueeze', ['x', 'ax'], ['y'], 'un')], [3], [i64('ax', [0])], /'un' \(Unsqueeze\).*before the batch/],
    ['Softmax over the batch', [node('Softmax', ['x'], ['y'], 'sm', { axis: 0 })], [3], [], /'sm' \(Softmax\).*batch axis/],
    ['activations of different ranks', [node('Reshape', ['x', 's'], ['r']), node('Add', ['x', 'r'], ['y'], 'add')], [2, 3], [i64('s', [0, 6])], /'add' \(Add\).*different ranks/],
    ['a constant varying along the batch', [node('Add', ['x', 'c'], ['y'], 'addc')], [3], [f32('c', [2, 3])], /'addc' \(Add\).*varies along the batch axis/],
    ['Gemm with transA', [node('Gemm', ['x', 'w'], ['y'], 'gm', { transA: 1 })], [3], [f32('w', [3, 2])], /'gm' \(Gemm\).*transA/],
  ];
  for (const [label, nodes, sample, inits, pattern] of cases) it(label, () => rejects(model(nodes, sample, { inits }), pattern));
});

describe('other refusals', () => {
  it('3-D convolution, constants as outputs, unavailable outputs, integer casts of activations', () => {
    rejects(model([node('Conv', ['x', 'w'], ['y'], 'c3d')], [1, 3, 3, 3], { inits: [f32('w', [1, 1, 1, 1, 1])] }), /'c3d' \(Conv\).*1-D and 2-D/);
    rejects(model([node('Relu', ['x'], ['r']), node('Constant', [], ['y'], 'k', { value_float: 1.5 })], [3]), /output 'y' is a constant/);
    rejects(
      model([node('Dropout', ['x'], ['d', 'mask'], 'drop'), node('Add', ['d', 'mask'], ['y'], 'use_mask')], [3]),
      /'use_mask' \(Add\).*'mask' is not available/,
    );
    rejects(model([node('Cast', ['x'], ['y'], 'toint', { to: OnnxDataType.INT64 })], [3]), /'toint' \(Cast\).*INT64/);
    rejects(model([node('Pad', ['x', 'p'], ['y'], 'reflect', { mode: 'reflect' })], [3], { inits: [i64('p', [0, 1, 0, 1])] }), /mode 'reflect'/);
  });

  it('symbolic sample dims need inputShapes, which then import the model', async () => {
    const m = model([node('Relu', ['x'], ['y'])], ['L', 4]);
    rejects(m, /symbolic 'L' dim at axis 1.*inputShapes/);
    const bytes = encodeOnnx(m);
    const g = importOnnx(bytes, { inputShapes: { x: [5, 4] } });
    await compareWithOrt(bytes, g, { x: [5, 4] }, { batches: [2] });
  });

  it('an undefined input and a cycle are named', () => {
    rejects(model([node('Add', ['x', 'ghost'], ['y'], 'a')], [3]), /'a' \(Add\) reads 'ghost'/);
    rejects(model([node('Add', ['x', 'z'], ['y'], 'a'), node('Relu', ['y'], ['z'], 'b')], [3]), /cycle/);
  });
});

describe('constant folding', () => {
  it('Shape / Equal / Where / Range / Size / Max / Min / Less / Greater / ConstantOfShape / Abs / Log fold at import', async () => {
    const inits = [f32('c', [2, 4]), i64('four', [4]), i64('zero', [0], []), i64('two', [2], []), i64('one', [1], []), i64('eight1', [8])];
    const nodes = [
      node('Shape', ['c'], ['sc']), // [2, 4]
      node('Equal', ['sc', 'four'], ['eq']), // [0, 1]
      node('Range', ['zero', 'two', 'one'], ['rg']), // [0, 1]
      node('Where', ['eq', 'sc', 'rg'], ['w']), // [0, 4]
      node('Mul', ['w', 'two'], ['t']), // [0, 8]
      node('Size', ['c'], ['sz']), // 8
      node('Max', ['t', 'rg'], ['mx']), // [0, 8]
      node('Min', ['mx', 'sz'], ['mn']), // [0, 8]: the Reshape target (0 copies the batch)
      node('Less', ['mn', 'sz'], ['lt']), // [1, 0]
      node('Greater', ['mn', 'zero'], ['gt']), // [0, 1]
      node('Cast', ['lt'], ['ltf'], '', { to: OnnxDataType.FLOAT }),
      node('Cast', ['gt'], ['gtf'], '', { to: OnnxDataType.FLOAT }),
      node('Add', ['ltf', 'gtf'], ['p']), // [1, 1]
      node('Gather', ['p', 'zero'], ['q'], '', { axis: 0 }), // 1
      node('ConstantOfShape', ['eight1'], ['cof']), // zeros [8]
      node('Abs', ['cof'], ['ab']),
      node('Add', ['ab', 'q'], ['ones']),
      node('Log', ['ones'], ['lg']), // zeros [8]
      node('Reshape', ['x', 'mn'], ['x2'], 'flat'),
      node('Sub', ['x2', 'lg'], ['x3'], 'minus_zero'), // x - 0: the activation itself
      node('Relu', ['x3'], ['y'], 'relu'),
    ];
    const bytes = encodeOnnx(model(nodes, [2, 4], { inits }));
    const g = importOnnx(bytes);
    // Everything but the Reshape and the ReLU folded away.
    expect(g.namedModules().slice(1).map(([, m]) => m.constructor.name)).toEqual(['Reshape', 'ReLU']);
    await compareWithOrt(bytes, g, { x: [2, 4] }, { batches: [3] });
  });
});

describe('more graphs', () => {
  it('weights from Constant nodes, two graph inputs, two outputs', async () => {
    const constant = (out: string, t: OnnxTensor): OnnxNode => ({ name: '', opType: 'Constant', domain: '', inputs: [], outputs: [out], attributes: [{ name: 'value', value: { type: 'tensor', value: t } }] });
    const m = model(
      [
        constant('w', f32('w', [3, 5])),
        constant('b', f32('b', [5])),
        constant('g', f32('g', [4, 5])),
        node('MatMul', ['x', 'w'], ['xw'], '/proj/MatMul'),
        node('Add', ['xw', 'b'], ['h'], '/proj/Add'),
        node('Mul', ['h', 'x2'], ['p'], 'gate'),
        node('Gemm', ['p', 'g'], ['y'], '/head/Gemm', { transB: 1 }),
        node('Concat', ['h', 'p'], ['z'], 'both', { axis: 1 }),
      ],
      [3],
    );
    m.graph.inputs.push({ name: 'x2', elemType: OnnxDataType.FLOAT, shape: ['N', 5] });
    m.graph.outputs.push({ name: 'z', elemType: OnnxDataType.FLOAT, shape: null });
    const bytes = encodeOnnx(m);
    const g = importOnnx(bytes);
    expect(g.inputs).toEqual(['x', 'x2']);
    expect(g.outputs).toEqual(['y', 'z']);
    // MatMul + Add of Constant-node weights is one Linear with a bias
    expect(g.namedParameters().map(([n, p]) => `${n}[${p.shape.join(',')}]`)).toEqual(['proj.weight[5,3]', 'proj.bias[5]', 'head.weight[4,5]']);
    await compareWithOrt(bytes, g, { x: [3], x2: [5] }, { batches: [1, 4] });
  });

  it('opset 20: Gelu, exact and tanh', async () => {
    const m = model([node('Gelu', ['x'], ['h'], 'exact'), node('Gelu', ['h'], ['y'], 'approx', { approximate: 'tanh' })], [5], { opset: 20 });
    m.irVersion = 9;
    const bytes = encodeOnnx(m);
    const g = importOnnx(bytes);
    expect(g.namedModules().slice(1).map(([, mod]) => mod.config())).toEqual([
      { type: 'GELU', approximate: 'none' },
      { type: 'GELU', approximate: 'tanh' },
    ]);
    await compareWithOrt(bytes, g, { x: [5] }, { batches: [3], scale: 3 });
  });

  it('opset 18: ReduceMean axes as an input', async () => {
    const m = model([node('ReduceMean', ['x', 'ax'], ['y'], 'rm', { keepdims: 0 })], [3, 4], { inits: [i64('ax', [-1])], opset: 18 });
    const bytes = encodeOnnx(m);
    await compareWithOrt(bytes, importOnnx(bytes), { x: [3, 4] }, { batches: [2] });
  });
});
