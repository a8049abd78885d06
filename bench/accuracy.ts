/**
 * Accuracy benchmark of the pruning toolkit: `npm run bench:accuracy [-- options]`.
 *
 * On Fashion-MNIST (60k/10k, Debian package dataset-fashion-mnist), LeNet-300-100 and the
 * small CNN of bench/train, at sparsities 50/80/90/95/98% and several seeds: one-shot global
 * magnitude without and with fine-tuning, gradual magnitude (Zhu & Gupta), iterative
 * magnitude pruning rewound to init vs the same masks randomly re-initialised (lottery
 * tickets), SNIP at init, SET, RigL, L1 + pruning, 2:4 with fine-tuning, and channel pruning
 * (accuracy vs FLOPs). Every run trains with Adam (lr 1e-3, cosine decay) at batch 64.
 *
 * Writes bench/results/accuracy-<time>.json (every run, updated as it goes), a markdown table
 * (mean ± std over seeds) and SVG plots of accuracy vs sparsity under bench/results/, and
 * checks the literature's targets.
 *
 * Options: --models lenet300,cnn  --seeds N (LeNet, default 3)  --cnn-seeds N (1)
 *   --first-seed N (1: seeds N, N+1, ...)
 *   --epochs N (LeNet, 8)  --cnn-epochs N (3)  --ft-epochs N (2)  --cnn-ft-epochs N (1)
 *   --sparsities 0.5,0.8,...  --methods oneshot,gradual,snip,set,rigl,imp,l1,2:4,channel (LeNet's)
 *   --cnn-methods gradual,2:4,channel (the CNN's methods; its
 *   epochs cost ~45 s here, so the full grid is LeNet's)  --threads N (2)  --data DIR  --quick
 *   --from a.json,b.json (re-render and merge earlier runs' results, no training)
 */
import { mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { cpus } from 'node:os';
import { args } from './common/args.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { capabilities, loadFashionMnist, type Dataset } from '../lib/index.js';
import { lenet300, smallCnn } from './train/models.js';
import * as M from './accuracy/methods.js';
import { accuracyPlot, type Series } from './accuracy/plot.js';

interface Options {
  models: string[];
  seeds: number;
  /** The first seed (runs use firstSeed, firstSeed + 1, ...). */
  firstSeed: number;
  cnnSeeds: number;
  epochs: number;
  cnnEpochs: number;
  ftEpochs: number;
  cnnFtEpochs: number;
  sparsities: number[];
  methods: string[];
  cnnMethods: string[];
  threads: number;
  data?: string;
  quick: boolean;
  /** Re-render these earlier result files instead of training. */
  from: string[];
}

function parseOptions(argv: string[]): Options {
  const o: Options = { models: ['lenet300', 'cnn'], seeds: 3, firstSeed: 1, cnnSeeds: 1, epochs: 8, cnnEpochs: 3, ftEpochs: 2, cnnFtEpochs: 1, sparsities: [0.5, 0.8, 0.9, 0.95, 0.98], methods: ['oneshot', 'gradual', 'snip', 'set', 'rigl', 'imp', 'l1', '2:4', 'channel'], cnnMethods: ['gradual', '2:4', 'channel'], threads: 2, quick: false, from: [] };
  for (const arg of args(argv)) {
    const a = arg.name;
    const next = arg.value;
    const int = arg.int;
    if (a === '--models') o.models = next().split(',');
    else if (a === '--seeds') o.seeds = int();
    else if (a === '--first-seed') o.firstSeed = int();
    else if (a === '--cnn-seeds') o.cnnSeeds = int();
    else if (a === '--epochs') o.epochs = int();
    else if (a === '--cnn-epochs') o.cnnEpochs = int();
    else if (a === '--ft-epochs') o.ftEpochs = int();
    else if (a === '--cnn-ft-epochs') o.cnnFtEpochs = int();
    else if (a === '--sparsities') o.sparsities = next().split(',').map(Number);
    else if (a === '--methods') o.methods = next().split(',');
    else if (a === '--cnn-methods') o.cnnMethods = next().split(',');
    else if (a === '--threads') o.threads = int();
    else if (a === '--data') o.data = next();
    else if (a === '--quick') o.quick = true;
    else if (a === '--from') o.from = next().split(',');
    else throw new Error(`unknown option ${a}`);
  }
  if (o.quick) Object.assign(o, { seeds: 1, cnnSeeds: 1, epochs: 1, cnnEpochs: 1, ftEpochs: 1, cnnFtEpochs: 1 });
  return o;
}

const root = join(dirname(fileURLToPath(import.meta.url)), 'results');

function saveAtomic(path: string, text: string): void {
  writeFileSync(path + '.tmp', text);
  renameSync(path + '.tmp', path);
}

interface Group {
  model: string;
  method: string;
  sparsity: number;
  seeds: number[];
  accuracies: number[];
  reached: number[];
  flopsDense?: number;
  flopsSparse?: number;
}

function groups(cells: M.Cell[]): Group[] {
  const map = new Map<string, Group>();
  for (const c of cells) {
    const key = `${c.model}|${c.method}|${c.sparsity}`;
    let g = map.get(key);
    if (!g) map.set(key, (g = { model: c.model, method: c.method, sparsity: c.sparsity, seeds: [], accuracies: [], reached: [] }));
    // merged runs may each have trained the same (deterministic) dense baseline: one per seed
    if (g.seeds.includes(c.seed)) continue;
    g.seeds.push(c.seed);
    g.accuracies.push(c.accuracy);
    g.reached.push(c.reached);
    if (c.flopsDense !== undefined) {
      g.flopsDense = c.flopsDense;
      g.flopsSparse = c.flopsSparse;
    }
  }
  return [...map.values()];
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const std = (v: number[]) => (v.length < 2 ? 0 : Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1)));
const pct = (v: number[]) => (v.length > 1 ? `${(mean(v) * 100).toFixed(2)} ± ${(std(v) * 100).toFixed(2)}` : (mean(v) * 100).toFixed(2));

