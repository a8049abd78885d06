/**
 * ONNX export (lib/io/onnx/export.ts): every exported model runs in onnxruntime-node, an
 * independent runtime, at several batch sizes, and must match the model's own eval-mode forward
 * within 1e-4 relative; pruned weights must be exact zeros in the file; unsupported modules are
 * reported together.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError, IndexRangeError, ShapeError } from '../../lib/errors.js';
import { exportOnnx, saveOnnx, saveOnnxSync, toOnnxModel, type ExportOnnxOptions } from '../../lib/io/onnx/export.js';
import { AlongAxis, ConstantPad } from '../../lib/nn/layers/axis.js';
import { importOnnx } from '../../lib/io/onnx/import.js';
import { decodeOnnx } from '../../lib/io/onnx/proto.js';
import { Graph } from '../../lib/nn/graph.js';
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
} from '../../lib/nn/layers/activations.js';
import { Conv2d } from '../../lib/nn/layers/conv.js';
import { Embedding } from '../../lib/nn/layers/embedding.js';
import { Linear } from '../../lib/nn/layers/linear.js';
import { BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm } from '../../lib/nn/layers/norm.js';
import { AvgPool2d, GlobalAvgPool, MaxPool2d } from '../../lib/nn/layers/pool.js';
import { Sequential } from '../../lib/nn/layers/sequential.js';
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
} from '../../lib/nn/layers/tensor-ops.js';
import { Module, type ModuleConfig } from '../../lib/nn/module.js';
import { noGrad, Tensor } from '../../lib/nn/tensor.js';
import { prune } from '../../lib/prune/index.js';
import { expectRejects, expectThrows } from '../helpers/errors.js';
import { mulberry32 } from '../helpers/random.js';
import { compareWithOrt, expectAllClose, fixture, randomValues, runOrt } from './onnx-helpers.js';

// ---------------------------------------------------------------------------------- helpers --

/** A batch of n random samples, batch-last, and the same values batch-first for ONNX. */
function batch(sample: number[], n: number, seed: number, lo = -1, hi = 1): { ours: Tensor; onnx: Float32Array } {
  const rng = mulberry32(seed);
  const size = sample.reduce((a, b) => a * b, 1);
  const onnx = new Float32Array(size * n);
  for (let i = 0; i < onnx.length; i++) onnx[i] = lo + (hi - lo) * rng();
  const ours = new Float32Array(size * n);
  for (let j = 0; j < n; j++) for (let i = 0; i < size; i++) ours[i * n + j] = onnx[j * size + i]!;
  return { ours: new Tensor(ours, [...sample, n]), onnx };
}

/** Batch-last [..., n] values in ONNX's batch-first order. */
function toBatchFirst(t: Tensor): Float32Array {
  const n = t.batch;
  const size = t.size / n;
  const out = new Float32Array(t.size);
  for (let j = 0; j < n; j++) for (let i = 0; i < size; i++) out[j * size + i] = t.data[i * n + j]!;
  return out;
}

function expectClose(got: Float32Array, want: Float32Array, label: string, rtol = 1e-4): void {
  expect(got.length, `${label}: length`).toBe(want.length);
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (!(d <= rtol * Math.abs(want[i]!) + rtol * 1e-2 * scale + 1e-7)) expect.fail(`${label}: index ${i}: onnxruntime ${got[i]}, sparsenn ${want[i]}`);
  }
}

const sessions: ort.InferenceSession[] = [];
afterAll(async () => {
  for (const s of sessions) await s.release();
});

async function session(bytes: Uint8Array): Promise<ort.InferenceSession> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  sessions.push(s);
  return s;
}

/**
 * Exports a single-input model, runs it in onnxruntime at each batch size and compares with the
 * model's eval-mode forward.
 */
