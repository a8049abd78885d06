/**
 * The cases of the kernel conformance suite, shared by every backend's run of it
 * (test/kernels/conformance.test.ts on each CPU ISA, test/cuda/conformance.test.ts on CUDA).
 */
export const CONFORMANCE_SHAPES: ReadonlyArray<readonly [number, number]> = [
  [0, 7],
  [7, 0],
  [0, 0],
  [1, 1],
  [1, 19],
  [19, 1],
  [5, 3],
  [13, 29],
  [37, 70],
  [96, 160],
  [131, 257],
];
export const CONFORMANCE_SPARSITIES = [0, 0.5, 0.9, 0.999, 1];
export const CONFORMANCE_NS = [1, 2, 7, 33, 64, 257];
