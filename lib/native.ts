/**
 * The one place that loads the native addon, and the typed interface of everything it exports.
 * Nothing else in lib/ touches the addon directly.
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorFromCode, NativeError } from './errors.js';

/** An opaque native matrix: validated, copied into native memory and prepared for the kernels. */
export interface NativeMatrix {
  dispose(): void;
  info(): { disposed: boolean; format?: string; rows?: number; cols?: number; nativeBytes?: number };
}

export interface Capabilities {
  /** The kernel path in use: 'scalar' | 'avx2' | 'avx512' | 'neon'. */
  isa: string;
  /** SPARSENN_ISA as set in the environment, or null. */
  requestedIsa: string | null;
  /** Why SPARSENN_ISA was not honoured, or null. */
  isaNote: string | null;
  /** Kernel paths this CPU and build can run. */
  supportedIsas: string[];
  features: {
    sse42: boolean;
    avx: boolean;
    avx2: boolean;
    fma: boolean;
    f16c: boolean;
    avx512f: boolean;
    avx512bw: boolean;
    avx512vl: boolean;
    avx512dq: boolean;
    neon: boolean;
  };
  cpuVendor: string;
  cpuModel: string;
  /** Threads a product may use (setThreads). */
  threads: number;
  hardwareThreads: number;
  arch: string;
  /** The CUDA backend: whether this build has it and whether a GPU can run it now. */
  cuda: CudaCapabilities;
}

export interface CudaCapabilities {
  /** This build includes the CUDA backend (built with SPARSENN_CUDA=1 / npm run build:cuda). */
  compiled: boolean;
  /** A CUDA device is usable now (compiled, a driver, a GPU). */
  available: boolean;
  /** Why not available (null when available). */
  reason: string | null;
  /** The GPU's name, e.g. 'NVIDIA H100 80GB HBM3'. */
  device: string | null;
  /** e.g. '9.0'. */
  computeCapability: string | null;
  memoryBytes: number | null;
  /** CUDA runtime and driver versions as integers (13000 = 13.0; driver 0 = no driver). */
  runtimeVersion: number | null;
  driverVersion: number | null;
}

/** The device-side layer chain of a CUDA build (native/cuda/cuda_api.h Plan). */
export interface NativeCudaPlan {
  addCsr(rows: number, cols: number, rowPtr: Int32Array, colIdx: Int32Array, values: Float32Array, bias: Float32Array | null, relu: boolean): void;
  addDense(rows: number, cols: number, values: Float32Array, bias: Float32Array | null, relu: boolean): void;
  run(x: Float32Array, n: number, out: Float32Array): Float32Array;
  runAsync(x: Float32Array, n: number, out: Float32Array): Promise<Float32Array>;
  dispose(): void;
  info(): { layers: number; inFeatures: number; outFeatures: number };
}

export interface KernelInfo {
  /** The kernel slot, e.g. 'csrspmm_i32', 'gemm'. */
  op: string;
  isa: string;
  /** XNNPACK-style name showing tile and ISA, e.g. f32_csrspmm_i32_ukernel_1x32__avx2. */
  name: string;
  tile: string;
  /** This CPU can run it. */
  available: boolean;
  /** It is the one in use. */
  selected: boolean;
}

