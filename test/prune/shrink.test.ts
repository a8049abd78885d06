/**
 * shrink() (lib/prune/shrink.ts): the shrunk model against the masked model it came from, bit
 * for bit in eval mode, for an MLP, a CNN with batch norm and Flatten, a residual Graph (Add), a
 * Graph with Concat, a depthwise-separable block and a BatchNorm1d over flattened features; the
 * parameter counts against hand counts; names, sliced weights, buffers and masks; the cases that
 * must not shrink (an Add with one dead side, the output layer, a blocked group); and where bit
 * identity ends:
 *
 * - The dense GEMM (native/kernels/f32-gemm/gemm-impl.h) sums each output over k in blocks of
 *   kGemmKC = 256 (register accumulators per block, then added into Y). A dead channel adds
 *   exact zeros, so removing it changes nothing as long as every kept input column stays in the
 *   same k block: always when the consumer's inner dimension (Linear in_features, Conv2d
 *   in_channels * kh * kw) is at most 256, and above that only when the removed columns come
 *   after every kept one of their block. Otherwise the partial sums group differently and the
 *   results differ in the last bits (test 'k blocks').
 * - A weight whose mask density is <= the sparse threshold (0.3) runs on the CSR kernels, whose
 *   summation order (bias first, interleaved accumulators, column stripes) differs from the
 *   GEMM's; masking channels lowers a producer's density, the shrunk layer has none removed, so
 *   the two models can run different kernels (test 'CSR path'). The other tests keep densities
 *   above 0.3 so both models run the dense GEMM everywhere.
 * - Batch size 1 runs the GEMV, which keeps four accumulators by k mod 4: removing columns moves
 *   the later ones to other accumulators. The tests use batches of several samples.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FormatError, SparsennTypeError } from '../../lib/errors.js';
import { Graph } from '../../lib/nn/graph.js';
import { manualSeed } from '../../lib/nn/init.js';
import { Add, Concat, Flatten, ReLU } from '../../lib/nn/layers/activations.js';
import { Conv2d } from '../../lib/nn/layers/conv.js';
import { Linear } from '../../lib/nn/layers/linear.js';
import { BatchNorm1d, BatchNorm2d, BatchNormBase, LayerNorm } from '../../lib/nn/layers/norm.js';
import { GlobalAvgPool, MaxPool2d } from '../../lib/nn/layers/pool.js';
import { Sequential } from '../../lib/nn/layers/sequential.js';
import type { Module } from '../../lib/nn/module.js';
import { getSparseThreshold, setSparseThreshold } from '../../lib/nn/ops/weight-product.js';
import type { Parameter } from '../../lib/nn/parameter.js';
import { noGrad, Tensor } from '../../lib/nn/tensor.js';
import { channelGroups, maskChannels, type ChannelGroup } from '../../lib/prune/dependency.js';
import { shrink } from '../../lib/prune/shrink.js';
import { expectThrows } from '../helpers/errors.js';
import { expectSameBits } from '../helpers/expect.js';
import { mulberry32 } from '../helpers/random.js';
import { cnn } from '../helpers/prune-models.js';

// --------------------------------------------------------------------------- helpers ----

const threshold = getSparseThreshold();
afterEach(() => setSparseThreshold(threshold));

function randomInput(sample: number[], n: number, seed: number): Tensor {
  const rng = mulberry32(seed);
  const t = Tensor.zeros([...sample, n]);
  for (let i = 0; i < t.size; i++) t.data[i] = rng() * 2 - 1;
  return t;
}

/** Every output of the model (all of a Graph's) in eval mode. */
function outputs(model: Module, x: Tensor): Float32Array[] {
  model.eval();
  return noGrad(() => (model instanceof Graph ? Object.values(model.run([x])).map((t) => t.data) : [model.forward(x).data]));
}

function expectSameOutputs(a: Module, b: Module, sample: number[], label: string, n = 5): void {
  for (const seed of [11, 12]) {
    const x = randomInput(sample, n, seed);
    const ya = outputs(a, x);
    const yb = outputs(b, x);
    expect(yb.length).toBe(ya.length);
    ya.forEach((y, i) => expectSameBits(yb[i]!, y, `${label}, output ${i}, input seed ${seed}`));
  }
}

function param(model: Module, name: string): Parameter {
  const p = new Map(model.namedParameters()).get(name);
  if (!p) throw new Error(`no parameter ${name}`);
  return p;
}

