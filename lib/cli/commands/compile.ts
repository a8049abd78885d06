import { compile } from '../../infer/compile.js';
import { writeFileAtomicSync } from '../../io/atomic-file.js';
import { formatPlan } from '../../infer/plan-report.js';
import { setThreads } from '../../runtime.js';
import { UsageError, type CommandSpec, type ParsedArgs } from '../args.js';
import type { CliContext } from '../context.js';
import { loadModelArg, SAMPLE_SHAPE_FLAG, sampleShapeOf } from '../shared.js';

export const spec: CommandSpec = {
  name: 'compile',
  summary: 'Compile a model into an inference plan and show it: per layer the chosen format (dense / CSR / N:M / block) and the timings behind it.',
  details: 'Batch norms are folded, bias and ReLU fused, unreachable units removed; each layer gets the format measured fastest on this machine for each expected batch size (timings cached per machine).',
  positionals: ['model'],
  flags: {
    batch: { type: 'numbers', description: 'expected batch sizes to tune for', default: [1, 32], value: 'N,N,...' },
    threads: { type: 'integer', description: 'kernel threads (default: all cores)' },
    formats: { type: 'string', description: "'auto', or force one format on every layer: dense, csr, nm, 2:4, bsr, 'bsr 4x1'", default: 'auto' },
    output: { type: 'string', short: 'o', description: 'also write the plan as JSON to this file', value: 'FILE' },
    'sample-shape': SAMPLE_SHAPE_FLAG,
  },
  examples: ['sparsenn compile lenet-90.spnn --batch 1,8,64', 'sparsenn compile lenet-90.spnn --json > plan.json'],
};

export async function run(args: ParsedArgs, ctx: CliContext): Promise<unknown> {
  const f = args.flags;
  const loaded = loadModelArg(args.positionals[0]!, spec.name);
  const sampleShape = sampleShapeOf(loaded, f['sample-shape'], spec.name);
  const batch = f['batch'] as number[];
  if (batch.some((b) => !Number.isInteger(b) || b < 1)) throw new UsageError(`--batch needs positive integers, got ${batch.join(',')}`, spec.name);
  if (f['threads'] !== undefined) setThreads(f['threads'] as number);
  const t0 = performance.now();
  const session = compile(loaded.model, { sampleShape, batchSizes: batch, formats: f['formats'] as string });
  const plan = session.plan();
  session.dispose();
  const seconds = (performance.now() - t0) / 1000;
  ctx.print(formatPlan(plan));
  ctx.print(`compiled in ${seconds.toFixed(2)} s`);
  if (typeof f['output'] === 'string') {
    writeFileAtomicSync(f['output'], new TextEncoder().encode(JSON.stringify(plan, null, 2)));
    ctx.print(`wrote ${f['output']}`);
  }
  return { plan, seconds };
}
