/**
 * Kernel benchmark: sparsenn's products (dense GEMM, CSR at 50–98% random sparsity, 2:4, block
 * sparse) against onnxruntime-node's dense MatMul on the same weights (zeros included), the
 * peer a Node user would pick. Shapes are transformer layers (BERT-base 768/3072) and a large
 * 4096x4096 layer; N is the batch (tokens), 1 thread and 2.
 *
 *   npm run bench:kernels                      # the full run (~15 min on 2 cores)
 *   npx tsx bench/kernels.ts --shapes 4096x4096 --n 32,64 --threads 1 --quick
 *
 * Flags (or the environment variable in brackets):
 *   --shapes MxK,...   [BENCH_SHAPES]   default 768x768,3072x768,768x3072,4096x4096
 *   --n 1,8,...        [BENCH_N]        default 1,8,32,64,256
 *   --threads 1,2      [BENCH_THREADS]  default 1,2
 *   --formats ids      [BENCH_FORMATS]  default all: dense,csr50,csr70,csr90,csr95,csr98,nm24,bsr4x1,bsr8x1
 *   --peer best|wx|xtwt                 ORT layout(s) to measure; best (default) measures both
 *                                       and compares against the faster
 *   --quick            [BENCH_QUICK=1]  fewer samples, shorter time boxes, no SpMV probe
 *   --probe / --skip-probe              force the large SpMV bandwidth probe on / off
 *   --budget-ms N, --min-samples N, --seed N, --no-json
 *
 * Prints a table per (shape, threads), the bandwidth figures, the 2-thread scaling and the
 * targets, and writes bench/results/kernels-<date>.json and kernels-latest.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import {
  BsrMatrix,
  capabilities,
  CsrMatrix,
  listKernels,
  Matrix,
  matmul,
  NmMatrix,
  setThreads,
  type AnyMatrix,
} from '../lib/index.js';
import {
  evaluateTargets,
  formatBandwidth,
  formatGrids,
  formatScaling,
  formatTargets,
  formatVerification,
  isLarge,
  type Bandwidth,
  type BandwidthProbe,
  type Cell,
  type FormatSpec,
  type SpmvBandwidth,
} from './common/kernels-report.js';
import { createOrtPeer, ortInput, ortProduct, ortVersion, releaseOrtPeer, type OrtPeer, type PeerLayout } from './common/ort-peer.js';
import { measureSides, type Side, type TimingOptions } from '../lib/infer/sides.js';
import { csrToDense, randomCsr, Rng } from './common/weights.js';

const FORMATS: readonly FormatSpec[] = [
  { id: 'dense', label: 'dense', kind: 'dense', sparsity: 0, pattern: 'dense' },
  ...[50, 70, 90, 95, 98].map((s): FormatSpec => ({ id: `csr${s}`, label: `csr ${s}%`, kind: 'csr', sparsity: s / 100, pattern: 'random unstructured' })),
  { id: 'nm24', label: '2:4', kind: 'nm', sparsity: 0.5, pattern: '2:4 (largest 2 of every 4 in a row)' },
  ...[4, 8].map((b): FormatSpec => ({ id: `bsr${b}x1`, label: `bsr ${b}x1 @90%`, kind: 'bsr', sparsity: 0.9, pattern: `${b}x1 blocks, 90% of blocks zero (largest-norm blocks kept)`, blockRows: b })),
];

/** Max |ours - ORT| / rms(ORT) that still counts as the same product (fp32, different orders). */
const VERIFY_TOLERANCE = 1e-4;

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  shapes: [number, number][];
  ns: number[];
  threads: number[];
  formats: FormatSpec[];
  layouts: PeerLayout[];
  timing: TimingOptions;
  seed: number;
  probe: boolean;
  json: boolean;
  quick: boolean;
}

function list<T>(text: string, what: string, parse: (s: string) => T): T[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return parse(s);
      } catch (e) {
        throw new Error(`--${what}: ${(e as Error).message}`);
      }
    });
}

