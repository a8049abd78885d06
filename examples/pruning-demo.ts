/**
 * The pruning part of the demo, on the shipped Fashion-MNIST subset: LeNet-300-100 pruned
 * gradually to 90% during training (global magnitude, Zhu & Gupta's cubic schedule), its
 * sparsity report, then 2:4 on a trained dense model and channel pruning with the pruned
 * neurons physically removed.
 */
import {
  Adam,
  channels,
  evaluate,
  fit,
  formatSparsityReport,
  loadFashionMnist,
  manualSeed,
  nm,
  polynomialDecay,
  prune,
  Pruner,
  shrink,
  sparsityReport,
  type Dataset,
  type Module,
} from '../lib/index.js';
import { lenet300 } from '../bench/train/models.js';

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

async function train(model: Module, data: Dataset, epochs: number, callbacks = [] as Parameters<typeof fit>[2]['callbacks'], lr = 1e-3): Promise<void> {
  await fit(model, data, { optimizer: new Adam(model.parameters(), { lr }), epochs, batchSize: 64, seed: 1, callbacks });
}

export async function pruningDemo(epochs = 8): Promise<void> {
  const trainSet = await loadFashionMnist({ subset: true, split: 'train' });
  const test = await loadFashionMnist({ subset: true, split: 'test' });
  const steps = Math.ceil(trainSet.length / 64) * epochs;
  console.log(`\nPruning LeNet-300-100 on the same subset (${epochs} epochs):`);

  manualSeed(1);
  const dense = lenet300();
  await train(dense, trainSet, epochs);
  const denseAcc = evaluate(dense, test).accuracy;

  manualSeed(1);
  const model = lenet300();
  const schedule = polynomialDecay(new Pruner(model, { scope: 'global' }), { finalSparsity: 0.9, beginStep: 30, endStep: 30 + 10 * Math.floor((steps * 0.6) / 10), frequency: 10 });
  await train(model, trainSet, epochs, [schedule]);
  console.log(`  dense ${pct(denseAcc)}; gradual magnitude pruning to 90% (global, pruned ${schedule.history.length} times): ${pct(evaluate(model, test).accuracy)}`);
  console.log(
    formatSparsityReport(sparsityReport(model, { sampleShape: [784] }))
      .split('\n')
      .map((l) => '    ' + l)
      .join('\n'),
  );

  const twoFour = lenet300();
  twoFour.loadStateDict(dense.stateDict());
  prune(twoFour, { sparsity: 0.5, structure: nm(2, 4) });
  const before = evaluate(twoFour, test).accuracy;
  await train(twoFour, trainSet, 1, [], 5e-4);
  console.log(`  2:4 on the trained dense model: ${pct(before)} at once, ${pct(evaluate(twoFour, test).accuracy)} after one epoch of fine-tuning`);

  const slim = lenet300();
  slim.loadStateDict(dense.stateDict());
  prune(slim, { sparsity: 0.5, structure: channels(), sampleShape: [784], onWarning: () => {} });
  await train(slim, trainSet, 1, [], 5e-4);
  const small = shrink(slim, [784]);
  console.log(
    `  half the hidden neurons removed (channel pruning + one epoch): ${small.parametersBefore} -> ${small.parametersAfter} parameters, a plain dense model, test accuracy ${pct(evaluate(small.model, test).accuracy)}`,
  );
}