export interface NativeAddon {
  prepareCsr(rows: number, cols: number, rowPtr: Int32Array, colIdx: Int32Array, values: Float32Array): NativeMatrix;
  prepareNm(rows: number, cols: number, n: number, m: number, values: Float32Array, indices: Uint8Array): NativeMatrix;
  prepareBsr(
    rows: number,
    cols: number,
    blockRows: number,
    blockCols: number,
    rowPtr: Int32Array,
    colIdx: Int32Array,
    values: Float32Array,
  ): NativeMatrix;
  prepareDense(rows: number, cols: number, data: Float32Array): NativeMatrix;
  /**
   * A pruned convolution for the direct sparse kernel: the weight as a CSR (rows = output
   * channels, cols = (c / groups) * kh * kw), geometry [c, h, w, kh, kw, sh, sw, ph, pw, dh, dw,
   * oh, ow] with sw = 1. matmul then reads the image [c, h, w, n] and writes [rows, oh, ow, n].
   */
  prepareConv(
    rows: number,
    cols: number,
    groups: number,
    geometry: Int32Array,
    rowPtr: Int32Array,
    colIdx: Int32Array,
    values: Float32Array,
  ): NativeMatrix;
  /** New values (length nnz) for a CSR / N:M matrix's pattern, in place; ERR_BUSY while an async product uses it. */
  csrSetValues(a: NativeMatrix, values: Float32Array): void;
  matmul(a: NativeMatrix, x: Float32Array, n: number, bias: Float32Array | null, relu: boolean, out?: Float32Array): Float32Array;
  matmulAsync(a: NativeMatrix, x: Float32Array, n: number, bias: Float32Array | null, relu: boolean, out?: Float32Array): Promise<Float32Array>;
  matmulTransposed(a: NativeMatrix, x: Float32Array, n: number, out?: Float32Array): Float32Array;
  matmulTransposedAsync(a: NativeMatrix, x: Float32Array, n: number, out?: Float32Array): Promise<Float32Array>;
  sddmm(pattern: NativeMatrix, a: Float32Array, b: Float32Array, n: number, out?: Float32Array): Float32Array;
  sddmmAsync(pattern: NativeMatrix, a: Float32Array, b: Float32Array, n: number, out?: Float32Array): Promise<Float32Array>;
  /** Y (m x n) = op(A) op(X) (+ bias per row); A stored m x k (k x m when transA), X stored k x n (n x k when transX). */
  gemm(m: number, k: number, n: number, a: Float32Array, transA: boolean, x: Float32Array, transX: boolean, out?: Float32Array, bias?: Float32Array | null): Float32Array;
  /** The cols x rows transpose of src (rows x cols, row-major). */
  transpose(rows: number, cols: number, src: Float32Array, out?: Float32Array): Float32Array;
  /** out = max(x, 0), NaN kept. */
  reluForward(x: Float32Array, out: Float32Array): Float32Array;
  reluForwardAsync(x: Float32Array, out: Float32Array): Promise<Float32Array>;
  /** out = x > 0 ? grad : 0 (all one length). */
  reluBackward(x: Float32Array, grad: Float32Array, out: Float32Array): void;
  /** out = gelu(x) = x Φ(x), exact (erf) form in float (|error| < 3e-7 max(1, |x|)). */
  geluForward(x: Float32Array, out: Float32Array): Float32Array;
  geluForwardAsync(x: Float32Array, out: Float32Array): Promise<Float32Array>;
  /** out = grad * gelu'(x) (all one length). */
  geluBackward(x: Float32Array, grad: Float32Array, out: Float32Array): void;
  /** out[k] = src[indices[k]]. */
  gather(src: Float32Array, indices: Int32Array, out: Float32Array): void;
  /** out (rowLength x indices.length) = the rows `indices` of src, transposed (batch-last). */
  gatherTranspose(src: Float32Array, rowLength: number, indices: Int32Array, out: Float32Array): void;
  /** col = im2col(x) for geometry [c, h, w, n, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow] (batch-last x). */
  im2col(x: Float32Array, geometry: Int32Array, col: Float32Array): void;
  /** The im2col columns of output rows [o0, o1) only: col [c * kh * kw, (o1 - o0) * ow * n]. */
  im2colRows(x: Float32Array, geometry: Int32Array, o0: number, o1: number, col: Float32Array): Float32Array;
  im2colRowsAsync(x: Float32Array, geometry: Int32Array, o0: number, o1: number, col: Float32Array): Promise<Float32Array>;
  /** dx += col2im(col), the adjoint of im2col. */
  col2imAdd(col: Float32Array, geometry: Int32Array, dx: Float32Array): void;
  /** Max pooling, geometry [c, h, w, n, kh, kw, sh, sw, ph, pw, oh, ow]; arg gets each maximum's input index. */
  /** Max pooling; `arg` (training) receives each maximum's flat input index. */
  maxPoolForward(x: Float32Array, geometry: Int32Array, out: Float32Array, arg?: Int32Array): Float32Array;
  maxPoolForwardAsync(x: Float32Array, geometry: Int32Array, out: Float32Array, arg?: Int32Array): Promise<Float32Array>;
  /** dx[arg[i]] += grad[i] (arg -1: no input). */
  maxPoolBackward(grad: Float32Array, arg: Int32Array, dx: Float32Array): void;
  gemmAsync(m: number, k: number, n: number, a: Float32Array, transA: boolean, x: Float32Array, transX: boolean, out?: Float32Array): Promise<Float32Array>;
  /** SGD update of w at `indices` (all entries when null); grad indexed like w, or one per index when gradCompact. */
  sgdUpdate(w: Float32Array, grad: Float32Array, gradCompact: boolean, buf: Float32Array, indices: Int32Array | null, lr: number, momentum: number, dampening: number, weightDecay: number, nesterov: boolean, firstStep: boolean): void;
  /** Adam/AdamW update of w at `indices` (all entries when null); see lib/nn/optim/adam.ts. */
  adamUpdate(w: Float32Array, grad: Float32Array, gradCompact: boolean, m: Float32Array, v: Float32Array, indices: Int32Array | null, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, decoupled: boolean, stepSize: number, sqrtC2: number): void;
  setErrorFactory(factory: (code: string, message: string) => Error): void;
  setThreads(n: number): void;
  getThreads(): number;
  capabilities(): Capabilities;
  /** CUDA builds only. */
  CudaPlan?: new () => NativeCudaPlan;
  cudaBytesInUse?(): number;
  listKernels(): KernelInfo[];
}

/** The package root: the nearest folder above this module holding sparsenn's package.json. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'sparsenn') return dir;
      } catch {
        // not ours; keep looking
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new NativeError('ERR_NATIVE_LOAD', 'sparsenn: cannot find the package root (package.json) above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

function load(): NativeAddon {
  const root = packageRoot();
  const require = createRequire(join(root, 'package.json'));
  // SPARSENN_ADDON names a specific build to load instead (the sanitizer build of
  // scripts/test-addon-sanitized.sh); otherwise node-gyp-build picks build/ or prebuilds/.
  const override = process.env.SPARSENN_ADDON;
  let addon: NativeAddon;
  try {
    if (override) {
      addon = require(resolve(override)) as NativeAddon;
    } else {
      const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
      addon = nodeGypBuild(root) as NativeAddon;
    }
  } catch (cause) {
    const err = new NativeError(
      'ERR_NATIVE_LOAD',
      `sparsenn: the native addon could not be loaded from ${override ? resolve(override) : root} (${(cause as Error).message}). ` +
        'Build it with `npm rebuild sparsenn` (needs python3, make and a C++17 compiler) ' +
        'or install on a platform with a prebuild (`npm run prebuild` makes them).',
    );
    (err as Error & { cause?: unknown }).cause = cause;
    throw err;
  }
  addon.setErrorFactory((code, message) => errorFromCode(code, message));
  return addon;
}

/** The loaded addon (loaded on first import of the library). */
export const native: NativeAddon = load();