function positiveInt(s: string): number {
  const v = Number(s);
  if (!Number.isInteger(v) || v < 1) throw new Error(`'${s}' is not a positive integer`);
  return v;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      shapes: { type: 'string', default: process.env.BENCH_SHAPES ?? '768x768,3072x768,768x3072,4096x4096' },
      n: { type: 'string', default: process.env.BENCH_N ?? '1,8,32,64,256' },
      threads: { type: 'string', default: process.env.BENCH_THREADS ?? '1,2' },
      formats: { type: 'string', default: process.env.BENCH_FORMATS ?? FORMATS.map((f) => f.id).join(',') },
      peer: { type: 'string', default: 'best' },
      quick: { type: 'boolean', default: process.env.BENCH_QUICK === '1' },
      'budget-ms': { type: 'string' },
      'min-samples': { type: 'string' },
      seed: { type: 'string', default: '1' },
      probe: { type: 'boolean' },
      'skip-probe': { type: 'boolean', default: false },
      'no-json': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const quick = values.quick === true;
  const shapes = list(values.shapes!, 'shapes', (s) => {
    const m = /^(\d+)x(\d+)$/.exec(s);
    if (m === null) throw new Error(`'${s}' is not MxK`);
    return [positiveInt(m[1]), positiveInt(m[2])] as [number, number];
  });
  const formats = list(values.formats!, 'formats', (id) => {
    const f = FORMATS.find((x) => x.id === id);
    if (f === undefined) throw new Error(`unknown format '${id}'; known: ${FORMATS.map((x) => x.id).join(', ')}`);
    return f;
  });
  const peer = values.peer!;
  if (peer !== 'best' && peer !== 'wx' && peer !== 'xtwt') throw new Error(`--peer must be best, wx or xtwt, got '${peer}'`);
  return {
    shapes,
    ns: list(values.n!, 'n', positiveInt),
    threads: list(values.threads!, 'threads', positiveInt),
    formats,
    layouts: peer === 'best' ? ['wx', 'xtwt'] : [peer],
    timing: {
      minSamples: values['min-samples'] !== undefined ? positiveInt(values['min-samples']) : quick ? 5 : 10,
      maxSamples: 200,
      budgetMs: values['budget-ms'] !== undefined ? positiveInt(values['budget-ms']) : quick ? 60 : 250,
      hardCapMs: quick ? 4_000 : 25_000,
      warmupMs: quick ? 10 : 30,
      batchMs: quick ? 2 : 5,
      gapMs: 0,
    },
    seed: positiveInt(values.seed!),
    probe: values['skip-probe'] ? false : (values.probe ?? !quick),
    json: !values['no-json'],
    quick,
  };
}

// ---------------------------------------------------------------------------------------------
// Weights

interface Prepared {
  spec: FormatSpec;
  matrix: AnyMatrix;
  /** The same weights dense, zeros included: what the peer multiplies. */
  dense: Float32Array;
  nnz: number;
}

/** Our matrix for `spec` and its dense twin for ORT. Seeded per (shape, format). */
function prepareFormat(spec: FormatSpec, m: number, k: number, base: Float32Array, seed: number): Prepared {
  let matrix: AnyMatrix;
  let dense: Float32Array;
  switch (spec.kind) {
    case 'dense':
      matrix = new Matrix(base, m, k);
      dense = base;
      break;
    case 'csr': {
      const a = randomCsr(m, k, 1 - spec.sparsity, new Rng(Rng.seedFrom(seed, m, k, Math.round(spec.sparsity * 1000))));
      matrix = new CsrMatrix(m, k, a.rowPtr, a.colIdx, a.values);
      dense = csrToDense(a);
      break;
    }
    case 'nm':
      matrix = NmMatrix.fromDense(base, m, k, { n: 2, m: 4 });
      dense = matrix.toDense();
      break;
    case 'bsr':
      matrix = BsrMatrix.fromDense(base, m, k, { blockRows: spec.blockRows!, blockCols: 1, sparsity: spec.sparsity });
      dense = matrix.toDense();
      break;
  }
  matrix.prepare(); // the native copy is made once, never timed
  let nnz = 0;
  for (let i = 0; i < dense.length; i++) if (dense[i] !== 0) nnz++;
  return { spec, matrix, dense, nnz };
}

// ---------------------------------------------------------------------------------------------
// The two peers

/** Ours: Y = A X through sparsenn, A in any format, with `threads` threads. */
function oursSide(label: string, a: AnyMatrix, x: Float32Array, n: number, threads: number): Side {
  return { label, before: () => setThreads(threads), call: () => matmul(a, x, n) };
}

/** The peer: onnxruntime-node's dense MatMul session, input tensor made beforehand. */
function ortSide(peer: OrtPeer, input: ReturnType<typeof ortInput>): Side {
  return { label: `ort-${peer.layout}`, call: () => peer.session.run({ X: input }) };
}

