/**
 * Training peer: TensorFlow.js (`@tensorflow/tfjs` 4.x) on its pure-JS CPU backend
 * (`tf.setBackend('cpu')`, single-threaded, no native code; NOT tfjs-node).
 *
 * The models are the ones sparsenn trains in the training benchmark:
 * - `lenet300`: Dense 784→300 ReLU, Dense 300→100 ReLU, Dense 100→10 (logits).
 * - `cnn`: 28×28×1 → Conv 1→16 k5 'same' ReLU → MaxPool 2×2 → Conv 16→32 k5 'same' ReLU →
 *   MaxPool 2×2 → Flatten (7·7·32 = 1568) → Dense 1568→128 ReLU → Dense 128→10 (logits).
 *
 * Differences from sparsenn/PyTorch that do not change the model family:
 * - tfjs is NHWC, so the CNN flattens in (h, w, c) order where an NCHW framework flattens in
 *   (c, h, w) order: a fixed permutation of the first dense layer's inputs, irrelevant when
 *   training from a random initialisation.
 * - Dense weights are stored [in, out] (x·W), conv kernels [kh, kw, in, out].
 *
 * Initialisation (`PeerRun.init`, drawn from our own seeded generator so a seed gives the same
 * weights on every machine):
 * - `'heUniform'` (default): weights U(−b, b), b = sqrt(6 / fan_in) — Kaiming/He uniform for ReLU
 *   (gain sqrt(2)), identical to tfjs/Keras `heUniform`; biases zero. fan_in is `in` for dense
 *   layers and kh·kw·in for convolutions. Note this is NOT PyTorch's default
 *   `kaiming_uniform_(a = sqrt(5))`, which gives b = 1 / sqrt(fan_in) (√6 ≈ 2.45× narrower).
 * - `'torchDefault'`: PyTorch's default for nn.Linear / nn.Conv2d: weights and biases
 *   U(−1/sqrt(fan_in), 1/sqrt(fan_in)). Use it when sparsenn keeps PyTorch's default init.
 *
 * Training: softmax cross-entropy from logits (`tf.losses.softmaxCrossEntropy` on one-hot labels,
 * mean over the batch), Adam(lr, β1 0.9, β2 0.999, ε 1e-8 — tfjs's own default ε is 1e-7, so it is
 * set explicitly), a manual loop of `optimizer.minimize` over batches in a shuffled order seeded
 * by `seed` (Fisher–Yates, new permutation per epoch; the last batch may be partial, like a
 * PyTorch DataLoader without drop_last).
 *
 * Timing: only the training steps. Gathering a batch and turning it into tensors is outside the
 * clock; each step's clock stops after `dataSync()` on its loss, so its work has finished (the CPU
 * backend is synchronous anyway).
 */
import * as tf from '@tensorflow/tfjs';

/** Sample-major images, 784 floats per sample in [0, 1], and labels 0..9. */
export interface PeerData {
  images: Float32Array;
  labels: Int32Array;
  length: number;
}

export interface PeerRun {
  model: 'lenet300' | 'cnn';
  train: PeerData;
  test: PeerData;
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  /** Time-bounded runs: stop each epoch after this many batches and extrapolate. */
  maxStepsPerEpoch?: number;
  /** Weight initialisation; see the module comment. Default `'heUniform'`. */
  init?: 'heUniform' | 'torchDefault';
}

export interface PeerResult {
  peer: 'tfjs-cpu';
  backend: string;
  tfjsVersion: string;
  model: string;
  epochs: number;
  /** Batches in a full epoch: ceil(train.length / batchSize). */
  stepsPerEpoch: number;
  /** Batches actually run over all epochs. */
  stepsRun: number;
  /** Measured, extrapolated to a full epoch when maxStepsPerEpoch cut it. */
  secondsPerEpoch: number;
  extrapolated: boolean;
  /** Null when the epochs were cut short. */
  testAccuracy: number | null;
  /** Mean training loss over the steps of the last epoch. */
  trainLoss: number;
  /** Median time of one training step (seconds). */
  medianStepSeconds: number;
  /** The weight initialisation used. */
  init: 'heUniform' | 'torchDefault';
}

const IMAGE = 784;
const CLASSES = 10;
const BANNER = 'tfjs-node';

let backendReady: Promise<void> | undefined;

/**
 * Selects the pure-JS CPU backend once per process. The CPU backend prints a "looks like you are
 * running TensorFlow.js in Node.js ... install tfjs-node" banner via console.warn on its first
 * tensor write; that one message is filtered out here (any other warning passes through).
 */
