/**
 * The kernel conformance suite (test/kernels/conformance.test.ts) run against the CUDA backend:
 * the device's CSR SpMM / SpMV and dense GEMM, through a one-layer device plan, against the
 * float64 reference with the same shapes (those with a zero dimension aside: a device plan
 * needs a layer of at least 1 x 1), sparsities, batch widths and bias / ReLU epilogues, plus
 * chains of layers and device memory. Skipped unless capabilities().cuda.available: only a
 * CUDA build on a machine with an NVIDIA GPU runs it (scripts/test-cuda.sh loads the CUDA
 * build of the addon for it).
 */
import { describe, expect, it } from 'vitest';
import { capabilities, CsrMatrix, FormatError, IndexRangeError, NativeError, referenceAbsMatmul, referenceMatmul, ShapeError } from '../../lib/index.js';
import { native, type NativeCudaPlan } from '../../lib/native.js';
import { CONFORMANCE_NS, CONFORMANCE_SHAPES, CONFORMANCE_SPARSITIES } from '../helpers/conformance-cases.js';
import { expectThrows } from '../helpers/errors.js';
import { expectClose } from '../helpers/expect.js';
import { mulberry32, randomDense, randomVector, randomX } from '../helpers/random.js';

const cuda = capabilities().cuda;
// A device plan needs a layer of at least 1 x 1: the suite's shapes with a zero dimension aside.
const SHAPES = CONFORMANCE_SHAPES.filter(([r, c]) => r > 0 && c > 0);
const SPARSITIES = CONFORMANCE_SPARSITIES;
const NS = CONFORMANCE_NS;

/** A one-layer device plan of `dense` as CSR or as a dense matrix. */
function plan(format: 'csr' | 'dense', dense: Float32Array, rows: number, cols: number, bias: Float32Array | null, relu: boolean): NativeCudaPlan {
  const p = new native.CudaPlan!();
  if (format === 'dense') p.addDense(rows, cols, dense, bias, relu);
  else {
    const m = CsrMatrix.fromDense(dense, rows, cols);
    p.addCsr(rows, cols, m.rowPtr, m.colIdx, m.values, bias, relu);
  }
  return p;
}

describe.skipIf(!cuda.available)(`kernel conformance on the CUDA backend (${cuda.device ?? 'no device'})`, () => {
  for (const format of ['csr', 'dense'] as const)
    describe(`${format} products`, () => {
      SHAPES.forEach(([rows, cols], shi) => {
        it(`${rows}x${cols}`, async () => {
          let k = 0;
          for (const [si, s] of SPARSITIES.entries()) {
            const seed = 0xc0da + shi * 1000 + si;
            const rng = mulberry32(seed);
            const d = randomDense(rng, rows, cols, { sparsity: s, emptyRows: si % 2 === 1 });
            for (const n of NS) {
              const bias = k % 4 === 1 || k % 4 === 3 ? randomVector(rng, rows) : null;
              const relu = k % 4 >= 2;
              const x = randomX(rng, cols, n);
              const label = `cuda ${format} ${rows}x${cols} sparsity ${s} n=${n} ${bias ? 'bias' : 'no bias'} ${relu ? 'relu' : 'no relu'} seed ${seed}`;
              const ref = referenceMatmul(d, rows, cols, x, n, bias ?? undefined, relu);
              const bound = referenceAbsMatmul(d, rows, cols, x, n, bias ?? undefined);
              const p = plan(format, d, rows, cols, bias, relu);
              try {
                expectClose(p.run(x, n, new Float32Array(rows * n)), ref, bound, label, n);
                if (k % 5 === 0) expectClose(await p.runAsync(x, n, new Float32Array(rows * n)), ref, bound, `${label} (async)`, n);
              } finally {
                p.dispose();
              }
              k++;
            }
          }
        });
      });
    });

  it('a chain of three layers equals the layers applied one after another on the CPU reference', () => {
    const rng = mulberry32(77);
    const dims = [70, 96, 40, 9];
    const layers = [0, 1, 2].map((i) => ({ w: randomDense(rng, dims[i + 1]!, dims[i]!, { sparsity: [0.9, 0, 0.5][i]! }), b: randomVector(rng, dims[i + 1]!), relu: i < 2 }));
    const p = new native.CudaPlan!();
    try {
      layers.forEach((l, i) => {
        const m = CsrMatrix.fromDense(l.w, dims[i + 1]!, dims[i]!);
        if (i === 1) p.addDense(dims[2]!, dims[1]!, l.w, l.b, l.relu);
        else p.addCsr(dims[i + 1]!, dims[i]!, m.rowPtr, m.colIdx, m.values, l.b, l.relu);
      });
      expect(p.info()).toEqual({ layers: 3, inFeatures: 70, outFeatures: 9 });
      for (const n of [1, 5, 64]) {
        let h = randomX(rng, 70, n);
        const x = h;
        layers.forEach((l, i) => {
          h = Float32Array.from(referenceMatmul(l.w, dims[i + 1]!, dims[i]!, h, n, l.b, l.relu));
        });
        const got = p.run(x, n, new Float32Array(9 * n));
        let worst = 0;
        for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - h[i]!) / (1 + Math.abs(h[i]!)));
        expect(worst, `chain n=${n}`).toBeLessThan(1e-4);
      }
    } finally {
      p.dispose();
    }
  });

  it('refuses bad arguments with typed errors before anything reaches the GPU', () => {
    const p = new native.CudaPlan!();
    try {
      expectThrows(() => p.addCsr(2, 4, Int32Array.of(0, 2, 1), Int32Array.of(0), Float32Array.of(1), null, false), FormatError, 'ERR_FORMAT', 'decreasing rowPtr');
      expectThrows(() => p.addCsr(2, 4, Int32Array.of(0, 1, 2), Int32Array.of(0, 4), Float32Array.of(1, 2), null, false), IndexRangeError, 'ERR_RANGE', 'column 4 of 4');
      p.addDense(3, 4, new Float32Array(12), null, false);
      expectThrows(() => p.addDense(2, 5, new Float32Array(10), null, false), ShapeError, 'ERR_SHAPE', 'a layer that does not take the previous output');
      expectThrows(() => p.run(new Float32Array(7), 2, new Float32Array(6)), ShapeError, 'ERR_SHAPE', 'x of the wrong length');
    } finally {
      p.dispose();
    }
    expectThrows(() => p.info(), NativeError, 'ERR_DISPOSED', 'a disposed plan');
  });

  it('returns every byte of device memory when plans are disposed', () => {
    const before = native.cudaBytesInUse!();
    const p = plan('csr', randomDense(mulberry32(3), 300, 200, { sparsity: 0.9 }), 300, 200, null, false);
    p.run(new Float32Array(200 * 64), 64, new Float32Array(300 * 64));
    expect(native.cudaBytesInUse!()).toBeGreaterThan(before);
    p.dispose();
    expect(native.cudaBytesInUse!()).toBe(before);
  });
});
