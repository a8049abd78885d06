/**
 * compile({ device: 'cuda' }): the chain analysis (which plans can run as one device plan),
 * the fallback to the CPU with its reason when that cannot be, and — when this build has
 * the CUDA backend and a GPU is present — the device plan against the model's own forward
 * on the CPU, including device memory returned on dispose(). Without a GPU the last part is
 * skipped; scripts/test-cuda.sh runs this file against the CUDA build of the addon too.
 */
import { describe, expect, it } from 'vitest';
import { BatchNorm1d, Conv2d, Flatten, GELU, Linear, NativeError, ReLU, Sequential, Tensor, capabilities, compile, manualSeed, noGrad, prune, type CompileOptions } from '../../lib/index.js';
import { cudaChainOf } from '../../lib/infer/cuda.js';
import { lower } from '../../lib/infer/lower.js';
import { traceModel } from '../../lib/infer/trace.js';
import { native } from '../../lib/native.js';
import { expectThrows } from '../helpers/errors.js';
import { randomTensor } from '../helpers/tensors.js';

const opts = (o: Omit<CompileOptions, 'timingCache'>): CompileOptions => ({ timingCache: false, ...o });
const cuda = capabilities().cuda;

function chainOf(model: Sequential, shape: number[]): ReturnType<typeof cudaChainOf> {
  model.eval();
  const traced = traceModel(model, [shape]);
  return cudaChainOf(lower(traced), traced.inputs.map((i) => i.value), traced.outputs.map((o) => o.value));
}

function mlp(seed: number, sparsity: number): Sequential {
  manualSeed(seed);
  const m = new Sequential({ fc1: new Linear(96, 80), relu1: new ReLU(), fc2: new Linear(80, 64), bn2: new BatchNorm1d(64), relu2: new ReLU(), fc3: new Linear(64, 10) });
  if (sparsity > 0) prune(m, { sparsity, scope: 'layer', onWarning: () => {} });
  return m;
}

describe('which plans run on the device', () => {
  it('a chain of Linear layers with ReLU (and folded batch norm) is one device chain', () => {
    const chain = chainOf(mlp(1, 0.9), [96]);
    expect(typeof chain).toBe('object');
    if (typeof chain === 'string') return;
    expect(chain.layers.map((l) => l.name)).toEqual(['fc1', 'fc2', 'fc3']);
    expect(chain.layers.map((l) => l.relu)).toEqual([true, true, false]);
    expect(chain.layers.map((l) => [l.rows, l.cols])).toEqual([
      [80, 96],
      [64, 80],
      [10, 64],
    ]);
  });

  it('Flatten in front is a shape-only alias; the chain still holds', () => {
    manualSeed(2);
    const chain = chainOf(new Sequential({ flat: new Flatten(), fc1: new Linear(12, 5) }), [3, 4]);
    expect(typeof chain === 'string' ? chain : chain.layers.length).toBe(1);
  });

  it('says which layer keeps a model off the device', () => {
    manualSeed(3);
    expect(chainOf(new Sequential({ fc1: new Linear(8, 8), act: new GELU(), fc2: new Linear(8, 2) }), [8])).toMatch(/'act' \(gelu\) has no CUDA kernel/);
    expect(chainOf(new Sequential({ conv: new Conv2d(1, 2, 3), flat: new Flatten(), fc: new Linear(2 * 4 * 4, 3) }), [1, 6, 6])).toMatch(/'conv' is a convolution/);
    expect(chainOf(new Sequential({ relu: new ReLU() }), [4])).toMatch(/ReLU 'relu' does not directly follow a Linear layer/);
  });
});

describe.skipIf(cuda.available)('without a usable GPU', () => {
  it(`compile({ device: 'cuda' }) runs on the CPU, says why, and gives the CPU session's results`, () => {
    const model = mlp(4, 0.8);
    const warnings: string[] = [];
    // One forced format for both, so the two CPU sessions run the same kernels (timed choices may differ).
    const s = compile(model, opts({ sampleShape: [96], formats: 'csr', device: 'cuda', onWarning: (m) => warnings.push(m) }));
    const cpu = compile(model, opts({ sampleShape: [96], formats: 'csr' }));
    try {
      expect(s.device).toBe('cpu');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain("device 'cuda' was asked for but the session runs on the CPU");
      expect(warnings[0]).toContain(cuda.reason!);
      expect(s.plan().deviceNote).toBe(warnings[0]);
      const x = randomTensor([96, 7], 5);
      expect(Array.from(s.run(x)[s.outputNames[0]!]!.data)).toEqual(Array.from(cpu.run(x)[cpu.outputNames[0]!]!.data));
    } finally {
      s.dispose();
      cpu.dispose();
    }
  });

  it('without onWarning the reason goes to process warnings', async () => {
    const seen = new Promise<Error>((resolve) => process.once('warning', resolve));
    const s = compile(mlp(5, 0.5), opts({ sampleShape: [96], device: 'cuda' }));
    s.dispose();
    const w = await seen;
    expect((w as Error & { code?: string }).code).toBe('SPARSENN_CUDA_FALLBACK');
    expect(w.message).toContain(cuda.reason!);
  });

  it.skipIf(!cuda.compiled)('a CUDA build without a GPU refuses a device plan with ERR_CUDA', () => {
    expectThrows(() => new native.CudaPlan!(), NativeError, 'ERR_CUDA', 'new CudaPlan()');
  });

  it('a device option other than cpu or cuda is refused', () => {
    expect(() => compile(mlp(6, 0), opts({ sampleShape: [96], device: 'gpu' as 'cuda' }))).toThrow(/device must be 'cpu' or 'cuda'/);
  });
});

describe.skipIf(!cuda.available)('on the GPU', () => {
  const reference = (model: Sequential, x: Tensor): Float32Array => {
    model.eval();
    return noGrad(() => model.forward(x)).data;
  };
  const expectNear = (got: Float32Array, want: Float32Array): void => {
    expect(got.length).toBe(want.length);
    let worst = 0;
    let scale = 1;
    for (let i = 0; i < want.length; i++) {
      worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
      scale = Math.max(scale, Math.abs(want[i]!));
    }
    expect(worst).toBeLessThanOrEqual(1e-4 * scale);
  };

  for (const sparsity of [0, 0.7, 0.95])
    it(`runs a ${sparsity * 100}% sparse chain on the device like the model's forward (batches 1 to 257, sync and async)`, async () => {
      const model = mlp(7, sparsity);
      const s = compile(model, opts({ sampleShape: [96], device: 'cuda' }));
      try {
        expect(s.device).toBe('cuda');
        for (const n of [1, 3, 4, 64, 257]) {
          const x = randomTensor([96, n], 100 + n);
          expectNear(s.run(x)[s.outputNames[0]!]!.data, reference(model, x));
          expectNear((await s.runAsync(x))[s.outputNames[0]!]!.data, reference(model, x));
        }
      } finally {
        s.dispose();
      }
    });

  it('frees its device memory on dispose()', () => {
    const before = native.cudaBytesInUse!();
    const s = compile(mlp(8, 0.9), opts({ sampleShape: [96], device: 'cuda' }));
    s.run(randomTensor([96, 32], 1));
    expect(native.cudaBytesInUse!()).toBeGreaterThan(before);
    s.dispose();
    expect(native.cudaBytesInUse!()).toBe(before);
  });
});