async function checkModel(model: Module, sample: number[], opts: Partial<ExportOnnxOptions> = {}, batches = [1, 3, 8], lo = -1, hi = 1): Promise<Uint8Array> {
  const bytes = exportOnnx(model, { sampleShape: sample, ...opts });
  const s = await session(bytes);
  const inName = typeof opts.inputName === 'string' ? opts.inputName : 'input';
  const outName = typeof opts.outputName === 'string' ? opts.outputName : 'output';
  for (const [k, n] of batches.entries()) {
    const x = batch(sample, n, 100 + k, lo, hi);
    const want = noGrad(() => model.inEvalMode(() => model.forward(x.ours)));
    const res = await s.run({ [inName]: new ort.Tensor('float32', x.onnx, [n, ...sample]) });
    const y = res[outName]!;
    expect([...y.dims], `batch ${n}: output dims`).toEqual([n, ...want.shape.slice(0, -1)]);
    expectClose(y.data as Float32Array, toBatchFirst(want), `batch ${n}`);
  }
  return bytes;
}

/** Gives batch norms non-trivial running statistics and affine parameters. */
function randomizeNorms(model: Module, seed: number): void {
  const rng = mulberry32(seed);
  for (const [name, b] of model.namedBuffers()) {
    if (name.endsWith('running_mean')) b.data.forEach((_, i) => (b.data[i] = rng() - 0.5));
    if (name.endsWith('running_var')) b.data.forEach((_, i) => (b.data[i] = 0.5 + rng()));
  }
  for (const [name, p] of model.namedParameters())
    if (/(^|\.)(bn|norm|ln)[^.]*\.(weight|bias)$/.test(name)) p.data.forEach((_, i) => (p.data[i] = (name.endsWith('weight') ? 1 : 0) + (rng() - 0.5)));
}

// ------------------------------------------------------------------------------------ tests --

describe('exportOnnx: MLPs', () => {
  it('a LeNet-300-100 pruned to 90% runs in onnxruntime like the model, masked weights are zeros in the file', async () => {
    const model = new Sequential({
      fc1: new Linear(784, 300),
      relu1: new ReLU(),
      fc2: new Linear(300, 100),
      relu2: new ReLU(),
      fc3: new Linear(100, 10),
    });
    prune(model, { sparsity: 0.9 });
    const bytes = await checkModel(model, [784], {}, [1, 5, 32]);
    const file = decodeOnnx(bytes);
    expect(file.opsetImports).toEqual([{ domain: '', version: 17 }]);
    expect(file.graph.inputs[0]).toEqual({ name: 'input', elemType: 1, shape: ['batch', 784] });
    expect(file.graph.outputs[0]).toEqual({ name: 'output', elemType: 1, shape: ['batch', 10] });
    expect(file.graph.nodes.map((n) => n.opType)).toEqual(['Gemm', 'Relu', 'Gemm', 'Relu', 'Gemm']);
    for (const [name, p] of model.namedParameters()) {
      const init = file.graph.initializers.find((t) => t.name === name);
      expect(init, name).toBeDefined();
      expect(init!.dims).toEqual([...p.shape]);
      if (!p.mask) continue;
      let pruned = 0;
      for (let i = 0; i < p.size; i++)
        if (p.mask[i] === 0) {
          pruned++;
          // Object.is: a pruned weight must be +0, not merely small.
          if (!Object.is(init!.data[i], 0)) expect.fail(`${name}[${i}] is pruned but the file holds ${init!.data[i]}`);
        } else expect(init!.data[i]).toBe(p.data[i]);
      expect(pruned / p.size, `${name} sparsity`).toBeGreaterThan(0.5);
    }
  });

  it('a 784-300-100 model on image input (Flatten first), fixed batch, custom names', async () => {
    const model = new Sequential(new Flatten(), new Linear(784, 30), new ReLU(), new Dropout(0.5), new Linear(30, 10), new Softmax());
    prune(model, { sparsity: 0.9 });
    const bytes = await checkModel(model, [1, 28, 28], { dynamicBatch: false, batchSize: 4, inputName: 'image', outputName: 'probs' }, [4]);
    const file = decodeOnnx(bytes);
    expect(file.graph.inputs[0]!.shape).toEqual([4, 1, 28, 28]);
    expect(file.graph.outputs[0]!.name).toBe('probs');
  });

  it('activations, norms and reshapes at opsets 13, 17 and 20 (GELU, HardSwish and LayerNorm change form)', async () => {
    const model = new Sequential({
      fc1: new Linear(12, 24),
      bn1: new BatchNorm1d(24),
      act1: new GELU(),
      fc2: new Linear(24, 24),
      act2: new GELU('tanh'),
      ln: new LayerNorm(24),
      act3: new LeakyReLU(0.2),
      act4: new HardSwish(),
      act5: new HardSigmoid(),
      act6: new Tanh(),
      act7: new Sigmoid(),
      view: new Reshape([4, -1]),
      norm2: new LayerNorm([4, 6], { elementwiseAffine: false }),
      soft: new Softmax(-1),
      flat: new Flatten(),
    });
    randomizeNorms(model, 3);
    for (const opset of [13, 17, 20]) {
      const bytes = await checkModel(model, [12], { opset }, [1, 4], -3, 3);
      const ops = decodeOnnx(bytes).graph.nodes.map((n) => n.opType);
      expect(ops.includes('Gelu'), `opset ${opset}`).toBe(opset >= 20);
      expect(ops.includes('LayerNormalization'), `opset ${opset}`).toBe(opset >= 17);
      expect(ops.includes('HardSwish'), `opset ${opset}`).toBe(opset >= 14);
    }
  });
});