// ---------------------------------------------------------------------------------------------
// Measuring

function relErr(ours: Float32Array, ref: Float32Array): number {
  let maxDiff = 0;
  let sq = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(ours[i] - ref[i]);
    if (!(d <= maxDiff)) maxDiff = d; // NaN-propagating max
    sq += ref[i] * ref[i];
  }
  const rms = Math.sqrt(sq / Math.max(1, ref.length));
  return maxDiff / Math.max(rms, 1e-30);
}

/** SpMV bytes: values 4 B + index 2 B (cols <= 65536) or 4 B per nonzero, row pointers 4 B per row, x and y. */
function spmvBytes(m: number, k: number, nnz: number): number {
  return nnz * (4 + (k <= 65536 ? 2 : 4)) + 4 * m + 4 * (k + m);
}

function spmvBandwidth(m: number, k: number, nnz: number, us: number, bw: Bandwidth): SpmvBandwidth {
  const bytes = spmvBytes(m, k, nnz);
  const gbPerS = bytes / us / 1e3;
  return { bytes, gbPerS, fraction: gbPerS / bw.measuredGbPerS, largerThanCache: bytes > bw.cacheBytes };
}

interface CellInput {
  prep: Prepared;
  m: number;
  k: number;
  n: number;
  threads: number;
  x: Float32Array;
  peers: OrtPeer[];
  verify: boolean;
}

async function measureCell(c: CellInput, opts: Options): Promise<Cell> {
  const { prep, m, k, n, threads, x, peers } = c;
  const inputs = peers.map((p) => ortInput(p, x, n));

  let verify: Cell['verify'];
  if (c.verify) {
    setThreads(threads);
    const ours = matmul(prep.matrix, x, n);
    let worst = 0;
    for (let i = 0; i < peers.length; i++) worst = Math.max(worst, relErr(ours, await ortProduct(peers[i], inputs[i], n)));
    verify = { maxRelErr: worst, ok: worst <= VERIFY_TOLERANCE };
  }

  const sides: Side[] = [oursSide('ours', prep.matrix, x, n, threads), ...peers.map((p, i) => ortSide(p, inputs[i]))];
  // Thread scaling is judged on our 1-thread time sampled in the same cell, not a separate run.
  const scaling = threads === 2 && isLarge({ m, k });
  if (scaling) sides.push(oursSide('ours-1T', prep.matrix, x, n, 1));
  // With worker threads, a short idle gap between sides lets each pool's spinning workers sleep.
  const stats = await measureSides(sides, { ...opts.timing, gapMs: threads > 1 ? 1 : 0 });
  setThreads(threads);

  const ours = stats[0];
  const ort: Cell['ort'] = {};
  peers.forEach((p, i) => (ort[p.layout] = stats[1 + i]));
  const best = peers.map((p, i) => ({ layout: p.layout, s: stats[1 + i] })).reduce((a, b) => (b.s.medianUs < a.s.medianUs ? b : a));
  const size = m * k;
  return {
    m,
    k,
    n,
    threads,
    format: prep.spec.id,
    label: prep.spec.label,
    kind: prep.spec.kind,
    sparsity: 1 - prep.nnz / size,
    pattern: prep.spec.pattern,
    nnz: prep.nnz,
    ours,
    ort,
    peerLayout: best.layout,
    oursUs: ours.medianUs,
    ortUs: best.s.medianUs,
    ratio: best.s.medianUs / ours.medianUs,
    ours1T: scaling ? stats[stats.length - 1] : undefined,
    verify,
    load1: os.loadavg()[0],
  };
}

function cacheBytes(): number {
  for (const level of [3, 2]) {
    try {
      const text = readFileSync(`/sys/devices/system/cpu/cpu0/cache/index${level}/size`, 'utf8').trim();
      const m = /^(\d+)([KMG]?)$/.exec(text);
      if (m !== null) return Number(m[1]) * { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2] as '' | 'K' | 'M' | 'G'];
    } catch {
      // not Linux, or no such level
    }
  }
  return 32 * 1024 ** 2;
}

