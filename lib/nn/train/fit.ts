/**
 * fit() / evaluate() / predict(): the training loop for classifiers over a {@link Dataset}.
 *
 * Steps run synchronously on the calling thread (and the native pool); between steps fit()
 * yields to the event loop every ~50 ms, so timers, I/O and signal handlers keep running
 * during long runs. Callbacks see every step and epoch boundary: the hooks that pruning
 * schedules use, and a callback can stop training early.
 */
import { IndexRangeError, SparsennTypeError } from '../../errors.js';
import { setThreads, getThreads } from '../../runtime.js';
import { DataLoader } from '../data/loader.js';
import { sampleSize, validateDataset, type Dataset } from '../data/dataset.js';
import type { Module } from '../module.js';
import { argmax, crossEntropy } from '../ops/loss.js';
import { clipGradNorm } from '../optim/clip.js';
import type { Optimizer } from '../optim/optimizer.js';
import type { LrSchedule } from '../optim/schedule.js';
import { noGrad, Tensor } from '../tensor.js';
import { ProgressBar, type ProgressStream } from './progress.js';

/** Loss of a batch: model output and labels to a scalar tensor. */
export type LossFn = (output: Tensor, labels: Int32Array) => Tensor;

export interface StepInfo {
  epoch: number;
  /** Step within the epoch (0-based). */
  step: number;
  /** Steps taken since fit() began (0-based; the step just finished in onStepEnd). */
  globalStep: number;
  /** This batch's loss (onStepEnd only). */
  loss: number;
  batchSize: number;
  lr: number;
}

export interface EpochLogs {
  epoch: number;
  loss: number;
  accuracy: number;
  seconds: number;
  samplesPerSecond: number;
  valLoss?: number;
  valAccuracy?: number;
}

/** The training context callbacks get: the model, optimizer, and a way to stop. */
export interface TrainContext {
  readonly model: Module;
  readonly optimizer: Optimizer;
  readonly stepsPerEpoch: number;
  readonly epochs: number;
  /** Set to true to end training after the current step. */
  stopTraining: boolean;
}

export interface Callback {
  onTrainBegin?(ctx: TrainContext): void;
  onEpochBegin?(epoch: number, ctx: TrainContext): void;
  onStepBegin?(info: StepInfo, ctx: TrainContext): void;
  /**
   * After backward(), before gradient clipping and the optimizer step: the gradients of this
   * batch are in place (regularisers add their terms here; `info.loss` is already set).
   */
  onAfterBackward?(info: StepInfo, ctx: TrainContext): void;
  /** After the optimizer step (weights updated). */
  onStepEnd?(info: StepInfo, ctx: TrainContext): void;
  onEpochEnd?(logs: EpochLogs, ctx: TrainContext): void;
  onTrainEnd?(history: History, ctx: TrainContext): void;
  /**
   * When training ends with an error (thrown by a step or a callback): undo temporary state
   * such as gated weights. The error is rethrown after every callback has seen it.
   */
  onTrainAbort?(error: unknown, ctx: TrainContext): void;
}

export interface FitOptions {
  optimizer: Optimizer;
  epochs: number;
  batchSize?: number;
  /** Default: softmax cross-entropy from logits (with labelSmoothing). */
  loss?: LossFn;
  labelSmoothing?: number;
  /** Sets optimizer.lr before each step from the global step. */
  schedule?: LrSchedule;
  /** Clip the global gradient norm to this value before each step. */
  clipGradNorm?: number;
  /** Evaluated after every epoch. */
  validation?: Dataset;
  shuffle?: boolean;
  dropLast?: boolean;
  /** Seed of the shuffles (model initialisation is seeded by manualSeed()). Default 0. */
  seed?: number;
  callbacks?: Callback[];
  /** Progress output: true/false, or a stream (default: process.stderr when it is a TTY). */
  progress?: boolean | ProgressStream;
  /** Kernel threads for this run (restored afterwards). */
  threads?: number;
}

export interface History {
  epochs: EpochLogs[];
  /** True when a callback stopped training early. */
  stopped: boolean;
}

