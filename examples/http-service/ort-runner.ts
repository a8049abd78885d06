/**
 * A serving runner that runs the model's ONNX file on onnxruntime-node (dense): the peer in
 * `npm run bench:serve`, behind the very same pool, batching and HTTP code as sparsenn.
 */
import * as ort from 'onnxruntime-node';
import type { CreateRunner } from '../../lib/serve/index.js';

interface OrtRunnerOptions {
  /** onnxruntime's intra-op threads per worker (default 1, like sparsenn's threadsPerWorker). */
  threads?: number;
}

export const createRunner: CreateRunner = async ({ bytes, options }) => {
  const o = (options ?? {}) as OrtRunnerOptions;
  // onnxruntime wants its own (non-shared) copy of the file.
  const session = await ort.InferenceSession.create(Uint8Array.from(bytes), { intraOpNumThreads: o.threads ?? 1, interOpNumThreads: 1 });
  const spec = (names: readonly string[], meta: readonly ort.InferenceSession.ValueMetadata[]) =>
    names.map((name, i) => {
      const m = meta[i]!;
      const dims = m.isTensor ? m.shape.slice(1) : [];
      if (!m.isTensor || dims.some((d) => typeof d !== 'number' || d < 1)) throw new Error(`onnx runner: '${name}' needs a fixed shape after the batch`);
      return { name, shape: dims as number[] };
    });
  const inputs = spec(session.inputNames, session.inputMetadata);
  const outputs = spec(session.outputNames, session.outputMetadata);
  return {
    inputs,
    outputs,
    layout: 'batch-first',
    async run(arrays, n) {
      const feeds = Object.fromEntries(inputs.map((v, i) => [v.name, new ort.Tensor('float32', arrays[i]!, [n, ...v.shape])]));
      const result = await session.run(feeds);
      return outputs.map((v) => Float32Array.from(result[v.name]!.data as Float32Array));
    },
    close: () => session.release(),
  };
};
