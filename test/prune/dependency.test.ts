/**
 * Channel dependency groups (lib/prune/dependency.ts): the groups of Sequential and Graph models
 * written out by hand (producers, batch norm and depthwise members, consumers with their Concat
 * offsets and Flatten spans), residual Adds joining producers, the layers and situations that
 * block a group (LayerNorm, GroupNorm, grouped conv, Reshape, Softmax, model outputs, an Add with
 * a model input, code outside any module, a layer used twice), dead-channel detection, the masks
 * maskChannels sets (ANDed with existing ones), channelScores against hand sums, and the errors.
 */
import { describe, expect, it } from 'vitest';
import { FormatError, ShapeError, SparsennTypeError } from '../../lib/errors.js';
import { Graph } from '../../lib/nn/graph.js';
import { manualSeed } from '../../lib/nn/init.js';
import { Add, Concat, Flatten, ReLU, Reshape, Sigmoid, Softmax } from '../../lib/nn/layers/activations.js';
import { Conv2d } from '../../lib/nn/layers/conv.js';
import { Linear } from '../../lib/nn/layers/linear.js';
import { BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm } from '../../lib/nn/layers/norm.js';
import { GlobalAvgPool, MaxPool2d } from '../../lib/nn/layers/pool.js';
import { Sequential } from '../../lib/nn/layers/sequential.js';
import { Module, type ModuleConfig } from '../../lib/nn/module.js';
import { relu } from '../../lib/nn/ops/elementwise.js';
import { noGrad, type Tensor } from '../../lib/nn/tensor.js';
import { channelGroups, channelScores, maskChannels, type ChannelGroup } from '../../lib/prune/dependency.js';
import { expectThrows } from '../helpers/errors.js';
import { cnn } from '../helpers/prune-models.js';

/** The group whose first producer is `module`. */
function groupOf(groups: readonly ChannelGroup[], module: string): ChannelGroup {
  const g = groups.find((x) => x.producers.some((p) => p.module === module));
  if (!g) throw new Error(`no group produced by ${module}`);
  return g;
}