function progressStream(opt: FitOptions['progress']): ProgressStream | null {
  if (opt === false) return null;
  if (opt === true || opt === undefined) {
    const err = process.stderr as unknown as ProgressStream;
    return opt === true || err.isTTY ? err : null;
  }
  return opt;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

function countCorrect(output: Tensor, labels: Int32Array): number {
  const pred = argmax(output);
  let c = 0;
  for (let i = 0; i < labels.length; i++) if (pred[i] === labels[i]) c++;
  return c;
}

function checkOptions(model: Module, data: Dataset, opts: FitOptions): void {
  if (!opts || typeof opts !== 'object') throw new SparsennTypeError('ERR_TYPE', 'fit() needs options with an optimizer and epochs');
  if (!opts.optimizer) throw new SparsennTypeError('ERR_TYPE', 'fit() needs an optimizer (e.g. new Adam(model.parameters()))');
  if (!Number.isInteger(opts.epochs) || opts.epochs < 0) throw new IndexRangeError('ERR_RANGE', `epochs must be an integer >= 0, got ${String(opts.epochs)}`);
  if (typeof (model as { forward?: unknown })?.forward !== 'function') throw new SparsennTypeError('ERR_TYPE', 'fit() needs a Module');
  validateDataset(data, 'fit: training data');
  if (opts.validation) validateDataset(opts.validation, 'fit: validation data');
}

/** Trains `model` on `data`; resolves with per-epoch logs. */
export async function fit(model: Module, data: Dataset, opts: FitOptions): Promise<History> {
  checkOptions(model, data, opts);
  const batchSize = opts.batchSize ?? 64;
  const loader = new DataLoader(data, { batchSize, shuffle: opts.shuffle ?? true, dropLast: opts.dropLast ?? false, seed: opts.seed ?? 0 });
  const lossFn: LossFn = opts.loss ?? ((out, y) => crossEntropy(out, y, { labelSmoothing: opts.labelSmoothing ?? 0 }));
  const callbacks = opts.callbacks ?? [];
  const optimizer = opts.optimizer;
  const baseLr = optimizer.lr;
  const stream = progressStream(opts.progress);
  const bar = stream ? new ProgressBar(stream) : null;
  const prevThreads = getThreads();
  if (opts.threads !== undefined) setThreads(opts.threads);
  const ctx: TrainContext = { model, optimizer, stepsPerEpoch: loader.length, epochs: opts.epochs, stopTraining: false };
  const history: History = { epochs: [], stopped: false };
  let globalStep = 0;
  try {
    for (const cb of callbacks) cb.onTrainBegin?.(ctx);
    for (let epoch = 0; epoch < opts.epochs && !ctx.stopTraining; epoch++) {
      model.train();
      for (const cb of callbacks) cb.onEpochBegin?.(epoch, ctx);
      const t0 = performance.now();
      let lastYield = t0;
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      let step = 0;
      for (const batch of loader.epoch(epoch)) {
        if (opts.schedule) optimizer.lr = opts.schedule.lrAt(globalStep, baseLr);
        const info: StepInfo = { epoch, step, globalStep, loss: NaN, batchSize: batch.size, lr: optimizer.lr };
        for (const cb of callbacks) cb.onStepBegin?.(info, ctx);
        optimizer.zeroGrad();
        const x = new Tensor(batch.x, batch.shape);
        const out = model.forward(x);
        const loss = lossFn(out, batch.y);
        loss.backward();
        info.loss = loss.item();
        for (const cb of callbacks) cb.onAfterBackward?.(info, ctx);
        if (opts.clipGradNorm !== undefined) clipGradNorm(optimizer.params, opts.clipGradNorm);
        optimizer.step();
        lossSum += info.loss * batch.size;
        correct += countCorrect(out, batch.y);
        seen += batch.size;
        for (const cb of callbacks) cb.onStepEnd?.(info, ctx);
        step++;
        globalStep++;
        const now = performance.now();
        const secs = (now - t0) / 1000;
        bar?.update({
          epoch,
          epochs: opts.epochs,
          step,
          steps: loader.length,
          loss: lossSum / seen,
          accuracy: correct / seen,
          samplesPerSecond: seen / Math.max(secs, 1e-9),
          etaSeconds: (secs / step) * (loader.length - step),
        });
        if (now - lastYield > 50) {
          await yieldToEventLoop();
          lastYield = performance.now();
        }
        if (ctx.stopTraining) break;
      }
      const seconds = (performance.now() - t0) / 1000;
      const logs: EpochLogs = {
        epoch,
        loss: seen ? lossSum / seen : NaN,
        accuracy: seen ? correct / seen : NaN,
        seconds,
        samplesPerSecond: seen / Math.max(seconds, 1e-9),
      };
      if (opts.validation) {
        const v = evaluate(model, opts.validation, { batchSize: Math.max(batchSize, 256), loss: lossFn });
        logs.valLoss = v.loss;
        logs.valAccuracy = v.accuracy;
      }
      history.epochs.push(logs);
      bar?.finishEpoch(
        { epoch, epochs: opts.epochs, step, steps: loader.length, loss: logs.loss, accuracy: logs.accuracy, samplesPerSecond: logs.samplesPerSecond, etaSeconds: 0 },
        `${seconds.toFixed(1)} s` + (logs.valAccuracy !== undefined ? `  val loss ${logs.valLoss!.toFixed(4)} acc ${(logs.valAccuracy * 100).toFixed(2)}%` : ''),
      );
      for (const cb of callbacks) cb.onEpochEnd?.(logs, ctx);
    }
    history.stopped = ctx.stopTraining;
    for (const cb of callbacks) cb.onTrainEnd?.(history, ctx);
  } catch (error) {
    for (const cb of callbacks) {
      try {
        cb.onTrainAbort?.(error, ctx);
      } catch {
        // the original error is the one to report
      }
    }
    throw error;
  } finally {
    bar?.clear();
    if (opts.threads !== undefined) setThreads(prevThreads);
    optimizer.lr = opts.schedule ? optimizer.lr : baseLr;
  }
  return history;
}

export interface EvaluateOptions {
  batchSize?: number;
  loss?: LossFn;
}

/** Mean loss and accuracy of `model` on `data`, in eval mode, without gradients. */
export function evaluate(model: Module, data: Dataset, opts: EvaluateOptions = {}): { loss: number; accuracy: number } {
  validateDataset(data, 'evaluate: data');
  const lossFn: LossFn = opts.loss ?? ((out, y) => crossEntropy(out, y));
  return model.inEvalMode(() =>
    noGrad(() => {
      const loader = new DataLoader(data, { batchSize: opts.batchSize ?? 256 });
      let lossSum = 0;
      let correct = 0;
      for (const batch of loader) {
        const out = model.forward(new Tensor(batch.x, batch.shape));
        lossSum += lossFn(out, batch.y).item() * batch.size;
        correct += countCorrect(out, batch.y);
      }
      return { loss: data.length ? lossSum / data.length : NaN, accuracy: data.length ? correct / data.length : NaN };
    }),
  );
}

/**
 * The model's outputs for samples given sample-major (as in a Dataset): returns the output
 * tensor in the batch-last layout, e.g. logits [classes, n].
 */
export function predict(model: Module, samples: Float32Array, sampleShape: number[]): Tensor {
  const f = sampleSize(sampleShape);
  if (!(samples instanceof Float32Array)) throw new SparsennTypeError('ERR_TYPE', 'predict() needs samples in a Float32Array');
  if (f === 0 || samples.length % f !== 0)
    throw new IndexRangeError('ERR_RANGE', `predict(): ${samples.length} values is not a whole number of samples of shape [${sampleShape.join(', ')}]`);
  const n = samples.length / f;
  const x = new Float32Array(samples.length);
  for (let b = 0; b < n; b++) for (let i = 0; i < f; i++) x[i * n + b] = samples[b * f + i]!;
  return model.inEvalMode(() => noGrad(() => model.forward(new Tensor(x, [...sampleShape, n]))));
}
