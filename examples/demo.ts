/**
 * sparsenn demo: prune a transformer-sized weight matrix (3072 x 768, a BERT-base FFN layer)
 * three ways, check the sparse products against the dense product of the same pruned weights,
 * and time them against our dense GEMM on this machine. Weights and inputs are generated from a
 * fixed seed, so the demo needs no data files. Then trains LeNet-300-100 dense and 90% sparse on
 * the Fashion-MNIST subset shipped in the package (examples/training-demo.ts).
 *
 *   npm run demo            (SPARSENN_ISA=scalar|avx2|avx512 forces a kernel path)
 */
import { trainingDemo } from './training-demo.js';
import { pruningDemo } from './pruning-demo.js';
import { BsrMatrix, capabilities, CsrMatrix, matmul, matmulAsync, Matrix, NmMatrix, type AnyMatrix } from '../lib/index.js';

const M = 3072;
const K = 768;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(n: number, scale: number, rand: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  return out;
}

function medianMs(f: () => void, minSamples = 15, budgetMs = 400): number {
  for (let i = 0; i < 3; i++) f();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minSamples || (performance.now() - start < budgetMs && times.length < 500)) {
    const t0 = performance.now();
    f();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

function maxRelError(got: Float32Array, want: Float32Array): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]));
    err = Math.max(err, Math.abs(got[i] - want[i]));
  }
  return scale === 0 ? err : err / scale;
}

async function main(): Promise<void> {
  const caps = capabilities();
  console.log(`sparsenn demo on ${caps.cpuModel || caps.cpuVendor} — kernels: ${caps.isa}, threads: ${caps.threads}`);
  console.log(`Layer: ${M} x ${K} weights (BERT-base FFN), inputs K x N with the batch contiguous.\n`);
  const rand = rng(42);
  const weights = gaussian(M * K, Math.sqrt(2 / K), rand);
  const bias = gaussian(M, 0.1, rand);

  const variants: { name: string; matrix: AnyMatrix }[] = [];
  const dense = new Matrix(weights, M, K);
  for (const sparsity of [0.7, 0.9, 0.95]) {
    variants.push({ name: `CSR ${sparsity * 100}% (magnitude top-k)`, matrix: CsrMatrix.fromDense(weights, M, K, { sparsity }) });
  }
  variants.push({ name: '2:4 semi-structured', matrix: NmMatrix.fromDense(weights, M, K, { n: 2, m: 4 }) });
  variants.push({ name: 'BSR 4x1 blocks, 90%', matrix: BsrMatrix.fromDense(weights, M, K, { blockRows: 4, blockCols: 1, sparsity: 0.9 }) });
  dense.prepare();

  const header = ['format', 'stored', 'bytes', 'max rel err', ...[1, 32].map((n) => `N=${n} ms (vs dense)`)];
  const rows: string[][] = [];
  const denseTimes = new Map<number, number>();
  for (const n of [1, 32]) {
    const x = gaussian(K * n, 1, rand);
    denseTimes.set(n, medianMs(() => matmul(dense, x, n, { bias, activation: 'relu' })));
  }
  rows.push(['dense GEMM (ours)', String(M * K), (dense.byteSize / 1e6).toFixed(1) + ' MB', '-', ...[1, 32].map((n) => `${denseTimes.get(n)!.toFixed(3)} (1.00x)`)]);
  for (const { name, matrix } of variants) {
    matrix.prepare();
    // The reference: the dense product of the same pruned weights.
    const pruned = new Matrix(matrix.toDense(), M, K);
    const x = gaussian(K * 32, 1, rand);
    const err = maxRelError(matmul(matrix, x, 32, { bias, activation: 'relu' }), matmul(pruned, x, 32, { bias, activation: 'relu' }));
    pruned.dispose();
    const cells = [1, 32].map((n) => {
      const xn = gaussian(K * n, 1, rand);
      const t = medianMs(() => matmul(matrix, xn, n, { bias, activation: 'relu' }));
      return `${t.toFixed(3)} (${(denseTimes.get(n)! / t).toFixed(2)}x)`;
    });
    rows.push([name, String(matrix.nnz), (matrix.byteSize / 1e6).toFixed(1) + ' MB', err.toExponential(1), ...cells]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));

  // The async form runs off the event loop: count event-loop ticks while a batch of products runs.
  const x = gaussian(K * 256, 1, rand);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 8 }, () => matmulAsync(dense, x, 256)));
  const elapsed = performance.now() - t0;
  clearInterval(timer);
  console.log(`\n8 async dense products (N=256) took ${elapsed.toFixed(0)} ms while the event loop ticked ${ticks} times.`);
  console.log('Benchmarks against onnxruntime-node: npm run bench:kernels');

  await trainingDemo();
  await pruningDemo();
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