function table(gs: Group[], model: string, sparsities: number[]): string {
  const mine = gs.filter((g) => g.model === model && !g.method.startsWith('channel'));
  const methods = [...new Set(mine.map((g) => g.method))];
  const cols = [...new Set([0, ...sparsities, ...mine.map((g) => g.sparsity)])].sort((a, b) => a - b);
  const head = `| method | ${cols.map((s) => `${Math.round(s * 1000) / 10}%`).join(' | ')} |`;
  const lines = [head, `|---|${cols.map(() => '---:').join('|')}|`];
  for (const m of methods) {
    const cells = cols.map((s) => {
      const g = mine.find((x) => x.method === m && x.sparsity === s);
      return g ? pct(g.accuracies) : '';
    });
    lines.push(`| ${m} | ${cells.join(' | ')} |`);
  }
  const ch = gs.filter((g) => g.model === model && g.method.startsWith('channel'));
  if (ch.length) {
    lines.push('', '| channel pruning (units removed per hidden layer) | parameters removed | FLOPs/sample dense → shrunk | accuracy |', '|---|---:|---:|---:|');
    for (const g of ch) lines.push(`| ${Math.round(g.sparsity * 100)}% | ${(mean(g.reached) * 100).toFixed(1)}% | ${g.flopsDense} → ${g.flopsSparse} (${((g.flopsSparse! / g.flopsDense!) * 100).toFixed(1)}%) | ${pct(g.accuracies)} |`);
  }
  return lines.join('\n');
}

interface Target {
  model: string;
  target: string;
  measured: string;
  holds: boolean;
}

