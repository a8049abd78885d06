/**
 * Conv2d and the conv2d / im2col ops: PyTorch references (test/fixtures/nn/layers.json), a
 * float64 direct-convolution oracle, finite-difference gradients for every configuration,
 * sparse vs dense execution of masked weights, and typed errors.
 */
import { describe, expect, it } from 'vitest';
import { IndexRangeError, ShapeError, SparsennTypeError } from '../../lib/errors.js';
import { Conv2d } from '../../lib/nn/layers/conv.js';
import type { ModuleConfig } from '../../lib/nn/module.js';
import { conv2d, convOutputSize, im2col } from '../../lib/nn/ops/conv.js';
import type { WeightExecution } from '../../lib/nn/ops/weight-product.js';
import { Parameter } from '../../lib/nn/parameter.js';
import { noGrad, Tensor } from '../../lib/nn/tensor.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { mulberry32 } from '../helpers/random.js';
import { expectNear, fixtures, type Enc as FixtureTensor, type FixtureCase } from '../helpers/layer-fixtures.js';

const convCases = fixtures.filter((c) => c.layer === 'Conv2d');


function randomTensor(shape: number[], seed: number, requiresGrad = true): Tensor {
  const rng = mulberry32(seed);
  const t = Tensor.zeros(shape, requiresGrad);
  for (let i = 0; i < t.size; i++) t.data[i] = rng() * 2 - 1;
  return t;
}

