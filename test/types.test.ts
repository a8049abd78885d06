/**
 * Type tests for the public API (checked by `tsc --noEmit`, which includes test/; the runtime
 * assertions are no-ops). A change to a public signature shows up here.
 */
import { describe, expectTypeOf, it } from 'vitest';
import {
  BsrMatrix,
  capabilities,
  CsrMatrix,
  getThreads,
  listKernels,
  Matrix,
  matmul,
  matmulAsync,
  matmulTransposed,
  matmulTransposedAsync,
  NmMatrix,
  referenceMatmul,
  sddmm,
  sddmmAsync,
  setThreads,
  SparsennError,
  ShapeError,
  type Activation,
  type AnyMatrix,
  type Capabilities,
  type CsrFromDenseOptions,
  type ErrorCode,
  type KernelInfo,
  type MatmulOptions,
  type MatrixFormat,
  type NmPattern,
} from '../lib/index.js';

describe('public API types', () => {
  it('products', () => {
    expectTypeOf(matmul).returns.toEqualTypeOf<Float32Array>();
    expectTypeOf(matmul).parameters.toEqualTypeOf<[AnyMatrix, Float32Array, number, MatmulOptions?]>();
    expectTypeOf(matmulAsync).returns.toEqualTypeOf<Promise<Float32Array>>();
    expectTypeOf(matmulAsync).parameters.toEqualTypeOf<Parameters<typeof matmul>>();
    expectTypeOf(matmulTransposed).returns.toEqualTypeOf<Float32Array>();
    expectTypeOf(matmulTransposed).parameter(0).toEqualTypeOf<CsrMatrix | NmMatrix>();
    expectTypeOf(matmulTransposedAsync).returns.toEqualTypeOf<Promise<Float32Array>>();
    expectTypeOf(sddmm).returns.toEqualTypeOf<CsrMatrix>();
    expectTypeOf(sddmm).parameters.toEqualTypeOf<[CsrMatrix, Float32Array, Float32Array, number]>();
    expectTypeOf(sddmmAsync).returns.toEqualTypeOf<Promise<CsrMatrix>>();
  });

  it('options', () => {
    expectTypeOf<Activation>().toEqualTypeOf<'none' | 'relu'>();
    expectTypeOf<MatmulOptions>().toEqualTypeOf<{ bias?: Float32Array; activation?: Activation; out?: Float32Array }>();
    expectTypeOf<AnyMatrix>().toEqualTypeOf<Matrix | CsrMatrix | NmMatrix | BsrMatrix>();
    // A dense matrix is not a valid operand of matmulTransposed at compile time.
    expectTypeOf<Matrix>().not.toMatchTypeOf<Parameters<typeof matmulTransposed>[0]>();
    expectTypeOf<BsrMatrix>().not.toMatchTypeOf<Parameters<typeof matmulTransposed>[0]>();
    // 'gelu' is rejected at compile time.
    expectTypeOf<{ activation: 'gelu' }>().not.toMatchTypeOf<MatmulOptions>();
  });

  it('matrix constructors and conversions', () => {
    expectTypeOf(CsrMatrix.fromDense).parameters.toEqualTypeOf<[Float32Array, number, number, CsrFromDenseOptions?]>();
    expectTypeOf(CsrMatrix.fromDense).returns.toEqualTypeOf<CsrMatrix>();
    expectTypeOf<CsrFromDenseOptions>().toEqualTypeOf<{ threshold?: number; sparsity?: number; density?: number; nnz?: number }>();
    expectTypeOf(CsrMatrix.fromCoo).returns.toEqualTypeOf<CsrMatrix>();
    expectTypeOf(CsrMatrix.fromCoo).parameters.toEqualTypeOf<[number, number, Int32Array, Int32Array, Float32Array]>();
    expectTypeOf<CsrMatrix['transpose']>().returns.toEqualTypeOf<CsrMatrix>();
    expectTypeOf<CsrMatrix['withValues']>().returns.toEqualTypeOf<CsrMatrix>();
    expectTypeOf(NmMatrix.fromDense).parameters.toEqualTypeOf<[Float32Array, number, number, NmPattern?]>();
    expectTypeOf<NmMatrix['transpose']>().returns.toEqualTypeOf<CsrMatrix>();
    expectTypeOf<NmMatrix['toCsr']>().returns.toEqualTypeOf<CsrMatrix>();
    expectTypeOf<BsrMatrix['transpose']>().returns.toEqualTypeOf<BsrMatrix>();
    expectTypeOf<Matrix['transpose']>().returns.toEqualTypeOf<Matrix>();
    expectTypeOf<CsrMatrix['toDense']>().returns.toEqualTypeOf<Float32Array>();
    expectTypeOf<CsrMatrix['format']>().toEqualTypeOf<'csr'>();
    expectTypeOf<NmMatrix['format']>().toEqualTypeOf<'nm'>();
    expectTypeOf<BsrMatrix['format']>().toEqualTypeOf<'bsr'>();
    expectTypeOf<Matrix['format']>().toEqualTypeOf<'dense'>();
    expectTypeOf<AnyMatrix['format']>().toEqualTypeOf<MatrixFormat>();
    expectTypeOf<CsrMatrix['rowPtr']>().toEqualTypeOf<Int32Array>();
    expectTypeOf<NmMatrix['indices']>().toEqualTypeOf<Uint8Array>();
    expectTypeOf<CsrMatrix['nnz']>().toEqualTypeOf<number>();
    expectTypeOf<CsrMatrix['prepare']>().returns.toEqualTypeOf<CsrMatrix>();
  });

  it('runtime', () => {
    expectTypeOf(capabilities).returns.toEqualTypeOf<Capabilities>();
    expectTypeOf<Capabilities['isa']>().toEqualTypeOf<string>();
    expectTypeOf<Capabilities['isaNote']>().toEqualTypeOf<string | null>();
    expectTypeOf<Capabilities['requestedIsa']>().toEqualTypeOf<string | null>();
    expectTypeOf<Capabilities['supportedIsas']>().toEqualTypeOf<string[]>();
    expectTypeOf<Capabilities['features']['avx2']>().toEqualTypeOf<boolean>();
    expectTypeOf<Capabilities['threads']>().toEqualTypeOf<number>();
    expectTypeOf(listKernels).returns.toEqualTypeOf<KernelInfo[]>();
    expectTypeOf<KernelInfo>().toHaveProperty('selected').toEqualTypeOf<boolean>();
    expectTypeOf(setThreads).parameters.toEqualTypeOf<[number]>();
    expectTypeOf(setThreads).returns.toBeVoid();
    expectTypeOf(getThreads).returns.toEqualTypeOf<number>();
  });

  it('errors and the reference', () => {
    expectTypeOf<SparsennError['code']>().toEqualTypeOf<ErrorCode>();
    expectTypeOf<ShapeError>().toMatchTypeOf<SparsennError>();
    expectTypeOf<SparsennError>().toMatchTypeOf<Error>();
    expectTypeOf(referenceMatmul).returns.toEqualTypeOf<Float64Array>();
  });

  it('inference, files and analysis', async () => {
    const lib = await import('../lib/index.js');
    type Session = import('../lib/index.js').InferenceSession;
    expectTypeOf(lib.compile).returns.toEqualTypeOf<Session>();
    expectTypeOf<Session['run']>().returns.toEqualTypeOf<Record<string, import('../lib/index.js').Tensor>>();
    expectTypeOf<Session['runAsync']>().returns.toEqualTypeOf<Promise<Record<string, import('../lib/index.js').Tensor>>>();
    expectTypeOf<Session['plan']>().returns.toEqualTypeOf<import('../lib/index.js').PlanReport>();
    expectTypeOf(lib.importOnnx).returns.toEqualTypeOf<import('../lib/index.js').Graph>();
    expectTypeOf(lib.exportOnnx).returns.toEqualTypeOf<Uint8Array>();
    expectTypeOf(lib.encodeSpnn).returns.toEqualTypeOf<Uint8Array>();
    expectTypeOf(lib.loadSpnn).returns.toEqualTypeOf<Promise<import('../lib/index.js').Module>>();
    expectTypeOf(lib.sizeReport).returns.toEqualTypeOf<import('../lib/index.js').SpnnSizeReport>();
    expectTypeOf(lib.renderReport).parameters.toEqualTypeOf<[import('../lib/index.js').ReportData]>();
    expectTypeOf(lib.measureLatency).returns.toEqualTypeOf<Promise<import('../lib/index.js').LatencyResult>>();
  });
});
