/**
 * Losses (lib/nn/ops/loss.ts): crossEntropy (with label smoothing) and mse against the PyTorch
 * fixtures in test/fixtures/nn/layers.json (batch-last: logits [C, N]), finite differences,
 * typed errors, and numerical stability at large logits.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IndexRangeError, ShapeError, SparsennTypeError } from '../../lib/errors.js';
import { crossEntropy, mse } from '../../lib/nn/ops/loss.js';
import { Tensor } from '../../lib/nn/tensor.js';
import { expectThrows } from '../helpers/errors.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { mulberry32, randInt } from '../helpers/random.js';

interface Stored {
  shape: number[];
  data: number[];
}
interface Case {
  name: string;
  config: Record<string, unknown>;
  inputs: Stored[];
  output: Stored;
  upstream: Stored;
  grads: Record<string, Stored>;
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/nn/layers.json', import.meta.url), 'utf8')) as { cases: Case[] };
function fixtureCase(name: string): Case {
  const c = fixture.cases.find((x) => x.name === name);
  if (!c) throw new Error(`fixture case ${name} missing`);
  return c;
}

/** |a - e| <= tol * max(|e|, 1) elementwise (losses and their gradients are O(1)). */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, label: string): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= tol * Math.max(Math.abs(e), 1))) expect.fail(`${label}[${i}] = ${a}, expected ${e}`);
  }
}

function randomTensor(shape: number[], seed: number, scale = 1, requiresGrad = true): Tensor {
  const rng = mulberry32(seed);
  const t = Tensor.zeros(shape, requiresGrad);
  for (let i = 0; i < t.size; i++) t.data[i] = (rng() * 2 - 1) * scale;
  return t;
}

function randomLabels(seed: number, n: number, C: number): Int32Array {
  const rng = mulberry32(seed);
  return Int32Array.from({ length: n }, () => randInt(rng, 0, C - 1));
}

/** Float64 cross-entropy of batch-last logits [C, n] and its gradient (PyTorch's definition). */
function refCrossEntropy(x: ArrayLike<number>, C: number, n: number, labels: ArrayLike<number>, eps: number): { loss: number; grad: Float64Array } {
  const grad = new Float64Array(C * n);
  let total = 0;
  for (let j = 0; j < n; j++) {
    let max = -Infinity;
    for (let c = 0; c < C; c++) max = Math.max(max, x[c * n + j]!);
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(x[c * n + j]! - max);
    const lse = max + Math.log(sum);
    for (let c = 0; c < C; c++) {
      const logp = x[c * n + j]! - lse;
      const target = (c === labels[j] ? 1 - eps : 0) + eps / C;
      total -= target * logp;
      grad[c * n + j] = (Math.exp(logp) - target) / n;
    }
  }
  return { loss: total / n, grad };
}

