import { mkdirSync } from 'node:fs';
import { formatLatency } from '../../infer/latency.js';
import { getThreads } from '../../runtime.js';
import { UsageError, type CommandSpec, type ParsedArgs } from '../args.js';
import type { CliContext } from '../context.js';
import { runDemo } from '../demo.js';
import { fileSize } from '../shared.js';

export const spec: CommandSpec = {
  name: 'demo',
  summary: 'The main job: LeNet-300-100 on Fashion-MNIST pruned gradually to 90%, compiled, and compared dense vs sparse vs onnxruntime-node (accuracy, size, latency); writes an HTML report.',
  details:
    'Starts from the dense checkpoint shipped with sparsenn (trained on the full Fashion-MNIST); --retrain trains it here instead. ' +
    'Uses the full Fashion-MNIST when the Debian package dataset-fashion-mnist is installed, else the subset shipped with sparsenn.',
  positionals: [],
  flags: {
    sparsity: { type: 'number', description: 'target sparsity', default: 0.9 },
    epochs: { type: 'integer', description: 'epochs of gradual pruning (default 3 on the full set, 15 on the subset)' },
    retrain: { type: 'boolean', description: 'train the dense model instead of loading the shipped checkpoint', default: false },
    data: { type: 'string', description: "'auto', 'subset', 'full' or a folder with Fashion-MNIST IDX files", default: 'auto' },
    out: { type: 'string', description: 'folder for the report and the pruned model', default: 'sparsenn-demo', value: 'DIR' },
    batch: { type: 'numbers', description: 'batch sizes to time', default: [1, 8, 64], value: 'N,N,...' },
    threads: { type: 'integer', description: 'threads for sparsenn and onnxruntime-node alike (default: all cores)' },
    ort: { type: 'boolean', description: 'compare with onnxruntime-node when installed (--no-ort to skip)', default: true },
    seed: { type: 'integer', description: 'seed', default: 0 },
    quick: { type: 'boolean', description: 'rough latency numbers in a fraction of the time', default: false },
  },
  examples: ['sparsenn demo', 'npm start', 'sparsenn demo --data subset --threads 1 --out /tmp/demo'],
};

export async function run(args: ParsedArgs, ctx: CliContext): Promise<unknown> {
  const f = args.flags;
  const sparsity = f['sparsity'] as number;
  if (!(sparsity > 0 && sparsity < 1)) throw new UsageError(`--sparsity must be in (0, 1), got ${sparsity}`, spec.name);
  const batchSizes = f['batch'] as number[];
  if (batchSizes.some((b) => !Number.isInteger(b) || b < 1)) throw new UsageError(`--batch needs positive integers, got ${batchSizes.join(',')}`, spec.name);
  const outDir = f['out'] as string;
  mkdirSync(outDir, { recursive: true });
  const { result } = await runDemo(
    {
      sparsity,
      epochs: f['epochs'] as number | undefined,
      retrain: f['retrain'] as boolean,
      data: f['data'] as string,
      outDir,
      batchSizes,
      threads: (f['threads'] as number | undefined) ?? getThreads(),
      ort: f['ort'] as boolean,
      seed: f['seed'] as number,
      quick: f['quick'] as boolean,
    },
    ctx,
  );
  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  ctx.print('');
  ctx.print(`accuracy  dense ${pct(result.dense.accuracy)}   ${pct(result.sparse.sparsity)} sparse ${pct(result.sparse.accuracy)}   (one-shot without retraining: ${result.oneShot.map((p) => `${Math.round(p.sparsity * 100)}% ${pct(p.accuracy)}`).join(', ')})`);
  ctx.print(`size      dense ${fileSize(result.dense.bytes)}   sparse ${fileSize(result.sparse.bytes)} (${((result.sparse.bytes / result.dense.bytes) * 100).toFixed(1)}%)   -> ${result.sparse.file}`);
  ctx.print('latency');
  ctx.print(formatLatency(result.latency));
  ctx.print(`report    ${result.report}   (${result.seconds.toFixed(1)} s in all)`);
  return result;
}
