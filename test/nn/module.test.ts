/**
 * The module system: stable PyTorch-like parameter names, traversal order, shared modules,
 * train/eval propagation, state dicts (round trips, strict errors that leave the model as it
 * was, masks), and the architecture JSON: config() -> moduleFromConfig() for every layer type,
 * malformed configs, and custom module types.
 */
import { describe, expect, it } from 'vitest';
import {
  Add,
  AvgPool2d,
  BatchNorm1d,
  BatchNorm2d,
  Concat,
  Conv2d,
  Dropout,
  Embedding,
  Flatten,
  FormatError,
  functional,
  GELU,
  GlobalAvgPool,
  Graph,
  GroupNorm,
  HardSigmoid,
  HardSwish,
  IndexRangeError,
  LayerNorm,
  LeakyReLU,
  Linear,
  manualSeed,
  MaxPool2d,
  Module,
  moduleFromConfig,
  noGrad,
  Parameter,
  registerModuleType,
  ReLU,
  Reshape,
  Sequential,
  LimitError,
  ShapeError,
  Sigmoid,
  Softmax,
  SparsennError,
  SparsennTypeError,
  Tanh,
  Tensor,
  Adam,
  type ModuleConfig,
  type StateEntry,
} from '../../lib/index.js';
import { expectThrows } from '../helpers/errors.js';
import { expectSameBits } from '../helpers/expect.js';
import { mulberry32 } from '../helpers/random.js';

function randomTensor(shape: number[], seed: number, requiresGrad = false): Tensor {
  const rng = mulberry32(seed);
  const t = Tensor.zeros(shape, requiresGrad);
  for (let i = 0; i < t.size; i++) t.data[i] = rng() * 2 - 1;
  return t;
}

/** Fills every parameter with seeded random values (so a copy is distinguishable from a fresh init). */
function randomize(m: Module, seed: number): void {
  const rng = mulberry32(seed);
  for (const p of m.parameters()) {
    for (let i = 0; i < p.size; i++) p.data[i] = rng() * 2 - 1;
    p.applyMask();
  }
}

/** A deep copy of a state dict, for before/after comparisons. */
function snapshot(m: Module): Record<string, StateEntry> {
  return m.stateDict();
}

function expectSameState(a: Record<string, StateEntry>, b: Record<string, StateEntry>, label = ''): void {
  expect(Object.keys(a), `${label}: names`).toEqual(Object.keys(b));
  for (const k of Object.keys(a)) {
    expect(a[k]!.shape, `${label}: shape of ${k}`).toEqual(b[k]!.shape);
    expectSameBits(a[k]!.data, b[k]!.data, `${label}: ${k}`);
  }
}

function mlp(): Sequential {
  return new Sequential({ fc1: new Linear(6, 5), act: new ReLU(), fc2: new Linear(5, 3) });
}

