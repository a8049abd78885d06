/**
 * Concurrency and memory safety of the async paths: many overlapping runAsync() calls on one
 * shared session, disposing a session with calls in flight, and callers that transfer
 * (detach) their arrays while an async call runs.
 */
import { describe, expect, it } from 'vitest';
import {
  Conv2d,
  CsrMatrix,
  Flatten,
  Linear,
  MaxPool2d,
  NativeError,
  ReLU,
  Sequential,
  Tensor,
  compile,
  manualSeed,
  matmul,
  matmulAsync,
  matmulTransposed,
  matmulTransposedAsync,
  prune,
  sddmm,
  sddmmAsync,
} from '../../lib/index.js';
import { expectRejects } from '../helpers/errors.js';
import { mulberry32 } from '../helpers/random.js';

function sharedSession() {
  manualSeed(4);
  const model = new Sequential(new Conv2d(1, 8, 3, { padding: 1 }), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(8 * 7 * 7, 32), new ReLU(), new Linear(32, 10));
  prune(model, { sparsity: 0.8, onWarning: () => {} });
  return compile(model, { sampleShape: [1, 14, 14], batchSizes: [1, 4], timingCache: false });
}

function input(seed: number, n: number): Tensor {
  const rng = mulberry32(seed);
  return new Tensor(Float32Array.from({ length: 196 * n }, () => rng() * 2 - 1), [1, 14, 14, n]);
}

/** Detaches `a`'s buffer (as postMessage/structuredClone with a transfer list do) and drops the new owner. */
function detach(a: Float32Array): void {
  structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
  expect(a.length).toBe(0);
}

/** Allocates and drops memory so a garbage collection is likely while native work runs. */
function churn(): void {
  let keep = 0;
  for (let i = 0; i < 200; i++) keep += new Float32Array(1 << 14).length;
  expect(keep).toBe(200 << 14);
}

describe('InferenceSession.runAsync under concurrency', () => {
  it('2,000 overlapping calls on one session give the results of sequential run() calls, bit for bit', async () => {
    const session = sharedSession();
    const calls = Array.from({ length: 2000 }, (_, i) => input(i, 1 + (i % 4)));
    const sequential = calls.map((x) => session.run(x).output!.data);
    const concurrent = await Promise.all(calls.map((x) => session.runAsync(x)));
    concurrent.forEach((r, i) => expect(r.output!.data).toEqual(sequential[i]));
    session.dispose();
  });

  it('dispose() with calls in flight: each call resolves correctly or rejects with ERR_DISPOSED; later calls reject', async () => {
    const session = sharedSession();
    const xs = Array.from({ length: 200 }, (_, i) => input(1000 + i, 4));
    const want = xs.map((x) => session.run(x).output!.data);
    const inFlight = xs.map((x) => session.runAsync(x));
    await new Promise((r) => setImmediate(r));
    session.dispose();
    const settled = await Promise.allSettled(inFlight);
    let rejected = 0;
    settled.forEach((s, i) => {
      if (s.status === 'fulfilled') expect(s.value.output!.data).toEqual(want[i]);
      else {
        rejected++;
        expect(s.reason).toBeInstanceOf(NativeError);
        expect((s.reason as NativeError).code).toBe('ERR_DISPOSED');
      }
    });
    expect(rejected).toBeGreaterThan(0);
    await expectRejects(session.runAsync(xs[0]!), NativeError, 'ERR_DISPOSED');
  });

  it('an input transferred away while runAsync runs does not change the result', async () => {
    const session = sharedSession();
    for (let t = 0; t < 20; t++) {
      const x = input(5000 + t, 4);
      const want = session.run(new Tensor(x.data.slice(), x.shape)).output!.data;
      const running = session.runAsync(x);
      detach(x.data);
      churn();
      expect((await running).output!.data).toEqual(want);
    }
    session.dispose();
  });
});

describe('async products and detached arrays', () => {
  const rows = 300;
  const cols = 400;
  const n = 64;
  const rng = mulberry32(77);
  const dense = Float32Array.from({ length: rows * cols }, () => (rng() < 0.1 ? rng() * 2 - 1 : 0));
  const a = CsrMatrix.fromDense(dense, rows, cols);
  const fresh = (len: number) => Float32Array.from({ length: len }, () => rng() * 2 - 1);

  it('matmulAsync: a transferred x or bias changes nothing', async () => {
    for (let t = 0; t < 10; t++) {
      const x = fresh(cols * n);
      const bias = fresh(rows);
      const want = matmul(a, x.slice(), n, { bias: bias.slice(), activation: 'relu' });
      const running = matmulAsync(a, x, n, { bias, activation: 'relu' });
      detach(x);
      detach(bias);
      churn();
      expect(await running).toEqual(want);
    }
  });

  it('matmulAsync: the result lands in out when it finishes; an out detached meanwhile rejects with ERR_DETACHED', async () => {
    const x = fresh(cols * n);
    const want = matmul(a, x, n);
    const out = new Float32Array(rows * n);
    const y = await matmulAsync(a, x, n, { out });
    expect(y).toBe(out);
    expect(out).toEqual(want);
    const lost = new Float32Array(rows * n);
    const running = matmulAsync(a, x, n, { out: lost });
    detach(lost);
    await expectRejects(running, NativeError, 'ERR_DETACHED');
    await expectRejects(matmulAsync(a, x, n, { out: x.subarray(0, rows * n) }), NativeError, 'ERR_ALIAS');
  });

  it('matmulTransposedAsync and sddmmAsync: transferred inputs change nothing', async () => {
    const dy = fresh(rows * n);
    const xs = fresh(cols * n);
    const wantT = matmulTransposed(a, dy.slice(), n);
    const wantS = sddmm(a, dy.slice(), xs.slice(), n);
    const dyT = dy.slice();
    const t = matmulTransposedAsync(a, dyT, n);
    const s = sddmmAsync(a, dy, xs, n);
    detach(dyT);
    detach(dy);
    detach(xs);
    churn();
    expect(await t).toEqual(wantT);
    expect((await s).values).toEqual(wantS.values);
  });
});
