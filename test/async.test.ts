/**
 * The async products: many in flight at once give the same bits as the sync calls, the event
 * loop keeps running while a large product computes (real off-thread work, not a deferred sync
 * call), the matrix stays alive until the promise settles even when the caller drops it (inputs are copied at the call).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BsrMatrix,
  CsrMatrix,
  getThreads,
  Matrix,
  matmul,
  matmulAsync,
  matmulTransposed,
  matmulTransposedAsync,
  NmMatrix,
  referenceAbsMatmul,
  referenceMatmul,
  sddmm,
  sddmmAsync,
  setThreads,
} from '../lib/index.js';
import { native } from '../lib/native.js';
import { kNative } from '../lib/tensor/base.js';
import { expectClose, expectSameBits } from './helpers/expect.js';
import { mulberry32, randomDense, randomVector, randomX } from './helpers/random.js';

/** A callable gc: --expose-gc if the process has it, otherwise enabled at run time. */
function getGc(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

let savedThreads = 1;
beforeAll(() => {
  savedThreads = getThreads();
});
afterAll(() => {
  setThreads(savedThreads);
});

describe('many concurrent async products', () => {
  it('200 concurrent matmulAsync / matmulTransposedAsync / sddmmAsync calls on shared matrices match the sync calls bit for bit', async () => {
    setThreads(2);
    const rng = mulberry32(200);
    const csr = CsrMatrix.fromDense(randomDense(rng, 150, 130, { sparsity: 0.8, emptyRows: true }), 150, 130);
    const dense = new Matrix(randomDense(rng, 90, 70), 90, 70);
    const nm = NmMatrix.fromDense(randomDense(rng, 100, 128), 100, 128, { n: 2, m: 4 });
    const bsr = BsrMatrix.fromDense(randomDense(rng, 99, 101, { sparsity: 0.5 }), 99, 101, { blockRows: 4, blockCols: 4, sparsity: 0.6 });
    const bias = randomVector(rng, 150);

    type Call = { sync: () => Float32Array; async: () => Promise<Float32Array>; label: string };
    const calls: Call[] = [];
    for (let i = 0; i < 200; i++) {
      const n = [1, 3, 16, 33, 64][i % 5];
      switch (i % 7) {
        case 0: {
          const x = randomX(rng, 130, n);
          const opts = { bias, activation: 'relu' as const };
          calls.push({ label: `csr matmul n=${n}`, sync: () => matmul(csr, x, n, opts), async: () => matmulAsync(csr, x, n, opts) });
          break;
        }
        case 1: {
          const x = randomX(rng, 70, n);
          calls.push({ label: `dense matmul n=${n}`, sync: () => matmul(dense, x, n), async: () => matmulAsync(dense, x, n) });
          break;
        }
        case 2: {
          const x = randomX(rng, 128, n);
          calls.push({ label: `nm matmul n=${n}`, sync: () => matmul(nm, x, n), async: () => matmulAsync(nm, x, n) });
          break;
        }
        case 3: {
          const x = randomX(rng, 101, n);
          calls.push({ label: `bsr matmul n=${n}`, sync: () => matmul(bsr, x, n), async: () => matmulAsync(bsr, x, n) });
          break;
        }
        case 4: {
          const x = randomX(rng, 150, n);
          calls.push({ label: `csr matmulTransposed n=${n}`, sync: () => matmulTransposed(csr, x, n), async: () => matmulTransposedAsync(csr, x, n) });
          break;
        }
        case 5: {
          const x = randomX(rng, 100, n);
          calls.push({ label: `nm matmulTransposed n=${n}`, sync: () => matmulTransposed(nm, x, n), async: () => matmulTransposedAsync(nm, x, n) });
          break;
        }
        default: {
          const a = randomX(rng, 150, n);
          const b = randomX(rng, 130, n);
          calls.push({ label: `csr sddmm n=${n}`, sync: () => sddmm(csr, a, b, n).values, async: async () => (await sddmmAsync(csr, a, b, n)).values });
        }
      }
    }
    // Async first, on matrices that have never been multiplied: lazily built native state
    // (the column counts of matmulTransposed) is then first built by concurrent workers.
    const got = await Promise.all(calls.map((c) => c.async()));
    const expected = calls.map((c) => c.sync());
    got.forEach((g, i) => expectSameBits(g, expected[i], `call ${i} (${calls[i].label})`));
  });

  it('sync products on the event loop stay correct while large async products hold the thread pool', async () => {
    setThreads(2);
    const rng = mulberry32(31337);
    const big = new Matrix(randomDense(rng, 1024, 1024), 1024, 1024).prepare();
    const bx = randomX(rng, 1024, 512);
    const pending = [matmulAsync(big, bx, 512), matmulAsync(big, bx, 512)];
    const small = CsrMatrix.fromDense(randomDense(rng, 300, 200, { sparsity: 0.5 }), 300, 200);
    const x = randomX(rng, 200, 40);
    const ref = referenceMatmul(small.toDense(), 300, 200, x, 40);
    const bound = referenceAbsMatmul(small.toDense(), 300, 200, x, 40);
    for (let i = 0; i < 20; i++) expectClose(matmul(small, x, 40), ref, bound, `sync product ${i} during async work`, 40);
    const [y1, y2] = await Promise.all(pending);
    expectSameBits(y1, y2, 'the two async products');
    expectSameBits(y1, matmul(big, bx, 512), 'async vs sync');
  });

  it('setThreads while an async product runs neither crashes nor changes its result', async () => {
    setThreads(2);
    const rng = mulberry32(99);
    const a = CsrMatrix.fromDense(randomDense(rng, 800, 800, { sparsity: 0.7 }), 800, 800);
    const x = randomX(rng, 800, 256);
    const expected = matmul(a, x, 256);
    const p = matmulAsync(a, x, 256);
    setThreads(1);
    setThreads(2);
    expect(getThreads()).toBe(2);
    expectSameBits(await p, expected, 'async result across setThreads');
  });

  it('disposing a matrix while its async product runs does not affect the product', async () => {
    const rng = mulberry32(5);
    const a = CsrMatrix.fromDense(randomDense(rng, 400, 300, { sparsity: 0.5 }), 400, 300);
    const x = randomX(rng, 300, 64);
    const expected = matmul(a, x, 64);
    const p = matmulAsync(a, x, 64);
    a.dispose();
    expectSameBits(await p, expected, 'after dispose');
    expectSameBits(matmul(a, x, 64), expected, 'prepared again');
  });
});

describe('the event loop keeps running during an async product', () => {
  it('ticks continue, with gaps far shorter than the product', async () => {
    setThreads(1); // leave a core for the event loop on small machines
    const rng = mulberry32(2048);
    const size = 2048;
    const n = 2048;
    const a = new Matrix(randomDense(rng, size, size), size, size).prepare();
    const x = randomX(rng, size, n);

    let ticks = 0;
    let maxGap = 0;
    let done = false;
    const t0 = performance.now();
    const p = matmulAsync(a, x, n).then((y) => {
      done = true;
      return y;
    });
    let last = performance.now();
    while (!done) {
      await tick();
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      ticks++;
    }
    const duration = performance.now() - t0;
    const y = await p;
    expect(y.length).toBe(size * n);
    // A product faked with setImmediate(() => syncProduct()) would show one gap as long as
    // the product itself and a handful of ticks.
    expect(ticks, `only ${ticks} ticks in ${duration.toFixed(1)} ms`).toBeGreaterThanOrEqual(10);
    expect(maxGap, `max gap ${maxGap.toFixed(1)} ms during a ${duration.toFixed(1)} ms product`).toBeLessThan(duration / 4);
    // Spot-check a few outputs against the reference.
    for (const [r, j] of [[0, 0], [size - 1, n - 1], [1000, 77]]) {
      let s = 0;
      let b = 0;
      for (let k = 0; k < size; k++) {
        s += a.data[r * size + k] * x[k * n + j];
        b += Math.abs(a.data[r * size + k] * x[k * n + j]);
      }
      expect(Math.abs(y[r * n + j] - s)).toBeLessThanOrEqual(1e-5 * b + 1e-6);
    }
  });

  // The thread pool serialises jobs; setThreads waits for the pool, and so, called on the
  // event loop, it must not wait for a whole background product (the same promise the pool
  // makes for sync products: they never queue behind an async one).
  it('setThreads returns promptly while an async product runs', async () => {
    setThreads(2);
    const rng = mulberry32(4096);
    const a = new Matrix(randomDense(rng, 2048, 2048), 2048, 2048).prepare();
    const x = randomX(rng, 2048, 2048);
    const t0 = performance.now();
    const p = matmulAsync(a, x, 2048);
    await new Promise((r) => setTimeout(r, 10));
    const s0 = performance.now();
    setThreads(1);
    const blocked = performance.now() - s0;
    await p;
    const duration = performance.now() - t0;
    expect(getThreads()).toBe(1);
    expect(blocked, `setThreads blocked the event loop ${blocked.toFixed(1)} ms of a ${duration.toFixed(1)} ms product`).toBeLessThan(duration / 4);
  });

  it('timers fire on time while an async product runs', async () => {
    setThreads(1);
    const rng = mulberry32(77);
    const a = new Matrix(randomDense(rng, 2048, 2048), 2048, 2048).prepare();
    const x = randomX(rng, 2048, 1024);
    let done = false;
    const t0 = performance.now();
    const p = matmulAsync(a, x, 1024).then(() => {
      done = true;
    });
    let fired = 0;
    let maxGap = 0;
    let last = performance.now();
    await new Promise<void>((resolve) => {
      const step = () => {
        const now = performance.now();
        maxGap = Math.max(maxGap, now - last);
        last = now;
        fired++;
        if (done) resolve();
        else setTimeout(step, 0);
      };
      setTimeout(step, 0);
    });
    await p;
    const duration = performance.now() - t0;
    expect(fired).toBeGreaterThanOrEqual(10);
    expect(maxGap, `max gap ${maxGap.toFixed(1)} ms during a ${duration.toFixed(1)} ms product`).toBeLessThan(duration / 4);
  });
});

describe('the element-wise steps of inference plans also run off the event loop', () => {
  /** Ticks of the event loop while `p` runs, and its result. */
  async function ticksDuring<T>(p: Promise<T>): Promise<{ ticks: number; result: T }> {
    let done = false;
    const q = p.then((r) => ((done = true), r));
    let ticks = 0;
    while (!done) {
      await tick();
      ticks++;
    }
    return { ticks, result: await q };
  }

  it('geluForwardAsync, reluForwardAsync, maxPoolForwardAsync and im2colRowsAsync: same bits as the sync calls, loop keeps ticking', async () => {
    setThreads(1);
    const rng = mulberry32(77);
    const x = randomVector(rng, 1 << 23);
    const cases: Array<{ name: string; sync: () => Float32Array; async: () => Promise<Float32Array> }> = [
      { name: 'gelu', sync: () => native.geluForward(x, new Float32Array(x.length)), async: () => native.geluForwardAsync(x, new Float32Array(x.length)) },
      { name: 'relu', sync: () => native.reluForward(x, new Float32Array(x.length)), async: () => native.reluForwardAsync(x, new Float32Array(x.length)) },
    ];
    // [c, h, w, n] = [32, 64, 64, 128] = 2^24 floats: 2x2 max pooling and a 3x3 im2col of rows 0..8.
    const img = randomVector(rng, 32 * 64 * 64 * 128);
    const pool = Int32Array.from([32, 64, 64, 128, 2, 2, 2, 2, 0, 0, 32, 32]);
    const poolOut = () => new Float32Array(32 * 32 * 32 * 128);
    cases.push({
      name: 'max pool',
      sync: () => native.maxPoolForward(img, pool, poolOut(), new Int32Array(32 * 32 * 32 * 128)),
      async: () => native.maxPoolForwardAsync(img, pool, poolOut(), new Int32Array(32 * 32 * 32 * 128)),
    });
    const conv = Int32Array.from([32, 64, 64, 128, 3, 3, 1, 1, 1, 1, 1, 1, 64, 64]);
    const colLen = 32 * 9 * 8 * 64 * 128;
    cases.push({
      name: 'im2col rows',
      sync: () => native.im2colRows(img, conv, 0, 8, new Float32Array(colLen)),
      async: () => native.im2colRowsAsync(img, conv, 0, 8, new Float32Array(colLen)),
    });
    for (const c of cases) {
      const want = c.sync();
      const { ticks, result } = await ticksDuring(c.async());
      expectSameBits(result, want, c.name);
      // Run inline (or faked with setImmediate) the loop would tick once or twice.
      expect(ticks, `${c.name}: only ${ticks} ticks`).toBeGreaterThanOrEqual(3);
    }
  });
});

describe('what an async product uses stays alive until the promise settles', () => {
  it('dropping every reference to the matrix and inputs and forcing GC does not disturb the product', async () => {
    const gc = getGc();
    setThreads(1);
    const collected = new Set<string>();
    const registry = new FinalizationRegistry<string>((what) => collected.add(what));

    // Builds everything inside, keeps only plain float64 copies for the reference, and
    // returns the promise: the matrix, x, bias and dense data are unreachable from here on.
    function start(kind: 'matmul' | 'transposed' | 'sddmm', seed: number) {
      const rng = mulberry32(seed);
      const rows = 1500;
      const cols = 1200;
      const n = 256;
      const d = randomDense(rng, rows, cols, { sparsity: 0.8 });
      const a = CsrMatrix.fromDense(d, rows, cols);
      const x = randomX(rng, kind === 'matmul' ? cols : rows, n);
      const b = randomX(rng, cols, n);
      const bias = randomVector(rng, rows);
      // The JS wrapper may go (the native copy does not depend on it); its native handle may not.
      // The caller's x, bias and b may go too: an async product works on copies made at the call.
      const handle = a.prepare()[kNative]();
      registry.register(handle, `${kind} matrix`);
      const check = { d: Float64Array.from(d), x: Float64Array.from(x), b: Float64Array.from(b), bias: Float64Array.from(bias), rows, cols, n };
      let promise: Promise<Float32Array>;
      if (kind === 'matmul') promise = matmulAsync(a, x, n, { bias, activation: 'relu' });
      else if (kind === 'transposed') promise = matmulTransposedAsync(a, x, n);
      else promise = sddmmAsync(a, x, b, n).then((m) => m.values);
      return { promise, check };
    }

    for (const [i, kind] of (['matmul', 'transposed', 'sddmm'] as const).entries()) {
      const { promise, check } = start(kind, 1000 + i);
      let settled = false;
      promise.then(
        () => (settled = true),
        () => (settled = true),
      );
      gc();
      let gcsWhilePending = 1;
      for (let k = 0; k < 5 && !settled; k++) {
        // Churn the heap so freed memory is reused.
        for (let j = 0; j < 20; j++) new Float32Array(1 << 16).fill(j);
        await tick();
        if (!settled) {
          gc();
          gcsWhilePending++;
        }
      }
      expect(gcsWhilePending).toBeGreaterThanOrEqual(1);
      for (const what of collected) expect(what.startsWith(kind), `${what} was collected while its product ran`).toBe(false);
      const y = await promise;
      // Spot-check against float64 from the copies.
      const { d, x, b, bias, rows, cols, n } = check;
      const at = (r: number, c: number) => d[r * cols + c];
      for (const [o, j] of [[0, 0], [7, 100], [rows - 1 < cols - 1 ? rows - 1 : cols - 1, n - 1]]) {
        let s = 0;
        let bound = 0;
        if (kind === 'matmul') {
          s = bias[o];
          bound = Math.abs(bias[o]);
          for (let k = 0; k < cols; k++) {
            s += at(o, k) * x[k * n + j];
            bound += Math.abs(at(o, k) * x[k * n + j]);
          }
          s = Math.max(s, 0);
          expect(Math.abs(y[o * n + j] - s), `${kind} (${o}, ${j})`).toBeLessThanOrEqual(1e-5 * bound + 1e-6);
        } else if (kind === 'transposed') {
          for (let k = 0; k < rows; k++) {
            s += at(k, o) * x[k * n + j];
            bound += Math.abs(at(k, o) * x[k * n + j]);
          }
          expect(Math.abs(y[o * n + j] - s), `${kind} (${o}, ${j})`).toBeLessThanOrEqual(1e-5 * bound + 1e-6);
        }
      }
      if (kind === 'sddmm') {
        // The p-th stored entry of row 0.
        let p = 0;
        for (let c = 0; c < cols && p < 3; c++) {
          if (at(0, c) === 0) continue;
          let s = 0;
          let bound = 0;
          for (let j = 0; j < n; j++) {
            s += x[j] * b[c * n + j];
            bound += Math.abs(x[j] * b[c * n + j]);
          }
          expect(Math.abs(y[p] - s), `sddmm entry ${p}`).toBeLessThanOrEqual(1e-5 * bound + 1e-6);
          p++;
        }
      }
    }

    // The test only means something if the matrices really were unreachable: after the
    // products settle they get collected.
    const all = ['matmul matrix', 'transposed matrix', 'sddmm matrix'];
    for (let k = 0; k < 50 && collected.size < all.length; k++) {
      gc();
      await new Promise((r) => setTimeout(r, 1));
    }
    expect([...collected].sort()).toEqual(all.sort());
  });
});