describe('exportOnnx: convolutional models', () => {
  it('a small CNN with batch norm, pools and a pruned conv runs like the model', async () => {
    const model = new Sequential({
      conv1: new Conv2d(3, 8, 3, { padding: 1 }),
      bn1: new BatchNorm2d(8),
      relu1: new ReLU(),
      pool1: new MaxPool2d(2),
      conv2: new Conv2d(8, 8, 3, { stride: 2, padding: 1, groups: 2 }),
      bn2: new BatchNorm2d(8, { affine: false }),
      relu2: new ReLU(),
      pool2: new AvgPool2d(3, { stride: 1, padding: 1, countIncludePad: false }),
      conv3: new Conv2d(8, 6, 2, { dilation: 2, bias: false }),
      gap: new GlobalAvgPool(),
      fc: new Linear(6, 5),
    });
    randomizeNorms(model, 5);
    prune(model, { sparsity: 0.7 });
    await checkModel(model, [3, 16, 16], {}, [1, 2, 5]);
  });

  it('pool variants: ceil mode, padding, count_include_pad', async () => {
    for (const [k, pool] of [
      new MaxPool2d(3, { stride: 2, ceilMode: true }),
      new MaxPool2d(3, { stride: 2, padding: 1, ceilMode: true }),
      new AvgPool2d(3, { stride: 2, padding: 1 }),
      new AvgPool2d(2, { stride: 2, ceilMode: true, countIncludePad: false }),
      new AvgPool2d(3, { stride: 2, padding: 1, ceilMode: true }),
    ].entries()) {
      const model = new Sequential(new Conv2d(2, 3, 1), pool);
      await checkModel(model, [2, 7, 8], {}, [2]).catch((e: Error) => {
        throw new Error(`pool ${k} ${JSON.stringify(pool.config())}: ${e.message}`);
      });
    }
  });

  it('ConvTranspose2d and Resize (upsampling decoder)', async () => {
    const model = new Sequential(
      new Conv2d(2, 4, 3, { padding: 1 }),
      new ReLU(),
      new ConvTranspose2d(4, 4, 3, { stride: 2, padding: 1, outputPadding: 1, groups: 2 }),
      new Resize({ mode: 'linear', scales: [2, 2] }),
      new ConvTranspose2d(4, 2, [2, 3], { dilation: [1, 2], bias: false }),
      new Resize({ mode: 'nearest', sizes: [9, 11], coordinateTransformationMode: 'asymmetric', nearestMode: 'floor' }),
      new Resize({ mode: 'linear', sizes: [7, 5], coordinateTransformationMode: 'align_corners' }),
      new Resize({ mode: 'nearest', scales: [2, 1.5] }),
      new Resize({ mode: 'linear', scales: [1.5, 0.5], coordinateTransformationMode: 'pytorch_half_pixel' }),
    );
    prune(model, { sparsity: 0.5 });
    await checkModel(model, [2, 5, 4], {}, [1, 3]);
    await checkModel(model, [2, 5, 4], { opset: 19 }, [2]);
  });
});

