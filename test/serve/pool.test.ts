import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  FormatError,
  IndexRangeError,
  InferencePool,
  Linear,
  ReLU,
  Sequential,
  ServeError,
  ShapeError,
  SparsennTypeError,
  Tensor,
  encodeSpnn,
  manualSeed,
  noGrad,
  prune,
  saveModelFile,
} from '../../lib/index.js';
import { expectRejects } from '../helpers/errors.js';
import { mulberry32 } from '../helpers/random.js';

const dir = mkdtempSync(join(tmpdir(), 'sparsenn-pool-'));
const probe = join(__dirname, '..', 'fixtures', 'serve', 'probe-runner.ts');
const probeBytes = Uint8Array.of(1);
const pools: InferencePool[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => p.terminate()));
});
async function open(opts: Parameters<typeof InferencePool.create>[0]): Promise<InferencePool> {
  const p = await InferencePool.create(opts);
  pools.push(p);
  return p;
}

function mlp(): Sequential {
  manualSeed(11);
  const m = new Sequential(new Linear(24, 48), new ReLU(), new Linear(48, 6));
  prune(m, { sparsity: 0.8 });
  return m;
}

function sample(rng: () => number, size: number, n: number): Tensor {
  return new Tensor(Float32Array.from({ length: size * n }, () => rng() * 2 - 1), [size, n]);
}

describe('InferencePool with the sparsenn runner', () => {
  const model = mlp();
  const path = join(dir, 'mlp.spnn');

  it('serves many concurrent requests of mixed batch sizes, each matching the uncompiled model', async () => {
    await saveModelFile(model, path, { sampleShape: [24] });
    const pool = await open({ model: path, workers: 2, compile: { timingCache: false }, batching: { maxBatch: 16, windowMs: 2 } });
    expect(pool.inputs).toEqual([{ name: 'input', shape: [24] }]);
    expect(pool.outputs.map((o) => o.shape)).toEqual([[6]]);
    const rng = mulberry32(3);
    const xs = Array.from({ length: 300 }, (_, i) => sample(rng, 24, i % 10 === 0 ? 3 : 1));
    const got = await Promise.all(xs.map((x) => pool.run(x)));
    const out = pool.outputs[0]!.name;
    xs.forEach((x, i) => {
      const want = noGrad(() => model.forward(x)).data;
      const y = got[i]![out]!;
      expect(y.shape).toEqual([6, x.shape[1]]);
      for (let k = 0; k < want.length; k++) expect(Math.abs(y.data[k]! - want[k]!)).toBeLessThan(1e-5 * (1 + Math.abs(want[k]!)));
    });
    const s = pool.stats();
    expect(s.completed).toBe(300);
    expect(s.failed).toBe(0);
    // Concurrent requests were gathered: fewer batches than requests, none above maxBatch.
    expect(s.batches).toBeLessThan(300);
    expect(s.batchSize.max).toBeLessThanOrEqual(16);
    expect(s.batchSize.sum).toBe(300 + 2 * 30);
    await pool.close();
    await expectRejects(pool.run(xs[0]!), ServeError, 'ERR_CLOSED');
  });

  it('loads from bytes (format detected) and takes named inputs', async () => {
    const bytes = encodeSpnn(model, { metadata: { 'sparsenn.sampleShape': '[24]' } });
    const pool = await open({ model: bytes, workers: 1, compile: { timingCache: false }, batching: false });
    const x = sample(mulberry32(5), 24, 2);
    const y = (await pool.run({ input: x }))[pool.outputs[0]!.name]!;
    const want = noGrad(() => model.forward(x)).data;
    for (let k = 0; k < want.length; k++) expect(y.data[k]).toBeCloseTo(want[k]!, 5);
    await expectRejects(pool.run(new Tensor(new Float32Array(23), [23, 1])), ShapeError, 'ERR_SHAPE');
    await expectRejects(pool.run({ nope: x }), ShapeError, 'ERR_SHAPE');
    expect(Object.values(await pool.run(new Tensor(new Float32Array(0), [24, 0])))[0]!.shape).toEqual([6, 0]);
    await pool.close();
  });

  it('rejects a corrupt file, a file without its sample shape and bad options with typed errors', async () => {
    const bytes = encodeSpnn(model, { metadata: { 'sparsenn.sampleShape': '[24]' } });
    const flipped = bytes.slice();
    flipped[Math.floor(flipped.length / 2)]! ^= 0x10;
    await expectRejects(InferencePool.create({ model: flipped, workers: 1 }), FormatError, 'ERR_FORMAT');
    await expectRejects(InferencePool.create({ model: encodeSpnn(model), workers: 1 }), ShapeError, 'ERR_SHAPE');
    await expectRejects(InferencePool.create({ model: join(dir, 'missing.spnn') }), FormatError, 'ERR_FORMAT');
    await expectRejects(InferencePool.create({ model: 42 as unknown as string }), SparsennTypeError, 'ERR_TYPE');
    await expectRejects(InferencePool.create({ model: bytes, workers: 0 }), IndexRangeError, 'ERR_RANGE');
    await expectRejects(InferencePool.create({ model: bytes, batching: { maxBatch: -1 } }), IndexRangeError, 'ERR_RANGE');
    await expectRejects(InferencePool.create({ model: probeBytes, runner: join(__dirname, '..', 'fixtures', 'serve', 'no-export-runner.ts') }), SparsennTypeError, 'ERR_TYPE');
  });
});

