import { evaluate, fit } from '../../nn/train/fit.js';
import { Adam } from '../../nn/optim/adam.js';
import { sparseGpt } from '../../prune/obs.js';
import { Pruner, prune } from '../../prune/pruner.js';
import { formatSparsityReport, sparsityReport } from '../../prune/report.js';
import { polynomialDecay } from '../../prune/schedules.js';
import type { Scope } from '../../prune/scope.js';
import { saveModelFile } from '../../io/files.js';
import { UsageError, type CommandSpec, type ParsedArgs } from '../args.js';
import type { CliContext } from '../context.js';
import { loadData } from '../data.js';
import { checkOutput, criterionOf, CRITERIA, loadModelArg, needsCalibration, parseStructure, SAMPLE_SHAPE_FLAG, sampleShapeOf, type CriterionName } from '../shared.js';

export const spec: CommandSpec = {
  name: 'prune',
  summary: 'Prune a model: criterion x structure x scope x schedule, then optionally fine-tune; writes the pruned model.',
  details:
    'One-shot pruning scores the trained weights once (magnitude, or a data-driven criterion on calibration batches) and can fine-tune after. ' +
    'The gradual schedule (Zhu & Gupta) prunes along a cubic curve while training for --epochs. Labels and data come from --data (Fashion-MNIST).',
  positionals: ['model'],
  flags: {
    output: { type: 'string', short: 'o', description: 'output file (.spnn, .safetensors or .onnx)', value: 'FILE' },
    sparsity: { type: 'number', description: 'fraction of weights to remove, in [0, 1)', default: 0.9 },
    criterion: { type: 'string', description: 'how weights are scored', choices: CRITERIA, default: 'magnitude' },
    structure: { type: 'string', description: 'unstructured, N:M (e.g. 2:4), RxC blocks (e.g. 4x1) or channels', default: 'unstructured' },
    scope: { type: 'string', description: 'how the sparsity is spread over layers', choices: ['layer', 'global', 'erk'], default: 'global' },
    schedule: { type: 'string', description: 'one-shot, or gradual while training', choices: ['oneshot', 'gradual'], default: 'oneshot' },
    epochs: { type: 'integer', description: 'fine-tuning epochs after one-shot pruning, or training epochs of the gradual schedule', default: 0 },
    lr: { type: 'number', description: 'learning rate (Adam)', default: 1e-3 },
    'batch-size': { type: 'integer', description: 'training batch size', default: 64 },
    'keep-dense': { type: 'string', description: 'layers to keep dense', choices: ['none', 'first', 'last', 'first-last'], default: 'none' },
    calibration: { type: 'integer', description: 'calibration batches (of 64) for data-driven criteria', default: 8 },
    data: { type: 'string', description: "training / calibration data: 'auto' (full Fashion-MNIST when installed, else the shipped subset), 'subset', 'full' or a folder", default: 'auto' },
    'sample-shape': SAMPLE_SHAPE_FLAG,
    seed: { type: 'integer', description: 'seed of shuffling and random criteria', default: 0 },
  },
  examples: [
    'sparsenn prune lenet.spnn --sparsity 0.9 -o lenet-90.spnn',
    'sparsenn prune lenet.spnn --structure 2:4 --epochs 1 -o lenet-24.spnn',
    'sparsenn prune lenet.spnn --criterion wanda --scope layer --sparsity 0.5 -o lenet-wanda.spnn',
    'sparsenn prune zoo:lenet300 --schedule gradual --epochs 8 --sparsity 0.9 -o lenet-gradual.spnn',
  ],
};

export async function run(args: ParsedArgs, ctx: CliContext): Promise<unknown> {
  const f = args.flags;
  const output = checkOutput(f['output'], spec.name);
  const sparsity = f['sparsity'] as number;
  if (!(sparsity >= 0 && sparsity < 1)) throw new UsageError(`--sparsity must be in [0, 1), got ${sparsity}`, spec.name);
  const loaded = loadModelArg(args.positionals[0]!, spec.name);
  const model = loaded.model;
  const sampleShape = sampleShapeOf(loaded, f['sample-shape'], spec.name);
  const criterionName = f['criterion'] as CriterionName;
  const structure = parseStructure(f['structure'] as string, spec.name);
  const scope = f['scope'] as Scope;
  const schedule = f['schedule'] as string;
  const epochs = f['epochs'] as number;
  if (schedule === 'gradual' && epochs < 1) throw new UsageError('the gradual schedule trains while pruning: give --epochs N (N >= 1)', spec.name);
  const seed = f['seed'] as number;
  const needsData = epochs > 0 || needsCalibration(criterionName);
  const data = needsData ? await loadData(f['data'] as string) : null;
  if (data) ctx.note(`data: ${data.description}`);
  const calibration = data && needsCalibration(criterionName) ? { data: data.train, batches: f['calibration'] as number, batchSize: 64 } : undefined;
  const warnings: string[] = [];
  const pruner = { scope, structure, calibration, sampleShape, keepDense: f['keep-dense'] as 'none', onWarning: (m: string) => warnings.push(m) };
  const before = data ? evaluate(model, data.test).accuracy : null;
  const t0 = performance.now();

  if (criterionName === 'sparsegpt') {
    if (structure.kind !== 'unstructured' && structure.kind !== 'nm') throw new UsageError('--criterion sparsegpt supports unstructured and N:M structures', spec.name);
    if (scope !== 'layer') ctx.note('sparsegpt prunes each layer to the target (scope layer)');
    sparseGpt(model, { ...(structure.kind === 'nm' ? { nm: { n: structure.n, m: structure.m } } : { sparsity }), calibration: calibration!, onWarning: pruner.onWarning });
  } else if (schedule === 'oneshot') {
    prune(model, { ...pruner, sparsity, criterion: criterionOf(criterionName, seed)! });
  }
  let accuracy = before;
  if (epochs > 0 && data) {
    const steps = Math.ceil(data.train.length / (f['batch-size'] as number)) * epochs;
    const callbacks = [];
    if (schedule === 'gradual') {
      const frequency = Math.max(1, Math.min(100, Math.floor(steps / 20)));
      const begin = Math.round(0.1 * steps);
      const end = begin + Math.max(1, Math.round((0.5 * steps) / frequency)) * frequency;
      callbacks.push(polynomialDecay(new Pruner(model, { ...pruner, criterion: criterionOf(criterionName, seed)! }), { finalSparsity: sparsity, beginStep: begin, endStep: end, frequency }));
    }
    ctx.note(`${schedule === 'gradual' ? 'training with the gradual schedule' : 'fine-tuning'}: ${epochs} epoch(s)`);
    await fit(model, data.train, { optimizer: new Adam(model.parameters(), { lr: f['lr'] as number }), epochs, batchSize: f['batch-size'] as number, seed, callbacks, progress: ctx.trainingProgress });
    accuracy = evaluate(model, data.test).accuracy;
  }
  const seconds = (performance.now() - t0) / 1000;
  await saveModelFile(model, output, { sampleShape });
  const report = sparsityReport(model, { sampleShape });
  for (const w of warnings) ctx.note(`warning: ${w}`);
  ctx.print(formatSparsityReport(report));
  if (before !== null) ctx.print(`\ntest accuracy: ${(before * 100).toFixed(2)}% before, ${(accuracy! * 100).toFixed(2)}% after`);
  ctx.print(`wrote ${output} (${seconds.toFixed(1)} s)`);
  return { output, sparsity: report.sparsity, nnz: report.nnz, size: report.size, accuracyBefore: before, accuracyAfter: accuracy, seconds, warnings, layers: report.layers };
}