export function ensureTfjsCpu(): Promise<void> {
  backendReady ??= (async () => {
    if (!(await tf.setBackend('cpu'))) throw new Error('tfjs-peer: could not select the tfjs "cpu" backend');
    await tf.ready();
    const warn = console.warn;
    console.warn = (...args: unknown[]): void => {
      if (args.some((a) => typeof a === 'string' && a.includes(BANNER))) return;
      warn.apply(console, args);
    };
    try {
      tf.tensor1d([0]).dispose(); // first write: prints (and here swallows) the banner
    } finally {
      console.warn = warn;
    }
  })();
  return backendReady;
}

/** mulberry32: small seeded uint32 generator, returns floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A stream derived from (seed, stream) only. */
function stream(seed: number, which: number): () => number {
  return mulberry32((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(which + 1, 0x85ebca6b)) >>> 0);
}

interface Layer {
  w: tf.Variable;
  b: tf.Variable;
}

function makeLayer(
  shape: number[],
  fanIn: number,
  init: 'heUniform' | 'torchDefault',
  rand: () => number,
): Layer {
  const out = shape[shape.length - 1];
  const wb = init === 'heUniform' ? Math.sqrt(6 / fanIn) : 1 / Math.sqrt(fanIn);
  const wv = new Float32Array(shape.reduce((p, d) => p * d, 1));
  for (let i = 0; i < wv.length; i++) wv[i] = (2 * rand() - 1) * wb;
  const bv = new Float32Array(out);
  if (init === 'torchDefault') {
    const bb = 1 / Math.sqrt(fanIn);
    for (let i = 0; i < bv.length; i++) bv[i] = (2 * rand() - 1) * bb;
  }
  return {
    w: tf.tidy(() => tf.variable(tf.tensor(wv, shape))),
    b: tf.tidy(() => tf.variable(tf.tensor1d(bv))),
  };
}

interface Model {
  layers: Layer[];
  /** Input: [batch, 784] for lenet300, [batch, 28, 28, 1] for cnn. Returns logits [batch, 10]. */
  forward(x: tf.Tensor): tf.Tensor2D;
  inputShape(batch: number): number[];
}

function buildModel(kind: PeerRun['model'], init: 'heUniform' | 'torchDefault', seed: number): Model {
  const rand = stream(seed, 0);
  if (kind === 'lenet300') {
    const l1 = makeLayer([IMAGE, 300], IMAGE, init, rand);
    const l2 = makeLayer([300, 100], 300, init, rand);
    const l3 = makeLayer([100, CLASSES], 100, init, rand);
    return {
      layers: [l1, l2, l3],
      inputShape: (n) => [n, IMAGE],
      forward: (x) => {
        const h1 = tf.fused.matMul({ a: x as tf.Tensor2D, b: l1.w as tf.Tensor2D, bias: l1.b, activation: 'relu' });
        const h2 = tf.fused.matMul({ a: h1, b: l2.w as tf.Tensor2D, bias: l2.b, activation: 'relu' });
        return tf.fused.matMul({ a: h2, b: l3.w as tf.Tensor2D, bias: l3.b }) as tf.Tensor2D;
      },
    };
  }
  if (kind === 'cnn') {
    const c1 = makeLayer([5, 5, 1, 16], 5 * 5 * 1, init, rand);
    const c2 = makeLayer([5, 5, 16, 32], 5 * 5 * 16, init, rand);
    const f1 = makeLayer([7 * 7 * 32, 128], 7 * 7 * 32, init, rand);
    const f2 = makeLayer([128, CLASSES], 128, init, rand);
    return {
      layers: [c1, c2, f1, f2],
      inputShape: (n) => [n, 28, 28, 1],
      forward: (x) => {
        const a1 = tf.fused.conv2d({ x: x as tf.Tensor4D, filter: c1.w as tf.Tensor4D, strides: 1, pad: 'same', bias: c1.b, activation: 'relu' });
        const p1 = tf.maxPool(a1, 2, 2, 'valid');
        const a2 = tf.fused.conv2d({ x: p1, filter: c2.w as tf.Tensor4D, strides: 1, pad: 'same', bias: c2.b, activation: 'relu' });
        const p2 = tf.maxPool(a2, 2, 2, 'valid');
        const flat = tf.reshape(p2, [p2.shape[0], 7 * 7 * 32]) as tf.Tensor2D;
        const h = tf.fused.matMul({ a: flat, b: f1.w as tf.Tensor2D, bias: f1.b, activation: 'relu' });
        return tf.fused.matMul({ a: h, b: f2.w as tf.Tensor2D, bias: f2.b }) as tf.Tensor2D;
      },
    };
  }
  throw new Error(`tfjs-peer: unknown model ${String(kind)}; expected 'lenet300' or 'cnn'`);
}