describe('exportOnnx: graphs', () => {
  it('a residual graph with two outputs (one also an intermediate)', async () => {
    const g = new Graph();
    const x = g.input('image');
    const c1 = g.add('conv1', new Conv2d(4, 4, 3, { padding: 1 }), x);
    const b1 = g.add('bn1', new BatchNorm2d(4), c1);
    const r1 = g.add('relu1', new ReLU(), b1);
    const c2 = g.add('conv2', new Conv2d(4, 4, 3, { padding: 1 }), r1);
    const s = g.add('residual', new Add(), c2, x);
    const r2 = g.add('relu2', new ReLU(), s);
    const p = g.add('gap', new GlobalAvgPool(), r2);
    const logits = g.add('fc', new Linear(4, 3), p);
    g.output('logits', logits);
    g.output('features', r1);
    randomizeNorms(g, 9);
    prune(g, { sparsity: 0.8 });
    const bytes = exportOnnx(g, { sampleShape: [4, 6, 6] });
    const file = decodeOnnx(bytes);
    expect(file.graph.inputs.map((v) => v.name)).toEqual(['image']);
    expect(file.graph.outputs.map((v) => [v.name, v.shape])).toEqual([
      ['logits', ['batch', 3]],
      ['features', ['batch', 4, 6, 6]],
    ]);
    const s1 = await session(bytes);
    for (const n of [1, 4]) {
      const xb = batch([4, 6, 6], n, 7 + n);
      const want = noGrad(() => g.inEvalMode(() => g.run([xb.ours])));
      const res = await s1.run({ image: new ort.Tensor('float32', xb.onnx, [n, 4, 6, 6]) });
      expectClose(res['logits']!.data as Float32Array, toBatchFirst(want['logits']!), `logits, batch ${n}`);
      expectClose(res['features']!.data as Float32Array, toBatchFirst(want['features']!), `features, batch ${n}`);
    }
  });

  it('two inputs, Concat, an input passed straight to an output, a module used twice', async () => {
    const g = new Graph();
    const a = g.input('a');
    const bIn = g.input('b');
    const shared = new Linear(6, 6);
    const ha = g.add('fa', shared, a);
    const hb = g.add('fb', new Linear(4, 6), bIn);
    const hb2 = g.add('fb2', shared, hb);
    const cat = g.add('cat', new Concat(0), ha, hb2);
    const out = g.add('act', new Tanh(), cat);
    g.output('y', out);
    g.output('b_copy', bIn);
    const bytes = exportOnnx(g, { sampleShape: [[6], [4]], outputName: ['y', 'b_again'] });
    const file = decodeOnnx(bytes);
    // The shared layer's weights are written once.
    expect(file.graph.initializers.filter((t) => t.dims.join() === '6,6')).toHaveLength(1);
    const s1 = await session(bytes);
    const xa = batch([6], 3, 1);
    const xb = batch([4], 3, 2);
    const want = noGrad(() => g.run([xa.ours, xb.ours]));
    const res = await s1.run({ a: new ort.Tensor('float32', xa.onnx, [3, 6]), b: new ort.Tensor('float32', xb.onnx, [3, 4]) });
    expectClose(res['y']!.data as Float32Array, toBatchFirst(want['y']!), 'y');
    expectClose(res['b_again']!.data as Float32Array, xb.onnx, 'b_again');
  });
});

