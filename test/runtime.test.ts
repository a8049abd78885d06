/** Runtime (lib/runtime.ts): capabilities, the kernel list, threads, and SPARSENN_ISA. */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BsrMatrix,
  capabilities,
  CsrMatrix,
  getThreads,
  IndexRangeError,
  listKernels,
  Matrix,
  matmul,
  matmulTransposed,
  NmMatrix,
  sddmm,
  setThreads,
  type Capabilities,
  type KernelInfo,
} from '../lib/index.js';
import { expectSameBits } from './helpers/expect.js';
import { expectThrows } from './helpers/errors.js';
import { mulberry32, randomDense, randomX } from './helpers/random.js';

const ISAS = ['scalar', 'avx2', 'avx512', 'neon'];
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

let savedThreads = 1;
beforeAll(() => {
  savedThreads = getThreads();
});
afterAll(() => {
  setThreads(savedThreads);
});

/** The ISA the CPU would pick on its own: the widest supported. */
function bestIsa(caps: Capabilities): string {
  for (const isa of ['avx512', 'avx2', 'neon']) if (caps.supportedIsas.includes(isa)) return isa;
  return 'scalar';
}

describe('capabilities()', () => {
  const caps = capabilities();

  it('has the documented shape', () => {
    expect(typeof caps.isa).toBe('string');
    expect(caps.requestedIsa === null || typeof caps.requestedIsa === 'string').toBe(true);
    expect(caps.isaNote === null || typeof caps.isaNote === 'string').toBe(true);
    expect(Array.isArray(caps.supportedIsas)).toBe(true);
    for (const key of ['sse42', 'avx', 'avx2', 'fma', 'f16c', 'avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'neon'] as const) {
      expect(typeof caps.features[key], key).toBe('boolean');
    }
    expect(typeof caps.cpuVendor).toBe('string');
    expect(typeof caps.cpuModel).toBe('string');
    expect(Number.isInteger(caps.threads) && caps.threads >= 1).toBe(true);
    expect(Number.isInteger(caps.hardwareThreads) && caps.hardwareThreads >= 1).toBe(true);
    expect(['x64', 'arm64', 'other']).toContain(caps.arch);
    expect(typeof caps.cuda.compiled).toBe('boolean');
    expect(typeof caps.cuda.available).toBe('boolean');
    // Available implies compiled; unavailable always says why.
    if (caps.cuda.available) expect(caps.cuda.compiled).toBe(true);
    else expect(caps.cuda.reason).toMatch(/\w/);
  });

  it('is consistent: the ISA in use is supported, and the features agree', () => {
    expect(caps.supportedIsas).toContain('scalar');
    expect(caps.supportedIsas).toContain(caps.isa);
    for (const isa of caps.supportedIsas) expect(ISAS).toContain(isa);
    expect(new Set(caps.supportedIsas).size).toBe(caps.supportedIsas.length);
    const f = caps.features;
    expect(caps.supportedIsas.includes('avx2')).toBe(caps.arch === 'x64' && f.avx2 && f.fma && f.avx);
    expect(caps.supportedIsas.includes('avx512')).toBe(
      caps.arch === 'x64' && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && caps.supportedIsas.includes('avx2'),
    );
    expect(caps.supportedIsas.includes('neon')).toBe(caps.arch === 'arm64' && f.neon);
    if (caps.isa === 'avx2') expect(f.avx2 && f.fma).toBe(true);
    if (caps.isa === 'avx512') expect(f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq).toBe(true);
    if (f.avx2) expect(f.avx).toBe(true);
    if (f.avx512f) expect(f.avx2 || !f.avx).toBe(true);
    if (caps.arch === 'x64') expect(f.neon).toBe(false);
    // Without SPARSENN_ISA the widest supported path is used.
    if (caps.requestedIsa === null) {
      expect(caps.isa).toBe(bestIsa(caps));
      expect(caps.isaNote).toBeNull();
    }
    expect(caps.threads).toBe(getThreads());
  });

  it('returns a fresh object each call', () => {
    const a = capabilities();
    a.supportedIsas.push('bogus');
    expect(capabilities().supportedIsas).not.toContain('bogus');
  });
});

describe('listKernels()', () => {
  const caps = capabilities();
  const kernels = listKernels();
  const ops = [...new Set(kernels.map((k) => k.op))].sort();

  it('lists the known op slots', () => {
    expect(ops).toEqual(['bsrspmm', 'csrspmm', 'csrspmmt_i32', 'csrspmmt_u16', 'csrspmv_i32', 'csrspmv_u16', 'gemm', 'gemv', 'sddmm_i32', 'sddmm_u16', 'spconv', 'vgelu']);
  });

  it('every op has a kernel for every supported ISA, and exactly one is selected: the one of the ISA in use', () => {
    for (const op of ops) {
      const forOp = kernels.filter((k) => k.op === op);
      for (const isa of caps.supportedIsas) expect(forOp.filter((k) => k.isa === isa).length, `${op} on ${isa}`).toBe(1);
      const selected = forOp.filter((k) => k.selected);
      expect(selected.length, `selected kernels for ${op}`).toBe(1);
      expect(selected[0].isa).toBe(caps.isa);
      expect(selected[0].available).toBe(true);
    }
  });

  it('names follow f32_<op>_ukernel_<tile>__<isa>, and available matches the supported ISAs', () => {
    for (const k of kernels) {
      expect(k.name, JSON.stringify(k)).toBe(`f32_${k.op}_ukernel_${k.tile}__${k.isa}`);
      expect(k.name).toMatch(/^f32_[a-z0-9_]+_ukernel_[0-9R]+x[0-9]+__(scalar|avx2|avx512|neon)$/);
      expect(ISAS).toContain(k.isa);
      expect(k.available, k.name).toBe(caps.supportedIsas.includes(k.isa));
      expect(k.selected, k.name).toBe(k.isa === caps.isa);
    }
    expect(new Set(kernels.map((k) => k.name)).size).toBe(kernels.length);
  });

  it('lists every kernel compiled for this architecture, even those the CPU cannot run', () => {
    if (caps.arch === 'x64') {
      for (const isa of ['scalar', 'avx2', 'avx512']) expect(kernels.some((k) => k.isa === isa), isa).toBe(true);
      expect(kernels.some((k) => k.isa === 'neon')).toBe(false);
    }
  });
});

describe('threads', () => {
  it('setThreads(1) and setThreads(2) are reflected in getThreads and capabilities', () => {
    setThreads(1);
    expect(getThreads()).toBe(1);
    expect(capabilities().threads).toBe(1);
    setThreads(2);
    expect(getThreads()).toBe(2);
    expect(capabilities().threads).toBe(2);
    setThreads(2); // same value again is a no-op
    expect(getThreads()).toBe(2);
  });

  it('setThreads(0), (1.5), (-1), (NaN), (1025) throw ERR_RANGE and leave the setting alone', () => {
    setThreads(2);
    for (const t of [0, 1.5, -1, NaN, 1025, Infinity]) expectThrows(() => setThreads(t), IndexRangeError, 'ERR_RANGE', `setThreads(${t})`);
    expect(getThreads()).toBe(2);
  });

  it('results are bit-identical across thread counts for every product', () => {
    const rng = mulberry32(12);
    const d = randomDense(rng, 700, 600, { sparsity: 0.6, emptyRows: true });
    const operands = [
      new Matrix(randomDense(rng, 257, 300), 257, 300),
      CsrMatrix.fromDense(d, 700, 600),
      NmMatrix.fromDense(d, 700, 600, { n: 2, m: 4 }),
      BsrMatrix.fromDense(d, 700, 600, { blockRows: 4, blockCols: 4 }),
    ];
    const bias = randomX(rng, 700, 1);
    for (const n of [1, 33, 100]) {
      const results = new Map<number, Float32Array[]>();
      for (const t of [1, 2, 3, 1]) {
        setThreads(t);
        const out: Float32Array[] = [];
        for (const a of operands) out.push(matmul(a, randomX(mulberry32(n), a.cols, n), n, { bias: bias.subarray(0, a.rows), activation: 'relu' }));
        const csr = operands[1] as CsrMatrix;
        out.push(matmulTransposed(csr, randomX(mulberry32(n + 1), 700, n), n));
        out.push(sddmm(csr, randomX(mulberry32(n + 2), 700, n), randomX(mulberry32(n + 3), 600, n), n).values);
        results.set(t, out);
      }
      const base = results.get(1)!;
      for (const [t, out] of results) out.forEach((y, i) => expectSameBits(y, base[i], `n=${n}, product ${i}, 1 vs ${t} threads`));
    }
  });
});

describe('SPARSENN_ISA in a child process', () => {
  interface Report {
    capabilities: Capabilities;
    kernels: KernelInfo[];
    y: number[];
  }

  function runChild(env: Record<string, string | undefined>): Report {
    const childEnv = { ...process.env, ...env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
    const res = spawnSync(process.execPath, ['--import', 'tsx', join('test', 'helpers', 'print-capabilities.ts')], {
      cwd: root,
      env: childEnv,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(res.status, `child failed: ${res.stderr}`).toBe(0);
    const line = res.stdout.trim().split('\n').pop()!;
    return JSON.parse(line) as Report;
  }

  const here = capabilities();

  it('SPARSENN_ISA=scalar reports isa scalar, no note, and selects the scalar kernels', () => {
    const r = runChild({ SPARSENN_ISA: 'scalar' });
    expect(r.capabilities.isa).toBe('scalar');
    expect(r.capabilities.requestedIsa).toBe('scalar');
    expect(r.capabilities.isaNote).toBeNull();
    expect(r.kernels.filter((k) => k.selected).every((k) => k.isa === 'scalar')).toBe(true);
    expect(r.y).toEqual([1, 1, 1, 1, 1, 5, 5, 5, 5, 5]);
  });

  it('SPARSENN_ISA=bogus falls back to the best ISA with a note', () => {
    const r = runChild({ SPARSENN_ISA: 'bogus' });
    expect(r.capabilities.isa).toBe(bestIsa(here));
    expect(r.capabilities.requestedIsa).toBe('bogus');
    expect(r.capabilities.isaNote).toEqual(expect.stringContaining('bogus'));
    expect(r.y).toEqual([1, 1, 1, 1, 1, 5, 5, 5, 5, 5]);
  });

  it.skipIf(here.supportedIsas.includes('avx512') || here.arch !== 'x64')('SPARSENN_ISA=avx512 on a CPU without AVX-512 falls back with a note', () => {
    const r = runChild({ SPARSENN_ISA: 'avx512' });
    expect(r.capabilities.isa).toBe(bestIsa(here));
    expect(r.capabilities.requestedIsa).toBe('avx512');
    expect(r.capabilities.isaNote).toEqual(expect.stringContaining('avx512'));
  });

  it('without SPARSENN_ISA the best ISA is used', () => {
    const r = runChild({ SPARSENN_ISA: undefined });
    expect(r.capabilities.isa).toBe(bestIsa(here));
    expect(r.capabilities.requestedIsa).toBeNull();
    expect(r.capabilities.isaNote).toBeNull();
  });

  it('SPARSENN_THREADS sets the initial thread count', () => {
    const r = runChild({ SPARSENN_THREADS: '3' });
    expect(r.capabilities.threads).toBe(3);
  });
});