function randomParameter(shape: number[], seed: number): Parameter {
  const rng = mulberry32(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const p = new Parameter(new Float32Array(size), shape);
  for (let i = 0; i < size; i++) p.data[i] = rng() * 2 - 1;
  return p;
}

function randomMask(size: number, density: number, seed: number): Uint8Array {
  const rng = mulberry32(seed);
  return new Uint8Array(size).map(() => (rng() < density ? 1 : 0));
}

interface Geometry {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

/** Direct float64 convolution on batch-last data: the oracle. */
function referenceConv(x: Tensor, w: Tensor, bias: Tensor | null, o: Geometry): Float64Array {
  const [cin, h, wd, n] = x.shape as [number, number, number, number];
  const [cout, cinG, kh, kw] = w.shape as [number, number, number, number];
  const oh = convOutputSize(h, kh, o.stride[0], o.padding[0], o.dilation[0]);
  const ow = convOutputSize(wd, kw, o.stride[1], o.padding[1], o.dilation[1]);
  const coutG = cout / o.groups;
  expect(cinG * o.groups).toBe(cin);
  const y = new Float64Array(cout * oh * ow * n);
  for (let co = 0; co < cout; co++) {
    const grp = Math.floor(co / coutG);
    for (let p = 0; p < oh; p++)
      for (let q = 0; q < ow; q++)
        for (let b = 0; b < n; b++) {
          let s = bias ? bias.data[co]! : 0;
          for (let c = 0; c < cinG; c++)
            for (let i = 0; i < kh; i++)
              for (let j = 0; j < kw; j++) {
                const ih = p * o.stride[0] - o.padding[0] + i * o.dilation[0];
                const iw = q * o.stride[1] - o.padding[1] + j * o.dilation[1];
                if (ih < 0 || ih >= h || iw < 0 || iw >= wd) continue;
                const ci = grp * cinG + c;
                s += w.data[((co * cinG + c) * kh + i) * kw + j]! * x.data[((ci * h + ih) * wd + iw) * n + b]!;
              }
          y[((co * oh + p) * ow + q) * n + b] = s;
        }
  }
  return y;
}

interface Config extends Geometry {
  name: string;
  cin: number;
  cout: number;
  k: [number, number];
  hw: [number, number];
  n: number;
  bias: boolean;
}

function config(name: string, c: Partial<Config> & { cin: number; cout: number; k: [number, number]; hw: [number, number] }): Config {
  return { name, stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1, n: 3, bias: true, ...c };
}

const CONFIGS: Config[] = [
  config('3x3', { cin: 2, cout: 3, k: [3, 3], hw: [5, 6] }),
  config('3x3 stride 2 padding 1', { cin: 2, cout: 3, k: [3, 3], hw: [7, 6], stride: [2, 2], padding: [1, 1] }),
  config('3x3 dilation 2 padding 2', { cin: 2, cout: 2, k: [3, 3], hw: [6, 7], dilation: [2, 2], padding: [2, 2] }),
  config('3x3 stride 3 (windows skip columns)', { cin: 1, cout: 2, k: [3, 3], hw: [8, 8], stride: [3, 3], padding: [1, 1] }),
  config('groups 2', { cin: 4, cout: 6, k: [3, 3], hw: [5, 5], padding: [1, 1], groups: 2 }),
  config('depthwise', { cin: 3, cout: 3, k: [3, 3], hw: [5, 4], padding: [1, 1], groups: 3 }),
  config('depthwise multiplier 2, stride 2', { cin: 2, cout: 4, k: [3, 3], hw: [6, 5], stride: [2, 2], padding: [1, 1], groups: 2 }),
  config('1x1 (no im2col)', { cin: 4, cout: 3, k: [1, 1], hw: [3, 4] }),
  config('1x1 grouped (no im2col)', { cin: 4, cout: 2, k: [1, 1], hw: [3, 3], groups: 2, bias: false }),
  config('1x1 stride 2', { cin: 3, cout: 2, k: [1, 1], hw: [5, 5], stride: [2, 2] }),
  // Padding wider than the dilated kernel reaches: a tap's first in-image column lies past the
  // last output column (im2col overflowed its row here; found by the native fuzzer).
  config('padding 5 dilation 10 on a 1-wide image', { cin: 1, cout: 2, k: [2, 2], hw: [1, 1], padding: [5, 5], dilation: [10, 10] }),
  config('padding 4 dilation 3 stride 2', { cin: 2, cout: 2, k: [3, 2], hw: [2, 3], padding: [4, 4], dilation: [3, 3], stride: [2, 2] }),
  config('non-square 3x2, stride [2,1], padding [1,0]', { cin: 2, cout: 3, k: [3, 2], hw: [7, 5], stride: [2, 1], padding: [1, 0] }),
  config('non-square 1x3 dilation [1,2], padding [0,2]', { cin: 2, cout: 2, k: [1, 3], hw: [4, 6], dilation: [1, 2], padding: [0, 2] }),
  config('kernel as large as the padded input', { cin: 1, cout: 2, k: [4, 4], hw: [2, 2], padding: [1, 1] }),
  config('batch of one, no bias', { cin: 2, cout: 2, k: [2, 2], hw: [4, 4], n: 1, bias: false }),
  config('wide batch (whole-run copies), stride 2', { cin: 1, cout: 2, k: [3, 3], hw: [5, 5], stride: [2, 2], padding: [1, 1], n: 64 }),
  config('wide batch (whole-run copies), stride 1', { cin: 1, cout: 2, k: [3, 3], hw: [4, 4], padding: [1, 1], n: 20 }),
];

function build(c: Config, seed: number, mask?: number) {
  const x = randomTensor([c.cin, c.hw[0], c.hw[1], c.n], seed);
  const w = randomParameter([c.cout, c.cin / c.groups, c.k[0], c.k[1]], seed + 1);
  if (mask !== undefined) w.setMask(randomMask(w.size, mask, seed + 2));
  const b = c.bias ? randomParameter([c.cout], seed + 3) : null;
  return { x, w, b };
}

describe('conv2d', () => {
  describe('matches PyTorch (fixtures)', () => {
    it('has the fixture cases', () => {
      expect(convCases.length).toBeGreaterThanOrEqual(7);
    });
    for (const fc of convCases)
      for (const execution of ['dense', 'sparse'] as const)
        it(`${fc.name} (${execution})`, () => {
          const layer = Conv2d.fromConfig({ ...fc.config, type: 'Conv2d' } as ModuleConfig);
          layer.execution = execution;
          expect(layer.config()).toEqual({ ...fc.config, type: 'Conv2d' });
          layer.weight.data.set(fc.params['weight']!.data);
          if (fc.params['bias']) layer.bias!.data.set(fc.params['bias'].data);
          else expect(layer.bias).toBeNull();
          const x = Tensor.from(fc.inputs[0]!.data, fc.inputs[0]!.shape, true);
          const y = layer.forward(x);
          expect(y.shape).toEqual(fc.output.shape);
          expectNear(y.data, fc.output.data, 'output');
          y.backward(Float32Array.from(fc.upstream.data));
          expectNear(x.grad!, fc.grads['input0']!.data, 'input grad');
          expectNear(layer.weight.grad!, fc.grads['weight']!.data, 'weight grad');
          if (fc.grads['bias']) expectNear(layer.bias!.grad!, fc.grads['bias'].data, 'bias grad');
        });
  });

  describe('matches a float64 direct convolution', () => {
    for (const [i, c] of CONFIGS.entries())
      it(c.name, () => {
        const { x, w, b } = build(c, 100 + i);
        const y = noGrad(() => conv2d(x, w, b, c));
        const ref = referenceConv(x, w, b, c);
        expect(y.shape).toEqual([c.cout, convOutputSize(c.hw[0], c.k[0], c.stride[0], c.padding[0], c.dilation[0]), convOutputSize(c.hw[1], c.k[1], c.stride[1], c.padding[1], c.dilation[1]), c.n]);
        expectNear(y.data, ref, 'output');
        expect(y.node).toBeNull();
      });
  });

  describe('gradients match finite differences', () => {
    for (const [i, c] of CONFIGS.entries())
      it(c.name, () => {
        const { x, w, b } = build(c, 200 + i);
        const tensors = b ? [x, w, b] : [x, w];
        gradCheck(() => conv2d(x, w, b, c), tensors, { maxPerInput: 60 });
      });
  });

  describe('masked weights', () => {
    const masked = CONFIGS.filter((c) => ['3x3 stride 2 padding 1', 'groups 2', 'depthwise multiplier 2, stride 2', '1x1 (no im2col)', 'non-square 3x2, stride [2,1], padding [1,0]'].includes(c.name));
    for (const [i, c] of masked.entries())
      for (const execution of ['dense', 'sparse'] as const)
        it(`${c.name} (${execution}): finite differences, pruned gradients exactly 0`, () => {
          const { x, w, b } = build(c, 300 + i, 0.5);
          const tensors = b ? [x, w, b] : [x, w];
          gradCheck(() => conv2d(x, w, b, { ...c, execution }), tensors, { maxPerInput: 60 });
          const mask = w.mask!;
          for (let j = 0; j < mask.length; j++) if (mask[j] === 0) expect(w.grad![j]).toBe(0);
        });

    it('sparse and dense execution give the same output and gradients', () => {
      const layers = (['dense', 'sparse'] as const).map((execution) => new Conv2d(6, 8, 3, { padding: 1, stride: 1, execution }));
      const mask = randomMask(layers[0]!.weight.size, 0.25, 7);
      const src = randomParameter([...layers[0]!.weight.shape], 8);
      for (const l of layers) {
        l.weight.data.set(src.data);
        l.bias!.data.set(layers[0]!.bias!.data);
        l.weight.setMask(mask);
      }
      const upstream = randomTensor([8, 7, 6, 5], 9, false).data;
      const results = layers.map((l) => {
        const x = randomTensor([6, 7, 6, 5], 10);
        const y = l.forward(x);
        y.backward(upstream);
        return { y: y.data, dx: x.grad!, dw: l.weight.grad!, db: l.bias!.grad! };
      });
      const [dense, sparse] = results as [(typeof results)[0], (typeof results)[0]];
      expectNear(sparse.y, dense.y, 'output', 1e-4, 1e-4);
      expectNear(sparse.dx, dense.dx, 'input grad', 1e-4, 1e-4);
      expectNear(sparse.dw, dense.dw, 'weight grad', 1e-4, 1e-4);
      expectNear(sparse.db, dense.db, 'bias grad', 1e-4, 1e-4);
      for (let j = 0; j < mask.length; j++)
        if (mask[j] === 0) {
          expect(dense.dw[j]).toBe(0);
          expect(sparse.dw[j]).toBe(0);
        }
    });

    it("'auto' runs a sparse mask on the sparse kernels and a dense weight on GEMM", () => {
      const layer = new Conv2d(4, 4, 3, { padding: 'same' });
      const x = randomTensor([4, 5, 5, 2], 11);
      const productOp = (y: Tensor) => y.node!.inputs[0]!.node!.op;
      expect(productOp(layer.forward(x))).toBe('linear');
      layer.weight.setMask(randomMask(layer.weight.size, 0.1, 12));
      expect(productOp(layer.forward(x))).toBe('linear(sparse)');
    });
  });

  describe('im2col', () => {
    it('lays out rows (c, ki, kj) and columns (oh, ow, b), zero in the padding', () => {
      // x[c, h, w, b] = 1000c + 100h + 10w + b + 1 (so that padding zeros stand out).
      const [C, H, W, N] = [2, 3, 4, 2];
      const x = Tensor.zeros([C, H, W, N]);
      for (let c = 0; c < C; c++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) for (let b = 0; b < N; b++) x.data[((c * H + h) * W + w) * N + b] = 1000 * c + 100 * h + 10 * w + b + 1;
      const [kh, kw, sh, sw, ph, pw, dh, dw] = [2, 3, 1, 2, 1, 1, 2, 1];
      const col = im2col(x, { kernelSize: [kh, kw], stride: [sh, sw], padding: [ph, pw], dilation: [dh, dw] });
      const OH = convOutputSize(H, kh, sh, ph, dh);
      const OW = convOutputSize(W, kw, sw, pw, dw);
      expect(col.shape).toEqual([C * kh * kw, OH * OW * N]);
      for (let c = 0; c < C; c++)
        for (let i = 0; i < kh; i++)
          for (let j = 0; j < kw; j++)
            for (let p = 0; p < OH; p++)
              for (let q = 0; q < OW; q++)
                for (let b = 0; b < N; b++) {
                  const ih = p * sh - ph + i * dh;
                  const iw = q * sw - pw + j * dw;
                  const inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
                  const expected = inside ? 1000 * c + 100 * ih + 10 * iw + b + 1 : 0;
                  expect(col.data[((c * kh + i) * kw + j) * OH * OW * N + (p * OW + q) * N + b]).toBe(expected);
                }
    });

    it('backward (col2im) matches finite differences', () => {
      const x = randomTensor([2, 5, 4, 3], 13);
      gradCheck(() => im2col(x, { kernelSize: [3, 2], stride: [2, 1], padding: [1, 1], dilation: [1, 2] }), [x]);
    });
  });

  describe('Conv2d layer', () => {
    it('initialises like PyTorch: weight and bias in ±1/sqrt(fan_in)', () => {
      const layer = new Conv2d(4, 6, [3, 2], { groups: 2 });
      expect(layer.weight.shape).toEqual([6, 2, 3, 2]);
      expect(layer.bias!.shape).toEqual([6]);
      const bound = 1 / Math.sqrt(2 * 3 * 2);
      for (const v of layer.weight.data) expect(Math.abs(v)).toBeLessThanOrEqual(bound);
      for (const v of layer.bias!.data) expect(Math.abs(v)).toBeLessThanOrEqual(bound);
      // Not degenerate: spread across the range.
      expect(Math.max(...layer.weight.data.map(Math.abs))).toBeGreaterThan(bound / 2);
      expect(layer.parameters()).toEqual([layer.weight, layer.bias]);
      expect(layer.namedParameters().map(([n]) => n)).toEqual(['weight', 'bias']);
    });

    it('config() round-trips through fromConfig()', () => {
      const layer = new Conv2d(4, 8, [3, 5], { stride: [2, 1], padding: [1, 2], dilation: 1, groups: 4, bias: false });
      const c = layer.config();
      expect(c).toEqual({ type: 'Conv2d', inChannels: 4, outChannels: 8, kernelSize: [3, 5], stride: [2, 1], padding: [1, 2], dilation: [1, 1], groups: 4, bias: false });
      const copy = Conv2d.fromConfig(JSON.parse(JSON.stringify(c)) as ModuleConfig);
      expect(copy.config()).toEqual(c);
      expect(copy.weight.shape).toEqual(layer.weight.shape);
      expect(copy.bias).toBeNull();
    });

    it("padding 'same' keeps the spatial size (stride 1), 'valid' is 0", () => {
      const same = new Conv2d(2, 3, [3, 5], { padding: 'same', dilation: [2, 1] });
      expect(same.padding).toEqual([2, 2]);
      expect(same.forward(randomTensor([2, 6, 7, 2], 14)).shape).toEqual([3, 6, 7, 2]);
      expect(new Conv2d(2, 3, 3, { padding: 'valid' }).padding).toEqual([0, 0]);
    });

    it('forward with grads disabled records nothing', () => {
      const layer = new Conv2d(2, 2, 3);
      const y = noGrad(() => layer.forward(randomTensor([2, 4, 4, 1], 15)));
      expect(y.node).toBeNull();
      expect(y.requiresGrad).toBe(false);
    });

    it('handles an empty batch', () => {
      for (const groups of [1, 2]) {
        const layer = new Conv2d(2, 4, 3, { padding: 1, groups });
        const x = Tensor.zeros([2, 4, 4, 0], true);
        const y = layer.forward(x);
        expect(y.shape).toEqual([4, 4, 4, 0]);
        y.backward(new Float32Array(0));
        expect(Array.from(layer.weight.grad!).every((v) => v === 0)).toBe(true);
      }
    });

    it('accumulates gradients over two uses of the same input', () => {
      const layer = new Conv2d(2, 2, 3, { padding: 1 });
      const x = randomTensor([2, 4, 4, 2], 16);
      const g = randomTensor([2, 4, 4, 2], 17, false).data;
      layer.forward(x).backward(g);
      const once = x.grad!.slice();
      layer.forward(x).backward(g);
      expectNear(x.grad!, once.map((v) => 2 * v), 'accumulated grad');
    });
  });

  describe('errors are typed', () => {
    const w = randomParameter([4, 2, 3, 3], 20);

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

    it('input rank and channels', () => {
      expect(() => conv2d(randomTensor([2, 5, 5], 1), w, null)).toThrow(ShapeError);
      expectError(() => conv2d(randomTensor([2, 5, 5], 1), w, null), ShapeError, 'ERR_SHAPE', /rank 4.*got shape \[2, 5, 5\]/);
      expectError(() => conv2d(randomTensor([3, 5, 5, 2], 1), w, null), ShapeError, 'ERR_SHAPE', /expected an input \[2, H, W, batch\].*got shape \[3, 5, 5, 2\]/);
      expectError(() => new Conv2d(3, 4, 3).forward(randomTensor([2, 5, 5, 1], 1)), ShapeError, 'ERR_SHAPE');
      expectError(() => conv2d(new Float32Array(4) as unknown as Tensor, w, null), SparsennTypeError, 'ERR_TYPE');
    });

    it('kernel larger than the (padded) input', () => {
      expectError(() => conv2d(randomTensor([2, 2, 5, 1], 1), w, null), ShapeError, 'ERR_SHAPE', /at least 3x3, got 2x5/);
      expectError(() => conv2d(randomTensor([2, 4, 4, 1], 1), w, null, { dilation: 2 }), ShapeError, 'ERR_SHAPE', /at least 5x5, got 4x4/);
      // Padding makes it fit.
      expect(conv2d(randomTensor([2, 2, 5, 1], 1), w, null, { padding: [1, 0] }).shape).toEqual([4, 2, 3, 1]);
    });

    it('weight, bias and groups', () => {
      expectError(() => conv2d(randomTensor([2, 5, 5, 1], 1), randomParameter([4, 2, 3], 2), null), ShapeError, 'ERR_SHAPE', /rank 4/);
      expectError(() => conv2d(randomTensor([2, 5, 5, 1], 1), w, randomParameter([3], 2)), ShapeError, 'ERR_SHAPE', /bias of shape \[4\], got \[3\]/);
      expectError(() => conv2d(randomTensor([6, 5, 5, 1], 1), w, null, { groups: 3 }), ShapeError, 'ERR_SHAPE', /must divide the output channels/);
      expectError(() => new Conv2d(4, 6, 3, { groups: 4 }), ShapeError, 'ERR_SHAPE', /must divide/);
      expectError(() => new Conv2d(3, 6, 3, { groups: 2 }), ShapeError, 'ERR_SHAPE');
    });

    it('bad options', () => {
      const x = randomTensor([2, 5, 5, 1], 1);
      expectError(() => conv2d(x, w, null, { stride: 0 }), IndexRangeError, 'ERR_RANGE');
      expectError(() => conv2d(x, w, null, { padding: [-1, 0] }), IndexRangeError, 'ERR_RANGE');
      expectError(() => conv2d(x, w, null, { dilation: 1.5 }), IndexRangeError, 'ERR_RANGE');
      expectError(() => conv2d(x, w, null, { groups: 0 }), IndexRangeError, 'ERR_RANGE');
      expectError(() => conv2d(x, w, null, { stride: [1, 1, 1] as unknown as [number, number] }), SparsennTypeError, 'ERR_TYPE');
      expectError(() => conv2d(x, w, null, { execution: 'fast' as WeightExecution }), SparsennTypeError, 'ERR_TYPE');
      expectError(() => new Conv2d(2, 2, 0), IndexRangeError, 'ERR_RANGE');
      expectError(() => new Conv2d(2, 2, 3, { padding: 'same', stride: 2 }), IndexRangeError, 'ERR_RANGE', /stride 1/);
      expectError(() => new Conv2d(2, 2, [3, 2], { padding: 'same' }), IndexRangeError, 'ERR_RANGE', /even/);
      expectError(() => new Conv2d(2, 2, 3, { padding: 'full' as 'same' }), SparsennTypeError, 'ERR_TYPE');
    });
  });
});