describe('exportOnnx: tensor-op modules', () => {
  it('attention-like graph with broadcasting across ranks runs in onnxruntime', async () => {
    const rng = mulberry32(4);
    const g = new Graph();
    const x = g.input('tokens'); // [5, 8]
    const xt = g.add('xt', new Transpose([-1, 0]), x);
    const scores = g.add('scores', new MatMulActs(), x, xt);
    const scaled = g.add('scaled', new Elementwise('mul', { constant: { data: Float32Array.of(1 / Math.sqrt(8)), shape: [] } }), scores);
    const attn = g.add('attn', new Softmax(-1), scaled);
    const mixed = g.add('mixed', new MatMulActs(), attn, x);
    const bias = g.add('bias', new Elementwise('add', { constant: { data: Float32Array.from({ length: 8 }, () => rng() - 0.5), shape: [8] } }), mixed);
    const res = g.add('res', new Elementwise('sub'), bias, x);
    const col = g.add('col', new ReduceMean([0], true), res); // [1, 8]
    const bcast = g.add('bcast', new Elementwise('mul'), res, col);
    const vec = g.add('vec', new ReduceMean([-2], false), bcast); // [8]
    const mv = g.add('mv', new MatMulActs(), x, vec); // [5]
    const vm = g.add('vm', new MatMulActs(), vec, xt); // [5]
    const dot = g.add('dot', new MatMulActs(), vec, vec); // []
    const sum = g.add('sum', new Elementwise('add'), mv, vm);
    const withDot = g.add('withdot', new Elementwise('div'), sum, g.add('dotpos', new Elementwise('add', { constant: { data: Float32Array.of(10), shape: [] } }), dot));
    const outer = g.add('outer', new Elementwise('mul'), vec, g.add('stack', new Reshape([3, 1, 1]), g.add('three', new Slice([0], [3]), withDot))); // [8] * [3, 1, 1] -> [3, 1, 8]
    const cube = g.add('cube', new Elementwise('pow', { constant: { data: Float32Array.of(2, 3), shape: [2, 1, 1, 1] }, constantFirst: false }), g.add('absouter', new Unary('abs'), outer)); // [2, 3, 1, 8]
    const lead = g.add('lead', new MatMulActs(), cube, g.add('vcol', new Reshape([8, 1]), vec)); // [2, 3, 1, 8] x [8, 1] -> [2, 3, 1, 1]
    g.output('out', withDot);
    g.output('mixed', bias);
    g.output('lead', lead);
    const bytes = exportOnnx(g, { sampleShape: [5, 8] });
    const s1 = await session(bytes);
    for (const n of [1, 3]) {
      const xb = batch([5, 8], n, 20 + n);
      const want = noGrad(() => g.run([xb.ours]));
      const res2 = await s1.run({ tokens: new ort.Tensor('float32', xb.onnx, [n, 5, 8]) });
      for (const name of ['out', 'mixed', 'lead']) {
        expect([...res2[name]!.dims], name).toEqual([n, ...want[name]!.shape.slice(0, -1)]);
        expectClose(res2[name]!.data as Float32Array, toBatchFirst(want[name]!), `${name}, batch ${n}`);
      }
    }
  });

  it('unary ops, clip and constant arithmetic (each branch of a graph, joined by Concat)', async () => {
    const g = new Graph();
    const x = g.input('input'); // [4, 6, 5], values in [-2, 2]
    const pos = g.add('pos', new Elementwise('add', { constant: { data: Float32Array.of(3), shape: [] } }), x); // [1, 5]
    const branches = [
      g.add('sqrt', new Unary('sqrt'), pos),
      g.add('log', new Unary('log'), pos),
      g.add('exp', new Unary('exp'), x),
      g.add('reciprocal', new Unary('reciprocal'), pos),
      g.add('neg', new Unary('neg'), x),
      g.add('erf', new Unary('erf'), x),
      g.add('abs', new Unary('abs'), x),
      g.add('inv', new Elementwise('div', { constant: { data: Float32Array.of(1), shape: [] }, constantFirst: true }), pos),
      g.add('clip', new Clip(-1, 1), x),
      g.add('clipHi', new Clip(-Infinity, 0.5), x),
      g.add('clipLo', new Clip(0.2, Infinity), x),
      g.add('exp2', new Elementwise('pow', { constant: { data: Float32Array.of(2), shape: [] }, constantFirst: true }), x),
      g.add('square', new Elementwise('pow', { constant: { data: Float32Array.of(2), shape: [] } }), x),
      g.add('rsub', new Elementwise('sub', { constant: { data: Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]), shape: [6, 1] }, constantFirst: true }), x),
      g.add('mulc', new Elementwise('mul', { constant: { data: Float32Array.from([1, -2, 3, -4, 5]), shape: [5] } }), x),
    ];
    g.output('output', g.add('cat', new Concat(0), ...branches));
    await checkModel(g, [4, 6, 5], {}, [1, 3], -2, 2);
  });

  it('slice, gather, transpose, reduce-mean, identity', async () => {
    const model = new Sequential(
      new Slice([1, -1, 0], [Infinity, -Infinity, 3], [1, -1, 0], [2, -2, 1]), // [4, 6, 5] -> [3, 3, 3]
      new Gather(Int32Array.from([2, 0, -1, 1, 1, 0]), [2, 3], 1), // [3, 2, 3, 3]
      new Transpose([3, 0, 2, 1]), // [3, 3, 3, 2]
      new Gather([1], [], -2), // [3, 3, 2]
      new Identity(),
      new ReduceMean([1], true), // [3, 1, 2]
    );
    await checkModel(model, [4, 6, 5], {}, [1, 3]);
    await checkModel(model, [4, 6, 5], { opset: 18 }, [2]);
    for (const rm of [new ReduceMean(null, false), new ReduceMean(null, true), new ReduceMean([-1, 0], false), new ReduceMean([], true)]) {
      await checkModel(new Sequential(rm), [3, 4, 2], {}, [2]);
      await checkModel(new Sequential(rm), [3, 4, 2], { opset: 18 }, [2]);
    }
  });

  it('a constant of higher rank than the activation (the activation gets leading 1s)', async () => {
    const model = new Sequential(
      new Elementwise('mul', { constant: { data: Float32Array.from({ length: 6 }, (_, i) => i - 2), shape: [2, 1, 3, 1] } }), // [4, 3, 5] -> [2, 4, 3, 5]
      new Elementwise('sub', { constant: { data: Float32Array.of(0.5, -0.5), shape: [2, 1, 1, 1, 1] }, constantFirst: true }), // -> [2, 2, 4, 3, 5]
    );
    await checkModel(model, [4, 3, 5], {}, [1, 2]);
  });
});

