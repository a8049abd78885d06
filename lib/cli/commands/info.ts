import { encodeSpnn, formatSizeReport, sizeReport } from '../../io/spnn.js';
import { formatSparsityReport, sparsityReport } from '../../prune/report.js';
import type { CommandSpec, ParsedArgs } from '../args.js';
import type { CliContext } from '../context.js';
import { fileSize, loadModelArg, SAMPLE_SHAPE_FLAG } from '../shared.js';

export const spec: CommandSpec = {
  name: 'info',
  summary: 'Show a model: architecture, parameters, per-layer sparsity and FLOPs, and what it costs on disk.',
  positionals: ['model'],
  flags: { 'sample-shape': SAMPLE_SHAPE_FLAG },
  examples: ['sparsenn info lenet-90.spnn', 'sparsenn info model.onnx --json'],
};

export async function run(args: ParsedArgs, ctx: CliContext): Promise<unknown> {
  const loaded = loadModelArg(args.positionals[0]!, spec.name);
  const model = loaded.model;
  const flag = args.flags['sample-shape'];
  const sampleShape = Array.isArray(flag) ? (flag as number[]) : loaded.sampleShape;
  const report = sparsityReport(model, sampleShape ? { sampleShape } : {});
  const size = sizeReport(model);
  const parameters = model.parameters().reduce((a, p) => a + p.size, 0);
  ctx.print(`${args.positionals[0]}: ${loaded.format}${loaded.fileBytes ? `, ${fileSize(loaded.fileBytes)}` : ''}; ${parameters.toLocaleString('en-US')} parameters; input ${sampleShape ? `[${sampleShape.join(', ')}]` : 'shape not recorded'}`);
  ctx.print('');
  ctx.print(formatSparsityReport(report));
  ctx.print('');
  ctx.print(formatSizeReport(size));
  return { format: loaded.format, fileBytes: loaded.fileBytes, parameters, sampleShape, architecture: model.config(), sparsity: report, size, spnnBytes: encodeSpnn(model).length };
}
