/**
 * MaxPool2d, AvgPool2d, GlobalAvgPool and their ops: PyTorch references
 * (test/fixtures/nn/layers.json), finite-difference gradients, PyTorch's tie, NaN, padding and
 * ceil-mode rules, and typed errors.
 */
import { describe, expect, it } from 'vitest';
import { IndexRangeError, ShapeError, SparsennTypeError } from '../../lib/errors.js';
import type { Module, ModuleConfig } from '../../lib/nn/module.js';
import { AvgPool2d, GlobalAvgPool, MaxPool2d } from '../../lib/nn/layers/pool.js';
import { avgPool2d, globalAvgPool, maxPool2d, type AvgPool2dOptions, type Pool2dOptions } from '../../lib/nn/ops/pool.js';
import { noGrad, Tensor } from '../../lib/nn/tensor.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { mulberry32 } from '../helpers/random.js';
import { expectNear, fixtures, type Enc as FixtureTensor, type FixtureCase } from '../helpers/layer-fixtures.js';

const LAYERS: Record<string, (c: ModuleConfig) => Module> = {
  MaxPool2d: (c) => MaxPool2d.fromConfig(c),
  AvgPool2d: (c) => AvgPool2d.fromConfig(c),
  GlobalAvgPool: () => GlobalAvgPool.fromConfig(),
};
const poolCases = fixtures.filter((c) => c.layer in LAYERS);

function randomTensor(shape: number[], seed: number, requiresGrad = true): Tensor {
  const rng = mulberry32(seed);
  const t = Tensor.zeros(shape, requiresGrad);
  for (let i = 0; i < t.size; i++) t.data[i] = rng() * 2 - 1;
  return t;
}

/**
 * Pairwise distinct values at least 0.05 apart (a shuffled ramp), so that the finite-difference
 * step (eps = 0.01) never changes a window's argmax.
 */
function distinctTensor(shape: number[], seed: number): Tensor {
  const t = Tensor.zeros(shape, true);
  const rng = mulberry32(seed);
  const order = [...Array(t.size).keys()];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  for (let i = 0; i < t.size; i++) t.data[order[i]!] = (i - t.size / 2) * 0.05;
  return t;
}

function image(values: number[][][], n = 1): Tensor {
  // A one-channel image [1, H, W, n] from rows of [value] cells, the same for each of the n samples.
  const h = values.length;
  const w = values[0]!.length;
  const t = Tensor.zeros([1, h, w, n], true);
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) for (let b = 0; b < n; b++) t.data[(i * w + j) * n + b] = values[i]![j]![0]!;
  return t;
}