/** A plain-JS streaming read of `bytes` (4 independent sums over a Float64Array), best of a few. */
function jsStreamingRead(bytes: number): BandwidthProbe {
  const a = new Float64Array(bytes / 8).fill(1);
  let best = Infinity;
  let sink = 0;
  for (let rep = 0; rep < 7; rep++) {
    const t0 = process.hrtime.bigint();
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let i = 0; i < a.length; i += 4) {
      s0 += a[i];
      s1 += a[i + 1];
      s2 += a[i + 2];
      s3 += a[i + 3];
    }
    const us = Number(process.hrtime.bigint() - t0) / 1e3;
    sink += s0 + s1 + s2 + s3;
    best = Math.min(best, us);
  }
  if (sink === 0) throw new Error('unreachable');
  return { what: 'JS loop summing a Float64Array', threads: 1, bytes, us: best, gbPerS: bytes / best / 1e3 };
}

/**
 * The machine's streaming read bandwidth, measured in this run on working sets several times
 * the cache: dense GEMV (N = 1) through sparsenn and through ORT, and a JS loop. The best
 * single-thread figure is "measured bandwidth". Then an SpMV on a 90%-sparse matrix of several
 * times the cache, whose bandwidth is compared with it.
 */
async function measureBandwidth(opts: Options): Promise<Bandwidth> {
  const cache = cacheBytes();
  const k = 4096;
  const m = Math.max(4096, Math.ceil((4 * cache) / (4 * k) / 1024) * 1024);
  const bytes = 4 * (m * k + k + m);
  log(`bandwidth: dense GEMV ${m}x${k} (${(bytes / 2 ** 20).toFixed(0)} MiB), ours vs ORT, 1 and 2 threads`);
  const w = new Rng(Rng.seedFrom(opts.seed, 7)).normalArray(m * k);
  const a = new Matrix(w, m, k).prepare();
  const x = new Rng(Rng.seedFrom(opts.seed, 8)).normalArray(k);
  const probes: BandwidthProbe[] = [];
  for (const threads of opts.threads.filter((t) => t <= 2)) {
    const peers = await Promise.all(opts.layouts.map((l) => createOrtPeer(w, m, k, l, threads)));
    const sides = [oursSide('ours', a, x, 1, threads), ...peers.map((p) => ortSide(p, ortInput(p, x, 1)))];
    const stats = await measureSides(sides, { ...opts.timing, gapMs: threads > 1 ? 1 : 0 });
    stats.forEach((s, i) =>
      probes.push({ what: `dense GEMV ${m}x${k} (${i === 0 ? 'sparsenn' : `ORT ${peers[i - 1].layout}`})`, threads, bytes, us: s.medianUs, gbPerS: bytes / s.medianUs / 1e3 }),
    );
    await Promise.all(peers.map(releaseOrtPeer));
  }
  a.dispose();
  probes.push(jsStreamingRead(Math.ceil((4 * cache) / 2 ** 20) * 2 ** 20));
  const bw: Bandwidth = { cacheBytes: cache, probes, measuredGbPerS: NaN, measuredBy: '' };
  pickMeasured(bw);

  if (opts.probe) {
    // A 90%-sparse square matrix streaming >= 4x the cache with 16-bit indices.
    const sparsity = 0.9;
    const side = Math.min(65536, Math.ceil(Math.sqrt((4 * cache) / ((1 - sparsity) * 6)) / 1024) * 1024);
    log(`bandwidth: SpMV probe ${side}x${side} at ${sparsity * 100}% (random unstructured)`);
    const arrays = randomCsr(side, side, 1 - sparsity, new Rng(Rng.seedFrom(opts.seed, 9)));
    const csr = new CsrMatrix(side, side, arrays.rowPtr, arrays.colIdx, arrays.values).prepare();
    const xs = new Rng(Rng.seedFrom(opts.seed, 10)).normalArray(side);
    const [s] = await measureSides([oursSide('ours', csr, xs, 1, 1)], opts.timing);
    bw.spmvProbe = { m: side, k: side, sparsity, nnz: csr.nnz, us: s.medianUs, ...spmvBandwidth(side, side, csr.nnz, s.medianUs, bw) };
    csr.dispose();
  }
  return bw;
}

/** "Measured bandwidth" = the best single-thread probe. */
function pickMeasured(bw: Bandwidth): void {
  const best = bw.probes.filter((p) => p.threads === 1).reduce((p, q) => (q.gbPerS > p.gbPerS ? q : p));
  bw.measuredGbPerS = best.gbPerS;
  bw.measuredBy = `${best.what}, ${best.threads}T`;
}