describe('parameter names', () => {
  it('named children give PyTorch names: fc1.weight, fc1.bias, fc2.weight, fc2.bias', () => {
    const m = mlp();
    expect(m.namedParameters().map(([n]) => n)).toEqual(['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
    expect(m.namedParameters().map(([, p]) => p.shape)).toEqual([[5, 6], [5], [3, 5], [3]]);
    expect(m.namedModules().map(([n]) => n)).toEqual(['', 'fc1', 'act', 'fc2']);
    expect(m.children().map(([n]) => n)).toEqual(['fc1', 'act', 'fc2']);
  });

  it('unnamed Sequential members are named by index: 0.weight, 2.bias (parameter-free members keep their index)', () => {
    const m = new Sequential(new Linear(4, 3), new ReLU(), new Linear(3, 2, { bias: false }));
    expect(m.namedParameters().map(([n]) => n)).toEqual(['0.weight', '0.bias', '2.weight']);
    expect(m.length).toBe(3);
    expect(m.at(1)).toBeInstanceOf(ReLU);
  });

  it('nested modules give dotted paths: block2.conv.bias, block1.bn.running_mean', () => {
    const m = new Sequential({
      block1: new Sequential({ conv: new Conv2d(1, 2, 3, { bias: false }), bn: new BatchNorm2d(2), act: new ReLU() }),
      block2: new Sequential({ conv: new Conv2d(2, 4, 3), act: new ReLU() }),
      head: new Sequential(new GlobalAvgPool(), new Linear(4, 2)),
    });
    expect(m.namedParameters().map(([n]) => n)).toEqual([
      'block1.conv.weight',
      'block1.bn.weight',
      'block1.bn.bias',
      'block2.conv.weight',
      'block2.conv.bias',
      'head.1.weight',
      'head.1.bias',
    ]);
    expect(m.namedBuffers().map(([n]) => n)).toEqual(['block1.bn.running_mean', 'block1.bn.running_var', 'block1.bn.num_batches_tracked']);
    expect(Object.keys(m.stateDict())).toEqual([
      'block1.conv.weight',
      'block1.bn.weight',
      'block1.bn.bias',
      'block2.conv.weight',
      'block2.conv.bias',
      'head.1.weight',
      'head.1.bias',
      'block1.bn.running_mean',
      'block1.bn.running_var',
      'block1.bn.num_batches_tracked',
    ]);
    // namedParameters(prefix) prefixes every name
    expect(m.namedParameters('model')[0]![0]).toBe('model.block1.conv.weight');
  });

  it('names are stable: two constructions and a rebuild from config() give the same names', () => {
    const a = mlp();
    const b = mlp();
    const c = moduleFromConfig(JSON.parse(JSON.stringify(a.config())));
    const names = (m: Module) => m.namedParameters().map(([n]) => n);
    expect(names(b)).toEqual(names(a));
    expect(names(c)).toEqual(names(a));
  });

  it('graph parameters are named after their nodes', () => {
    const g = new Graph();
    const x = g.input('x');
    const h = g.add('stem', new Linear(3, 4), x);
    const y = g.add('head', new Sequential({ fc: new Linear(4, 2) }), h);
    g.output('y', y);
    expect(g.namedParameters().map(([n]) => n)).toEqual(['stem.weight', 'stem.bias', 'head.fc.weight', 'head.fc.bias']);
  });

  it('member names must be non-empty and dot-free (typed error)', () => {
    const s = new Sequential();
    expectThrows(() => s.append(new ReLU(), 'a.b'), SparsennTypeError, 'ERR_TYPE', 'dotted name');
    expectThrows(() => s.append(new ReLU(), ''), SparsennTypeError, 'ERR_TYPE', 'empty name');
    expectThrows(() => s.append({} as unknown as Module), SparsennTypeError, 'ERR_TYPE', 'not a module');
  });

  it('a duplicate member name is rejected instead of silently dropping the first member', () => {
    // BUG (lib/nn/module.ts registerModule / registerParameter / registerBuffer): the maps are
    // overwritten without a check, so Sequential.append(b, 'a') after append(a, 'a') keeps `a`
    // in the forward pass (Sequential.layers) while its parameters vanish from parameters(),
    // stateDict() and the optimizer: they are silently never trained or saved.
    const first = new Linear(3, 3);
    const second = new Linear(3, 3);
    const s = new Sequential().append(first, 'a');
    expect(() => s.append(second, 'a')).toThrow(SparsennError);
    expect(s.length).toBe(1);
    expect(s.parameters()).toEqual([first.weight, first.bias]);
    // the same through the architecture JSON: a FormatError naming the path
    expectThrows(
      () => moduleFromConfig({ type: 'Sequential', layers: [{ name: 'a', module: { type: 'ReLU' } }, { name: 'a', module: { type: 'Tanh' } }] }),
      FormatError,
      'ERR_FORMAT',
      'duplicate layer name',
    );
  });
});

describe('parameters() order and shared modules', () => {
  it('parameters() follows namedParameters(): depth first, own parameters before children, registration order', () => {
    const fc1 = new Linear(3, 4);
    const fc2 = new Linear(4, 2);
    const m = new Sequential({ fc1, act: new ReLU(), inner: new Sequential({ fc2 }) });
    expect(m.parameters()).toEqual([fc1.weight, fc1.bias, fc2.weight, fc2.bias]);
    m.parameters().forEach((p, i) => expect(p).toBe(m.namedParameters()[i]![1]));
    for (const p of m.parameters()) expect(p).toBeInstanceOf(Parameter);
  });

  it('a module used twice is counted once (parameters, parameterCount, optimizers accept it)', () => {
    const shared = new Linear(4, 4);
    const m = new Sequential({ a: shared, act: new ReLU(), b: shared });
    expect(m.parameters()).toEqual([shared.weight, shared.bias]);
    expect(m.namedParameters().map(([n]) => n)).toEqual(['a.weight', 'a.bias']);
    expect(m.parameterCount()).toBe(4 * 4 + 4);
    expect(() => new Adam(m.parameters())).not.toThrow();
    expect(Object.keys(m.stateDict())).toEqual(['a.weight', 'a.bias']);
    // the shared weights are applied twice in the forward pass
    const x = randomTensor([4, 3], 1);
    const want = shared.forward(functional.relu(shared.forward(x)));
    expectSameBits(m.forward(x).data, want.data, 'shared forward');
  });

  it('a shared parameter (tied weights) is counted once', () => {
    const a = new Linear(3, 3);
    const b = new Linear(3, 3);
    // tie b's weight to a's by registering the same Parameter object
    class Tied extends Module {
      constructor() {
        super();
        this.registerModule('a', a);
        this.registerModule('b', b);
        this.registerParameter('extra', a.weight);
      }
      forward(x: Tensor): Tensor {
        return b.forward(a.forward(x));
      }
      config(): ModuleConfig {
        return { type: 'Tied' };
      }
    }
    const t = new Tied();
    expect(t.namedParameters().map(([n]) => n)).toEqual(['extra', 'a.bias', 'b.weight', 'b.bias']);
    expect(t.parameterCount()).toBe(9 + 3 + 9 + 3);
  });

  it('a shared module with buffers lists its buffers once, like its parameters', () => {
    // BUG (lib/nn/module.ts namedBuffers): parameters are deduplicated by identity but buffers
    // are not, so a shared BatchNorm appears as a.weight, a.bias, a.runningMean, a.runningVar
    // AND b.runningMean, b.runningVar: a state dict with b's buffers but not b's parameters.
    const bn = new BatchNorm1d(3);
    const m = new Sequential({ a: bn, act: new ReLU(), b: bn });
    expect(m.namedParameters().map(([n]) => n)).toEqual(['a.weight', 'a.bias']);
    expect(m.namedBuffers().map(([n]) => n)).toEqual(['a.running_mean', 'a.running_var', 'a.num_batches_tracked']);
    expect(Object.keys(m.stateDict())).toEqual(['a.weight', 'a.bias', 'a.running_mean', 'a.running_var', 'a.num_batches_tracked']);
  });

  it('parameterCount(kept) counts only kept weights of masked parameters', () => {
    const m = mlp();
    const fc1 = m.at(0) as Linear;
    const mask = new Uint8Array(30).map((_, i) => (i % 3 === 0 ? 1 : 0));
    fc1.weight.setMask(mask);
    expect(m.parameterCount()).toBe(30 + 5 + 15 + 3);
    expect(m.parameterCount(true)).toBe(10 + 5 + 15 + 3);
  });
});

describe('train() / eval()', () => {
  function model(): { m: Sequential; drop: Dropout; bn: BatchNorm1d; inner: Sequential } {
    const drop = new Dropout(0.5);
    const bn = new BatchNorm1d(4);
    const inner = new Sequential({ bn, deeper: new Sequential({ drop }) });
    const m = new Sequential({ fc: new Linear(3, 4), inner });
    return { m, drop, bn, inner };
  }

  it('propagate to every descendant and return the module', () => {
    const { m, drop, bn, inner } = model();
    for (const [, sub] of m.namedModules()) expect(sub.training).toBe(true);
    expect(m.eval()).toBe(m);
    for (const [, sub] of m.namedModules()) expect(sub.training).toBe(false);
    expect(drop.training).toBe(false);
    expect(bn.training).toBe(false);
    expect(m.train()).toBe(m);
    for (const [, sub] of m.namedModules()) expect(sub.training).toBe(true);
    m.train(false);
    expect(inner.training).toBe(false);
    // a sub-tree can be switched on its own
    inner.train();
    expect(m.training).toBe(false);
    expect(drop.training).toBe(true);
  });

  it('Dropout is the identity in eval mode and drops in training mode', () => {
    const { drop } = model();
    const x = randomTensor([50, 40], 2);
    drop.eval();
    const y = drop.forward(x);
    expectSameBits(y.data, x.data, 'eval dropout');
    drop.train();
    manualSeed(3);
    const z = drop.forward(x);
    let zeros = 0;
    for (let i = 0; i < z.size; i++) {
      if (z.data[i] === 0) zeros++;
      else expect(z.data[i]).toBeCloseTo(x.data[i]! * 2, 5);
    }
    expect(zeros / z.size).toBeGreaterThan(0.4);
    expect(zeros / z.size).toBeLessThan(0.6);
  });

  it('BatchNorm uses running statistics in eval mode and batch statistics in training mode', () => {
    const { m, bn } = model();
    bn.runningMean!.set([0.5, -1, 2, 0]);
    bn.runningVar!.set([4, 0.25, 1, 9]);
    bn.weight!.data.set([1, 2, 0.5, -1]);
    bn.bias!.data.set([0, 1, -1, 0.5]);
    const x = randomTensor([4, 6], 4);
    m.eval();
    const y = noGrad(() => bn.forward(x));
    for (let c = 0; c < 4; c++)
      for (let j = 0; j < 6; j++) {
        const want = ((x.data[c * 6 + j]! - bn.runningMean![c]!) / Math.sqrt(bn.runningVar![c]! + bn.eps)) * bn.weight!.data[c]! + bn.bias!.data[c]!;
        expect(y.data[c * 6 + j]).toBeCloseTo(want, 5);
      }
    // eval does not touch the running statistics
    expect(Array.from(bn.runningMean!)).toEqual([0.5, -1, 2, 0]);
    m.train();
    const z = noGrad(() => bn.forward(x));
    for (let c = 0; c < 4; c++) {
      let mean = 0;
      for (let j = 0; j < 6; j++) mean += z.data[c * 6 + j]!;
      // normalised with the batch mean: (x - mean_b) * w / std + b averages to b
      expect(mean / 6).toBeCloseTo(bn.bias!.data[c]!, 5);
    }
    // training mode updated the running mean
    expect(Array.from(bn.runningMean!)).not.toEqual([0.5, -1, 2, 0]);
  });
});

describe('stateDict / loadStateDict', () => {
  function bnModel(): Sequential {
    return new Sequential({ fc1: new Linear(5, 4), bn: new BatchNorm1d(4), act: new ReLU(), fc2: new Linear(4, 3) });
  }

  function trained(): Sequential {
    manualSeed(11);
    const m = bnModel();
    randomize(m, 12);
    noGrad(() => m.forward(randomTensor([5, 8], 13))); // moves the running statistics
    return m;
  }

  it('round trips parameters and BatchNorm buffers; the dict holds copies', () => {
    const a = trained();
    const bn = a.at(1) as BatchNorm1d;
    expect(Array.from(bn.runningMean!).some((v) => v !== 0)).toBe(true);
    manualSeed(99);
    const b = bnModel();
    const state = a.stateDict();
    expect(Object.keys(state)).toEqual(['fc1.weight', 'fc1.bias', 'bn.weight', 'bn.bias', 'fc2.weight', 'fc2.bias', 'bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked']);
    b.loadStateDict(state);
    expectSameState(b.stateDict(), a.stateDict(), 'round trip');
    // copies both ways: editing the dict or the source model does not reach the other
    state['fc1.weight']!.data[0] = 123;
    expect((b.at(0) as Linear).weight.data[0]).not.toBe(123);
    const s2 = b.stateDict();
    s2['bn.running_mean']!.data.fill(42);
    expect((b.at(1) as BatchNorm1d).runningMean![0]).not.toBe(42);
    // identical outputs in eval mode (running statistics matter)
    a.eval();
    b.eval();
    const x = randomTensor([5, 7], 14);
    expectSameBits(noGrad(() => b.forward(x)).data, noGrad(() => a.forward(x)).data, 'outputs');
  });

  it('a missing name is a FormatError naming it, and the model is unchanged', () => {
    const m = trained();
    const before = snapshot(m);
    const state = trained().stateDict();
    for (const v of Object.values(state)) v.data.fill(0.5);
    delete state['bn.running_var'];
    const err = expectThrows(() => m.loadStateDict(state), FormatError, 'ERR_FORMAT', 'missing');
    expect(err.message).toContain('bn.running_var');
    expectSameState(snapshot(m), before, 'after missing');
  });

  it('an unexpected name is a FormatError naming it, and the model is unchanged', () => {
    const m = trained();
    const before = snapshot(m);
    const state: Record<string, StateEntry> = m.stateDict();
    for (const v of Object.values(state)) v.data.fill(0.5);
    state['fc3.weight'] = { shape: [2, 2], data: new Float32Array(4) };
    const err = expectThrows(() => m.loadStateDict(state), FormatError, 'ERR_FORMAT', 'unexpected');
    expect(err.message).toContain('fc3.weight');
    expectSameState(snapshot(m), before, 'after unexpected');
  });

  it('a wrong shape is a ShapeError, and entries before it are not written', () => {
    const m = trained();
    const before = snapshot(m);
    const state = m.stateDict();
    for (const v of Object.values(state)) v.data.fill(0.5);
    // same element count, different shape; last in insertion order
    state['bn.running_var'] = { shape: [2, 2], data: new Float32Array(4) };
    const err = expectThrows(() => m.loadStateDict(state), ShapeError, 'ERR_SHAPE', 'wrong shape');
    expect(err.message).toContain('bn.running_var');
    expectSameState(snapshot(m), before, 'after wrong shape');
    // shape right but data of the wrong length
    const s2 = m.stateDict();
    for (const v of Object.values(s2)) v.data.fill(0.5);
    s2['fc2.bias'] = { shape: [3], data: new Float32Array(2) };
    expectThrows(() => m.loadStateDict(s2), ShapeError, 'ERR_SHAPE', 'wrong length');
    expectSameState(snapshot(m), before, 'after wrong length');
    // data of the wrong type
    const s3 = m.stateDict();
    (s3['fc2.bias'] as { data: unknown }).data = [1, 2, 3];
    expectThrows(() => m.loadStateDict(s3), SparsennTypeError, 'ERR_TYPE', 'not Float32Array');
    expectSameState(snapshot(m), before, 'after wrong type');
  });

  it('strict: false ignores missing and unexpected names but still checks shapes', () => {
    const m = trained();
    const before = snapshot(m);
    const partial = { 'fc2.bias': { shape: [3], data: new Float32Array([1, 2, 3]) }, 'nope.weight': { shape: [1], data: new Float32Array(1) } };
    m.loadStateDict(partial, { strict: false });
    expect(Array.from((m.at(3) as Linear).bias!.data)).toEqual([1, 2, 3]);
    expectSameBits((m.at(0) as Linear).weight.data, before['fc1.weight']!.data, 'untouched');
    expectThrows(() => m.loadStateDict({ 'fc2.bias': { shape: [4], data: new Float32Array(4) } }, { strict: false }), ShapeError, 'ERR_SHAPE');
  });

  it('opts.masks applies masks by parameter name (pruned weights zeroed, masks() returns them)', () => {
    const a = mlp();
    randomize(a, 20);
    const mask = new Uint8Array(30).map((_, i) => (i % 4 === 0 ? 0 : 1));
    const b = mlp();
    b.loadStateDict(a.stateDict(), { masks: { 'fc1.weight': mask } });
    const w = (b.at(0) as Linear).weight;
    expect(Array.from(w.mask!)).toEqual(Array.from(mask));
    for (let i = 0; i < 30; i++) expect(w.data[i]).toBe(mask[i] ? (a.at(0) as Linear).weight.data[i] : 0);
    expect(Object.keys(b.masks())).toEqual(['fc1.weight']);
    expect(Array.from(b.masks()['fc1.weight']!)).toEqual(Array.from(mask));
    // masks() holds copies
    b.masks()['fc1.weight']![1] = 0;
    expect(w.mask![1]).toBe(1);
  });

  it('a mask for an unknown name or of the wrong length is typed, and the model is unchanged', () => {
    const m = mlp();
    randomize(m, 21);
    const before = snapshot(m);
    const state = m.stateDict();
    for (const v of Object.values(state)) v.data.fill(0.5);
    expectThrows(() => m.loadStateDict(state, { masks: { 'fc9.weight': new Uint8Array(30) } }), FormatError, 'ERR_FORMAT', 'unknown mask');
    expectSameState(snapshot(m), before, 'after unknown mask');
    expectThrows(() => m.loadStateDict(state, { masks: { 'fc1.weight': new Uint8Array(29) } }), ShapeError, 'ERR_SHAPE', 'short mask');
    expectSameState(snapshot(m), before, 'after short mask');
    expect(m.masks()).toEqual({});
  });

  it('a mask with a non-0/1 entry (or not a Uint8Array) is typed, and the model is unchanged', () => {
    // BUG (lib/nn/module.ts loadStateDict): masks are checked only for name and length before
    // the weights are written; setMask() rejects bad entries afterwards, so the call throws
    // with every weight already overwritten.
    const m = mlp();
    randomize(m, 22);
    const before = snapshot(m);
    const state = m.stateDict();
    for (const v of Object.values(state)) v.data.fill(0.5);
    const bad = new Uint8Array(30).fill(1);
    bad[7] = 2;
    expectThrows(() => m.loadStateDict(state, { masks: { 'fc1.weight': bad } }), SparsennTypeError, 'ERR_TYPE', 'mask entry 2');
    expectSameState(snapshot(m), before, 'after bad mask entry');
    const notBytes = Array.from({ length: 30 }, () => 1) as unknown as Uint8Array;
    expectThrows(() => m.loadStateDict(state, { masks: { 'fc1.weight': notBytes } }), SparsennTypeError, 'ERR_TYPE', 'mask array');
    expectSameState(snapshot(m), before, 'after mask of the wrong type');
  });

  it('loading dense values into a masked parameter keeps its pruned weights zero', () => {
    // BUG (lib/nn/module.ts loadStateDict): values are copied with data.set() and applyMask()
    // is never called, so a parameter that keeps its mask (no new mask given) ends up with
    // nonzero pruned weights, breaking the Parameter invariant the dense kernels rely on
    // (denseProduct assumes pruned weights are zero: dense and sparse execution then disagree).
    const m = mlp();
    const w = (m.at(0) as Linear).weight;
    const mask = new Uint8Array(30).map((_, i) => (i % 2 === 0 ? 1 : 0));
    w.setMask(mask);
    const state = m.stateDict();
    state['fc1.weight']!.data.fill(1);
    m.loadStateDict(state);
    expect(w.mask).not.toBeNull();
    for (let i = 0; i < 30; i++) expect(w.data[i], `weight ${i}`).toBe(mask[i] ? 1 : 0);
  });
});

// ---------------------------------------------------------------------------------------------
// Architecture JSON

interface ArchCase {
  name: string;
  make: () => Module;
  inputs: () => Tensor[];
}

function ids(shape: number[], num: number, seed: number): Tensor {
  const rng = mulberry32(seed);
  const t = Tensor.zeros(shape);
  for (let i = 0; i < t.size; i++) t.data[i] = Math.floor(rng() * num);
  return t;
}

function twoBranchGraph(): Graph {
  const g = new Graph();
  const x = g.input('x');
  const y = g.input('y');
  const h = g.add('fc', new Linear(4, 3), x);
  const a = g.add('act', new Tanh(), h);
  const s = g.add('sum', new Add(), a, y);
  const c = g.add('cat', new Concat(), s, h);
  const head = g.add('head', new Sequential({ fc: new Linear(6, 2), act: new GELU('tanh') }), c);
  g.output('logits', head);
  g.output('hidden', h);
  return g;
}

const archCases: ArchCase[] = [
  { name: 'Linear', make: () => new Linear(5, 3), inputs: () => [randomTensor([5, 4], 1)] },
  { name: 'Linear without bias', make: () => new Linear(5, 3, { bias: false }), inputs: () => [randomTensor([5, 4], 1)] },
  {
    name: 'Conv2d with every option',
    make: () => new Conv2d(4, 6, [3, 2], { stride: [2, 1], padding: [1, 2], dilation: [1, 2], groups: 2, bias: false }),
    inputs: () => [randomTensor([4, 7, 8, 2], 2)],
  },
  { name: "Conv2d padding 'same'", make: () => new Conv2d(3, 4, 3, { padding: 'same', dilation: 2 }), inputs: () => [randomTensor([3, 6, 6, 2], 3)] },
  { name: "Conv2d padding 'valid'", make: () => new Conv2d(3, 2, [1, 3], { padding: 'valid', stride: 2 }), inputs: () => [randomTensor([3, 5, 7, 1], 3)] },
  { name: 'MaxPool2d', make: () => new MaxPool2d(3, { stride: 2, padding: 1, ceilMode: true }), inputs: () => [randomTensor([2, 7, 6, 3], 4)] },
  { name: 'AvgPool2d', make: () => new AvgPool2d([2, 3], { stride: [1, 2], padding: [1, 1], countIncludePad: false }), inputs: () => [randomTensor([2, 5, 6, 2], 5)] },
  { name: 'GlobalAvgPool', make: () => new GlobalAvgPool(), inputs: () => [randomTensor([3, 4, 4, 2], 6)] },
  { name: 'BatchNorm1d', make: () => new BatchNorm1d(5, { eps: 1e-3, momentum: 0.25 }), inputs: () => [randomTensor([5, 6], 7)] },
  { name: 'BatchNorm1d without affine', make: () => new BatchNorm1d(3, { affine: false }), inputs: () => [randomTensor([3, 4, 5], 7)] },
  { name: 'BatchNorm2d', make: () => new BatchNorm2d(3, { momentum: 0.5 }), inputs: () => [randomTensor([3, 4, 4, 2], 8)] },
  { name: 'BatchNorm2d without running stats', make: () => new BatchNorm2d(3, { trackRunningStats: false }), inputs: () => [randomTensor([3, 2, 2, 3], 8)] },
  { name: 'LayerNorm', make: () => new LayerNorm([3, 4], { eps: 1e-4 }), inputs: () => [randomTensor([3, 4, 2], 9)] },
  { name: 'LayerNorm without affine', make: () => new LayerNorm(5, { elementwiseAffine: false }), inputs: () => [randomTensor([5, 3], 9)] },
  { name: 'GroupNorm', make: () => new GroupNorm(2, 4, { eps: 1e-3 }), inputs: () => [randomTensor([4, 3, 3, 2], 10)] },
  { name: 'GroupNorm without affine', make: () => new GroupNorm(1, 3, { affine: false }), inputs: () => [randomTensor([3, 4], 10)] },
  { name: 'Embedding', make: () => new Embedding(10, 4), inputs: () => [ids([3, 5], 10, 11)] },
  { name: 'ReLU', make: () => new ReLU(), inputs: () => [randomTensor([3, 4], 12)] },
  { name: 'LeakyReLU', make: () => new LeakyReLU(0.2), inputs: () => [randomTensor([3, 4], 12)] },
  { name: 'GELU', make: () => new GELU(), inputs: () => [randomTensor([3, 4], 12)] },
  { name: 'GELU tanh', make: () => new GELU('tanh'), inputs: () => [randomTensor([3, 4], 12)] },
  { name: 'Tanh', make: () => new Tanh(), inputs: () => [randomTensor([3, 4], 12)] },
  { name: 'Sigmoid', make: () => new Sigmoid(), inputs: () => [randomTensor([3, 4], 12)] },
  { name: 'HardSwish', make: () => new HardSwish(), inputs: () => [randomTensor([3, 4], 12)] },
  { name: 'HardSigmoid', make: () => new HardSigmoid(), inputs: () => [randomTensor([3, 4], 12)] },
  { name: 'Softmax', make: () => new Softmax(), inputs: () => [randomTensor([3, 4], 12)] },
  { name: 'Softmax axis -1', make: () => new Softmax(-1), inputs: () => [randomTensor([3, 4, 2], 12)] },
  { name: 'Dropout', make: () => new Dropout(0.3), inputs: () => [randomTensor([3, 4], 13)] },
  { name: 'Flatten', make: () => new Flatten(), inputs: () => [randomTensor([2, 3, 2, 2], 14)] },
  { name: 'Reshape', make: () => new Reshape([2, -1]), inputs: () => [randomTensor([3, 4, 2], 15)] },
  { name: 'Add', make: () => new Add(), inputs: () => [randomTensor([3, 4], 16), randomTensor([3, 4], 17)] },
  { name: 'Concat', make: () => new Concat(1), inputs: () => [randomTensor([2, 3, 2], 18), randomTensor([2, 1, 2], 19)] },
  {
    name: 'Sequential (nested, named and numbered)',
    make: () =>
      new Sequential({
        features: new Sequential(new Conv2d(1, 2, 3, { padding: 1 }), new BatchNorm2d(2), new ReLU(), new MaxPool2d(2)),
        flat: new Flatten(),
        drop: new Dropout(0.1),
        fc: new Linear(8, 3),
      }),
    inputs: () => [randomTensor([1, 4, 4, 3], 20)],
  },
  { name: 'Graph (two inputs, two outputs, nested Sequential)', make: twoBranchGraph, inputs: () => [randomTensor([4, 3], 21), randomTensor([3, 3], 22)] },
  {
    name: 'Graph inside a Sequential',
    make: () => {
      const g = new Graph();
      const x = g.input('x');
      const h = g.add('conv', new Conv2d(2, 2, 3, { padding: 1 }), x);
      g.output('out', g.add('res', new Add(), g.add('act', new ReLU(), h), x));
      return new Sequential({ block: g, pool: new GlobalAvgPool() });
    },
    inputs: () => [randomTensor([2, 4, 4, 2], 23)],
  },
];

describe('config() -> moduleFromConfig()', () => {
  for (const c of archCases)
    it(`rebuilds ${c.name} with the same architecture and, with the same state, the same outputs`, () => {
      manualSeed(1);
      const original = c.make();
      randomize(original, 30);
      // move running statistics away from their defaults where there are any
      noGrad(() => original.forward(...c.inputs()));
      const config = original.config();
      expect(typeof config.type).toBe('string');
      const json = JSON.parse(JSON.stringify(config)) as unknown;
      expect(json).toEqual(config); // plain JSON
      manualSeed(2);
      const rebuilt = moduleFromConfig(json);
      expect(rebuilt.constructor).toBe(original.constructor);
      expect(rebuilt.config()).toEqual(config);
      expect(rebuilt.namedModules().map(([n, m]) => [n, m.constructor.name])).toEqual(original.namedModules().map(([n, m]) => [n, m.constructor.name]));
      expect(rebuilt.namedParameters().map(([n, p]) => [n, p.shape])).toEqual(original.namedParameters().map(([n, p]) => [n, p.shape]));
      expect(rebuilt.namedBuffers().map(([n, b]) => [n, b.shape])).toEqual(original.namedBuffers().map(([n, b]) => [n, b.shape]));
      rebuilt.loadStateDict(original.stateDict());
      original.eval();
      rebuilt.eval();
      const xs = c.inputs();
      const want = noGrad(() => original.forward(...xs));
      const got = noGrad(() => rebuilt.forward(...xs));
      expect(got.shape).toEqual(want.shape);
      expectSameBits(got.data, want.data, c.name);
    });

  it('Graph outputs and inputs survive the rebuild', () => {
    const g = twoBranchGraph();
    const r = moduleFromConfig(g.config()) as Graph;
    expect(r).toBeInstanceOf(Graph);
    expect(r.inputs).toEqual(['x', 'y']);
    expect(r.outputs).toEqual(['logits', 'hidden']);
  });

  it('Conv2d keeps every option', () => {
    const c = new Conv2d(4, 6, [3, 2], { stride: [2, 1], padding: [1, 2], dilation: [1, 2], groups: 2, bias: false });
    const r = moduleFromConfig(c.config()) as Conv2d;
    expect(r.kernelSize).toEqual([3, 2]);
    expect(r.stride).toEqual([2, 1]);
    expect(r.padding).toEqual([1, 2]);
    expect(r.dilation).toEqual([1, 2]);
    expect(r.groups).toBe(2);
    expect(r.bias).toBeNull();
    expect(r.weight.shape).toEqual([6, 2, 3, 2]);
  });
});

describe('malformed configs', () => {
  function expectFormat(config: unknown, ...inMessage: string[]): void {
    const err = expectThrows(() => moduleFromConfig(config), FormatError, 'ERR_FORMAT', JSON.stringify(config));
    for (const s of inMessage) expect(err.message, `message: ${err.message}`).toContain(s);
  }

  it('non-objects and missing types', () => {
    expectFormat(null, 'model');
    expectFormat(42, 'model');
    expectFormat([], 'model');
    expectFormat({}, 'model', 'type');
    expectFormat({ type: 7 }, 'model', 'type');
  });

  it('an unknown type names the type and the path', () => {
    expectFormat({ type: 'Bogus' }, "'Bogus'", 'model');
    expectFormat(
      { type: 'Sequential', layers: [{ name: 'a', module: { type: 'Sequential', layers: [{ name: 'b', module: { type: 'Bogus' } }] } }] },
      'model.a.b',
      'Bogus',
    );
  });

  it('names inherited from Object.prototype are not module types', () => {
    // BUG (lib/nn/registry.ts build): the factory is looked up with layers[c.type], which finds
    // Object.prototype members: { type: 'constructor' } returns the config object itself and
    // { type: 'toString' } returns the string '[object Undefined]' as the "module".
    for (const type of ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf']) {
      let result: unknown;
      let caught: unknown;
      try {
        result = moduleFromConfig({ type });
      } catch (e) {
        caught = e;
      }
      expect(result, `type '${type}' built ${String(result)}`).toBeUndefined();
      expect(caught, `type '${type}'`).toBeInstanceOf(FormatError);
      expect((caught as FormatError).message).toContain('unknown module type');
    }
  });

  it('malformed containers', () => {
    expectFormat({ type: 'Sequential' }, 'model', 'layers');
    expectFormat({ type: 'Sequential', layers: [{ module: { type: 'ReLU' } }] }, 'model', 'layer 0');
    expectFormat({ type: 'Sequential', layers: [{ name: 'a.b', module: { type: 'ReLU' } }] }, 'model');
    expectFormat({ type: 'Graph', inputs: ['x'], nodes: [] }, 'model', 'outputs');
    expectFormat({ type: 'Graph', inputs: ['x'], nodes: [{ name: 'r', inputs: ['nope'], module: { type: 'ReLU' } }], outputs: { y: 'r' } }, 'model', 'nope');
    expectFormat({ type: 'Graph', inputs: ['x'], nodes: [], outputs: { y: 'nope' } }, 'model', 'nope');
    expectFormat({ type: 'Graph', inputs: ['x'], nodes: [{ name: 'r', inputs: ['x'], module: { type: 'Bogus' } }], outputs: { y: 'r' } }, 'model.r', 'Bogus');
  });

  it('FormatErrors raised while assembling a Graph also carry the path', () => {
    // BUG (lib/nn/registry.ts build, the catch block): a FormatError is rethrown untouched on
    // the assumption that it came from a nested build() and already names its path; but
    // Graph.input()/add() throw FormatErrors of their own ("graph value 'x' is defined twice")
    // that say nothing about where in the architecture the problem is.
    expectFormat({ type: 'Graph', inputs: ['x', 'x'], nodes: [], outputs: { y: 'x' } }, 'model', "'x'");
    expectFormat(
      {
        type: 'Sequential',
        layers: [{ name: 'block', module: { type: 'Graph', inputs: ['x'], nodes: [{ name: 'x', inputs: ['x'], module: { type: 'ReLU' } }], outputs: { y: 'x' } } }],
      },
      'model.block',
    );
  });

  it('bad layer arguments become FormatErrors naming the path and the layer type', () => {
    expectFormat({ type: 'Sequential', layers: [{ name: 'fc', module: { type: 'Linear', inFeatures: 'x', outFeatures: 3 } }] }, 'model.fc', 'Linear');
    expectFormat({ type: 'Sequential', layers: [{ name: 'fc', module: { type: 'Linear', inFeatures: 0, outFeatures: 3 } }] }, 'model.fc');
    expectFormat({ type: 'Conv2d', inChannels: 3, outChannels: 4, kernelSize: 3, groups: 2 }, 'model', 'Conv2d');
    expectFormat({ type: 'Conv2d', inChannels: 3, outChannels: 4 }, 'model', 'Conv2d');
    expectFormat({ type: 'BatchNorm2d', numFeatures: 3, momentum: 2 }, 'model', 'BatchNorm2d');
    expectFormat({ type: 'Reshape', shape: 'oops' }, 'model', 'Reshape');
    expectFormat({ type: 'Dropout', p: 1.5 }, 'model', 'Dropout');
    expectFormat({ type: 'GELU', approximate: 'fast' }, 'model', 'GELU');
  });

  it('architectures nested too deeply or with too many modules are refused (ERR_LIMIT) without a stack overflow', () => {
    let config: unknown = { type: 'ReLU' };
    for (let i = 0; i < 300; i++) config = { type: 'Sequential', layers: [{ name: 'n', module: config }] };
    expect(expectThrows(() => moduleFromConfig(config), LimitError, 'ERR_LIMIT').message).toMatch(/nesting .* is 257, over the limit of 256 .*maxDepth/);
    expect(moduleFromConfig(config, { maxDepth: 400 })).toBeInstanceOf(Sequential);
    // AlongAxis builds its inner module through moduleFromConfig: the nesting still counts.
    let axis: unknown = { type: 'ReLU' };
    for (let i = 0; i < 300; i++) axis = { type: 'AlongAxis', layer: axis, axis: 0 };
    expectThrows(() => moduleFromConfig(axis), LimitError, 'ERR_LIMIT');
    const wide = { type: 'Sequential', layers: Array.from({ length: 50 }, (_, i) => ({ name: `r${i}`, module: { type: 'ReLU' } })) };
    expect(expectThrows(() => moduleFromConfig(wide, { maxNodes: 20 }), LimitError, 'ERR_LIMIT').message).toMatch(/maxNodes/);
    expect(moduleFromConfig(wide)).toBeInstanceOf(Sequential);
  });
});

describe('registerModuleType', () => {
  class ScaleShift extends Module {
    readonly factor: number;
    readonly shift: Parameter;
    constructor(features: number, factor: number) {
      super();
      this.factor = factor;
      this.shift = this.registerParameter('shift', new Parameter(new Float32Array(features), [features]));
    }
    forward(x: Tensor): Tensor {
      // y = factor * x + shift (broadcast over the batch through a 1x1 weight-free product)
      const n = x.batch;
      const s = Tensor.zeros(x.shape);
      for (let f = 0; f < this.shift.size; f++) s.data.fill(this.shift.data[f]!, f * n, (f + 1) * n);
      return functional.add(functional.scale(x, this.factor), s);
    }
    config(): ModuleConfig {
      return { type: 'ScaleShift', features: this.shift.size, factor: this.factor };
    }
  }

  it('lets a custom module be rebuilt, nested in built-in containers, with its parameters', () => {
    registerModuleType('ScaleShift', (c) => {
      if (typeof c['features'] !== 'number' || typeof c['factor'] !== 'number') throw new Error('ScaleShift needs features and factor');
      return new ScaleShift(c['features'], c['factor']);
    });
    const m = new Sequential({ fc: new Linear(3, 4), custom: new ScaleShift(4, 2.5) });
    randomize(m, 40);
    expect(m.namedParameters().map(([n]) => n)).toEqual(['fc.weight', 'fc.bias', 'custom.shift']);
    const r = moduleFromConfig(JSON.parse(JSON.stringify(m.config())));
    expect((r as Sequential).at(1)).toBeInstanceOf(ScaleShift);
    expect(((r as Sequential).at(1) as ScaleShift).factor).toBe(2.5);
    r.loadStateDict(m.stateDict());
    const x = randomTensor([3, 5], 41);
    expectSameBits(noGrad(() => r.forward(x)).data, noGrad(() => m.forward(x)).data, 'custom');
    // a factory error becomes a FormatError with the path
    const err = expectThrows(
      () => moduleFromConfig({ type: 'Sequential', layers: [{ name: 'c', module: { type: 'ScaleShift', features: 'x' } }] }),
      FormatError,
      'ERR_FORMAT',
    );
    expect(err.message).toContain('model.c');
    expect(err.message).toContain('ScaleShift needs features');
  });

  it('built-in type names cannot be registered', () => {
    for (const type of ['Linear', 'Sequential', 'Graph', 'ReLU'])
      expectThrows(() => registerModuleType(type, () => new ReLU()), FormatError, 'ERR_FORMAT', type);
    // and a built-in still builds the built-in
    expect(moduleFromConfig({ type: 'ReLU' })).toBeInstanceOf(ReLU);
  });
});

describe('typed errors of layer constructors used by fromConfig', () => {
  it('IndexRangeError for out-of-range options stays typed when constructing directly', () => {
    expectThrows(() => new BatchNorm1d(3, { momentum: 2 }), IndexRangeError, 'ERR_RANGE');
  });
});