describe('channelGroups: structure', () => {
  it('an MLP: one group per hidden layer, read by the next layer; the last layer is an output', () => {
    manualSeed(1);
    const mlp = new Sequential(new Linear(5, 7), new ReLU(), new Linear(7, 4), new ReLU(), new Linear(4, 2));
    const groups = channelGroups(mlp, [5]);
    expect(groups.map((g) => g.channels)).toEqual([7, 4, 2]);
    expect(groups[0]).toMatchObject({
      producers: [{ module: '0', weight: '0.weight', bias: '0.bias' }],
      coupled: [],
      consumers: [{ module: '2', weight: '2.weight', offset: 0, span: 1 }],
      prunable: true,
      reasons: [],
    });
    expect(groups[1]!.consumers).toEqual([{ module: '4', weight: '4.weight', offset: 0, span: 1 }]);
    expect(groups[2]!.prunable).toBe(false);
    expect(groups[2]!.reasons.join()).toMatch(/model output/);
    expect(groups[2]!.dead).toEqual(new Uint8Array(2));
  });

  it('a CNN: batch norm joins the conv group, Flatten gives the spatial span', () => {
    const groups = channelGroups(cnn(), [3, 8, 8]);
    const g1 = groupOf(groups, 'conv1');
    expect(g1.coupled).toEqual([
      { module: 'bn1', kind: 'batchnorm', params: ['bn1.weight', 'bn1.bias'], buffers: ['bn1.running_mean', 'bn1.running_var'], offset: 0, span: 1 },
    ]);
    expect(g1.consumers).toEqual([{ module: 'conv2', weight: 'conv2.weight', offset: 0, span: 1 }]);
    // conv2's 6 channels of 4x4 pixels after the pool: channel c is fc1 columns 16c .. 16c+15
    expect(groupOf(groups, 'conv2').consumers).toEqual([{ module: 'fc1', weight: 'fc1.weight', offset: 0, span: 16 }]);
    expect(groups.filter((g) => g.prunable).length).toBe(3);
  });

  it('a residual Add joins both producers in one group; the other branch is its own group', () => {
    const g = new Graph();
    const x = g.input('x');
    const a = g.add('fcIn', new Linear(4, 6), x);
    const ra = g.add('reluIn', new ReLU(), a);
    const b = g.add('fcA', new Linear(6, 5), ra);
    const rb = g.add('reluA', new ReLU(), b);
    const c = g.add('fcB', new Linear(5, 6), rb);
    const s = g.add('sum', new Add(), c, ra);
    const r = g.add('reluOut', new ReLU(), s);
    g.output('y', g.add('fcOut', new Linear(6, 2), r));
    const groups = channelGroups(g, [4]);
    const joined = groupOf(groups, 'fcIn');
    expect(joined.producers.map((p) => p.module).sort()).toEqual(['fcB', 'fcIn']);
    expect(joined.consumers.map((k) => k.module).sort()).toEqual(['fcA', 'fcOut']);
    expect(joined.prunable).toBe(true);
    expect(groupOf(groups, 'fcA').consumers).toEqual([{ module: 'fcB', weight: 'fcB.weight', offset: 0, span: 1 }]);
    expect(groups.length).toBe(3);
  });

  it('Concat offsets: each input lands at its own range of the consumer (through Flatten: times the pixels)', () => {
    const g = new Graph();
    const x = g.input('image');
    const a = g.add('convA', new Conv2d(3, 4, 3, { padding: 1 }), x);
    const b = g.add('convB', new Conv2d(3, 5, 1), x);
    const cat = g.add('cat', new Concat(), g.add('ra', new ReLU(), a), g.add('rb', new ReLU(), b));
    const conv = g.add('mix', new Conv2d(9, 2, 1), cat);
    g.output('y', g.add('fc', new Linear(9 * 16, 3), g.add('flat', new Flatten(), cat)));
    g.output('z', conv);
    const groups = channelGroups(g, [3, 4, 4]);
    expect(groupOf(groups, 'convA').consumers).toEqual([
      { module: 'mix', weight: 'mix.weight', offset: 0, span: 1 },
      { module: 'fc', weight: 'fc.weight', offset: 0, span: 16 },
    ]);
    expect(groupOf(groups, 'convB').consumers).toEqual([
      { module: 'mix', weight: 'mix.weight', offset: 4, span: 1 },
      { module: 'fc', weight: 'fc.weight', offset: 64, span: 16 },
    ]);
    // both declared outputs of the graph count as outputs
    expect(groupOf(groups, 'mix').reasons.join()).toMatch(/model output/);
  });

  it('a depthwise conv and the batch norms around it join the pointwise conv that feeds them', () => {
    const block = new Sequential({
      pw1: new Conv2d(3, 8, 1),
      bn1: new BatchNorm2d(8),
      r1: new ReLU(),
      dw: new Conv2d(8, 8, 3, { padding: 1, groups: 8 }),
      bn2: new BatchNorm2d(8),
      r2: new ReLU(),
      pw2: new Conv2d(8, 6, 1),
      gap: new GlobalAvgPool(),
      fc: new Linear(6, 2),
    });
    const groups = channelGroups(block, [3, 5, 5]);
    expect(groups.length).toBe(3);
    const g = groupOf(groups, 'pw1');
    expect(g.coupled.map((c) => [c.module, c.kind])).toEqual([
      ['bn1', 'batchnorm'],
      ['dw', 'depthwise'],
      ['bn2', 'batchnorm'],
    ]);
    expect(g.coupled[1]!.params).toEqual(['dw.weight', 'dw.bias']);
    expect(g.consumers).toEqual([{ module: 'pw2', weight: 'pw2.weight', offset: 0, span: 1 }]);
    expect(groupOf(groups, 'pw2').consumers).toEqual([{ module: 'fc', weight: 'fc.weight', offset: 0, span: 1 }]);
  });

  it('nested containers and a stateless module used twice are traced through', () => {
    const act = new ReLU();
    const inner = new Sequential({ fc: new Linear(6, 5), act });
    const model = new Sequential({ first: new Linear(4, 6), act, block: inner, head: new Linear(5, 2) });
    const groups = channelGroups(model, [4]);
    expect(groupOf(groups, 'first').consumers).toEqual([{ module: 'block.fc', weight: 'block.fc.weight', offset: 0, span: 1 }]);
    expect(groupOf(groups, 'block.fc').prunable).toBe(true);
  });
});