function targets(gs: Group[], model: string): Target[] {
  const get = (method: string, s: number) => gs.find((g) => g.model === model && g.method === method && g.sparsity === s);
  const out: Target[] = [];
  const dense = get('dense', 0);
  if (!dense) return out;
  const d = mean(dense.accuracies);
  const gradual = get('gradual magnitude', 0.9);
  if (gradual) out.push({ model, target: 'gradual magnitude at 90% within 0.5 points of dense', measured: `${(mean(gradual.accuracies) * 100).toFixed(2)} vs ${(d * 100).toFixed(2)}`, holds: mean(gradual.accuracies) >= d - 0.005 });
  for (const s of [0.9, 0.95, 0.98]) {
    const t = get('IMP, rewound to init', s);
    const r = get('IMP masks, random re-init', s);
    if (t && r) out.push({ model, target: `rewound ticket beats random re-init at ${s * 100}%`, measured: `${(mean(t.accuracies) * 100).toFixed(2)} vs ${(mean(r.accuracies) * 100).toFixed(2)}`, holds: mean(t.accuracies) > mean(r.accuracies) });
  }
  for (const s of [0.95, 0.98]) {
    const rigl = get('RigL', s);
    const set = get('SET', s);
    if (rigl && set) out.push({ model, target: `RigL >= SET at ${s * 100}%`, measured: `${(mean(rigl.accuracies) * 100).toFixed(2)} vs ${(mean(set.accuracies) * 100).toFixed(2)}`, holds: mean(rigl.accuracies) >= mean(set.accuracies) });
  }
  const tf = get('2:4 + fine-tune', 0.5);
  if (tf) out.push({ model, target: '2:4 + fine-tune within 0.5 points of dense', measured: `${(mean(tf.accuracies) * 100).toFixed(2)} vs ${(d * 100).toFixed(2)}`, holds: mean(tf.accuracies) >= d - 0.005 });
  return out;
}

async function runModel(o: Options, setup: M.Setup, seeds: number, methods: Set<string>, cells: M.Cell[], save: () => void): Promise<void> {
  const push = (c: M.Cell | M.Cell[]) => {
    for (const x of Array.isArray(c) ? c : [c]) {
      cells.push(x);
      console.log(`${x.model.padEnd(9)} seed ${x.seed}  ${x.method.padEnd(32)} ${(x.sparsity * 100).toFixed(0).padStart(3)}%  acc ${(x.accuracy * 100).toFixed(2)}%  reached ${(x.reached * 100).toFixed(2)}%  ${x.seconds.toFixed(0)} s`);
    }
    save();
  };
  const has = (m: string) => methods.has(m);
  for (let seed = o.firstSeed; seed < o.firstSeed + seeds; seed++) {
    // the dense run is the baseline and the start of the post-training methods; the methods
    // that train from scratch do not need it (their baseline may come from another run)
    const needsDense = has('dense') || has('oneshot') || has('2:4') || has('channel');
    const trained = needsDense ? await M.dense(setup, seed).then((d) => (push(d.cell), d.model)) : null;
    for (const s of o.sparsities) {
      if (has('oneshot')) push(await M.oneShot(setup, trained!, s, seed));
      if (has('gradual')) push(await M.gradual(setup, s, seed));
      if (has('snip')) push(await M.snipAtInit(setup, s, seed));
      if (has('set')) push(await M.dynamic(setup, 'SET', s, seed));
      if (has('rigl')) push(await M.dynamic(setup, 'RigL', s, seed));
    }
    if (has('imp')) push(await M.lotteryTickets(setup, o.sparsities, seed));
    if (has('l1')) {
      const l1 = await M.l1Trained(setup, seed);
      for (const s of o.sparsities) push(await M.l1Prune(setup, l1, s, seed));
    }
    if (has('2:4')) push(await M.twoFour(setup, trained!, seed));
    if (has('channel')) for (const f of [0.25, 0.5, 0.75]) push(await M.channelPrune(setup, trained!, f, seed));
  }
}

interface RunFile {
  meta: { date: string; cpu?: string; cores: number; isa: string; node: string; options: Options; train: number; test: number };
  cells: M.Cell[];
}

