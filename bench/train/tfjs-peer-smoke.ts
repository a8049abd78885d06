/**
 * Smoke test of the tfjs training peer on synthetic, learnable data:
 *   npx tsx bench/train/tfjs-peer-smoke.ts
 *   npx tsx bench/train/tfjs-peer-smoke.ts --cnn-steps=20   (20 CNN steps: ~15 min)
 *
 * 2000 train / 500 test noisy copies of 10 random class prototypes (see `synthetic`). Runs both
 * models for one time-bounded epoch (batch 64, extrapolated to a full epoch): lenet300 for 20
 * steps, the CNN for 3 by default, because a tfjs-cpu CNN step takes ~40 s (its
 * Conv2DBackpropFilter kernel is a naive loop over TensorBuffer.get). Then one full epoch of lenet300 with test accuracy, and a check
 * that no tensors leak.
 */
import * as tf from '@tensorflow/tfjs';
import { ensureTfjsCpu, trainTfjs, type PeerData, type PeerResult } from './tfjs-peer.js';

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Class k has a fixed random prototype image P_k (uniform in [0, 1]); a sample of class k is
 * clip(P_k + U(-0.5, 0.5) per pixel, 0, 1). The Bayes-optimal rule is (nearly) linear in the
 * image, so the models can learn it in an epoch. (Labels given by argmax of a random linear map of
 * pure-noise images were too hard: one epoch of 2000 samples stayed at chance.)
 */
function synthetic(length: number, seed: number, prototypes: Float32Array): PeerData {
  const r = rng(seed);
  const images = new Float32Array(length * 784);
  const labels = new Int32Array(length);
  for (let s = 0; s < length; s++) {
    const k = Math.floor(r() * 10);
    labels[s] = k;
    for (let i = 0; i < 784; i++) images[s * 784 + i] = Math.min(1, Math.max(0, prototypes[k * 784 + i] + r() - 0.5));
  }
  return { images, labels, length };
}

function show(title: string, r: PeerResult, batch: number): void {
  const acc = r.testAccuracy === null ? 'n/a (cut short)' : `${(r.testAccuracy * 100).toFixed(1)}%`;
  console.log(
    `${title.padEnd(34)} steps ${String(r.stepsRun).padStart(4)}/${r.stepsPerEpoch}/epoch  ` +
      `median ${(r.medianStepSeconds * 1000).toFixed(1)} ms/step (batch ${batch})  ` +
      `${r.secondsPerEpoch.toFixed(2)} s/epoch${r.extrapolated ? ' (extrapolated)' : ''}  ` +
      `loss ${r.trainLoss.toFixed(4)}  test acc ${acc}`,
  );
  console.log(`  -> full Fashion-MNIST epoch (938 steps of 64): ~${(r.medianStepSeconds * 938).toFixed(0)} s`);
}

const protoRand = rng(12345);
const prototypes = new Float32Array(10 * 784);
for (let i = 0; i < prototypes.length; i++) prototypes[i] = protoRand();
const train = synthetic(2000, 1, prototypes);
const test = synthetic(500, 2, prototypes);
const counts = new Array<number>(10).fill(0);
for (const l of train.labels) counts[l]++;
console.log(`synthetic labels (train): ${counts.join(' ')}`);

await ensureTfjsCpu();
console.log(`tfjs ${tf.version.tfjs}, backend ${tf.getBackend()}`);
const before = tf.memory().numTensors;

const base = { train, test, epochs: 1, batchSize: 64, lr: 1e-3, seed: 7 };
const results: PeerResult[] = [];
const cnnArg = process.argv.find((a) => a.startsWith('--cnn-steps='));
const cnnSteps = cnnArg ? Number(cnnArg.slice('--cnn-steps='.length)) : 3;
if (!Number.isInteger(cnnSteps) || cnnSteps < 1) throw new Error(`--cnn-steps must be a positive integer, got ${cnnArg}`);
for (const model of ['lenet300', 'cnn'] as const) {
  const steps = model === 'cnn' ? cnnSteps : 20;
  const r = await trainTfjs({ ...base, model, maxStepsPerEpoch: steps });
  show(`${model}, ${steps} steps`, r, 64);
  results.push(r);
}
const full = await trainTfjs({ ...base, model: 'lenet300', epochs: 1 });
show('lenet300, 1 full epoch', full, 64);
results.push(full);

const after = tf.memory().numTensors;
if (after !== before) throw new Error(`tensor leak: ${before} tensors before, ${after} after`);
if (full.testAccuracy === null || full.testAccuracy < 0.5) throw new Error(`lenet300 did not learn: test accuracy ${full.testAccuracy}`);
console.log(`no tensor leak (${after} live tensors); results JSON:`);
console.log(JSON.stringify(results, null, 2));