describe('channelGroups: what blocks a group', () => {
  const blockers: Array<[string, () => Module, RegExp]> = [
    ['LayerNorm', () => new LayerNorm(8), /LayerNorm 'mid'/],
    ['GroupNorm', () => new GroupNorm(2, 8), /GroupNorm 'mid'/],
    ['Softmax', () => new Softmax(), /Softmax 'mid'/],
    ['Reshape', () => new Reshape([2, 4]), /Reshape 'mid'/],
  ];
  for (const [label, make, reason] of blockers)
    it(`${label} between two layers`, () => {
      const model = new Sequential({ fc1: new Linear(3, 8), mid: make(), flat: new Flatten(), fc2: new Linear(8, 2) });
      const g = groupOf(channelGroups(model, [3]), 'fc1');
      expect(g.prunable).toBe(false);
      expect(g.reasons.join('\n')).toMatch(reason);
    });

  it('a grouped conv that is not depthwise', () => {
    const model = new Sequential({ c1: new Conv2d(2, 8, 1), c2: new Conv2d(8, 4, 1, { groups: 2 }), gap: new GlobalAvgPool(), fc: new Linear(4, 1) });
    const groups = channelGroups(model, [2, 3, 3]);
    expect(groupOf(groups, 'c1').reasons.join()).toMatch(/grouped convolution \(2 groups of 8 channels\)/);
  });

  it('a BatchNorm1d after Flatten couples ranges of features and stays prunable', () => {
    const model = new Sequential({ c: new Conv2d(1, 3, 1), flat: new Flatten(), bn: new BatchNorm1d(12), fc: new Linear(12, 2) });
    const g = groupOf(channelGroups(model, [1, 2, 2]), 'c');
    expect(g.prunable).toBe(true);
    expect(g.coupled[0]).toMatchObject({ module: 'bn', offset: 0, span: 4 });
    expect(g.consumers).toEqual([{ module: 'fc', weight: 'fc.weight', offset: 0, span: 4 }]);
  });

  it('an Add with the model input cannot remove the channels', () => {
    const g = new Graph();
    const x = g.input('x');
    const h = g.add('fc', new Linear(6, 6), x);
    const s = g.add('sum', new Add(), h, x);
    g.output('y', g.add('head', new Linear(6, 2), s));
    const group = groupOf(channelGroups(g, [6]), 'fc');
    expect(group.prunable).toBe(false);
    expect(group.reasons.join()).toMatch(/Add 'sum' adds these channels to channels that cannot be removed/);
  });

  it('a Sigmoid before the consumer: a masked channel would be 0.5, not 0', () => {
    const model = new Sequential({ fc1: new Linear(3, 4), sig: new Sigmoid(), fc2: new Linear(4, 2) });
    const g = groupOf(channelGroups(model, [3]), 'fc1');
    expect(g.prunable).toBe(false);
    expect(g.reasons.join()).toMatch(/Sigmoid 'sig' maps a zeroed channel to a nonzero constant before 'fc2'/);
    // ... but a batch norm after the sigmoid is masked too, and zeroes the channel again
    const withBn = new Sequential({ fc1: new Linear(3, 4), sig: new Sigmoid(), bn: new BatchNorm1d(4), fc2: new Linear(4, 2) });
    expect(groupOf(channelGroups(withBn, [3]), 'fc1').prunable).toBe(true);
  });

  it('code in a custom forward() that uses a layer output outside any module', () => {
    class Custom extends Module {
      readonly fc1 = this.registerModule('fc1', new Linear(3, 5));
      readonly fc2 = this.registerModule('fc2', new Linear(5, 5));
      readonly head = this.registerModule('head', new Linear(5, 2));
      forward(x: Tensor): Tensor {
        // fc1's output reaches fc2 through a functional ReLU that no module owns
        const h = this.fc2.forward(relu(this.fc1.forward(x)));
        return this.head.forward(h);
      }
      config(): ModuleConfig {
        return { type: 'Custom' };
      }
    }
    const groups = channelGroups(new Custom(), [3]);
    const g1 = groupOf(groups, 'fc1');
    expect(g1.prunable).toBe(false);
    expect(g1.reasons.join()).toMatch(/output of 'fc1' is used by code outside any layer module/);
    // fc2 -> head is module to module
    expect(groupOf(groups, 'fc2').prunable).toBe(true);
  });

  it('a layer used twice', () => {
    const shared = new Linear(4, 4);
    const model = new Sequential({ fc0: new Linear(4, 4), a: shared, r: new ReLU(), b: shared, head: new Linear(4, 1) });
    const groups = channelGroups(model, [4]);
    expect(groupOf(groups, 'fc0').reasons.join()).toMatch(/Linear 'a' is used more than once/);
    expect(groups.some((g) => g.producers.some((p) => p.module === 'a'))).toBe(false);
  });

  it('leaves the model as it was: modes, hooks, values', () => {
    const model = cnn();
    model.train();
    (model.children()[1]![1] as BatchNorm2d).eval();
    const before = model.stateDict();
    const forward = model.children().map(([, m]) => Object.hasOwn(m, 'forward'));
    channelGroups(model, [3, 8, 8]);
    expect(model.namedModules().map(([, m]) => m.training)).toEqual([true, true, false, true, true, true, true, true, true, true, true]);
    expect(model.children().map(([, m]) => Object.hasOwn(m, 'forward'))).toEqual(forward);
    expect(model.stateDict()).toEqual(before);
  });
});

