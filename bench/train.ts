/**
 * Training benchmark: `npm run bench:train [-- options]`.
 *
 * On Fashion-MNIST (60k train / 10k test, the Debian package dataset-fashion-mnist), trains
 * LeNet-300-100, the same network with 90% of its weights pruned at random (static sparse
 * training on the sparse kernels), and a small CNN, with sparsenn at 1 and 2 threads and with
 * @tensorflow/tfjs on its pure-JS CPU backend, in the same process, same batch size and
 * optimizer (Adam, lr 1e-3, PyTorch's default initialisation on both sides; sparsenn's runs decay
 * the rate on a cosine over the run, --schedule none keeps it constant).
 *
 * Reported per run: seconds per epoch (median over the epochs run) and test accuracy after the
 * last epoch. tfjs is slow enough that a full run would take hours; by default it trains a
 * bounded number of steps per model and its epoch time is extrapolated from the median step
 * (accuracy is then not reported); --tfjs-full trains it for the full epochs.
 *
 * Options: --epochs-lenet N (default 10), --epochs-cnn N (5), --timing-epochs N (epochs of
 * the 2-thread runs, default 2), --tfjs-steps N (LeNet, 200), --tfjs-cnn-steps N (3: a tfjs
 * CPU step of the CNN takes ~40 s, its conv filter gradient being a scalar loop),
 * --tfjs-full, --batch N (64), --data DIR, --models a,b,c, --quick (subset, 1 epoch: a smoke run).
 */
import { cpus } from 'node:os';
import { args } from './common/args.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Adam, capabilities, cosineLr, evaluate, fit, loadFashionMnist, manualSeed, setThreads, type Dataset, type EpochLogs, type Module } from '../lib/index.js';
import { lenet300, lenet300Sparse, smallCnn, type ModelName } from './train/models.js';
import { trainTfjs, type PeerResult } from './train/tfjs-peer.js';

interface Options {
  epochsLenet: number;
  epochsCnn: number;
  timingEpochs: number;
  tfjsSteps: number;
  tfjsCnnSteps: number;
  tfjsFull: boolean;
  batch: number;
  data?: string;
  models: ModelName[];
  quick: boolean;
  schedule: 'cosine' | 'none';
}

function parseOptions(argv: string[]): Options {
  const o: Options = { epochsLenet: 10, epochsCnn: 5, timingEpochs: 2, tfjsSteps: 200, tfjsCnnSteps: 3, tfjsFull: false, batch: 64, models: ['lenet300', 'lenet300-sparse90', 'cnn'], quick: false, schedule: 'cosine' };
  for (const arg of args(argv)) {
    const a = arg.name;
    const next = arg.value;
    const int = arg.int;
    if (a === '--epochs-lenet') o.epochsLenet = int();
    else if (a === '--epochs-cnn') o.epochsCnn = int();
    else if (a === '--timing-epochs') o.timingEpochs = int();
    else if (a === '--tfjs-steps') o.tfjsSteps = int();
    else if (a === '--tfjs-cnn-steps') o.tfjsCnnSteps = int();
    else if (a === '--tfjs-full') o.tfjsFull = true;
    else if (a === '--batch') o.batch = int();
    else if (a === '--data') o.data = next();
    else if (a === '--models') o.models = next().split(',') as ModelName[];
    else if (a === '--quick') o.quick = true;
    else if (a === '--schedule') {
      const v = next();
      if (v !== 'cosine' && v !== 'none') throw new Error('--schedule takes cosine or none');
      o.schedule = v;
    }
    else throw new Error(`unknown option ${a}`);
  }
  if (o.quick) {
    o.epochsLenet = 1;
    o.epochsCnn = 1;
    o.timingEpochs = 1;
    o.tfjsSteps = 10;
    o.tfjsCnnSteps = 1;
  }
  return o;
}

