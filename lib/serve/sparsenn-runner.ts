/**
 * The default serving runner: loads the model from the shared bytes (.spnn, .safetensors or
 * .onnx), compiles it for this machine and runs batches with InferenceSession.run on the
 * worker's own thread.
 */
import { ShapeError } from '../errors.js';
import { compile, type CompileOptions } from '../infer/compile.js';
import { Tensor } from '../nn/tensor.js';
import { loadModelBytes, type ModelFileFormat } from '../io/files.js';
import type { LoadLimits } from '../limits.js';
import { setThreads } from '../runtime.js';
import type { CreateRunner, Runner } from './runner.js';

export interface SparsennRunnerOptions {
  format?: ModelFileFormat;
  sampleShape?: readonly number[] | null;
  compile?: Omit<CompileOptions, 'sampleShape'>;
  /** Native threads for this worker's products (the native pool is shared by the process). */
  threads?: number;
  /** Caps for an untrusted model file. */
  limits?: LoadLimits;
}

export const createRunner: CreateRunner = (init) => {
  const o = (init.options ?? {}) as SparsennRunnerOptions;
  if (o.threads !== undefined) setThreads(o.threads);
  const loaded = loadModelBytes(init.bytes, o.format, { limits: o.limits });
  const sampleShape = o.sampleShape ?? loaded.sampleShape;
  if (!sampleShape) throw new ShapeError('ERR_SHAPE', `the model file does not record its input shape; pass sampleShape (one sample's shape, batch excluded)`);
  const session = compile(loaded.model, { ...o.compile, sampleShape });
  const inputs = session.inputs;
  const outputs = session.outputs;
  const runner: Runner = {
    inputs,
    outputs,
    layout: 'batch-last',
    run(arrays, n) {
      const feeds = arrays.map((a, i) => new Tensor(a, [...inputs[i]!.shape, n]));
      const result = session.run(feeds);
      return outputs.map((out) => result[out.name]!.data);
    },
    close() {
      session.dispose();
    },
  };
  return runner;
};