describe('dead channels, maskChannels and channelScores', () => {
  it('a channel is dead when its producer row and bias are zero, and (with batch norm) the norm weight and bias', () => {
    manualSeed(3);
    const model = cnn();
    const conv1 = model.children()[0]![1] as Conv2d;
    const bn1 = model.children()[1]![1] as BatchNorm2d;
    bn1.runningMean!.fill(0.25);
    const zeroRow = (c: number): void => {
      conv1.weight.data.fill(0, c * 27, (c + 1) * 27);
      conv1.bias!.data[c] = 0;
    };
    zeroRow(1); // conv row only: the norm still shifts the zero channel to bias - mean * ...
    zeroRow(2);
    bn1.weight!.data[2] = 0;
    bn1.bias!.data[2] = 0;
    bn1.weight!.data[5] = 0; // norm weight and bias alone also give an exact zero
    bn1.bias!.data[5] = 0;
    bn1.bias!.data[6] = 0; // bias alone does not
    bn1.weight!.data[7] = 0; // nor weight alone: the norm outputs its bias
    bn1.bias!.data[7] = 0.5;
    zeroRow(3); // a zero input with a zero running mean and bias stays zero, whatever the weight
    bn1.runningMean![3] = 0;
    bn1.bias!.data[3] = 0;
    zeroRow(4); // ... but not with a nonzero bias
    bn1.runningMean![4] = 0;
    bn1.bias!.data[4] = 0.5;
    const dead = groupOf(channelGroups(model, [3, 8, 8]), 'conv1').dead;
    expect([...dead]).toEqual([0, 0, 1, 1, 0, 1, 0, 0]);
  });

  it('maskChannels masks producer rows, biases and coupled entries, ANDed with existing masks', () => {
    manualSeed(4);
    const block = new Sequential({ pw: new Conv2d(2, 4, 1), bn: new BatchNorm2d(4), dw: new Conv2d(4, 4, 3, { groups: 4, padding: 1 }), pw2: new Conv2d(4, 3, 1), gap: new GlobalAvgPool(), fc: new Linear(3, 2) });
    const pw = block.children()[0]![1] as Conv2d;
    const old = new Uint8Array(8).fill(1);
    old[1] = 0; // row 0, column 1: pruned before
    pw.weight.setMask(old);
    const group = groupOf(channelGroups(block, [2, 3, 3]), 'pw');
    maskChannels(block, group, Uint8Array.from([1, 0, 1, 0]));
    expect([...pw.weight.mask!]).toEqual([1, 0, 0, 0, 1, 1, 0, 0]);
    expect([...pw.bias!.mask!]).toEqual([1, 0, 1, 0]);
    const params = new Map(block.namedParameters());
    expect([...params.get('bn.weight')!.mask!]).toEqual([1, 0, 1, 0]);
    expect([...params.get('bn.bias')!.mask!]).toEqual([1, 0, 1, 0]);
    expect([...params.get('dw.weight')!.mask!]).toEqual([...Array(36).keys()].map((i) => (Math.floor(i / 9) % 2 === 0 ? 1 : 0)));
    expect([...params.get('dw.bias')!.mask!]).toEqual([1, 0, 1, 0]);
    expect(params.get('pw2.weight')!.mask).toBeNull(); // consumers untouched
    expect([...groupOf(channelGroups(block, [2, 3, 3]), 'pw').dead]).toEqual([0, 1, 0, 1]);
  });

  it('maskChannels refuses a blocked group and a bad keep vector', () => {
    const model = new Sequential({ fc1: new Linear(3, 4), ln: new LayerNorm(4), fc2: new Linear(4, 2) });
    const groups = channelGroups(model, [3]);
    const blocked = groupOf(groups, 'fc1');
    expectThrows(() => maskChannels(model, blocked, Uint8Array.from([1, 0, 1, 1])), FormatError, 'ERR_FORMAT', 'blocked group');
    const ok = new Sequential({ fc1: new Linear(3, 4), fc2: new Linear(4, 2) });
    const g = channelGroups(ok, [3])[0]!;
    expectThrows(() => maskChannels(ok, g, new Uint8Array(3)), ShapeError, 'ERR_SHAPE', 'length');
    expectThrows(() => maskChannels(ok, g, Uint8Array.from([1, 2, 1, 1])), SparsennTypeError, 'ERR_TYPE', 'entry 2');
    expectThrows(() => maskChannels(ok, g, [1, 0, 1, 1] as never), SparsennTypeError, 'ERR_TYPE', 'not a Uint8Array');
    const other = new Sequential(new Linear(3, 4), new Linear(4, 2)); // names '0.weight', ...
    expectThrows(() => maskChannels(other, g, Uint8Array.from([1, 0, 1, 1])), FormatError, 'ERR_FORMAT', 'another model');
    const wider = new Sequential({ fc1: new Linear(3, 5), fc2: new Linear(5, 2) });
    expectThrows(() => maskChannels(wider, g, Uint8Array.from([1, 0, 1, 1])), ShapeError, 'ERR_SHAPE', 'another shape');
    expect(wider.parameters().every((p) => p.mask === null)).toBe(true);
  });

  it('channelScores sums the kept producer-row scores, over every producer of the group', () => {
    const group = {
      id: 0,
      channels: 2,
      producers: [
        { module: 'a', weight: 'a.weight', bias: null },
        { module: 'b', weight: 'b.weight', bias: 'b.bias' },
      ],
      coupled: [],
      consumers: [],
      prunable: true,
      reasons: [],
      dead: new Uint8Array(2),
    };
    const scores = {
      'a.weight': Float32Array.from([1, 2, 3, -Infinity, -Infinity, -Infinity]),
      'b.weight': Float32Array.from([0.5, 0.25, -Infinity, -Infinity]),
    };
    expect([...channelScores(group, scores)]).toEqual([6.75, -Infinity]);
    expectThrows(() => channelScores(group, { 'a.weight': scores['a.weight'] }), FormatError, 'ERR_FORMAT', 'missing');
    expectThrows(() => channelScores(group, { ...scores, 'b.weight': new Float32Array(3) }), ShapeError, 'ERR_SHAPE', 'length');
  });
});

describe('channelGroups: errors', () => {
  it('rejects a non-module, bad sample shapes, a wrong input count and noGrad()', () => {
    const model = new Sequential(new Linear(3, 2));
    expectThrows(() => channelGroups({} as Module, [3]), SparsennTypeError, 'ERR_TYPE', 'not a module');
    expectThrows(() => channelGroups(model, 3 as never), SparsennTypeError, 'ERR_TYPE', 'not an array');
    expectThrows(() => channelGroups(model, [0]), ShapeError, 'ERR_SHAPE', 'zero dim');
    expectThrows(() => channelGroups(model, [1.5]), ShapeError, 'ERR_SHAPE', 'fraction');
    const g = new Graph();
    g.output('y', g.add('fc', new Linear(3, 2), g.input('x')));
    expectThrows(() => channelGroups(g, [[3], [3]]), ShapeError, 'ERR_SHAPE', 'input count');
    expectThrows(() => noGrad(() => channelGroups(model, [3])), SparsennTypeError, 'ERR_TYPE', 'noGrad');
  });
});