/**
 * After the grid: single-thread dense GEMV cells whose weights exceed the cache (4096x4096:
 * 64 MiB) join the bandwidth probes, since the machine's load drifts during a run; then every
 * SpMV figure is computed against the final measured bandwidth.
 */
function finishBandwidth(bw: Bandwidth, cells: Cell[]): void {
  for (const c of cells) {
    const bytes = 4 * (c.m * c.k + c.k + c.m);
    if (c.kind !== 'dense' || c.n !== 1 || c.threads !== 1 || bytes <= 2 * bw.cacheBytes) continue;
    bw.probes.push({ what: `dense GEMV ${c.m}x${c.k} grid cell (sparsenn)`, threads: 1, bytes, us: c.oursUs, gbPerS: bytes / c.oursUs / 1e3 });
    bw.probes.push({ what: `dense GEMV ${c.m}x${c.k} grid cell (ORT ${c.peerLayout})`, threads: 1, bytes, us: c.ortUs, gbPerS: bytes / c.ortUs / 1e3 });
  }
  pickMeasured(bw);
  for (const c of cells) {
    if (c.kind === 'csr' && c.n === 1 && c.m === 4096 && c.k === 4096) c.spmv = spmvBandwidth(c.m, c.k, c.nnz, c.oursUs, bw);
  }
  const p = bw.spmvProbe;
  if (p !== undefined) Object.assign(p, spmvBandwidth(p.m, p.k, p.nnz, p.us, bw));
}

// ---------------------------------------------------------------------------------------------
// The run

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

async function run(opts: Options): Promise<{ cells: Cell[]; bw: Bandwidth }> {
  const bw = await measureBandwidth(opts);
  log(`measured bandwidth ${bw.measuredGbPerS.toFixed(1)} GB/s (${bw.measuredBy})`);
  const cells: Cell[] = [];
  for (const [m, k] of opts.shapes) {
    log(`${m}x${k}: preparing ${opts.formats.length} formats`);
    const base = new Rng(Rng.seedFrom(opts.seed, m, k)).normalArray(m * k);
    const prepared = opts.formats.map((f) => prepareFormat(f, m, k, base, opts.seed));
    const xs = new Map(opts.ns.map((n) => [n, new Rng(Rng.seedFrom(opts.seed, m, k, n, 3)).normalArray(k * n)]));
    for (const [ti, threads] of opts.threads.entries()) {
      setThreads(threads);
      for (const prep of prepared) {
        const peers = await Promise.all(opts.layouts.map((l) => createOrtPeer(prep.dense, m, k, l, threads)));
        for (const n of opts.ns) {
          // Verify once per shape (at the first thread count) that ORT and we compute the same Y.
          const cell = await measureCell({ prep, m, k, n, threads, x: xs.get(n)!, peers, verify: ti === 0 }, opts);
          cells.push(cell);
          const bad = cell.verify !== undefined && !cell.verify.ok ? `  MISMATCH rel err ${cell.verify.maxRelErr.toExponential(2)}` : '';
          log(
            `${m}x${k} ${threads}T ${prep.spec.label.padEnd(14)} N=${String(n).padEnd(3)} ours ${cell.oursUs.toFixed(1)} µs, ORT ${cell.ortUs.toFixed(1)} µs (${cell.peerLayout}) -> ${cell.ratio.toFixed(2)}x [${cell.ours.samples}/${cell.ort[cell.peerLayout]!.samples} samples]${bad}`,
          );
        }
        await Promise.all(peers.map(releaseOrtPeer));
      }
    }
    for (const p of prepared) p.matrix.dispose();
  }
  finishBandwidth(bw, cells);
  return { cells, bw };
}

function loadRange(cells: readonly Cell[]): string {
  const loads = cells.map((c) => c.load1);
  return loads.length === 0 ? 'n/a' : `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`;
}

