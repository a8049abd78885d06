/**
 * Loads sparsenn in worker threads and runs products there, for test/native.test.ts (in a
 * child process, so a native abort cannot take the test runner down). Prints one JSON line.
 *
 *   node --import tsx test/helpers/worker-threads.ts lifecycle
 *     workers in turn and at once, each with sync and async products and a typed error; then
 *     a product on the main thread.
 *   node --import tsx test/helpers/worker-threads.ts terminate
 *     workers terminated while their async products are still running; then a main-thread
 *     product.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { CsrMatrix, matmul, matmulAsync, ShapeError } from '../../lib/index.js';

function product(seed: number): number {
  const rows = 64;
  const cols = 48;
  const d = new Float32Array(rows * cols).map((_, i) => ((i * 7 + seed) % 5 === 0 ? (i % 3) - 1 : 0));
  const y = matmul(CsrMatrix.fromDense(d, rows, cols), new Float32Array(cols * 8).fill(1), 8);
  return y.reduce((s, v) => s + v, 0);
}

function typedErrorWorks(): boolean {
  try {
    matmul(CsrMatrix.fromDense(new Float32Array(4), 2, 2), new Float32Array(3), 1);
  } catch (e) {
    return e instanceof ShapeError && e.code === 'ERR_SHAPE';
  }
  return false;
}

/** A product long enough to still be running when the worker is terminated. */
function longProduct(): Promise<Float32Array> {
  const n = 1500;
  const a = CsrMatrix.fromDense(new Float32Array(n * n).fill(1), n, n);
  return matmulAsync(a, new Float32Array(n * 512).fill(1), 512);
}

const tsxApi = import.meta.resolve('tsx/esm/api');

function startWorker(data: { seed: number; mode: string }): Worker {
  // Node 20 does not apply --import hooks to a worker's entry file: register tsx inside the
  // worker first, then import this file.
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`;
  return new Worker(boot, { eval: true, workerData: data });
}

function firstMessage(w: Worker): Promise<unknown> {
  return new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
}

if (isMainThread) {
  const mode = process.argv[2];
  if (mode === 'lifecycle') {
    const expected = [1, 2, 3].map(product);
    const sequential: unknown[] = [];
    for (const seed of [1, 2, 3]) sequential.push(await firstMessage(startWorker({ seed, mode: 'work' })));
    const concurrent = await Promise.all([1, 2, 3].map((seed) => firstMessage(startWorker({ seed, mode: 'work' }))));
    process.stdout.write(JSON.stringify({ expected, sequential, concurrent, after: product(1), typedError: typedErrorWorks() }) + '\n');
  } else if (mode === 'terminate') {
    const exits: number[] = [];
    for (const seed of [1, 2, 3]) {
      const w = startWorker({ seed, mode: 'long' });
      await firstMessage(w); // its async products are running now
      exits.push(await w.terminate());
    }
    // Let any late completions of the terminated workers' products come in.
    await new Promise((r) => setTimeout(r, 500));
    const y = await longProduct();
    process.stdout.write(JSON.stringify({ exits, after: product(1), long: y[0] }) + '\n');
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
} else {
  const { seed, mode } = workerData as { seed: number; mode: string };
  if (mode === 'long') {
    void longProduct();
    void longProduct();
    parentPort!.postMessage('started');
  } else {
    const sum = product(seed);
    const asyncSum = (await matmulAsync(CsrMatrix.fromDense(new Float32Array([1, 0, 2, 3]), 2, 2), new Float32Array([1, 1]), 1)).reduce((s, v) => s + v, 0);
    parentPort!.postMessage({ sum, asyncSum, typedError: typedErrorWorks() });
  }
}