describe('crossEntropy vs PyTorch fixtures', () => {
  for (const name of ['cross_entropy', 'cross_entropy_label_smoothing'])
    it(`${name}: value and gradient within 1e-5`, () => {
      const c = fixtureCase(name);
      const [xs, ls] = c.inputs as [Stored, Stored];
      const logits = Tensor.from(xs.data, xs.shape, true);
      const labelSmoothing = c.config['labelSmoothing'] as number;
      for (const labels of [Int32Array.from(ls.data), ls.data]) {
        logits.grad = null;
        const loss = crossEntropy(logits, labels, { labelSmoothing });
        expect(loss.shape).toEqual([]);
        expectClose([loss.item()], c.output.data, 1e-5, `${name} loss`);
        loss.backward();
        expectClose(logits.grad!, c.grads['input0']!.data, 1e-5, `${name} dlogits`);
      }
    });

  it('the upstream gradient scales dlogits', () => {
    const c = fixtureCase('cross_entropy');
    const [xs, ls] = c.inputs as [Stored, Stored];
    const logits = Tensor.from(xs.data, xs.shape, true);
    crossEntropy(logits, ls.data).backward(Float32Array.of(-2.5));
    expectClose(
      logits.grad!,
      c.grads['input0']!.data.map((v) => -2.5 * v),
      1e-5,
      'scaled dlogits',
    );
  });

  it('labelSmoothing 0 is the default and equals plain cross-entropy', () => {
    const x = randomTensor([6, 5], 3, 2);
    const labels = randomLabels(4, 5, 6);
    expect(crossEntropy(x, labels).item()).toBe(crossEntropy(x, labels, { labelSmoothing: 0 }).item());
  });

  it('matches the float64 reference on random cases, smoothing 0, 0.1, 1', () => {
    for (const [seed, C, n] of [
      [1, 2, 1],
      [2, 10, 7],
      [3, 37, 64],
      [4, 1, 3],
    ] as const)
      for (const eps of [0, 0.1, 1]) {
        const x = randomTensor([C, n], seed, 4);
        const labels = randomLabels(seed + 100, n, C);
        const loss = crossEntropy(x, labels, { labelSmoothing: eps });
        const ref = refCrossEntropy(x.data, C, n, labels, eps);
        expectClose([loss.item()], [ref.loss], 1e-5, `C=${C} n=${n} eps=${eps} loss`);
        loss.backward();
        expectClose(x.grad!, ref.grad, 1e-5, `C=${C} n=${n} eps=${eps} grad`);
      }
  });
});

describe('mse vs PyTorch fixtures', () => {
  it('value and both gradients within 1e-5', () => {
    const c = fixtureCase('mse');
    const [ps, ts] = c.inputs as [Stored, Stored];
    const pred = Tensor.from(ps.data, ps.shape, true);
    const target = Tensor.from(ts.data, ts.shape, true);
    const loss = mse(pred, target);
    expect(loss.shape).toEqual([]);
    expectClose([loss.item()], c.output.data, 1e-5, 'mse loss');
    loss.backward();
    expectClose(pred.grad!, c.grads['input0']!.data, 1e-5, 'dpred');
    expectClose(target.grad!, c.grads['input1']!.data, 1e-5, 'dtarget');
  });

  it('a Float32Array target or a target without gradients: same value, only dpred', () => {
    const c = fixtureCase('mse');
    const [ps, ts] = c.inputs as [Stored, Stored];
    for (const target of [Float32Array.from(ts.data), Tensor.from(ts.data, ts.shape, false)]) {
      const pred = Tensor.from(ps.data, ps.shape, true);
      const loss = mse(pred, target);
      expectClose([loss.item()], c.output.data, 1e-5, 'mse loss');
      loss.backward();
      expectClose(pred.grad!, c.grads['input0']!.data, 1e-5, 'dpred');
      if (target instanceof Tensor) expect(target.grad).toBeNull();
    }
  });

  it('a target that needs gradients against a prediction that does not: only dtarget', () => {
    const c = fixtureCase('mse');
    const [ps, ts] = c.inputs as [Stored, Stored];
    const pred = Tensor.from(ps.data, ps.shape, false);
    const target = Tensor.from(ts.data, ts.shape, true);
    mse(pred, target).backward();
    expect(pred.grad).toBeNull();
    expectClose(target.grad!, c.grads['input1']!.data, 1e-5, 'dtarget');
  });
});

describe('loss gradients vs finite differences', () => {
  for (const eps of [0, 0.2])
    it(`crossEntropy, labelSmoothing ${eps}`, () => {
      const x = randomTensor([7, 5], 11, 2);
      const labels = randomLabels(12, 5, 7);
      gradCheck(() => crossEntropy(x, labels, { labelSmoothing: eps }), [x]);
    });

  it('mse, prediction and target', () => {
    const pred = randomTensor([4, 6], 21);
    const target = randomTensor([4, 6], 22);
    gradCheck(() => mse(pred, target), [pred, target]);
  });

  it('mse on a rank-3 batch-last tensor', () => {
    const pred = randomTensor([2, 3, 4], 23);
    const target = randomTensor([2, 3, 4], 24, 1, false);
    gradCheck(() => mse(pred, target.data), [pred]);
  });
});