interface OursResult {
  library: 'sparsenn';
  model: ModelName;
  threads: number;
  epochs: number;
  secondsPerEpoch: number;
  epochSeconds: number[];
  testAccuracy: number;
  trainLoss: number;
  keptWeights: number;
  totalWeights: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function build(model: ModelName): Module {
  manualSeed(1);
  if (model === 'lenet300') return lenet300();
  if (model === 'lenet300-sparse90') return lenet300Sparse(0.1, 1);
  return smallCnn();
}

function log(msg: string): void {
  process.stderr.write(`[bench:train] ${msg}\n`);
}

async function trainOurs(model: ModelName, threads: number, epochs: number, train: Dataset, test: Dataset, opts: Options): Promise<OursResult> {
  const net = build(model);
  const optimizer = new Adam(net.parameters(), { lr: 1e-3 });
  const steps = epochs * Math.ceil(train.length / opts.batch);
  const schedule = opts.schedule === 'cosine' ? cosineLr(steps) : undefined;
  const history = await fit(net, train, { optimizer, epochs, batchSize: opts.batch, seed: 7, threads, schedule, progress: process.stderr.isTTY });
  const logs: EpochLogs[] = history.epochs;
  setThreads(threads);
  const acc = evaluate(net, test).accuracy;
  const weights = net.namedParameters().filter(([n]) => n.endsWith('weight'));
  return {
    library: 'sparsenn',
    model,
    threads,
    epochs,
    secondsPerEpoch: median(logs.map((l) => l.seconds)),
    epochSeconds: logs.map((l) => l.seconds),
    testAccuracy: acc,
    trainLoss: logs[logs.length - 1]?.loss ?? NaN,
    keptWeights: weights.reduce((s, [, p]) => s + Math.round(p.density() * p.size), 0),
    totalWeights: weights.reduce((s, [, p]) => s + p.size, 0),
  };
}

function fmt(v: number | null | undefined, digits = 2): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits);
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const dataOpts = opts.quick ? { subset: true } : { dir: opts.data };
  const train = await loadFashionMnist({ ...dataOpts, split: 'train' });
  const test = await loadFashionMnist({ ...dataOpts, split: 'test' });
  log(`data: ${train.length} train / ${test.length} test samples`);
  const ours: OursResult[] = [];
  const peers: Array<PeerResult & { modelName: ModelName }> = [];
  for (const model of opts.models) {
    const epochs = model === 'cnn' ? opts.epochsCnn : opts.epochsLenet;
    log(`${model}: sparsenn, 1 thread, ${epochs} epochs`);
    ours.push(await trainOurs(model, 1, epochs, train, test, opts));
    log(`${model}: sparsenn, 2 threads, ${opts.timingEpochs} epochs`);
    ours.push(await trainOurs(model, 2, opts.timingEpochs, train, test, opts));
    if (model !== 'lenet300-sparse90') {
      const peerModel = model === 'cnn' ? 'cnn' : 'lenet300';
      const steps = model === 'cnn' ? opts.tfjsCnnSteps : opts.tfjsSteps;
      log(`${model}: tfjs-cpu, ${opts.tfjsFull ? `${epochs} epochs` : `${steps} steps`}`);
      const r = await trainTfjs({
        model: peerModel,
        train: { images: train.images, labels: train.labels, length: train.length },
        test: { images: test.images, labels: test.labels, length: test.length },
        epochs: opts.tfjsFull ? epochs : 1,
        batchSize: opts.batch,
        lr: 1e-3,
        seed: 7,
        init: 'torchDefault',
        ...(opts.tfjsFull ? {} : { maxStepsPerEpoch: steps }),
      });
      peers.push({ ...r, modelName: model });
    }
  }

  const caps = capabilities();
  const peerOf = (m: ModelName) => peers.find((p) => p.modelName === (m === 'lenet300-sparse90' ? 'lenet300' : m));
  const denseOf = (threads: number) => ours.find((r) => r.model === 'lenet300' && r.threads === threads);
  const lines: string[] = [];
  lines.push(
    `Machine: ${caps.cpuModel} (${caps.hardwareThreads} hardware threads, kernels ${caps.isa}); Node ${process.version}; batch ${opts.batch}, Adam lr 1e-3` +
      (opts.schedule === 'cosine' ? ' with cosine decay over each sparsenn run (tfjs: constant; a schedule does not change step time).' : '.'),
  );
  lines.push(`Data: Fashion-MNIST ${train.length} train / ${test.length} test.`);
  lines.push('');
  lines.push('| model | library | threads | epochs | s/epoch (median) | test accuracy | vs tfjs | vs dense LeNet (same threads) |');
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const r of ours) {
    const peer = peerOf(r.model);
    const dense = r.model === 'lenet300-sparse90' ? denseOf(r.threads) : undefined;
    lines.push(
      `| ${r.model}${r.keptWeights < r.totalWeights ? ` (${((1 - r.keptWeights / r.totalWeights) * 100).toFixed(0)}% pruned)` : ''} | sparsenn | ${r.threads} | ${r.epochs} | ${fmt(r.secondsPerEpoch)} | ${fmt(r.testAccuracy * 100)}% | ` +
        `${peer ? `${fmt(peer.secondsPerEpoch / r.secondsPerEpoch, 1)}× faster` : '–'} | ${dense ? `${fmt(dense.secondsPerEpoch / r.secondsPerEpoch, 2)}× faster` : '–'} |`,
    );
  }
  for (const p of peers)
    lines.push(
      `| ${p.modelName} | tfjs ${p.tfjsVersion} (${p.backend}) | 1 | ${p.extrapolated ? `${p.stepsRun} steps` : p.epochs} | ${fmt(p.secondsPerEpoch)}${p.extrapolated ? ' (extrapolated)' : ''} | ${p.testAccuracy === null ? '– (not trained to the end)' : `${fmt(p.testAccuracy * 100)}%`} | 1× | – |`,
    );
  const table = lines.join('\n');
  process.stdout.write(`\n${table}\n`);

  const root = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(root, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const json = {
    benchmark: 'train',
    date: new Date().toISOString(),
    machine: { cpu: caps.cpuModel, hardwareThreads: caps.hardwareThreads, cores: cpus().length, isa: caps.isa, node: process.version },
    options: opts,
    data: { train: train.length, test: test.length },
    sparsenn: ours,
    peers,
    table,
  };
  const file = join(root, `train-${stamp}${opts.quick ? '-quick' : ''}.json`);
  writeFileSync(file, JSON.stringify(json, null, 2));
  if (!opts.quick) writeFileSync(join(root, 'train-latest.json'), JSON.stringify(json, null, 2));
  log(`wrote ${file}`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
