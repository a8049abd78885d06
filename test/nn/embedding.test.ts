import { describe, expect, it } from 'vitest';
import { IndexRangeError, ShapeError, SparsennTypeError } from '../../lib/errors.js';
import { Embedding, embedding } from '../../lib/nn/layers/embedding.js';
import type { ModuleConfig } from '../../lib/nn/module.js';
import { Random } from '../../lib/nn/random.js';
import { Tensor } from '../../lib/nn/tensor.js';
import { expectThrows } from '../helpers/errors.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { expectNear, fixture, fixtures, type Enc, type FixtureCase } from '../helpers/layer-fixtures.js';

// --- PyTorch fixture (test/fixtures/nn/layers.json: ids [L, N] -> output [L, D, N]) -----------


function ids(values: number[], shape: number[]): Tensor {
  return Tensor.from(values, shape);
}

describe('Embedding against PyTorch', () => {
  it('embedding: forward [L, n] -> [L, D, n], weight gradient with repeated ids', () => {
    const c = fixtures.find((f) => f.name === 'embedding')!;
    const layer = Embedding.fromConfig(c.config);
    layer.loadStateDict({ weight: { shape: c.params['weight']!.shape, data: Float32Array.from(c.params['weight']!.data) } });
    const x = ids(c.inputs[0]!.data, c.inputs[0]!.shape);
    const out = layer.forward(x);
    expect([...out.shape]).toEqual(c.output.shape);
    expectNear(out.data, c.output.data, 'output');
    out.backward(Float32Array.from(c.upstream.data));
    expectNear(layer.weight.grad!, c.grads['weight']!.data, 'd weight');
    expect(x.grad).toBeNull();
  });
});

describe('Embedding', () => {
  it('looks up rows: [n] -> [D, n] and [L, n] -> [L, D, n]', () => {
    const layer = new Embedding(4, 3);
    layer.weight.data.set([0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32]);
    const y1 = layer.forward(ids([2, 0], [2]));
    expect([...y1.shape]).toEqual([3, 2]);
    expect([...y1.data]).toEqual([20, 0, 21, 1, 22, 2]);
    const y2 = layer.forward(ids([3, 1, 1, 0], [2, 2]));
    expect([...y2.shape]).toEqual([2, 3, 2]);
    expect([...y2.data]).toEqual([30, 10, 31, 11, 32, 12, 10, 0, 11, 1, 12, 2]);
  });

  it('weight gradients match finite differences ([n] and [L, n] ids, repeats)', () => {
    const layer = new Embedding(6, 3, { rng: new Random(1) });
    gradCheck(() => layer.forward(ids([5, 0, 5, 2], [4])), [layer.weight]);
    gradCheck(() => layer.forward(ids([1, 1, 4, 0, 1, 3], [3, 2])), [layer.weight]);
  });

  it('accumulates repeated ids and leaves unused rows at zero', () => {
    const layer = new Embedding(5, 2);
    const y = layer.forward(ids([3, 3, 1], [3]));
    y.backward(Float32Array.from([1, 2, 3, 4, 5, 6]));
    // rows: 3 gets samples 0 and 1, 1 gets sample 2; g[d, j] = [[1, 2, 3], [4, 5, 6]]
    expect([...layer.weight.grad!]).toEqual([0, 0, 3, 6, 0, 0, 3, 9, 0, 0]);
  });

  it('zeroes the gradient of pruned weights', () => {
    const layer = new Embedding(3, 2);
    layer.weight.setMask(Uint8Array.from([1, 1, 0, 1, 1, 1]));
    layer.forward(ids([1, 1], [2])).backward(new Float32Array(4).fill(1));
    expect([...layer.weight.grad!]).toEqual([0, 0, 0, 2, 0, 0]);
  });

  it('initialises N(0, 1) from its seed', () => {
    const a = new Embedding(100, 100, { rng: new Random(7) });
    const b = new Embedding(100, 100, { rng: new Random(7) });
    expect([...a.weight.data]).toEqual([...b.weight.data]);
    const w = a.weight.data;
    let s = 0;
    let sq = 0;
    for (const v of w) s += v;
    const mean = s / w.length;
    for (const v of w) sq += (v - mean) ** 2;
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(Math.sqrt(sq / w.length) - 1)).toBeLessThan(0.05);
  });

  it('config() round-trips', () => {
    const c = new Embedding(10, 4).config();
    expect(c).toEqual({ type: 'Embedding', numEmbeddings: 10, embeddingDim: 4 });
    expect(Embedding.fromConfig(c).config()).toEqual(c);
  });

  it('rejects ids that are out of range or not integers, naming the value and position', () => {
    const layer = new Embedding(10, 4);
    let err = expectThrows(() => layer.forward(ids([1, 2, 3, 10, 4, 5], [2, 3])), IndexRangeError, 'ERR_RANGE', 'id 10');
    expect(err.message).toContain('10');
    expect(err.message).toContain('[1, 0]');
    err = expectThrows(() => layer.forward(ids([1, -1], [2])), IndexRangeError, 'ERR_RANGE', 'id -1');
    expect(err.message).toContain('-1');
    expect(err.message).toContain('[1]');
    err = expectThrows(() => layer.forward(ids([0, 2.5], [2])), IndexRangeError, 'ERR_RANGE', 'id 2.5');
    expect(err.message).toContain('2.5');
    expectThrows(() => layer.forward(ids([Number.NaN], [1])), IndexRangeError, 'ERR_RANGE', 'id NaN');
  });

  it('typed errors for bad arguments', () => {
    expectThrows(() => new Embedding(0, 4), IndexRangeError, 'ERR_RANGE', 'numEmbeddings 0');
    expectThrows(() => new Embedding(4, 1.5), IndexRangeError, 'ERR_RANGE', 'embeddingDim 1.5');
    expectThrows(() => new Embedding(4, 2).forward(new Tensor(new Float32Array(1), [])), ShapeError, 'ERR_SHAPE', 'scalar ids');
    expectThrows(() => new Embedding(4, 2).forward([1, 2] as never), SparsennTypeError, 'ERR_TYPE', 'ids not a tensor');
    expectThrows(() => embedding(ids([0], [1]), Tensor.zeros([4])), ShapeError, 'ERR_SHAPE', 'weight rank');
  });
});
