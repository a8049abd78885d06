import { statSync } from 'node:fs';
import { saveModelFile } from '../../io/files.js';
import type { CommandSpec, ParsedArgs } from '../args.js';
import type { CliContext } from '../context.js';
import { checkOutput, fileSize, loadModelArg, SAMPLE_SHAPE_FLAG, sampleShapeOf } from '../shared.js';

export const spec: CommandSpec = {
  name: 'export',
  summary: 'Convert a model between .spnn, .safetensors and .onnx (ONNX: dense weights with zeros, for any runtime).',
  positionals: ['model'],
  flags: {
    output: { type: 'string', short: 'o', description: 'output file; its extension picks the format', value: 'FILE' },
    precision: { type: 'string', description: '.spnn weight precision', choices: ['fp32', 'fp16', 'int8'], default: 'fp32' },
    'sample-shape': SAMPLE_SHAPE_FLAG,
  },
  examples: ['sparsenn export lenet-90.spnn -o lenet-90.onnx', 'sparsenn export model.onnx -o model.spnn --precision fp16'],
};

export async function run(args: ParsedArgs, ctx: CliContext): Promise<unknown> {
  const f = args.flags;
  const output = checkOutput(f['output'], spec.name);
  const loaded = loadModelArg(args.positionals[0]!, spec.name);
  const sampleShape = sampleShapeOf(loaded, f['sample-shape'], spec.name);
  await saveModelFile(loaded.model, output, { sampleShape, spnn: { precision: f['precision'] as 'fp32' } });
  const bytes = statSync(output).size;
  ctx.print(`wrote ${output} (${fileSize(bytes)})`);
  return { output, bytes, sampleShape };
}