describe('loss errors', () => {
  const logits = () => randomTensor([4, 3], 31);

  it('labels out of range give ERR_RANGE', () => {
    expectThrows(() => crossEntropy(logits(), [0, 4, 1]), IndexRangeError, 'ERR_RANGE', 'label == C');
    expectThrows(() => crossEntropy(logits(), [0, -1, 1]), IndexRangeError, 'ERR_RANGE', 'label -1');
    expectThrows(() => crossEntropy(logits(), Int32Array.of(0, 1, 100)), IndexRangeError, 'ERR_RANGE', 'label 100');
  });

  it('non-integer labels give ERR_RANGE', () => {
    expectThrows(() => crossEntropy(logits(), [0, 1.5, 1]), IndexRangeError, 'ERR_RANGE', '1.5');
    expectThrows(() => crossEntropy(logits(), [0, NaN, 1]), IndexRangeError, 'ERR_RANGE', 'NaN');
    expectThrows(() => crossEntropy(logits(), [0, Infinity, 1]), IndexRangeError, 'ERR_RANGE', 'Infinity');
    expectThrows(() => crossEntropy(logits(), Float32Array.of(0, 0.5, 1)), IndexRangeError, 'ERR_RANGE', 'Float32Array 0.5');
    // integral floats are fine
    expect(() => crossEntropy(logits(), Float32Array.of(0, 2, 3))).not.toThrow();
  });

  it('the wrong number of labels gives ERR_SHAPE', () => {
    expectThrows(() => crossEntropy(logits(), [0, 1]), ShapeError, 'ERR_SHAPE', 'too few');
    expectThrows(() => crossEntropy(logits(), [0, 1, 2, 3]), ShapeError, 'ERR_SHAPE', 'too many');
    expectThrows(() => crossEntropy(logits(), []), ShapeError, 'ERR_SHAPE', 'none');
  });

  it('logits that are not [classes, batch] give ERR_SHAPE', () => {
    expectThrows(() => crossEntropy(randomTensor([4], 1), [0]), ShapeError, 'ERR_SHAPE', 'rank 1');
    expectThrows(() => crossEntropy(randomTensor([2, 2, 3], 1), [0, 1, 0]), ShapeError, 'ERR_SHAPE', 'rank 3');
    expectThrows(() => crossEntropy(Tensor.from([1], [], true), []), ShapeError, 'ERR_SHAPE', 'rank 0');
  });

  it('labelSmoothing outside [0, 1] gives ERR_RANGE', () => {
    for (const e of [-0.1, 1.5, NaN]) expectThrows(() => crossEntropy(logits(), [0, 1, 2], { labelSmoothing: e }), IndexRangeError, 'ERR_RANGE', `eps ${e}`);
  });

  it('mse: mismatched sizes give ERR_SHAPE, a target that is not float32 gives ERR_TYPE', () => {
    const pred = randomTensor([4, 3], 41);
    expectThrows(() => mse(pred, new Float32Array(11)), ShapeError, 'ERR_SHAPE', 'short Float32Array');
    expectThrows(() => mse(pred, randomTensor([3, 3], 42)), ShapeError, 'ERR_SHAPE', 'smaller tensor');
    expectThrows(() => mse(pred, new Float64Array(12) as unknown as Float32Array), SparsennTypeError, 'ERR_TYPE', 'Float64Array');
    expectThrows(() => mse(pred, [1, 2, 3] as unknown as Float32Array), SparsennTypeError, 'ERR_TYPE', 'plain array');
  });

  it('mse: a null or missing target gives ERR_TYPE, not a JS TypeError', () => {
    const pred = randomTensor([4, 3], 43);
    expectThrows(() => mse(pred, null as unknown as Float32Array), SparsennTypeError, 'ERR_TYPE', 'null');
    expectThrows(() => mse(pred, undefined as unknown as Float32Array), SparsennTypeError, 'ERR_TYPE', 'undefined');
  });
});

