/**
 * The training part of the demo: on the Fashion-MNIST subset shipped in the package (2,000
 * train / 500 test images, no download), train LeNet-300-100 dense and with 90% of its weights
 * pruned (static sparse training: random masks, variance-corrected init, sparse kernels in
 * forward and backward), compare accuracy and time per epoch, then save the sparse model as
 * safetensors (weights + masks + architecture) and load it back.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Adam, evaluate, fit, loadFashionMnist, loadModel, saveModel, type Module } from '../lib/index.js';
import { lenet300, lenet300Sparse } from '../bench/train/models.js';
import { manualSeed } from '../lib/index.js';

async function run(name: string, model: Module, epochs: number): Promise<{ name: string; seconds: number; accuracy: number; kept: number }> {
  const train = await loadFashionMnist({ subset: true, split: 'train' });
  const test = await loadFashionMnist({ subset: true, split: 'test' });
  const history = await fit(model, train, { optimizer: new Adam(model.parameters(), { lr: 1e-3 }), epochs, batchSize: 64, seed: 1 });
  const seconds = history.epochs.reduce((s, e) => s + e.seconds, 0) / epochs;
  return { name, seconds, accuracy: evaluate(model, test).accuracy, kept: model.parameterCount(true) / model.parameterCount() };
}

export async function trainingDemo(epochs = 5): Promise<void> {
  console.log(`\nTraining LeNet-300-100 on the shipped Fashion-MNIST subset (2,000 train / 500 test), ${epochs} epochs, Adam:`);
  manualSeed(1);
  const dense = await run('dense', lenet300(), epochs);
  manualSeed(1);
  const sparseModel = lenet300Sparse(0.1, 1);
  const sparse = await run('90% sparse', sparseModel, epochs);
  for (const r of [dense, sparse])
    console.log(`  ${r.name.padEnd(11)} weights kept ${(r.kept * 100).toFixed(1).padStart(5)}%  ${(r.seconds * 1000).toFixed(0).padStart(5)} ms/epoch  test accuracy ${(r.accuracy * 100).toFixed(1)}%`);
  console.log(`  the sparse model trains ${(dense.seconds / sparse.seconds).toFixed(2)}x faster per epoch (full data and tfjs: npm run bench:train)`);

  const dir = mkdtempSync(join(tmpdir(), 'sparsenn-demo-'));
  try {
    const file = join(dir, 'lenet-sparse.safetensors');
    await saveModel(sparseModel, file);
    const loaded = await loadModel(file);
    const test = await loadFashionMnist({ subset: true, split: 'test' });
    console.log(
      `  saved as safetensors (${(statSync(file).size / 1024).toFixed(0)} KiB, weights + masks + architecture), reloaded: test accuracy ${(evaluate(loaded, test).accuracy * 100).toFixed(1)}%`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