function groupOf(model: Module, sample: number[], producer: string): ChannelGroup {
  const g = channelGroups(model, sample).find((x) => x.producers.some((p) => p.module === producer));
  if (!g) throw new Error(`no group produced by ${producer}`);
  return g;
}

/** Masks `channels` of the group produced by `producer`. */
function maskGroup(model: Module, sample: number[], producer: string, channels: number[]): void {
  const g = groupOf(model, sample, producer);
  const keep = new Uint8Array(g.channels).fill(1);
  for (const c of channels) keep[c] = 0;
  maskChannels(model, g, keep);
}

/** Random batch-norm statistics and affine parameters, so the norms do real work. */
function randomizeNorms(model: Module, seed: number): void {
  const rng = mulberry32(seed);
  for (const [, m] of model.namedModules())
    if (m instanceof BatchNormBase) {
      for (let i = 0; i < m.numFeatures; i++) {
        m.weight!.data[i] = 0.5 + rng();
        m.bias!.data[i] = rng() - 0.5;
        m.runningMean![i] = rng() - 0.5;
        m.runningVar![i] = 0.5 + rng();
      }
    }
}

/** An independent slice: values[r][c] of a rows x cols (x inner) array without the listed rows / cols. */
function dropRowsCols(data: ArrayLike<number>, rows: number, cols: number, inner: number, dropRows: number[], dropCols: number[]): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    if (dropRows.includes(r)) continue;
    for (let c = 0; c < cols; c++) {
      if (dropCols.includes(c)) continue;
      for (let k = 0; k < inner; k++) out.push(data[(r * cols + c) * inner + k]!);
    }
  }
  return out;
}

const names = (m: Module): string[] => m.namedParameters().map(([n]) => n);
const buffers = (m: Module): string[] => m.namedBuffers().map(([n]) => n);

// ----------------------------------------------------------------------------- models ----

function mlp(): Sequential {
  return new Sequential({ fc1: new Linear(12, 16), r1: new ReLU(), fc2: new Linear(16, 10), r2: new ReLU(), fc3: new Linear(10, 4) });
}


// ------------------------------------------------------------------------------ tests ----