describe('exportOnnx: the importer\'s AlongAxis', () => {
  it('Linear and LayerNorm along a sample axis (a transformer projection) at opsets 13 and 17', async () => {
    const g = new Graph();
    const x = g.input('tokens'); // [5, 8]
    const q = g.add('q', new AlongAxis(new Linear(8, 6), -1), x); // [5, 6]
    const n = g.add('ln', new AlongAxis(new LayerNorm(6), 1), q);
    const t = g.add('t', new AlongAxis(new Linear(5, 3, { bias: false }), 0), n); // along tokens: [3, 6]
    const n0 = g.add('ln0', new AlongAxis(new LayerNorm(3, { elementwiseAffine: false }), 0), t);
    g.output('out', n0);
    randomizeNorms(g, 2);
    for (const [name, p] of g.namedParameters()) if (name.includes('ln')) p.data.forEach((_, i) => (p.data[i] = 0.5 + i / 10));
    prune(g, { sparsity: 0.5 });
    await checkModel(g, [5, 8], { outputName: 'out', inputName: 'tokens' }, [1, 3]);
    await checkModel(g, [5, 8], { outputName: 'out', inputName: 'tokens', opset: 13 }, [2]);
    // Rank 3: moving axis 0 last and back are different permutations.
    await checkModel(new Sequential(new AlongAxis(new Linear(4, 3), 0), new AlongAxis(new LayerNorm(2), 1)), [4, 2, 3], {}, [2]);
  });
});