describe('InferencePool with a custom runner', () => {
  const x3 = (rows: number[][]): Tensor => {
    // batch-last [3, n] from sample rows
    const n = rows.length;
    const t = new Tensor(new Float32Array(3 * n), [3, n]);
    rows.forEach((r, j) => r.forEach((v, f) => (t.data[f * n + j] = v)));
    return t;
  };
  const expectProbe = (rows: number[][], y: Tensor): void => {
    const n = rows.length;
    expect(y.shape).toEqual([2, n]);
    rows.forEach((r, j) => {
      expect(y.data[j]).toBeCloseTo(r[0]! + r[1]! + r[2]!, 5);
      expect(y.data[n + j]).toBeCloseTo(r[0]! * 10, 4);
    });
  };

  it('gathers batch-last requests for a batch-first runner and splits the outputs back', async () => {
    const pool = await open({ model: probeBytes, runner: probe, workers: 2, batching: { maxBatch: 8, windowMs: 5 } });
    const rng = mulberry32(9);
    const reqs = Array.from({ length: 60 }, (_, i) => Array.from({ length: 1 + (i % 4) }, () => [rng(), rng(), rng()]));
    const ys = await Promise.all(reqs.map((r) => pool.run(x3(r))));
    reqs.forEach((r, i) => expectProbe(r, ys[i]!.y!));
    expect(pool.stats().batchSize.max).toBeLessThanOrEqual(8);
    await pool.close();
  });

  it('replaces a worker that dies: its batch rejects with ERR_WORKER, later requests succeed', async () => {
    const pool = await open({ model: probeBytes, runner: probe, runnerOptions: { crashAt: 666 }, workers: 1, batching: false });
    await expectRejects(pool.run(x3([[666, 0, 0]])), ServeError, 'ERR_WORKER');
    expectProbe([[1, 2, 3]], (await pool.run(x3([[1, 2, 3]]))).y!);
    expect(pool.stats().restarts).toBe(1);
    await pool.close();
  });

  it('passes a runner error through with its class and code; the other requests are unaffected', async () => {
    const pool = await open({ model: probeBytes, runner: probe, runnerOptions: { failAt: 5 }, workers: 1, batching: false });
    const [bad, good] = await Promise.allSettled([pool.run(x3([[5, 0, 0]])), pool.run(x3([[1, 1, 1]]))]);
    expect(bad.status).toBe('rejected');
    await expectRejects(Promise.reject((bad as PromiseRejectedResult).reason), ShapeError, 'ERR_SHAPE');
    expect(good.status).toBe('fulfilled');
    expectProbe([[1, 1, 1]], (good as PromiseFulfilledResult<Record<string, Tensor>>).value.y!);
    await pool.close();
  });

  it('applies backpressure, timeouts and abort signals', async () => {
    const pool = await open({ model: probeBytes, runner: probe, runnerOptions: { delayMs: 300 }, workers: 1, maxQueue: 2, batching: false });
    const running = pool.run(x3([[1, 0, 0]]));
    await new Promise((r) => setTimeout(r, 50)); // the first is running; two may wait
    const q1 = pool.run(x3([[2, 0, 0]]));
    const ac = new AbortController();
    const q2 = pool.run(x3([[3, 0, 0]]), { signal: ac.signal });
    await expectRejects(pool.run(x3([[4, 0, 0]])), ServeError, 'ERR_QUEUE_FULL');
    ac.abort();
    await expectRejects(q2, ServeError, 'ERR_ABORTED');
    await expectRejects(pool.run(x3([[5, 0, 0]]), { timeoutMs: 20 }), ServeError, 'ERR_TIMEOUT');
    expectProbe([[1, 0, 0]], (await running).y!);
    expectProbe([[2, 0, 0]], (await q1).y!);
    const s = pool.stats();
    expect([s.rejected, s.aborted, s.timedOut, s.completed]).toEqual([1, 1, 1, 2]);
    await pool.close();
  });

  it('terminate() rejects queued and running requests with ERR_CLOSED; close() lets them finish', async () => {
    const slow = await open({ model: probeBytes, runner: probe, runnerOptions: { delayMs: 200 }, workers: 1, batching: false });
    const a = slow.run(x3([[1, 1, 1]]));
    const b = slow.run(x3([[2, 2, 2]]));
    const closed = slow.close();
    await expectRejects(slow.run(x3([[3, 3, 3]])), ServeError, 'ERR_CLOSED');
    expectProbe([[1, 1, 1]], (await a).y!);
    expectProbe([[2, 2, 2]], (await b).y!);
    await closed;

    const cut = await open({ model: probeBytes, runner: probe, runnerOptions: { delayMs: 2000 }, workers: 1, batching: false });
    const c = cut.run(x3([[1, 1, 1]]));
    const d = cut.run(x3([[2, 2, 2]]));
    await new Promise((r) => setTimeout(r, 50));
    const rejected = [expectRejects(c, ServeError, 'ERR_CLOSED', 'running'), expectRejects(d, ServeError, 'ERR_CLOSED', 'queued')];
    await cut.terminate();
    await Promise.all(rejected);
  });
});
