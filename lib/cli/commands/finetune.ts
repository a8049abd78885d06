import { saveModelFile } from '../../io/files.js';
import { Adam } from '../../nn/optim/adam.js';
import { evaluate, fit } from '../../nn/train/fit.js';
import type { CommandSpec, ParsedArgs } from '../args.js';
import type { CliContext } from '../context.js';
import { loadData } from '../data.js';
import { checkOutput, loadModelArg, SAMPLE_SHAPE_FLAG, sampleShapeOf } from '../shared.js';

export const spec: CommandSpec = {
  name: 'finetune',
  summary: 'Train a (pruned) model further with its masks fixed; writes the result.',
  details: 'Pruned weights stay exactly zero: masks never regrow during fine-tuning.',
  positionals: ['model'],
  flags: {
    output: { type: 'string', short: 'o', description: 'output file (.spnn, .safetensors or .onnx)', value: 'FILE' },
    epochs: { type: 'integer', description: 'training epochs', default: 1 },
    lr: { type: 'number', description: 'learning rate (Adam)', default: 5e-4 },
    'batch-size': { type: 'integer', description: 'batch size', default: 64 },
    data: { type: 'string', description: "'auto', 'subset', 'full' or a folder with Fashion-MNIST IDX files", default: 'auto' },
    'sample-shape': SAMPLE_SHAPE_FLAG,
    seed: { type: 'integer', description: 'seed of the shuffles', default: 0 },
  },
  examples: ['sparsenn finetune lenet-90.spnn --epochs 2 -o lenet-90-ft.spnn'],
};

export async function run(args: ParsedArgs, ctx: CliContext): Promise<unknown> {
  const f = args.flags;
  const output = checkOutput(f['output'], spec.name);
  const loaded = loadModelArg(args.positionals[0]!, spec.name);
  const sampleShape = sampleShapeOf(loaded, f['sample-shape'], spec.name);
  const data = await loadData(f['data'] as string);
  ctx.note(`data: ${data.description}`);
  const model = loaded.model;
  const before = evaluate(model, data.test).accuracy;
  const t0 = performance.now();
  await fit(model, data.train, { optimizer: new Adam(model.parameters(), { lr: f['lr'] as number }), epochs: f['epochs'] as number, batchSize: f['batch-size'] as number, seed: f['seed'] as number, progress: ctx.trainingProgress });
  const after = evaluate(model, data.test).accuracy;
  const seconds = (performance.now() - t0) / 1000;
  await saveModelFile(model, output, { sampleShape });
  ctx.print(`test accuracy: ${(before * 100).toFixed(2)}% before, ${(after * 100).toFixed(2)}% after (${seconds.toFixed(1)} s)\nwrote ${output}`);
  return { output, accuracyBefore: before, accuracyAfter: after, seconds };
}
