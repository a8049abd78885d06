/**
 * What the JS fuzzer attacks: the three model-file loaders an untrusted file reaches. Each
 * target runs the library's public loader on the bytes; a SparsennError is the loader doing
 * its job, anything else (TypeError, RangeError, a stack overflow, a hang) is a finding.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from '../lib/io/entropy/crc32.js';
import type { Rng } from './mutate.js';

/** The library as loaded by the fuzzer (the instrumented bundle's exports). */
export type Lib = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface Target {
  readonly name: string;
  readonly maxLen: number;
  /** Tokens the mutator splices in (format keywords). */
  readonly dict: readonly string[];
  /** Valid files to start from. */
  seeds(lib: Lib, root: string): Uint8Array[];
  /** Repairs what would stop almost every mutant at the door (a checksum), most of the time. */
  fixup?(bytes: Uint8Array, r: Rng): Uint8Array;
  run(lib: Lib, bytes: Uint8Array): void;
}

/** Small models covering the layer types, masks and value encodings the loaders read. */
function models(lib: Lib): unknown[] {
  lib.manualSeed(1);
  const { Sequential, Linear, ReLU, Conv2d, BatchNorm2d, MaxPool2d, Flatten, GELU, LayerNorm } = lib;
  const mlp = new Sequential(new Linear(6, 5), new ReLU(), new Linear(5, 3));
  lib.prune(mlp, { sparsity: 0.6, onWarning: () => {} });
  const cnn = new Sequential(new Conv2d(1, 2, 3, { padding: 1 }), new BatchNorm2d(2), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(2 * 2 * 2, 3));
  lib.prune(cnn, { sparsity: 0.5, onWarning: () => {} });
  const block = new Sequential(new LayerNorm(4), new Linear(4, 8), new GELU(), new Linear(8, 4));
  lib.prune(block, { sparsity: 0.5, structure: lib.nm(2, 4) });
  return [mlp, cnn, block];
}

const SHAPES: Record<number, number[]> = { 0: [6], 1: [1, 4, 4], 2: [4] };
const FUZZ_ONNX_LIMITS = { maxValueElements: 2 ** 22, maxTotalValueElements: 2 ** 24 };

function isTyped(lib: Lib, e: unknown): boolean {
  return e instanceof lib.SparsennError;
}

export const TARGETS: readonly Target[] = [
  {
    name: 'spnn',
    maxLen: 4096,
    dict: ['"architecture"', '"tensors"', '"metadata"', '"shape":[', '"encoding":"mask"', '"encoding":"zeros"', '"encoding":"dense"', '"dtype":"f16"', '"dtype":"i8"', '"coder":"context"', '"period":', '"nnz":', '"maskBytes":', '"kind":"buffer"', '"type":"Sequential"', '"layers":[', '1e308', '-1', '4294967296'],
    seeds: (lib) =>
      models(lib).flatMap((m) => [
        lib.encodeSpnn(m),
        lib.encodeSpnn(m, { precision: 'fp16' }),
        lib.encodeSpnn(m, { precision: 'int8', metadata: { 'sparsenn.sampleShape': '[6]' } }),
      ]),
    fixup(bytes, r) {
      // The CRC-32 of everything before it, little-endian, in the last 4 bytes; mostly repaired so
      // that mutants reach the parser behind it.
      if (bytes.length < 12 || r() < 0.1) return bytes;
      const out = bytes.slice();
      new DataView(out.buffer).setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
      return out;
    },
    run(lib, bytes) {
      try {
        lib.decodeSpnn(bytes);
      } catch (e) {
        if (!isTyped(lib, e)) throw e;
      }
    },
  },
  {
    name: 'safetensors',
    maxLen: 4096,
    dict: ['"dtype":"F32"', '"dtype":"F16"', '"dtype":"BF16"', '"dtype":"I64"', '"dtype":"BOOL"', '"shape":[', '"data_offsets":[', '"__metadata__"', '"sparsenn.architecture"', '{"type":"Linear"', '"inFeatures":', '\\u0000', '[[[[[[[[', '1e400'],
    seeds: (lib, root) => [
      ...models(lib).map((m) => lib.encodeModel(m)),
      ...readdirSync(join(root, 'test', 'fixtures', 'safetensors'))
        .filter((f) => f.endsWith('.safetensors'))
        .map((f) => new Uint8Array(readFileSync(join(root, 'test', 'fixtures', 'safetensors', f)))),
    ],
    run(lib, bytes) {
      try {
        lib.decodeModel(bytes);
      } catch (e) {
        if (!isTyped(lib, e)) throw e;
      }
    },
  },
  {
    name: 'onnx',
    maxLen: 24_576,
    dict: ['Conv', 'Gemm', 'MatMul', 'Reshape', 'Resize', 'Slice', 'Gather', 'Concat', 'Transpose', 'Constant', 'Shape', 'Unsqueeze', 'kernel_shape', 'pads', 'strides', 'group', 'axes', 'perm'],
    seeds: (lib, root) => [
      ...models(lib).map((m, i) => lib.exportOnnx(m, { sampleShape: SHAPES[i] })),
      ...readdirSync(join(root, 'test', 'fixtures', 'onnx'))
        .filter((f) => f.endsWith('.onnx'))
        .map((f) => new Uint8Array(readFileSync(join(root, 'test', 'fixtures', 'onnx', f))))
        .filter((b) => b.length <= 24_576),
    ],
    run(lib, bytes) {
      try {
        // Tight limits keep each execution short (the defaults admit seconds of shape
        // inference); the checks under test are the same.
        lib.importOnnx(bytes, { limits: FUZZ_ONNX_LIMITS });
      } catch (e) {
        if (!isTyped(lib, e)) throw e;
      }
    },
  },
];