/** The markdown report and the SVG plots of a set of runs (one file, or several merged). */
function render(runs: RunFile[], stamp: string): string {
  const cells = runs.flatMap((r) => r.cells);
  const gs = groups(cells);
  const meta = runs[0]!.meta;
  const models = [...new Set(cells.map((c) => c.model))];
  const md: string[] = [`# Accuracy vs sparsity (${runs.map((r) => r.meta.date).join(', ')})`, '', `${meta.cpu}, ${meta.cores} cores, ${meta.isa}, Node ${meta.node}; Fashion-MNIST ${meta.train}/${meta.test}; Adam (lr 1e-3, cosine decay), batch 64.`, ''];
  for (const m of models) {
    const mine = cells.filter((c) => c.model === m);
    const o = runs.find((r) => r.cells.some((c) => c.model === m))!.meta.options;
    const seeds = new Set(mine.map((c) => c.seed)).size;
    const epochs = m === 'cnn' ? o.cnnEpochs : o.epochs;
    const ft = m === 'cnn' ? o.cnnFtEpochs : o.ftEpochs;
    md.push(`## ${m} (test accuracy %, ${seeds > 1 ? `mean ± std over ${seeds} seeds` : '1 seed'}; ${epochs} epochs per training run, ${ft} per fine-tuning)`, '', table(gs, m, o.sparsities), '');
    const series: Series[] = [...new Set(gs.filter((g) => g.model === m && !g.method.startsWith('channel') && g.method !== 'dense').map((g) => g.method))].map((method) => ({
      label: method,
      points: gs.filter((g) => g.model === m && g.method === method).map((g) => ({ sparsity: g.sparsity, mean: mean(g.accuracies), std: std(g.accuracies) })),
    }));
    const d = gs.find((g) => g.model === m && g.method === 'dense');
    if (d) series.unshift({ label: 'dense', points: [0, ...o.sparsities].map((s) => ({ sparsity: s, mean: mean(d.accuracies), std: 0 })) });
    if (series.length) {
      const svg = `accuracy-${m}-${stamp}.svg`;
      saveAtomic(join(root, svg), accuracyPlot(`${m}: test accuracy vs sparsity`, series, o.sparsities));
      md.push(`Plot: ${svg}`, '');
    }
  }
  const ts = models.flatMap((m) => targets(gs, m));
  md.push('## Targets', '', '| model | target | measured | holds |', '|---|---|---|---|', ...ts.map((t) => `| ${t.model} | ${t.target} | ${t.measured} | ${t.holds ? 'yes' : '**no**'} |`), '');
  return md.join('\n');
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  mkdirSync(root, { recursive: true });
  // Runs started in the same second (one per core) must not share an output file: each claims
  // its name by creating the file exclusively.
  const base = new Date().toISOString().replace(/[:]/g, '-').replace(/\..*/, '');
  let stamp = base;
  for (let k = 2; ; k++) {
    try {
      writeFileSync(join(root, `accuracy-${stamp}.${o.from.length ? 'md' : 'json'}`), '', { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      stamp = `${base}-${k}`;
    }
  }
  if (o.from.length) {
    // re-render (and merge) earlier runs without training
    const md = render(o.from.map((f) => JSON.parse(readFileSync(f, 'utf8')) as RunFile), stamp);
    const mdPath = join(root, `accuracy-${stamp}.md`);
    saveAtomic(mdPath, md);
    console.log(md + `\n\nwrote ${mdPath} and the SVG plots`);
    return;
  }
  const quickLimit = o.quick ? { limit: 5000 } : {};
  const train: Dataset = await loadFashionMnist({ split: 'train', dir: o.data, ...quickLimit });
  const test: Dataset = await loadFashionMnist({ split: 'test', dir: o.data, ...(o.quick ? { limit: 2000 } : {}) });
  const jsonPath = join(root, `accuracy-${stamp}.json`);
  const cells: M.Cell[] = [];
  const caps = capabilities();
  const meta: RunFile['meta'] = { date: new Date().toISOString(), cpu: cpus()[0]?.model, cores: cpus().length, isa: caps.isa, node: process.version, options: o, train: train.length, test: test.length };
  const save = () => saveAtomic(jsonPath, JSON.stringify({ meta, cells, groups: groups(cells), targets: o.models.flatMap((m) => targets(groups(cells), m)) }, null, 1));
  if (o.models.includes('lenet300'))
    await runModel(o, { name: 'lenet300', build: lenet300, train, test, sampleShape: [784], epochs: o.epochs, fineTuneEpochs: o.ftEpochs, batch: 64, lr: 1e-3, threads: o.threads }, o.seeds, new Set(o.methods), cells, save);
  if (o.models.includes('cnn'))
    await runModel(o, { name: 'cnn', build: smallCnn, train, test, sampleShape: [1, 28, 28], epochs: o.cnnEpochs, fineTuneEpochs: o.cnnFtEpochs, batch: 64, lr: 1e-3, threads: o.threads }, o.cnnSeeds, new Set(o.cnnMethods), cells, save);
  save();
  const md = render([{ meta, cells }], stamp);
  const mdPath = join(root, `accuracy-${stamp}.md`);
  saveAtomic(mdPath, md);
  console.log('\n' + md);
  console.log(`\nwrote ${jsonPath}, ${mdPath} and the SVG plots`);
}

await main();
