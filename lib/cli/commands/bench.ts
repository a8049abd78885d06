import { formatLatency, measureLatency, QUICK_TIMING } from '../../infer/latency.js';
import { getThreads } from '../../runtime.js';
import { UsageError, type CommandSpec, type ParsedArgs } from '../args.js';
import type { CliContext } from '../context.js';
import { loadModelArg, SAMPLE_SHAPE_FLAG, sampleShapeOf } from '../shared.js';

export const spec: CommandSpec = {
  name: 'bench',
  summary: 'Latency and throughput of the compiled model vs the same model run dense, and vs onnxruntime-node on the dense model when it is installed.',
  details: 'All sides use the same thread count and are timed in turn in the same run (medians of repeated batches of calls).',
  positionals: ['model'],
  flags: {
    batch: { type: 'numbers', description: 'batch sizes', default: [1, 8, 64], value: 'N,N,...' },
    threads: { type: 'integer', description: 'threads for every side (default: all cores)' },
    ort: { type: 'boolean', description: 'include onnxruntime-node (--no-ort to skip)', default: true },
    quick: { type: 'boolean', description: 'a rough measurement in a fraction of the time', default: false },
    'sample-shape': SAMPLE_SHAPE_FLAG,
  },
  examples: ['sparsenn bench lenet-90.spnn', 'sparsenn bench lenet-90.spnn --batch 1,64 --threads 1 --json'],
};

export async function run(args: ParsedArgs, ctx: CliContext): Promise<unknown> {
  const f = args.flags;
  const loaded = loadModelArg(args.positionals[0]!, spec.name);
  const sampleShape = sampleShapeOf(loaded, f['sample-shape'], spec.name);
  const batch = f['batch'] as number[];
  if (batch.some((b) => !Number.isInteger(b) || b < 1)) throw new UsageError(`--batch needs positive integers, got ${batch.join(',')}`, spec.name);
  const threads = (f['threads'] as number | undefined) ?? getThreads();
  const progress = ctx.progress('benchmark', batch.length);
  const result = await measureLatency(loaded.model, { sampleShape, batchSizes: batch, threads, ort: f['ort'] as boolean, timing: f['quick'] ? QUICK_TIMING : undefined, onBatch: (b, i) => i > 0 && progress.tick(1, `batch ${b}`) });
  progress.tick(1);
  progress.finish();
  ctx.print(formatLatency(result));
  return result;
}