function checkData(d: PeerData, what: string): void {
  if (!Number.isInteger(d.length) || d.length <= 0) throw new Error(`tfjs-peer: ${what}.length must be a positive integer, got ${d.length}`);
  if (d.images.length < d.length * IMAGE) throw new Error(`tfjs-peer: ${what}.images needs ${d.length * IMAGE} floats, has ${d.images.length}`);
  if (d.labels.length < d.length) throw new Error(`tfjs-peer: ${what}.labels needs ${d.length} entries, has ${d.labels.length}`);
}

/** Copies the samples `idx[from..to)` into batch tensors (untimed data conversion). */
function gather(d: PeerData, idx: Int32Array | null, from: number, to: number, model: Model): { x: tf.Tensor; y: tf.Tensor2D } {
  const n = to - from;
  const xs = new Float32Array(n * IMAGE);
  const ys = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const s = idx ? idx[from + i] : from + i;
    xs.set(d.images.subarray(s * IMAGE, (s + 1) * IMAGE), i * IMAGE);
    ys[i] = d.labels[s];
  }
  const x = tf.tensor(xs, model.inputShape(n), 'float32');
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(ys, 'int32'), CLASSES).toFloat() as tf.Tensor2D);
  return { x, y };
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Trains one model with tfjs (CPU backend) and reports time per epoch, test accuracy and loss. */
export async function trainTfjs(run: PeerRun): Promise<PeerResult> {
  await ensureTfjsCpu();
  checkData(run.train, 'train');
  checkData(run.test, 'test');
  if (!Number.isInteger(run.batchSize) || run.batchSize <= 0) throw new Error(`tfjs-peer: batchSize must be a positive integer, got ${run.batchSize}`);
  if (!Number.isInteger(run.epochs) || run.epochs <= 0) throw new Error(`tfjs-peer: epochs must be a positive integer, got ${run.epochs}`);
  const init = run.init ?? 'heUniform';
  const n = run.train.length;
  const stepsPerEpoch = Math.ceil(n / run.batchSize);
  const stepsThisEpoch = Math.min(stepsPerEpoch, run.maxStepsPerEpoch ?? Infinity);
  if (!(stepsThisEpoch >= 1)) throw new Error(`tfjs-peer: maxStepsPerEpoch must be >= 1, got ${run.maxStepsPerEpoch}`);
  const extrapolated = stepsThisEpoch < stepsPerEpoch;

  const model = buildModel(run.model, init, run.seed);
  const vars = model.layers.flatMap((l) => [l.w, l.b]);
  const optimizer = tf.train.adam(run.lr, 0.9, 0.999, 1e-8);
  const order = new Int32Array(n);
  const stepTimes: number[] = [];
  let trainLoss = NaN;
  let trainMs = 0;
  try {
    for (let epoch = 0; epoch < run.epochs; epoch++) {
      const rand = stream(run.seed, 1 + epoch);
      for (let i = 0; i < n; i++) order[i] = i;
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        const t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
      let lossSum = 0;
      for (let step = 0; step < stepsThisEpoch; step++) {
        const from = step * run.batchSize;
        const { x, y } = gather(run.train, order, from, Math.min(n, from + run.batchSize), model);
        const t0 = performance.now();
        const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.forward(x)) as tf.Scalar, true, vars);
        const value = loss!.dataSync()[0];
        const dt = performance.now() - t0;
        loss!.dispose();
        x.dispose();
        y.dispose();
        trainMs += dt;
        stepTimes.push(dt / 1000);
        lossSum += value;
      }
      trainLoss = lossSum / stepsThisEpoch;
    }

    let testAccuracy: number | null = null;
    if (!extrapolated) {
      let correct = 0;
      const evalBatch = 500;
      for (let from = 0; from < run.test.length; from += evalBatch) {
        const to = Math.min(run.test.length, from + evalBatch);
        const { x, y } = gather(run.test, null, from, to, model);
        const pred = tf.tidy(() => tf.argMax(model.forward(x), 1));
        const p = pred.dataSync();
        for (let i = 0; i < to - from; i++) if (p[i] === run.test.labels[from + i]) correct++;
        pred.dispose();
        x.dispose();
        y.dispose();
      }
      testAccuracy = correct / run.test.length;
    }

    const stepsRun = stepTimes.length;
    const secondsPerEpoch = extrapolated ? (trainMs / 1000 / stepsRun) * stepsPerEpoch : trainMs / 1000 / run.epochs;
    return {
      peer: 'tfjs-cpu',
      backend: tf.getBackend(),
      tfjsVersion: tf.version.tfjs,
      model: run.model,
      epochs: run.epochs,
      stepsPerEpoch,
      stepsRun,
      secondsPerEpoch,
      extrapolated,
      testAccuracy,
      trainLoss,
      medianStepSeconds: median(stepTimes),
      init,
    };
  } finally {
    optimizer.dispose();
    for (const v of vars) v.dispose();
  }
}