describe('numerical stability and edge cases', () => {
  it('logits of magnitude 1e4: finite loss, correct value and gradient', () => {
    const C = 4;
    const n = 5;
    // columns (samples): a confident right answer, a confident wrong one, ties at 1e4, all -1e4, mixed
    const cols = [
      [1e4, -1e4, 0, 5e3],
      [1e4, -1e4, 0, 5e3],
      [1e4, 1e4, 1e4, -1e4],
      [-1e4, -1e4, -1e4, -1e4],
      [9999.5, 1e4, -3, 9998],
    ];
    const labels = [0, 1, 2, 3, 3];
    const x = Tensor.zeros([C, n], true);
    for (let j = 0; j < n; j++) for (let c = 0; c < C; c++) x.data[c * n + j] = cols[j]![c]!;
    for (const eps of [0, 0.1]) {
      x.grad = null;
      const loss = crossEntropy(x, labels, { labelSmoothing: eps });
      expect(Number.isFinite(loss.item())).toBe(true);
      const ref = refCrossEntropy(x.data, C, n, labels, eps);
      expect(Math.abs(loss.item() - ref.loss)).toBeLessThanOrEqual(1e-5 * Math.abs(ref.loss));
      loss.backward();
      for (const v of x.grad!) expect(Number.isFinite(v)).toBe(true);
      expectClose(x.grad!, ref.grad, 1e-6, `eps ${eps} grad`);
      // each column of the gradient sums to 0 (softmax minus a distribution)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let c = 0; c < C; c++) s += x.grad![c * n + j]!;
        expect(Math.abs(s)).toBeLessThan(1e-6);
      }
    }
    // the wrong confident answer costs 2e4 (plain cross-entropy): -log softmax = 1e4 - (-1e4)
    const single = Tensor.from([1e4, -1e4], [2, 1], true);
    const l = crossEntropy(single, [1]);
    expect(l.item()).toBe(2e4);
    l.backward();
    expect([...single.grad!]).toEqual([1, -1]);
  });

  it('a batch of zero samples: loss 0, empty gradient, no NaN', () => {
    const x = Tensor.zeros([3, 0], true);
    const loss = crossEntropy(x, []);
    expect(loss.item()).toBe(0);
    loss.backward();
    expect(x.grad!.length).toBe(0);
    const p = Tensor.zeros([3, 0], true);
    const m = mse(p, new Float32Array(0));
    expect(m.item()).toBe(0);
    m.backward();
    expect(p.grad!.length).toBe(0);
  });

  it('batch of one sample and a single class', () => {
    const x = Tensor.from([0.3, -1.2, 2], [3, 1], true);
    const loss = crossEntropy(x, [2]);
    const ref = refCrossEntropy(x.data, 3, 1, [2], 0);
    expectClose([loss.item()], [ref.loss], 1e-6, 'loss');
    loss.backward();
    expectClose(x.grad!, ref.grad, 1e-6, 'grad');
    // one class: probability 1, loss 0, gradient 0
    const one = Tensor.from([5, -7], [1, 2], true);
    const l1 = crossEntropy(one, [0, 0]);
    expect(l1.item()).toBe(0);
    l1.backward();
    expect([...one.grad!]).toEqual([0, 0]);
  });

  it('losses do not record a graph for inputs without gradients', () => {
    const x = randomTensor([3, 2], 51, 1, false);
    const loss = crossEntropy(x, [0, 1]);
    expect(loss.requiresGrad).toBe(false);
    expect(loss.node).toBeNull();
  });
});
