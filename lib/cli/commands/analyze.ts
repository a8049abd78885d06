import { connectivity } from '../../analysis/connectivity.js';
import { flopsReport, formatFlopsReport } from '../../analysis/flops.js';
import { percolationThreshold } from '../../analysis/percolation.js';
import { planSparsity } from '../../analysis/planner.js';
import { signalPropagation } from '../../analysis/signal.js';
import { formatSizeReport, sizeReport } from '../../io/spnn.js';
import { Random } from '../../nn/random.js';
import { Tensor } from '../../nn/tensor.js';
import type { CommandSpec, ParsedArgs } from '../args.js';
import type { CliContext } from '../context.js';
import { loadModelArg, SAMPLE_SHAPE_FLAG, sampleShapeOf } from '../shared.js';

export const spec: CommandSpec = {
  name: 'analyze',
  summary: 'Analyse a sparse model: FLOPs dense vs sparse, size and the mask entropy bound, connectivity (dead units, paths), percolation and signal propagation.',
  details:
    'Percolation: a layer whose units keep on average fan-out x (1 - p) connections cuts the signal when that falls to 1 or below (p_c = 1 - 1/fan-out). ' +
    'Signal propagation compares the measured per-layer second moment q with the ReLU mean-field prediction q_next = s * sigma_w^2 * q / 2.',
  positionals: ['model'],
  flags: {
    'sample-shape': SAMPLE_SHAPE_FLAG,
    samples: { type: 'integer', description: 'random Gaussian inputs for the signal-propagation measurement', default: 256 },
    seed: { type: 'integer', description: 'seed of those inputs', default: 0 },
    'budget-ms': { type: 'number', description: 'also plan per-layer sparsity and structure for this latency budget (ms per batch)', value: 'MS' },
    'budget-kb': { type: 'number', description: 'also plan per-layer sparsity and structure for this weight-size budget (KiB)', value: 'KIB' },
    batch: { type: 'integer', description: 'batch size the latency budget is for', default: 1 },
  },
  examples: ['sparsenn analyze lenet-90.spnn', 'sparsenn analyze lenet-90.spnn --json', 'sparsenn analyze zoo:lenet300 --budget-kb 120 --budget-ms 0.05 --batch 8'],
};

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (c: string[]) => c.map((s, i) => s.padEnd(w[i]!)).join('  ');
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n');
}

export async function run(args: ParsedArgs, ctx: CliContext): Promise<unknown> {
  const f = args.flags;
  const loaded = loadModelArg(args.positionals[0]!, spec.name);
  const model = loaded.model;
  const sampleShape = sampleShapeOf(loaded, f['sample-shape'], spec.name);
  const flops = flopsReport(model, { sampleShape });
  const size = sizeReport(model);
  const conn = connectivity(model, { sampleShape });
  const perc = percolationThreshold(model, { sampleShape });
  const n = f['samples'] as number;
  const rng = new Random(f['seed'] as number);
  const x = new Tensor(Float32Array.from({ length: sampleShape.reduce((a, b) => a * b, 1) * n }, () => rng.normal()), [...sampleShape, n]);
  const signal = signalPropagation(model, x);

  ctx.print('FLOPs\n' + formatFlopsReport(flops));
  ctx.print('\nSize\n' + formatSizeReport(size));
  ctx.print(
    `\nConnectivity: ${conn.disconnected ? 'DISCONNECTED (no input reaches an output)' : `${conn.log10Paths.toFixed(1)} (log10) input-to-output paths`}; ${conn.deadUnits} of ${conn.units} units dead\n` +
      table(
        ['layer', 'units', 'reachable', 'reach output', 'dead'],
        conn.layers.map((l) => [l.name, String(l.units), String(l.reachable), String(l.reachesOutput), String(l.dead.length)]),
      ),
  );
  ctx.print(
    `\nPercolation: ${perc.firstSubcritical ? `'${perc.firstSubcritical}' is subcritical (kept fan-out <= 1)` : 'every layer is supercritical (kept fan-out > 1)'}${perc.pConnected !== null ? `; P(connected) = ${perc.pConnected.toFixed(4)}` : ''}\n` +
      table(
        ['layer', 'fan-out', 'unit sparsity', 'kept fan-out', 'critical sparsity'],
        perc.layers.map((l) => [l.name, String(l.fanOut), l.unitSparsity.toFixed(4), l.branching.toFixed(2), l.criticalSparsity.toFixed(4)]),
      ),
  );
  ctx.print(
    `\nSignal propagation (${signal.samples} Gaussian inputs): measured q vs the ReLU mean-field prediction\n` +
      table(
        ['layer', 'density', 's*sigma_w^2', 'q measured', 'q predicted', 'ratio', 'predicted ratio'],
        signal.layers.map((l) => [l.name, l.density.toFixed(3), l.gain.toFixed(3), l.q.toPrecision(4), l.qPredicted.toPrecision(4), l.ratio === null ? '-' : l.ratio.toFixed(3), l.ratioPredicted === null ? '-' : l.ratioPredicted.toFixed(3)]),
      ),
  );
  let plan = null;
  if (f['budget-ms'] !== undefined || f['budget-kb'] !== undefined) {
    const budget = { latencyMs: f['budget-ms'] as number | undefined, sizeBytes: f['budget-kb'] === undefined ? undefined : (f['budget-kb'] as number) * 1024 };
    plan = planSparsity(model, { sampleShape, budget, batchSize: f['batch'] as number });
    ctx.print(
      `\nPlan for ${[budget.latencyMs !== undefined ? `${budget.latencyMs} ms` : '', budget.sizeBytes !== undefined ? `${f['budget-kb']} KiB` : ''].filter(Boolean).join(' and ')} at batch ${plan.batchSize}: ` +
        `${plan.feasible ? 'reached' : 'NOT reached'} (estimated ${plan.latencyMs.toFixed(3)} ms, ${(plan.bytes / 1024).toFixed(1)} KiB; dense ${plan.denseLatencyMs.toFixed(3)} ms, ${(plan.denseBytes / 1024).toFixed(1)} KiB)\n` +
        table(
          ['layer', 'structure', 'sparsity', 'kernel', 'est. ms', 'est. KiB', 'energy removed'],
          plan.layers.map((l) => [l.name, l.chosen.structure, l.chosen.sparsity.toFixed(2), l.chosen.format, l.chosen.latencyMs.toFixed(4), (l.chosen.bytes / 1024).toFixed(1), `${(l.chosen.damage * 100).toFixed(2)}%`]),
        ),
    );
  }
  return { flops, size, connectivity: conn, percolation: perc, signal, plan };
}