describe('pooling', () => {
  describe('matches PyTorch (fixtures)', () => {
    it('has the fixture cases', () => {
      expect(poolCases.map((c) => c.layer).sort()).toEqual(['AvgPool2d', 'AvgPool2d', 'GlobalAvgPool', 'MaxPool2d', 'MaxPool2d']);
    });
    for (const fc of poolCases)
      it(fc.name, () => {
        const layer = LAYERS[fc.layer]!({ ...fc.config, type: fc.layer });
        expect(layer.config()).toEqual({ ...fc.config, type: fc.layer });
        const x = Tensor.from(fc.inputs[0]!.data, fc.inputs[0]!.shape, true);
        const y = layer.forward(x);
        expect(y.shape).toEqual(fc.output.shape);
        expectNear(y.data, fc.output.data, 'output');
        y.backward(Float32Array.from(fc.upstream.data));
        expectNear(x.grad!, fc.grads['input0']!.data, 'input grad');
      });
  });

  const CONFIGS: Array<{ name: string; shape: number[]; opts: Pool2dOptions }> = [
    { name: '2x2 stride 2', shape: [2, 6, 6, 3], opts: { kernelSize: 2 } },
    { name: '3x3 stride 2 padding 1', shape: [2, 7, 6, 2], opts: { kernelSize: 3, stride: 2, padding: 1 } },
    { name: '3x3 stride 1 (overlapping)', shape: [1, 5, 5, 2], opts: { kernelSize: 3, stride: 1 } },
    { name: 'non-square 3x2, stride [1,2], padding [1,0]', shape: [2, 5, 6, 2], opts: { kernelSize: [3, 2], stride: [1, 2], padding: [1, 0] } },
    { name: 'ceil mode', shape: [1, 5, 7, 2], opts: { kernelSize: 2, stride: 2, ceilMode: true } },
    { name: 'ceil mode with padding', shape: [1, 6, 6, 2], opts: { kernelSize: 3, stride: 2, padding: 1, ceilMode: true } },
    { name: 'batch of one', shape: [3, 4, 4, 1], opts: { kernelSize: 2 } },
    { name: 'wide batch', shape: [1, 4, 4, 37], opts: { kernelSize: 2, stride: 1 } },
  ];

  describe('maxPool2d', () => {
    for (const [i, c] of CONFIGS.entries())
      it(`gradients match finite differences: ${c.name}`, () => {
        const x = distinctTensor(c.shape, 10 + i);
        gradCheck(() => maxPool2d(x, c.opts), [x], { maxPerInput: 120 });
      });

    it('routes the gradient to the argmax; padding never wins', () => {
      // All inputs negative: with padding 1 a -Infinity pad must not be chosen.
      const x = image([
        [[-5], [-1], [-7]],
        [[-3], [-9], [-2]],
        [[-4], [-8], [-6]],
      ]);
      const y = maxPool2d(x, { kernelSize: 2, stride: 2, padding: 1 });
      expect(y.shape).toEqual([1, 2, 2, 1]);
      expect(Array.from(y.data)).toEqual([-5, -1, -3, -2]);
      y.backward(Float32Array.from([1, 2, 3, 4]));
      expect(Array.from(x.grad!)).toEqual([1, 2, 0, 3, 0, 4, 0, 0, 0]);
    });

    it('ties go to the first position of the window', () => {
      const x = Tensor.zeros([1, 4, 4, 2], true);
      x.data.fill(1);
      const y = maxPool2d(x, { kernelSize: 2, stride: 1 });
      y.backward(new Float32Array(y.size).fill(1));
      // Each of the 3x3 windows sends its gradient to its top-left element.
      const grad = Array.from(x.grad!).filter((_, i) => i % 2 === 0);
      expect(grad).toEqual([1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0]);
    });

    it('propagates NaN like PyTorch', () => {
      const x = image([
        [[1], [NaN]],
        [[3], [2]],
      ]);
      const y = maxPool2d(x, { kernelSize: 2 });
      expect(Number.isNaN(y.data[0])).toBe(true);
      y.backward(Float32Array.from([5]));
      expect(Array.from(x.grad!)).toEqual([0, 5, 0, 0]);
    });

    it('ceil mode adds a last window that starts inside the input', () => {
      // 5 columns, k 2, s 2: floor gives 2 outputs, ceil 3 (the last covers column 4 alone).
      const x = image([[[1], [2], [3], [4], [5]]]);
      expect(maxPool2d(x, { kernelSize: [1, 2] }).shape).toEqual([1, 1, 2, 1]);
      const y = maxPool2d(x, { kernelSize: [1, 2], ceilMode: true });
      expect(Array.from(y.data)).toEqual([2, 4, 5]);
      // PyTorch drops a window that would start in the right padding: 3 columns, k 2, s 2, p 1
      // gives ceil(3 / 2) + 1 = 3 windows, the last one starting at column 3 (padding): 2 remain.
      const y2 = maxPool2d(image([[[1], [2], [3]]]), { kernelSize: [1, 2], padding: [0, 1], ceilMode: true });
      expect(Array.from(y2.data)).toEqual([1, 3]);
    });
  });

  describe('avgPool2d', () => {
    for (const [i, c] of CONFIGS.entries())
      for (const countIncludePad of [true, false])
        it(`gradients match finite differences: ${c.name} (countIncludePad ${countIncludePad})`, () => {
          const x = randomTensor(c.shape, 30 + i);
          gradCheck(() => avgPool2d(x, { ...c.opts, countIncludePad }), [x], { maxPerInput: 120 });
        });

    it('divides by the window with or without the padding', () => {
      const x = image([
        [[1], [2]],
        [[3], [4]],
      ]);
      const opts: AvgPool2dOptions = { kernelSize: 2, stride: 1, padding: 1 };
      // Corner windows cover one input value of a 2x2 window.
      expect(Array.from(avgPool2d(x, opts).data)).toEqual([0.25, 0.75, 0.5, 1, 2.5, 1.5, 0.75, 1.75, 1]);
      expect(Array.from(avgPool2d(x, { ...opts, countIncludePad: false }).data)).toEqual([1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4]);
    });

    it('in ceil mode does not count the part of a window past the padded input', () => {
      const x = image([[[2], [4], [6], [8], [10]]]);
      const y = avgPool2d(x, { kernelSize: [1, 2], ceilMode: true });
      expect(Array.from(y.data)).toEqual([3, 7, 10]);
    });
  });

  describe('globalAvgPool', () => {
    it('averages over H and W', () => {
      const x = randomTensor([3, 4, 5, 2], 50);
      const y = globalAvgPool(x);
      expect(y.shape).toEqual([3, 2]);
      for (let c = 0; c < 3; c++)
        for (let b = 0; b < 2; b++) {
          let s = 0;
          for (let p = 0; p < 20; p++) s += x.data[(c * 20 + p) * 2 + b]!;
          expect(y.data[c * 2 + b]).toBeCloseTo(s / 20, 6);
        }
    });

    it('gradients match finite differences', () => {
      const x = randomTensor([2, 3, 4, 5], 51);
      gradCheck(() => globalAvgPool(x), [x]);
    });

    it('works on a 1x1 image and records nothing under noGrad', () => {
      const x = randomTensor([4, 1, 1, 3], 52);
      const y = noGrad(() => globalAvgPool(x));
      expect(Array.from(y.data)).toEqual(Array.from(x.data));
      expect(y.node).toBeNull();
    });
  });

  describe('layers', () => {
    it('stride defaults to the kernel size; config() round-trips', () => {
      const max = new MaxPool2d([3, 2], { padding: [1, 0] });
      expect(max.config()).toEqual({ type: 'MaxPool2d', kernelSize: [3, 2], stride: [3, 2], padding: [1, 0], ceilMode: false });
      expect(MaxPool2d.fromConfig(JSON.parse(JSON.stringify(max.config())) as ModuleConfig).config()).toEqual(max.config());
      const avg = new AvgPool2d(2, { stride: 1, countIncludePad: false, ceilMode: true });
      expect(avg.config()).toEqual({ type: 'AvgPool2d', kernelSize: [2, 2], stride: [1, 1], padding: [0, 0], ceilMode: true, countIncludePad: false });
      expect(AvgPool2d.fromConfig(JSON.parse(JSON.stringify(avg.config())) as ModuleConfig).config()).toEqual(avg.config());
      expect(new GlobalAvgPool().config()).toEqual({ type: 'GlobalAvgPool' });
      expect(max.parameters()).toEqual([]);
      // A config with only the kernel size takes the defaults.
      expect(AvgPool2d.fromConfig({ type: 'AvgPool2d', kernelSize: 3 }).config()).toEqual({
        type: 'AvgPool2d',
        kernelSize: [3, 3],
        stride: [3, 3],
        padding: [0, 0],
        ceilMode: false,
        countIncludePad: true,
      });
    });

    it('forward matches the ops', () => {
      const x = randomTensor([2, 6, 6, 3], 60);
      expect(new MaxPool2d(2).forward(x).data).toEqual(maxPool2d(x, { kernelSize: 2 }).data);
      expect(new AvgPool2d(3, { stride: 2, padding: 1 }).forward(x).data).toEqual(avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1 }).data);
      expect(new GlobalAvgPool().forward(x).data).toEqual(globalAvgPool(x).data);
    });
  });

  describe('errors are typed', () => {
    function expectError(fn: () => unknown, cls: new (...args: never[]) => Error, code: string, message?: RegExp): void {
      let err: unknown;
      try {
        fn();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(cls);
      expect((err as { code: string }).code).toBe(code);
      if (message) expect((err as Error).message).toMatch(message);
    }

    it('input rank', () => {
      const x3 = randomTensor([2, 4, 4], 1);
      expect(() => maxPool2d(x3, { kernelSize: 2 })).toThrow(ShapeError);
      expectError(() => maxPool2d(x3, { kernelSize: 2 }), ShapeError, 'ERR_SHAPE', /rank 4.*got shape \[2, 4, 4\]/);
      expectError(() => avgPool2d(x3, { kernelSize: 2 }), ShapeError, 'ERR_SHAPE');
      expectError(() => globalAvgPool(x3), ShapeError, 'ERR_SHAPE');
      expectError(() => new GlobalAvgPool().forward(randomTensor([2, 3], 1)), ShapeError, 'ERR_SHAPE');
      expectError(() => globalAvgPool(Tensor.zeros([2, 0, 3, 1])), ShapeError, 'ERR_SHAPE');
    });

    it('window larger than the input', () => {
      expectError(() => maxPool2d(randomTensor([1, 2, 5, 1], 1), { kernelSize: 3 }), ShapeError, 'ERR_SHAPE', /at least 3x3, got 2x5/);
      expectError(() => new AvgPool2d(4).forward(randomTensor([1, 3, 3, 2], 1)), ShapeError, 'ERR_SHAPE');
    });

    it('bad options', () => {
      const x = randomTensor([1, 4, 4, 1], 1);
      expectError(() => maxPool2d(x, { kernelSize: 0 }), IndexRangeError, 'ERR_RANGE');
      expectError(() => maxPool2d(x, { kernelSize: 2, stride: 0 }), IndexRangeError, 'ERR_RANGE');
      expectError(() => maxPool2d(x, { kernelSize: 2, padding: 2 }), IndexRangeError, 'ERR_RANGE', /half the kernel/);
      expectError(() => new MaxPool2d(3, { padding: 2 }), IndexRangeError, 'ERR_RANGE');
      expectError(() => avgPool2d(x, { kernelSize: 'two' as unknown as number }), SparsennTypeError, 'ERR_TYPE');
      expectError(() => avgPool2d(x, { kernelSize: 2, countIncludePad: 1 as unknown as boolean }), SparsennTypeError, 'ERR_TYPE');
      expectError(() => maxPool2d(x, undefined as unknown as Pool2dOptions), SparsennTypeError, 'ERR_TYPE');
    });
  });
});