function report(opts: Options, cells: Cell[], bw: Bandwidth, caps: ReturnType<typeof capabilities>): string {
  const wins = (l: PeerLayout) => cells.filter((c) => c.peerLayout === l).length;
  const head = [
    `# sparsenn kernels vs onnxruntime-node ${ortVersion} dense MatMul`,
    '',
    `Machine: ${caps.cpuModel} (${caps.cpuVendor}), ${caps.hardwareThreads} hardware threads, ${os.type()} ${os.release()}, Node ${process.version}; sparsenn ISA path: ${caps.isa}.`,
    `Cells: ratio× (ours µs / ORT µs), medians; ratio = ORT time / our time, > 1 means sparsenn is faster. ORT multiplies the dense`,
    `version of the same weights (zeros included). ${opts.layouts.length > 1 ? `ORT time is the faster of MatMul(W, X) (sparsenn's layout; won ${wins('wx')} cells) and MatMul(Xᵀ, Wᵀ) (W as the prepacked B operand; won ${wins('xtwt')} cells).` : `ORT layout: ${opts.layouts[0]}.`}`,
    `csr NN%: random unstructured sparsity, exact count; 2:4: largest 2 of every 4 (50%); bsr Rx1 @90%: 90% sparse in Rx1 blocks.`,
    `Samples per side: ≥ ${opts.timing.minSamples} (time box ${opts.timing.budgetMs} ms per side per cell), ours and ORT alternated.`,
    `1-minute load average during the cells: ${loadRange(cells)} on ${caps.hardwareThreads} hardware threads (other work on the machine shares these cores).`,
  ].join('\n');
  const low = cells.filter((c) => c.ours.samples < opts.timing.minSamples || Object.values(c.ort).some((s) => s!.samples < opts.timing.minSamples));
  return [
    head,
    '',
    formatGrids(cells, opts.formats),
    '',
    '## Memory bandwidth',
    '',
    formatBandwidth(bw, cells),
    '',
    '## 2-thread scaling (ours)',
    '',
    formatScaling(cells, opts.formats),
    '',
    '## Targets',
    '',
    formatTargets(evaluateTargets(cells, bw)),
    '',
    '## Checks',
    '',
    formatVerification(cells),
    low.length > 0 ? `${low.length} cells stopped below ${opts.timing.minSamples} samples by the per-cell time cap: ${low.map((c) => `${c.m}x${c.k} ${c.label} N=${c.n} ${c.threads}T`).join(', ')}` : 'Every cell has at least the minimum sample count.',
  ].join('\n');
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const caps = capabilities();
  const started = new Date();
  log(`sparsenn ISA ${caps.isa} on ${caps.cpuModel}; ORT ${ortVersion}; shapes ${opts.shapes.map((s) => s.join('x')).join(', ')}; N ${opts.ns.join(',')}; threads ${opts.threads.join(',')}${opts.quick ? '; quick' : ''}`);
  const { cells, bw } = await run(opts);
  const seconds = (Date.now() - started.getTime()) / 1000;
  console.log(report(opts, cells, bw, caps));
  console.log(`\nRun took ${seconds.toFixed(0)} s.`);

  if (opts.json) {
    const result = {
      benchmark: 'kernels',
      date: started.toISOString(),
      durationS: seconds,
      argv: process.argv.slice(2),
      config: {
        shapes: opts.shapes.map(([m, k]) => ({ m, k })),
        n: opts.ns,
        threads: opts.threads,
        formats: opts.formats,
        peerLayouts: opts.layouts,
        timing: opts.timing,
        seed: opts.seed,
        quick: opts.quick,
        verifyTolerance: VERIFY_TOLERANCE,
      },
      machine: {
        cpuModel: caps.cpuModel,
        cpuVendor: caps.cpuVendor,
        hardwareThreads: caps.hardwareThreads,
        arch: caps.arch,
        os: `${os.type()} ${os.release()}`,
        node: process.version,
        memoryBytes: os.totalmem(),
        cacheBytes: bw.cacheBytes,
        loadAverageAtStart: os.loadavg(),
      },
      isa: caps.isa,
      supportedIsas: caps.supportedIsas,
      kernels: listKernels().filter((kn) => kn.selected).map((kn) => kn.name),
      peer: { name: 'onnxruntime-node', version: ortVersion, op: 'MatMul (opset 13), weights as initializer' },
      bandwidth: bw,
      cells,
      targets: evaluateTargets(cells, bw),
    };
    const dir = new URL('./results/', import.meta.url);
    mkdirSync(dir, { recursive: true });
    const stamp = started.toISOString().replace(/[:]/g, '-').replace(/\..*$/, '');
    const text = JSON.stringify(result, null, 1) + '\n';
    for (const name of [`kernels-${stamp}.json`, 'kernels-latest.json']) writeFileSync(new URL(name, dir), text);
    log(`wrote bench/results/kernels-${stamp}.json and bench/results/kernels-latest.json`);
  }
  if (cells.some((c) => c.verify !== undefined && !c.verify.ok)) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