describe('shrink: the shrunk model computes the masked model bit for bit', () => {
  it('MLP: rows, biases and the next layer\'s columns go; masks are carried over, sliced', () => {
    manualSeed(21);
    const model = mlp();
    // an unstructured mask on the last layer (density 0.8), to be carried over
    const m3 = new Uint8Array(40).map((_, i) => (i % 5 === 2 ? 0 : 1));
    param(model, 'fc3.weight').setMask(m3);
    maskGroup(model, [12], 'fc1', [1, 4, 9, 15]);
    maskGroup(model, [12], 'fc2', [0, 7]);
    const before = model.stateDict();
    const old2 = param(model, 'fc2.weight').data.slice();

    const { model: small, removed, parametersBefore, parametersAfter } = shrink(model, [12]);
    expect(removed).toEqual({ fc1: [1, 4, 9, 15], fc2: [0, 7] });
    expect(parametersBefore).toBe(12 * 16 + 16 + 16 * 10 + 10 + 10 * 4 + 4);
    expect(parametersAfter).toBe(12 * 12 + 12 + 12 * 8 + 8 + 8 * 4 + 4);
    expect(parametersAfter).toBe(small.parameterCount());
    expect(names(small)).toEqual(names(model));
    expect(small.config()).toMatchObject({ layers: [{ module: { inFeatures: 12, outFeatures: 12 } }, {}, { module: { inFeatures: 12, outFeatures: 8 } }, {}, { module: { inFeatures: 8, outFeatures: 4 } }] });
    expect([...param(small, 'fc2.weight').data]).toEqual(dropRowsCols(old2, 10, 16, 1, [0, 7], [1, 4, 9, 15]));
    expect([...param(small, 'fc3.weight').mask!]).toEqual(dropRowsCols(m3, 4, 10, 1, [], [0, 7]));
    // the remaining rows of the shrunk producers are whole: their masks are all ones
    expect(param(small, 'fc1.weight').density()).toBe(1);
    expectSameOutputs(model, small, [12], 'MLP');
    expect(model.stateDict()).toEqual(before); // the original is untouched
    expect(shrink(small, [12]).removed).toEqual({}); // nothing left to remove
  });

  it('value-based: exact zeros without masks (as group lasso leaves them) are removed; a nonzero bias keeps a row', () => {
    manualSeed(22);
    const model = mlp();
    const w = param(model, 'fc1.weight').data;
    const b = param(model, 'fc1.bias').data;
    w.fill(0, 3 * 12, 4 * 12);
    b[3] = 0;
    w.fill(0, 5 * 12, 6 * 12); // row 5 is zero but its bias is not: the unit outputs relu(b)
    const { model: small, removed, parametersAfter } = shrink(model, [12]);
    expect(removed).toEqual({ fc1: [3] });
    expect(parametersAfter).toBe(12 * 15 + 15 + 15 * 10 + 10 + 44);
    expectSameOutputs(model, small, [12], 'MLP, zeros without masks');
  });

  it('CNN: filters, batch norm entries and running statistics, the next conv\'s input channels, Flatten\'s feature ranges', () => {
    manualSeed(23);
    const model = cnn();
    randomizeNorms(model, 5);
    maskGroup(model, [3, 8, 8], 'conv1', [2, 5]);
    maskGroup(model, [3, 8, 8], 'conv2', [1, 4]);
    maskGroup(model, [3, 8, 8], 'fc1', [3]);
    const mean = [...(model.children()[1]![1] as BatchNorm2d).runningMean!];
    const fc1 = param(model, 'fc1.weight').data.slice();

    const { model: small, removed, parametersBefore, parametersAfter } = shrink(model, [3, 8, 8]);
    expect(removed).toEqual({ conv1: [2, 5], conv2: [1, 4], fc1: [3] });
    const count = (c1: number, c2: number, h: number): number =>
      c1 * 3 * 9 + c1 + 2 * c1 + c2 * c1 * 9 + c2 + (c2 * 16) * h + h + h * 3 + 3;
    expect(parametersBefore).toBe(count(8, 6, 10));
    expect(parametersAfter).toBe(count(6, 4, 9));
    expect(names(small)).toEqual(names(model));
    expect(buffers(small)).toEqual(buffers(model));
    const bn = small.children()[1]![1] as BatchNorm2d;
    expect(bn.numFeatures).toBe(6);
    expect([...bn.runningMean!]).toEqual(mean.filter((_, i) => i !== 2 && i !== 5).map(Math.fround));
    // conv2's channels 1 and 4 were fc1 columns 16..31 and 64..79
    const dropped = [...Array(16).keys()].flatMap((j) => [16 + j, 64 + j]);
    expect([...param(small, 'fc1.weight').data]).toEqual(dropRowsCols(fc1, 10, 96, 1, [3], dropped));
    expectSameOutputs(model, small, [3, 8, 8], 'CNN');
  });

  it('residual Graph: a channel goes only when it is dead on both sides of the Add', () => {
    manualSeed(24);
    const g = new Graph();
    const x = g.input('x');
    const ra = g.add('reluIn', new ReLU(), g.add('fcIn', new Linear(8, 12), x));
    const rb = g.add('reluA', new ReLU(), g.add('fcA', new Linear(12, 10), ra));
    const s = g.add('sum', new Add(), g.add('fcB', new Linear(10, 12), rb), ra);
    g.output('y', g.add('fcOut', new Linear(12, 3), g.add('reluOut', new ReLU(), s)));

    maskGroup(g, [8], 'fcIn', [2]); // masks channel 2 of fcIn and fcB: the group holds both
    maskGroup(g, [8], 'fcA', [4]);
    // channel 5 dead only on fcB's side, channel 7 only on fcIn's
    const kill = (name: string, row: number, cols: number): void => {
      const w = param(g, `${name}.weight`);
      const m = w.mask ? w.mask.slice() : new Uint8Array(w.size).fill(1);
      m.fill(0, row * cols, (row + 1) * cols);
      w.setMask(m);
      param(g, `${name}.bias`).data[row] = 0;
    };
    kill('fcB', 5, 10);
    kill('fcIn', 7, 8);
    const joined = groupOf(g, [8], 'fcIn');
    expect([...joined.dead]).toEqual([0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

    const { model: small, removed, parametersBefore, parametersAfter } = shrink(g, [8]);
    expect(removed).toEqual({ fcIn: [2], fcB: [2], fcA: [4] });
    expect(parametersBefore).toBe(8 * 12 + 12 + 12 * 10 + 10 + 10 * 12 + 12 + 12 * 3 + 3);
    expect(parametersAfter).toBe(8 * 11 + 11 + 11 * 9 + 9 + 9 * 11 + 11 + 11 * 3 + 3);
    expect(names(small)).toEqual(names(g));
    expectSameOutputs(g, small, [8], 'residual');
  });

  it('Concat: each input\'s channels are cut at its offset, in a conv consumer and through Flatten', () => {
    manualSeed(25);
    const g = new Graph();
    const x = g.input('image');
    const a = g.add('ra', new ReLU(), g.add('convA', new Conv2d(3, 4, 3, { padding: 1 }), x));
    const b = g.add('rb', new ReLU(), g.add('convB', new Conv2d(3, 5, 1), x));
    const cat = g.add('cat', new Concat(), a, b);
    g.output('logits', g.add('fc', new Linear(9 * 16, 3), g.add('flat', new Flatten(), cat)));
    g.output('mixed', g.add('mix', new Conv2d(9, 2, 1), cat));
    maskGroup(g, [3, 4, 4], 'convA', [0, 3]);
    maskGroup(g, [3, 4, 4], 'convB', [2]);
    const mix = param(g, 'mix.weight').data.slice();

    const { model: small, removed, parametersBefore, parametersAfter } = shrink(g, [3, 4, 4]);
    expect(removed).toEqual({ convA: [0, 3], convB: [2] });
    expect(parametersBefore).toBe(4 * 27 + 4 + 5 * 3 + 5 + 144 * 3 + 3 + 9 * 2 + 2);
    expect(parametersAfter).toBe(2 * 27 + 2 + 4 * 3 + 4 + 96 * 3 + 3 + 6 * 2 + 2);
    // mix reads concat channels 0..3 (convA) then 4..8 (convB): 0, 3 and 4 + 2 go
    expect([...param(small, 'mix.weight').data]).toEqual(dropRowsCols(mix, 2, 9, 1, [], [0, 3, 6]));
    expectSameOutputs(g, small, [3, 4, 4], 'concat');
  });

  it('depthwise-separable block: the depthwise filters, its groups and both norms follow the pointwise channels', () => {
    manualSeed(26);
    const model = new Sequential({
      pw1: new Conv2d(3, 8, 1),
      bn1: new BatchNorm2d(8),
      r1: new ReLU(),
      dw: new Conv2d(8, 8, 3, { padding: 1, groups: 8 }),
      bn2: new BatchNorm2d(8),
      r2: new ReLU(),
      pw2: new Conv2d(8, 6, 1),
      r3: new ReLU(),
      gap: new GlobalAvgPool(),
      fc: new Linear(6, 3),
    });
    randomizeNorms(model, 6);
    maskGroup(model, [3, 5, 5], 'pw1', [1, 6]);
    maskGroup(model, [3, 5, 5], 'pw2', [2]);
    const dw = param(model, 'dw.weight').data.slice();

    const { model: small, removed, parametersBefore, parametersAfter } = shrink(model, [3, 5, 5]);
    expect(removed).toEqual({ pw1: [1, 6], pw2: [2] });
    const count = (c: number, d: number): number => c * 3 + c + 2 * c + c * 9 + c + 2 * c + d * c + d + d * 3 + 3;
    expect(parametersBefore).toBe(count(8, 6));
    expect(parametersAfter).toBe(count(6, 5));
    expect(small.children()[3]![1].config()).toMatchObject({ inChannels: 6, outChannels: 6, groups: 6 });
    expect([...param(small, 'dw.weight').data]).toEqual(dropRowsCols(dw, 8, 1, 9, [1, 6], []));
    expectSameOutputs(model, small, [3, 5, 5], 'depthwise separable');
  });

  it('BatchNorm1d over flattened conv features: ranges of norm features go with each channel', () => {
    manualSeed(27);
    const model = new Sequential({ c: new Conv2d(2, 3, 1), flat: new Flatten(), bn: new BatchNorm1d(12), r: new ReLU(), fc: new Linear(12, 2) });
    randomizeNorms(model, 7);
    maskGroup(model, [2, 2, 2], 'c', [1]);
    const { model: small, parametersAfter } = shrink(model, [2, 2, 2]);
    expect((small.children()[2]![1] as BatchNorm1d).numFeatures).toBe(8);
    expect(parametersAfter).toBe(2 * 2 + 2 + 2 * 8 + 8 * 2 + 2);
    expectSameOutputs(model, small, [2, 2, 2], 'BatchNorm1d after Flatten');
  });
});

describe('shrink: what stays', () => {
  it('the output layer never loses outputs, even all-zero ones', () => {
    manualSeed(31);
    const model = mlp();
    param(model, 'fc3.weight').data.fill(0, 10, 20);
    param(model, 'fc3.bias').data[1] = 0;
    const { model: small, removed, parametersAfter, parametersBefore } = shrink(model, [12]);
    expect(removed).toEqual({});
    expect(parametersAfter).toBe(parametersBefore);
    expectSameOutputs(model, small, [12], 'output layer');
  });

  it('a group blocked by a LayerNorm keeps its dead channels, and says why', () => {
    manualSeed(32);
    const model = new Sequential({ fc1: new Linear(6, 8), ln: new LayerNorm(8), r: new ReLU(), fc2: new Linear(8, 3) });
    param(model, 'fc1.weight').data.fill(0, 0, 6);
    param(model, 'fc1.bias').data[0] = 0;
    const group = groupOf(model, [6], 'fc1');
    expect(group.prunable).toBe(false);
    expect(group.reasons).toEqual(["LayerNorm 'ln' mixes channels in a way that cannot be sliced"]);
    const { removed, parametersAfter, parametersBefore } = shrink(model, [6]);
    expect(removed).toEqual({});
    expect(parametersAfter).toBe(parametersBefore);
  });

  it('a group whose channels are all dead keeps one, since layers need at least one channel', () => {
    manualSeed(33);
    const model = mlp();
    maskGroup(model, [12], 'fc2', [...Array(10).keys()]);
    const { model: small, removed } = shrink(model, [12]);
    expect(removed).toEqual({ fc2: [1, 2, 3, 4, 5, 6, 7, 8, 9] });
    expect(param(small, 'fc2.weight').shape).toEqual([1, 16]);
    expectSameOutputs(model, small, [12], 'all dead');
  });

  it('rejects a non-module and a stateful module appearing twice in the tree', () => {
    expectThrows(() => shrink({} as Module, [3]), SparsennTypeError, 'ERR_TYPE', 'not a module');
    const shared = new Linear(4, 4);
    const model = new Sequential({ a: shared, b: new Sequential({ again: shared }), head: new Linear(4, 1) });
    expectThrows(() => shrink(model, [4]), FormatError, 'ERR_FORMAT', 'shared module');
  });
});

describe('shrink: where bit identity ends (see the file note)', () => {
  /** conv (16 channels of 6x6 = 576 flattened features) -> Linear: a 576-long inner dimension, three k blocks. */
  function wide(): Sequential {
    return new Sequential({ conv: new Conv2d(3, 16, 3, { padding: 1 }), r: new ReLU(), flat: new Flatten(), fc: new Linear(16 * 36, 4) });
  }

  it('k blocks: bit-identical when the removed columns come after the last block boundary, close otherwise', () => {
    manualSeed(41);
    const late = wide();
    maskGroup(late, [3, 6, 6], 'conv', [15]); // fc columns 540..575, all in the last block (512..575)
    expectSameOutputs(late, shrink(late, [3, 6, 6]).model, [3, 6, 6], 'removed columns after every kept one');

    manualSeed(41);
    const early = wide();
    maskGroup(early, [3, 6, 6], 'conv', [1]); // columns 36..71: columns 256.. move into earlier blocks
    const small = shrink(early, [3, 6, 6]).model;
    const x = randomInput([3, 6, 6], 5, 11);
    const [want] = outputs(early, x);
    const [got] = outputs(small, x);
    // the same sum in another grouping: float32 rounding of 576 terms of size ~0.1
    for (let i = 0; i < want!.length; i++) expect(Math.abs(got![i]! - want![i]!)).toBeLessThan(1e-5);
  });

  it('CSR path: a producer masked to density <= 0.3 runs on the sparse kernels; with them off the models agree bit for bit', () => {
    manualSeed(42);
    const model = mlp();
    maskGroup(model, [12], 'fc1', [...Array(12).keys()]); // 4 of 16 rows kept: density 0.25
    expect(param(model, 'fc1.weight').density()).toBe(0.25);
    const small = shrink(model, [12]).model;
    const x = randomInput([12], 5, 11);
    const [want] = outputs(model, x);
    const [got] = outputs(small, x);
    for (let i = 0; i < want!.length; i++) expect(Math.abs(got![i]! - want![i]!)).toBeLessThan(1e-5);
    setSparseThreshold(0); // every layer on the dense GEMM, in both models
    expectSameOutputs(model, small, [12], 'dense kernels only');
  });
});