describe('exportOnnx: ConstantPad', () => {
  it('pads every sample axis (ONNX axis a + 1, never the batch), -Infinity before a max pool, at opsets 13, 17 and 20', async () => {
    const model = new Sequential({
      pad1: new ConstantPad([1, 0, 2, 0, 3, 1], 0.5), // [2, 4, 5] -> [3, 7, 8]: the channel axis too
      conv: new Conv2d(3, 4, 3), // [4, 5, 6]
      // |conv| < 6 for inputs in [-1, 1]: every value is negative, so a pad of 0 instead of
      // -Infinity would win the max of each window that holds a pad row or column.
      shift: new Elementwise('sub', { constant: { data: Float32Array.of(10), shape: [] } }),
      pad2: new ConstantPad([0, 1, 1, 0, 0, 1], -Infinity), // [4, 6, 8]: each window holds a real value
      pool: new MaxPool2d(2), // [4, 3, 4]
      pad3: new ConstantPad([0, 0, 0, 0, 0, 0], 7), // no padding at all
      flat: new Flatten(), // [48]
      pad4: new ConstantPad([2, 3], -1.5), // [53]
    });
    for (const opset of [13, 17, 20]) {
      const bytes = await checkModel(model, [2, 4, 5], { opset }, [1, 3]);
      // Again without graph optimizations: onnxruntime 1.30 fuses a Pad into the next MaxPool
      // as -Infinity padding whatever its value, which would hide a wrong pad value.
      const xb = batch([2, 4, 5], 2, 40 + opset);
      const plain = await runOrt(bytes, { input: { dims: [2, 2, 4, 5], data: xb.onnx } });
      expectClose(plain['output']!.data, toBatchFirst(noGrad(() => model.inEvalMode(() => model.forward(xb.ours)))), `opset ${opset} unoptimized`);
      const file = decodeOnnx(bytes);
      const init = (name: string) => Array.from(file.graph.initializers.find((t) => t.name === name)!.data);
      // Each Pad: data, pads (ONNX order: the begins of [N, ...sample], then the ends), value.
      const pads = file.graph.nodes.filter((n) => n.opType === 'Pad').map((n) => [init(n.inputs[1]!), init(n.inputs[2]!)]);
      expect(pads, `opset ${opset}`).toEqual([
        [[0, 1, 0, 2, 0, 0, 3, 1], [0.5]],
        [[0, 0, 1, 1, 0, 0, 0, 1], [-Infinity]],
        [[0, 0, 0, 0, 0, 0, 0, 0], [7]],
        [[0, 2, 0, 3], [-1.5]],
      ]);
    }
    // The windows on the border mix -Infinity pads with real values: all finite and negative.
    const x = batch([2, 4, 5], 2, 5);
    const pooled = noGrad(() => model.children().slice(0, 5).reduce((v, [, m]) => m.forward(v), x.ours));
    expect(pooled.shape).toEqual([4, 3, 4, 2]);
    for (const v of pooled.data) expect(Number.isFinite(v) && v < 0).toBe(true);
  });

  it('import -> export -> import of misc_opset17 (uneven conv and max-pool padding, Pad with a value) matches onnxruntime on the original', async () => {
    const original = fixture('misc_opset17.onnx');
    const g = importOnnx(original);
    const padConfigs = (m: Module) => m.namedModules().filter(([, c]) => c instanceof ConstantPad).map(([name, c]) => [name, c.config()]);
    expect(padConfigs(g)).toEqual([
      ['conv_uneven_pad', { type: 'ConstantPad', pads: [0, 0, 1, 0, 1, 2], value: 0 }],
      ['maxpool_uneven_pad', { type: 'ConstantPad', pads: [0, 1, 0, 0, 1, 2], value: '-Infinity' }],
      ['pad', { type: 'ConstantPad', pads: [0, 1, 0, 0, 0, 1], value: 0.25 }],
    ]);
    const bytes = exportOnnx(g, { sampleShape: [2, 5, 6] });
    const again = importOnnx(bytes);
    expect(padConfigs(again)).toEqual(padConfigs(g));
    // The re-imported model against onnxruntime on the original file.
    await compareWithOrt(original, again, { x: [2, 5, 6] }, { batches: [1, 4] });
    // The exported file itself in onnxruntime against the original.
    const rng = mulberry32(77);
    const feeds = { x: { dims: [3, 2, 5, 6], data: randomValues(rng, 3 * 60) } };
    const want = await runOrt(original, feeds);
    const got = await runOrt(bytes, feeds);
    expectAllClose(got['y']!, want['y']!, 1e-4, 'exported file');
  });
});

describe('exportOnnx: errors and files', () => {
  it('one FormatError lists every module without an ONNX mapping', () => {
    class Custom extends Module {
      forward(x: Tensor): Tensor {
        return x;
      }
      config(): ModuleConfig {
        return { type: 'MyCustom' };
      }
    }
    const model = new Sequential({
      fc: new Linear(4, 4),
      custom: new Custom(),
      gn: new GroupNorm(2, 4),
      bn: new BatchNorm1d(4, { trackRunningStats: false }),
      relu: new ReLU(),
    });
    const err = expectThrows(() => exportOnnx(model, { sampleShape: [4] }), FormatError, 'ERR_FORMAT', 'unsupported');
    expect(err.message).toContain('3 modules');
    expect(err.message).toContain('custom (MyCustom)');
    expect(err.message).toContain('gn (GroupNorm)');
    expect(err.message).toContain('bn (BatchNorm1d)');
    expect(err.message).not.toContain('relu');
    const emb = new Sequential(new Embedding(10, 4));
    expect(expectThrows(() => exportOnnx(emb, { sampleShape: [3] }), FormatError, 'ERR_FORMAT', 'embedding').message).toContain('Embedding');
  });

  it('bad options: opset range, sample shapes that do not fit, wrong name counts', () => {
    const model = new Sequential(new Linear(4, 2));
    expectThrows(() => exportOnnx(model, { sampleShape: [4], opset: 12 }), IndexRangeError, 'ERR_RANGE', 'opset 12');
    expectThrows(() => exportOnnx(model, { sampleShape: [4], opset: 24 }), IndexRangeError, 'ERR_RANGE', 'opset 24');
    expectThrows(() => exportOnnx(model, { sampleShape: [5] }), ShapeError, 'ERR_SHAPE', 'wrong sample');
    expectThrows(() => exportOnnx(model, { sampleShape: [0, 4] }), ShapeError, 'ERR_SHAPE', 'zero dim');
    expectThrows(() => exportOnnx(model, { sampleShape: [[4], [4]] }), ShapeError, 'ERR_SHAPE', 'two shapes for one input');
    expectThrows(() => exportOnnx(model, { sampleShape: [4], outputName: ['a', 'b'] }), ShapeError, 'ERR_SHAPE', 'two output names');
    expectThrows(() => exportOnnx(model, { sampleShape: [4], inputName: 'x', outputName: 'x' }), FormatError, 'ERR_FORMAT', 'same names');
  });

  it('exporting leaves the model in its mode and its weights untouched', () => {
    const model = new Sequential(new Linear(4, 3), new Dropout(0.5), new BatchNorm1d(3));
    model.train();
    const before = model.stateDict();
    toOnnxModel(model, { sampleShape: [4] });
    expect(model.training).toBe(true);
    expect(model.stateDict()).toEqual(before);
  });

  it('saveOnnx / saveOnnxSync write the bytes atomically; a failed export keeps the previous file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sparsenn-onnx-'));
    try {
      const model = new Sequential(new Linear(4, 3), new ReLU());
      const path = join(dir, 'm.onnx');
      await saveOnnx(model, path, { sampleShape: [4] });
      expect(new Uint8Array(readFileSync(path))).toEqual(exportOnnx(model, { sampleShape: [4] }));
      const path2 = join(dir, 'm2.onnx');
      saveOnnxSync(model, path2, { sampleShape: [4], opset: 20 });
      expect(decodeOnnx(new Uint8Array(readFileSync(path2))).opsetImports[0]!.version).toBe(20);
      writeFileSync(path, 'previous');
      await expectRejects(saveOnnx(new Sequential(new Embedding(3, 2)), path, { sampleShape: [2] }), FormatError, 'ERR_FORMAT', 'async failure');
      expectThrows(() => saveOnnxSync(model, path, { sampleShape: [5] }), ShapeError, 'ERR_SHAPE', 'sync failure');
      expect(readFileSync(path, 'utf8')).toBe('previous');
      expect(readdirSync(dir).sort()).toEqual(['m.onnx', 'm2.onnx']);
      expect(existsSync(join(dir, 'missing', 'x.onnx'))).toBe(false);
      await expect(saveOnnx(model, join(dir, 'missing', 'x.onnx'), { sampleShape: [4] })).rejects.toThrow();
      expect(readdirSync(dir).sort()).toEqual(['m.onnx', 'm2.onnx']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
