import { afterEach, describe, expect, it, vi } from 'vitest';
import { IndexRangeError, NativeError, ServeError, SparsennTypeError } from '../../lib/index.js';
import { MicroBatcher, type BatcherOptions, type BatchLayout, type BatchRun } from '../../lib/serve/index.js';
import { expectRejects, expectThrows } from '../helpers/errors.js';
import { mulberry32, randInt, type Rng } from '../helpers/random.js';

/**
 * A fake model with two inputs (3 and 2 floats per sample) and two outputs:
 *   out0 = 2·in0 + 1 (elementwise, 3 floats per sample)
 *   out1 = the sum of the sample's 5 input features (1 float per sample)
 * Input values encode (request id, sample index, feature), so the fake can tell which requests
 * (and samples) a batch holds, and a misrouted or transposed sample gives wrong outputs.
 */
const IN = [3, 2] as const;
const OUT = [3, 1] as const;
const layouts: BatchLayout[] = ['batch-last', 'batch-first'];

function at(layout: BatchLayout, size: number, n: number, j: number, f: number): number {
  return layout === 'batch-last' ? f * n + j : j * size + f;
}

function code(id: number, j: number, f: number): number {
  return id * 64 + j * 4 + f;
}

/** One request's inputs, batch-last: in0[f·n + j] = code(id, j, f), in1 distinct from in0. */
function inputs(id: number, n: number): Float32Array[] {
  const in0 = new Float32Array(IN[0] * n);
  const in1 = new Float32Array(IN[1] * n);
  for (let j = 0; j < n; j++) {
    for (let f = 0; f < IN[0]; f++) in0[f * n + j] = code(id, j, f);
    for (let f = 0; f < IN[1]; f++) in1[f * n + j] = -0.5 * code(id, j, f) - 0.25;
  }
  return [in0, in1];
}

/** The fake model on a batch in `layout`. */
function compute(layout: BatchLayout, arrays: Float32Array[], n: number): Float32Array[] {
  const [in0, in1] = arrays as [Float32Array, Float32Array];
  expect(in0.length).toBe(IN[0] * n);
  expect(in1.length).toBe(IN[1] * n);
  const out0 = new Float32Array(OUT[0] * n);
  const out1 = new Float32Array(OUT[1] * n);
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let f = 0; f < IN[0]; f++) {
      const v = in0[at(layout, IN[0], n, j, f)]!;
      out0[at(layout, OUT[0], n, j, f)] = 2 * v + 1;
      s += v;
    }
    for (let f = 0; f < IN[1]; f++) s += in1[at(layout, IN[1], n, j, f)]!;
    out1[at(layout, OUT[1], n, j, 0)] = s;
  }
  return [out0, out1];
}

/** What request `id` of `n` samples must get back (batch-last), computed from its own inputs. */
function expected(id: number, n: number): number[][] {
  const [in0, in1] = inputs(id, n) as [Float32Array, Float32Array];
  const out0: number[] = [];
  const out1: number[] = [];
  for (let f = 0; f < OUT[0]; f++) for (let j = 0; j < n; j++) out0.push(Math.fround(2 * in0[f * n + j]! + 1));
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let f = 0; f < IN[0]; f++) s += in0[f * n + j]!;
    for (let f = 0; f < IN[1]; f++) s += in1[f * n + j]!;
    out1.push(Math.fround(s));
  }
  return [out0, out1];
}

function expectResult(got: Float32Array[] | undefined, id: number, n: number): void {
  expect(got, `request ${id}`).toBeDefined();
  expect(got!.length, `request ${id}: outputs`).toBe(2);
  got!.forEach((a) => expect(a).toBeInstanceOf(Float32Array));
  expect(got!.map((a) => Array.from(a)), `request ${id} (n=${n})`).toEqual(expected(id, n));
}

interface Call {
  n: number;
  /** Request id of each sample, in batch order. */
  samples: number[];
  /** Each sample's index within its request. */
  sampleIndex: number[];
  /** Distinct request ids, in batch order. */
  ids: number[];
}

/** The fake `run`: computes at once, resolves by hand ('manual') or after a short random delay ('auto'). */
class FakeRun {
  readonly calls: Call[] = [];
  inFlight = 0;
  maxInFlight = 0;
  readonly pending: { resolve: () => void; reject: (e: unknown) => void; call: Call }[] = [];

  constructor(
    readonly layout: BatchLayout,
    readonly mode: 'manual' | 'auto' = 'manual',
    readonly rng: Rng = mulberry32(1),
  ) {}

  readonly run: BatchRun = (arrays, n) => {
    const samples: number[] = [];
    const sampleIndex: number[] = [];
    for (let j = 0; j < n; j++) {
      const v = arrays[0]![at(this.layout, IN[0], n, j, 0)]!;
      samples.push(Math.floor(v / 64));
      sampleIndex.push(Math.floor((v % 64) / 4));
    }
    const call: Call = { n, samples, sampleIndex, ids: samples.filter((id, j) => j === 0 || samples[j - 1] !== id) };
    this.calls.push(call);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const outputs = compute(this.layout, arrays, n);
    return new Promise<Float32Array[]>((resolve, reject) => {
      const finish = (ok: boolean, e?: unknown) => {
        this.inFlight--;
        if (ok) resolve(outputs);
        else reject(e);
      };
      if (this.mode === 'auto') setTimeout(() => finish(true), Math.floor(this.rng() * 3));
      else this.pending.push({ resolve: () => finish(true), reject: (e) => finish(false, e), call });
    });
  };

  /** Resolves the k-th still-running manual call. */
  release(k = 0): Call {
    const [p] = this.pending.splice(k, 1);
    expect(p, 'a running batch to release').toBeDefined();
    p!.resolve();
    return p!.call;
  }

  fail(e: unknown, k = 0): Call {
    const [p] = this.pending.splice(k, 1);
    expect(p, 'a running batch to fail').toBeDefined();
    p!.reject(e);
    return p!.call;
  }
}

function make(fake: FakeRun, opts: Partial<BatcherOptions> = {}): MicroBatcher {
  return new MicroBatcher({ inputSizes: IN, outputSizes: OUT, layout: fake.layout, run: fake.run, concurrency: 1, windowMs: 0, ...opts });
}

interface Tracked {
  settled: boolean;
  value?: Float32Array[];
  error?: unknown;
  promise: Promise<Float32Array[]>;
}

/** Watches a request's promise without awaiting it (and without leaving a rejection unhandled). */
function track(promise: Promise<Float32Array[]>): Tracked {
  const t: Tracked = { settled: false, promise };
  promise.then(
    (v) => {
      t.settled = true;
      t.value = v;
    },
    (e: unknown) => {
      t.settled = true;
      t.error = e;
    },
  );
  return t;
}

/** Lets every pending promise callback run (setImmediate is never faked here). */
async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function useFakeClock(): void {
  // The batcher measures waiting with performance.now() and schedules with setTimeout: fake both
  // (and nothing else, so setImmediate keeps flushing promise callbacks).
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
}

afterEach(() => {
  vi.useRealTimers();
});

describe.each(layouts)('MicroBatcher routing (%s)', (layout) => {
  it('routes the results of many concurrent mixed-size requests back to their callers', async () => {
    const rng = mulberry32(layout === 'batch-last' ? 21 : 22);
    const fake = new FakeRun(layout, 'auto', rng);
    const b = make(fake, { maxBatch: 8, windowMs: 1, concurrency: 2 });
    const reqs: { id: number; n: number; p: Promise<Float32Array[]> }[] = [];
    for (let wave = 0; wave < 6; wave++) {
      for (let k = 0; k < 12; k++) {
        const id = reqs.length;
        const n = randInt(rng, 1, 5);
        reqs.push({ id, n, p: b.submit(inputs(id, n), n) });
      }
      await sleep(randInt(rng, 0, 3));
    }
    const results = await Promise.all(reqs.map((r) => r.p));
    results.forEach((res, i) => expectResult(res, reqs[i]!.id, reqs[i]!.n));

    // Batches: at most maxBatch samples, at most `concurrency` at once, FIFO, each request whole in one batch.
    expect(fake.maxInFlight).toBeLessThanOrEqual(2);
    for (const c of fake.calls) expect(c.n).toBeLessThanOrEqual(8);
    expect(fake.calls.flatMap((c) => c.samples.map((id, j) => `${id}:${c.sampleIndex[j]}`))).toEqual(reqs.flatMap((r) => Array.from({ length: r.n }, (_, j) => `${r.id}:${j}`)));
    expect(fake.calls.length).toBeLessThan(reqs.length); // some requests shared a batch

    const total = reqs.reduce((s, r) => s + r.n, 0);
    await b.close(); // the last batch's bookkeeping ends a few callbacks after its requests resolve
    const s = b.stats();
    expect(s).toMatchObject({ queued: 0, runningBatches: 0, submitted: reqs.length, completed: reqs.length, failed: 0, rejected: 0, timedOut: 0, aborted: 0, batches: fake.calls.length });
    expect(s.batchSize.count).toBe(fake.calls.length);
    expect(s.batchSize.sum).toBe(total);
    expect(s.latencyMs.count).toBe(reqs.length);
  });

  it('gathers requests that arrive while the runner is busy into one batch', async () => {
    const fake = new FakeRun(layout);
    const b = make(fake, { maxBatch: 32 });
    const first = track(b.submit(inputs(0, 2), 2));
    expect(fake.calls.length).toBe(1);
    const rest = [1, 2, 3, 4, 5].map((n, i) => ({ id: i + 1, n, t: track(b.submit(inputs(i + 1, n), n)) }));
    await flush();
    expect(fake.calls.length).toBe(1); // all five wait for the one runner
    expect(b.stats().queued).toBe(5);
    fake.release();
    await flush();
    expect(fake.calls.length).toBe(2);
    expect(fake.calls[1]!.ids).toEqual([1, 2, 3, 4, 5]);
    expect(fake.calls[1]!.n).toBe(15);
    fake.release();
    await flush();
    expectResult(first.value, 0, 2);
    for (const r of rest) expectResult(r.t.value, r.id, r.n);
  });

  it('a request aborted while its batch runs rejects; the rest of the batch resolves', async () => {
    const fake = new FakeRun(layout);
    const b = make(fake);
    const blocker = track(b.submit(inputs(0, 1), 1));
    const ac = new AbortController();
    const a = track(b.submit(inputs(1, 2), 2));
    const victim = track(b.submit(inputs(2, 3), 3, { signal: ac.signal }));
    const c = track(b.submit(inputs(3, 1), 1));
    fake.release();
    await flush();
    expect(fake.calls[1]!.ids).toEqual([1, 2, 3]);
    ac.abort(new Error('client went away'));
    await flush();
    expect(victim.settled).toBe(true);
    const err = await expectRejects(victim.promise, ServeError, 'ERR_ABORTED');
    expect(err.message).toContain('client went away');
    expect(a.settled).toBe(false);
    fake.release();
    await flush();
    expectResult(blocker.value, 0, 1);
    expectResult(a.value, 1, 2);
    expectResult(c.value, 3, 1);
    expect(b.stats()).toMatchObject({ submitted: 4, completed: 3, aborted: 1, failed: 0, batches: 2 });
  });
});

describe('MicroBatcher batch size and concurrency', () => {
  it('never puts more than maxBatch samples in a batch; a larger request runs alone', async () => {
    const fake = new FakeRun('batch-last');
    const b = make(fake, { maxBatch: 6 });
    const sizes = [1, 3, 3, 3, 10, 2, 2];
    const ts = sizes.map((n, id) => track(b.submit(inputs(id, n), n)));
    expect(fake.calls.length).toBe(1); // the first runs at once; the rest queue behind it
    const want = [
      { ids: [0], n: 1 },
      { ids: [1, 2], n: 6 },
      { ids: [3], n: 3 }, // 3 + 10 would pass maxBatch
      { ids: [4], n: 10 }, // larger than maxBatch: alone
      { ids: [5, 6], n: 4 },
    ];
    for (let k = 0; k < want.length; k++) {
      expect(fake.calls.length).toBe(k + 1);
      expect({ ids: fake.calls[k]!.ids, n: fake.calls[k]!.n }).toEqual(want[k]);
      fake.release();
      await flush();
    }
    expect(fake.calls.length).toBe(want.length);
    ts.forEach((t, id) => expectResult(t.value, id, sizes[id]!));
    const s = b.stats();
    expect(s.batches).toBe(5);
    // batchSize buckets [1, 2, 4, 8, 16, …] against the batch sizes 1, 6, 3, 10, 4.
    const ns = want.map((w) => w.n);
    for (const bucket of s.batchSize.buckets()) expect(bucket.count, `le=${bucket.le}`).toBe(ns.filter((n) => n <= bucket.le).length);
  });

  it('runs an over-sized request at once even with a long window', async () => {
    const fake = new FakeRun('batch-first');
    const b = make(fake, { maxBatch: 4, windowMs: 60_000 });
    const t = track(b.submit(inputs(7, 9), 9));
    expect(fake.calls.length).toBe(1);
    expect(fake.calls[0]!.n).toBe(9);
    fake.release();
    await flush();
    expectResult(t.value, 7, 9);
  });

  it('never has more than `concurrency` batches running', async () => {
    const fake = new FakeRun('batch-first');
    const b = make(fake, { maxBatch: 1, concurrency: 3 });
    const ts = Array.from({ length: 10 }, (_, id) => track(b.submit(inputs(id, 1), 1)));
    expect(fake.calls.length).toBe(3);
    expect(b.stats()).toMatchObject({ runningBatches: 3, queued: 7 });
    const rng = mulberry32(3);
    let left = 10;
    while (fake.pending.length > 0) {
      fake.release(randInt(rng, 0, fake.pending.length - 1));
      left--;
      await flush();
      expect(fake.inFlight).toBe(Math.min(3, left));
      expect(b.stats().runningBatches).toBe(Math.min(3, left));
    }
    expect(fake.maxInFlight).toBe(3);
    expect(fake.calls.map((c) => c.ids[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    ts.forEach((t, id) => expectResult(t.value, id, 1));
  });
});

describe('MicroBatcher windowMs', () => {
  it('holds a lone request for windowMs; one arriving within the window joins its batch', async () => {
    useFakeClock();
    const fake = new FakeRun('batch-last');
    const b = make(fake, { maxBatch: 8, windowMs: 20 });
    const a = track(b.submit(inputs(0, 1), 1));
    await vi.advanceTimersByTimeAsync(10);
    expect(fake.calls.length).toBe(0);
    const c = track(b.submit(inputs(1, 2), 2));
    await vi.advanceTimersByTimeAsync(9); // t = 19: still inside the first request's window
    expect(fake.calls.length).toBe(0);
    await vi.advanceTimersByTimeAsync(1); // t = 20: the window (from the first arrival) is over
    expect(fake.calls.length).toBe(1);
    expect(fake.calls[0]!.ids).toEqual([0, 1]);
    await vi.advanceTimersByTimeAsync(5);
    fake.release(); // t = 25
    await flush();
    expectResult(a.value, 0, 1);
    expectResult(c.value, 1, 2);
    // Latency is measured on the same clock: 25 ms and 15 ms.
    const lat = b.stats().latencyMs;
    expect(lat.count).toBe(2);
    expect(lat.sum).toBeCloseTo(40, 6);
    expect(lat.max).toBeCloseTo(25, 6);

    // A later lone request gets a window of its own.
    const d = track(b.submit(inputs(2, 1), 1));
    await vi.advanceTimersByTimeAsync(19);
    expect(fake.calls.length).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fake.calls.length).toBe(2);
    expect(fake.calls[1]!.ids).toEqual([2]);
    fake.release();
    await flush();
    expectResult(d.value, 2, 1);
  });

  it('does not wait once maxBatch samples are queued', async () => {
    useFakeClock();
    const fake = new FakeRun('batch-first');
    const b = make(fake, { maxBatch: 8, windowMs: 1000 });
    const a = track(b.submit(inputs(0, 3), 3));
    expect(fake.calls.length).toBe(0);
    const c = track(b.submit(inputs(1, 5), 5));
    expect(fake.calls.length).toBe(1);
    expect(fake.calls[0]!.ids).toEqual([0, 1]);
    fake.release();
    await flush();
    expectResult(a.value, 0, 3);
    expectResult(c.value, 1, 5);
  });

  it('windowMs 0 runs a request at once (synchronously within submit)', async () => {
    const fake = new FakeRun('batch-last');
    const b = make(fake, { windowMs: 0, concurrency: 2 });
    const a = track(b.submit(inputs(0, 1), 1));
    expect(fake.calls.length).toBe(1);
    const c = track(b.submit(inputs(1, 1), 1));
    expect(fake.calls.length).toBe(2); // a second free runner: runs alone, at once
    fake.release();
    fake.release();
    await flush();
    expectResult(a.value, 0, 1);
    expectResult(c.value, 1, 1);
  });

  it('has the documented defaults', () => {
    const b = new MicroBatcher({ inputSizes: IN, outputSizes: OUT, layout: 'batch-last', run: new FakeRun('batch-last').run, concurrency: 1 });
    expect(b.maxBatch).toBe(32);
    expect(b.windowMs).toBe(0); // a free runner starts at once
    expect(b.maxQueue).toBe(1024);
  });
});

describe('MicroBatcher backpressure', () => {
  it('rejects the (maxQueue+1)-th waiting request with ERR_QUEUE_FULL', async () => {
    const fake = new FakeRun('batch-last');
    const b = make(fake, { maxQueue: 3 });
    const running = track(b.submit(inputs(0, 1), 1)); // running, not waiting
    const waiting = [1, 2, 3].map((id) => track(b.submit(inputs(id, 1), 1)));
    expect(b.stats().queued).toBe(3);
    await expectRejects(b.submit(inputs(4, 1), 1), ServeError, 'ERR_QUEUE_FULL');
    await expectRejects(b.submit(inputs(5, 1), 1), ServeError, 'ERR_QUEUE_FULL');
    expect(b.stats()).toMatchObject({ submitted: 6, rejected: 2, queued: 3 });
    fake.release();
    await flush();
    expect(fake.calls[1]!.ids).toEqual([1, 2, 3]);
    // The queue has room again.
    const later = track(b.submit(inputs(6, 2), 2));
    fake.release();
    await flush();
    fake.release();
    await flush();
    expectResult(running.value, 0, 1);
    waiting.forEach((t, i) => expectResult(t.value, i + 1, 1));
    expectResult(later.value, 6, 2);
    expect(b.stats()).toMatchObject({ submitted: 7, completed: 5, rejected: 2, failed: 0 });
  });
});

describe('MicroBatcher cancellation', () => {
  it('a pre-aborted signal rejects at once and never reaches run', async () => {
    const fake = new FakeRun('batch-last');
    const b = make(fake);
    const ac = new AbortController();
    ac.abort('no longer needed');
    const err = await expectRejects(b.submit(inputs(0, 1), 1, { signal: ac.signal }), ServeError, 'ERR_ABORTED');
    expect(err.message).toContain('no longer needed');
    expect(fake.calls.length).toBe(0);
    expect(b.stats()).toMatchObject({ submitted: 1, aborted: 1, completed: 0, failed: 0, queued: 0, batches: 0 });
  });

  it('a request aborted while queued rejects and is left out of the next batch', async () => {
    const fake = new FakeRun('batch-first');
    const b = make(fake);
    const blocker = track(b.submit(inputs(0, 1), 1));
    const ac = new AbortController();
    const a = track(b.submit(inputs(1, 2), 2));
    const victim = track(b.submit(inputs(2, 2), 2, { signal: ac.signal }));
    const c = track(b.submit(inputs(3, 3), 3));
    ac.abort();
    await flush();
    await expectRejects(victim.promise, ServeError, 'ERR_ABORTED');
    expect(b.stats().queued).toBe(2);
    fake.release();
    await flush();
    expect(fake.calls[1]!.ids).toEqual([1, 3]);
    expect(fake.calls[1]!.n).toBe(5);
    fake.release();
    await flush();
    expectResult(blocker.value, 0, 1);
    expectResult(a.value, 1, 2);
    expectResult(c.value, 3, 3);
    expect(b.stats()).toMatchObject({ submitted: 4, completed: 3, aborted: 1, failed: 0 });
  });

  it('aborting after the request settled changes nothing', async () => {
    const fake = new FakeRun('batch-last');
    const b = make(fake);
    const ac = new AbortController();
    const t = track(b.submit(inputs(0, 1), 1, { signal: ac.signal }));
    fake.release();
    await flush();
    ac.abort();
    await flush();
    expectResult(t.value, 0, 1);
    expect(b.stats()).toMatchObject({ completed: 1, aborted: 0 });
  });

  it('pool timeoutMs rejects a queued and a running request with ERR_TIMEOUT', async () => {
    useFakeClock();
    const fake = new FakeRun('batch-last');
    const b = make(fake, { timeoutMs: 100 });
    const running = track(b.submit(inputs(0, 1), 1));
    const queued = track(b.submit(inputs(1, 1), 1));
    await vi.advanceTimersByTimeAsync(99);
    expect(running.settled || queued.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await expectRejects(running.promise, ServeError, 'ERR_TIMEOUT');
    await expectRejects(queued.promise, ServeError, 'ERR_TIMEOUT');
    expect(b.stats()).toMatchObject({ timedOut: 2, queued: 0, failed: 0, completed: 0 });
    // The late batch result is dropped; the timed-out queued request never runs.
    fake.release();
    await flush();
    expect(fake.calls.length).toBe(1);
    expect(b.stats()).toMatchObject({ timedOut: 2, completed: 0, runningBatches: 0 });
    // The batcher still serves.
    const next = track(b.submit(inputs(2, 2), 2));
    fake.release();
    await flush();
    expectResult(next.value, 2, 2);
  });

  it('a request’s timeoutMs overrides the pool’s, shorter or longer', async () => {
    useFakeClock();
    const fake = new FakeRun('batch-first');
    const b = make(fake, { timeoutMs: 100 });
    const short = track(b.submit(inputs(0, 1), 1, { timeoutMs: 10 })); // running
    const long = track(b.submit(inputs(1, 2), 2, { timeoutMs: 1000 })); // queued
    const dflt = track(b.submit(inputs(2, 1), 1)); // queued, pool's 100 ms
    await vi.advanceTimersByTimeAsync(9);
    expect(short.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await expectRejects(short.promise, ServeError, 'ERR_TIMEOUT');
    expect(long.settled || dflt.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(90);
    await expectRejects(dflt.promise, ServeError, 'ERR_TIMEOUT');
    expect(long.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(500);
    expect(long.settled).toBe(false);
    fake.release(); // the first batch (short's) ends: long runs alone
    await flush();
    expect(fake.calls.map((c) => c.ids)).toEqual([[0], [1]]);
    fake.release();
    await flush();
    expectResult(long.value, 1, 2);
    expect(b.stats()).toMatchObject({ timedOut: 2, completed: 1, failed: 0 });
  });

  it('without any timeoutMs a request waits as long as it takes', async () => {
    useFakeClock();
    const fake = new FakeRun('batch-last');
    const b = make(fake);
    const t = track(b.submit(inputs(0, 1), 1, { timeoutMs: undefined }));
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(t.settled).toBe(false);
    fake.release();
    await flush();
    expectResult(t.value, 0, 1);
  });
});

describe('MicroBatcher close / rejectQueued', () => {
  it('close() refuses new requests and resolves after queued and running ones settled', async () => {
    const fake = new FakeRun('batch-last');
    const b = make(fake);
    const running = track(b.submit(inputs(0, 1), 1));
    const q1 = track(b.submit(inputs(1, 2), 2));
    const q2 = track(b.submit(inputs(2, 1), 1));
    let closed = false;
    const closing = b.close().then(() => {
      closed = true;
    });
    await expectRejects(b.submit(inputs(3, 1), 1), ServeError, 'ERR_CLOSED');
    await flush();
    expect(closed).toBe(false);
    fake.release();
    await flush();
    expect(closed).toBe(false); // q1 and q2 now run
    expect(fake.calls[1]!.ids).toEqual([1, 2]);
    fake.release();
    await closing;
    expect(closed).toBe(true);
    expectResult(running.value, 0, 1);
    expectResult(q1.value, 1, 2);
    expectResult(q2.value, 2, 1);
    expect(b.stats()).toMatchObject({ submitted: 4, completed: 3, rejected: 1, failed: 0, queued: 0, runningBatches: 0 });
  });

  it('close() on an idle batcher resolves; close() runs a request waiting for its window at once', async () => {
    const idle = make(new FakeRun('batch-last'));
    await idle.close();
    await expectRejects(idle.submit(inputs(0, 1), 1), ServeError, 'ERR_CLOSED');

    const fake = new FakeRun('batch-first');
    const b = make(fake, { windowMs: 60_000 });
    const t = track(b.submit(inputs(1, 1), 1));
    expect(fake.calls.length).toBe(0);
    const closing = b.close();
    expect(fake.calls.length).toBe(1);
    fake.release();
    await closing;
    expectResult(t.value, 1, 1);
  });

  it('rejectQueued(err) rejects the queued requests with err; running ones finish', async () => {
    const fake = new FakeRun('batch-last');
    const b = make(fake);
    const running = track(b.submit(inputs(0, 2), 2));
    const q = [1, 2].map((id) => track(b.submit(inputs(id, 1), 1)));
    const err = new ServeError('ERR_WORKER', 'shutting down');
    b.rejectQueued(err);
    await flush();
    for (const t of q) {
      expect(t.settled).toBe(true);
      expect(t.error).toBe(err);
    }
    await expectRejects(b.submit(inputs(3, 1), 1), ServeError, 'ERR_CLOSED');
    expect(running.settled).toBe(false);
    fake.release();
    await flush();
    expectResult(running.value, 0, 2);
    expect(fake.calls.length).toBe(1);
    expect(b.stats()).toMatchObject({ completed: 1, failed: 2, rejected: 1, queued: 0 });
    await b.close();
  });
});

describe('MicroBatcher run failures', () => {
  for (const how of ['throws synchronously', 'rejects'] as const) {
    it(`a run that ${how} rejects every request of its batch with that error, then keeps working`, async () => {
      const fake = new FakeRun('batch-first');
      const boom = new Error(`boom (${how})`);
      let failNext = false;
      const run: BatchRun = (arrays, n) => {
        if (failNext) {
          failNext = false;
          if (how === 'rejects') return Promise.reject(boom);
          throw boom;
        }
        return fake.run(arrays, n);
      };
      const b = new MicroBatcher({ inputSizes: IN, outputSizes: OUT, layout: 'batch-first', run, concurrency: 1, windowMs: 0 });
      const blocker = track(b.submit(inputs(0, 1), 1));
      const doomed = [1, 2, 3].map((id) => track(b.submit(inputs(id, id), id)));
      failNext = true;
      fake.release();
      await flush();
      for (const t of doomed) {
        expect(t.settled).toBe(true);
        expect(t.error).toBe(boom);
      }
      expectResult(blocker.value, 0, 1);
      const after = [4, 5].map((id) => track(b.submit(inputs(id, 2), 2)));
      fake.release();
      await flush();
      fake.release();
      await flush();
      after.forEach((t, i) => expectResult(t.value, i + 4, 2));
      expect(b.stats()).toMatchObject({ submitted: 6, completed: 3, failed: 3, batches: 4, runningBatches: 0 });
    });
  }

  it('a run that rejects with a non-Error rejects with ServeError ERR_WORKER', async () => {
    const fake = new FakeRun('batch-last');
    const b = make(fake);
    const t = track(b.submit(inputs(0, 1), 1));
    fake.fail('worker exploded');
    await flush();
    const err = await expectRejects(t.promise, ServeError, 'ERR_WORKER');
    expect(err.message).toContain('worker exploded');
  });

  it('outputs of the wrong sizes reject with ServeError ERR_WORKER', async () => {
    const bad: ((n: number) => Float32Array[])[] = [
      (n) => [new Float32Array(3 * n - 1), new Float32Array(n)], // short output
      (n) => [new Float32Array(3 * n), new Float32Array(n + 1)], // long output
      (n) => [new Float32Array(3 * n)], // an output missing
      (n) => [new Float32Array(3 * n), new Float32Array(n), new Float32Array(n)], // one too many
      (n) => [new Float32Array(3 * n), new Float64Array(n) as unknown as Float32Array], // wrong type
    ];
    for (const [k, outputs] of bad.entries()) {
      const fake = new FakeRun('batch-last');
      let wrong = true;
      const run: BatchRun = (arrays, n) => (wrong ? Promise.resolve(outputs(n)) : fake.run(arrays, n));
      const b = new MicroBatcher({ inputSizes: IN, outputSizes: OUT, layout: 'batch-last', run, concurrency: 1, windowMs: 0 });
      await expectRejects(b.submit(inputs(0, 2), 2), ServeError, 'ERR_WORKER', `case ${k}`);
      wrong = false;
      const t = track(b.submit(inputs(1, 1), 1));
      fake.release();
      await flush();
      expectResult(t.value, 1, 1);
      expect(b.stats()).toMatchObject({ failed: 1, completed: 1 });
    }
  });
});

describe('MicroBatcher options', () => {
  const base = (): BatcherOptions => ({ inputSizes: IN, outputSizes: OUT, layout: 'batch-last', run: new FakeRun('batch-last').run, concurrency: 1 });

  it('rejects invalid options with IndexRangeError ERR_RANGE', () => {
    const bad: [string, Partial<BatcherOptions>][] = [
      ['maxBatch 0', { maxBatch: 0 }],
      ['maxBatch -1', { maxBatch: -1 }],
      ['maxBatch 2.5', { maxBatch: 2.5 }],
      ['windowMs -1', { windowMs: -1 }],
      ['windowMs NaN', { windowMs: NaN }],
      ['windowMs Infinity', { windowMs: Infinity }],
      ['maxQueue 1.5', { maxQueue: 1.5 }],
      ['maxQueue 0', { maxQueue: 0 }],
      ['concurrency 0', { concurrency: 0 }],
      ['concurrency 1.5', { concurrency: 1.5 }],
      ['timeoutMs NaN', { timeoutMs: NaN }],
      ['timeoutMs -5', { timeoutMs: -5 }],
    ];
    for (const [label, o] of bad) expectThrows(() => new MicroBatcher({ ...base(), ...o }), IndexRangeError, 'ERR_RANGE', label);
  });

  it('rejects invalid request options without counting the request', async () => {
    const fake = new FakeRun('batch-last');
    const b = new MicroBatcher({ ...base(), run: fake.run, windowMs: 0 });
    await expectRejects(b.submit(inputs(0, 1), 1, { timeoutMs: -1 }), IndexRangeError, 'ERR_RANGE');
    await expectRejects(b.submit(inputs(0, 1), 1, { timeoutMs: NaN }), IndexRangeError, 'ERR_RANGE');
    await expectRejects(b.submit(inputs(0, 1), 1, { signal: {} as AbortSignal }), SparsennTypeError, 'ERR_TYPE');
    await expectRejects(b.submit(inputs(0, 1), 1, null as unknown as object), SparsennTypeError, 'ERR_TYPE');
    expect(fake.calls.length).toBe(0);
    expect(b.stats()).toMatchObject({ submitted: 0, rejected: 0, failed: 0 });
  });
});

describe('MicroBatcher stats', () => {
  it('counts what happened', async () => {
    useFakeClock();
    const fake = new FakeRun('batch-first');
    const b = make(fake, { maxQueue: 4, maxBatch: 4 });
    const pre = new AbortController();
    pre.abort();
    const mid = new AbortController();
    const ok0 = track(b.submit(inputs(0, 3), 3)); // batch 1 (n = 3)
    const ok1 = track(b.submit(inputs(1, 1), 1)); // queued → batch 2
    const ab = track(b.submit(inputs(2, 1), 1, { signal: mid.signal })); // aborted while queued
    const to = track(b.submit(inputs(3, 1), 1, { timeoutMs: 5 })); // times out while queued
    const ok2 = track(b.submit(inputs(4, 2), 2)); // queued → batch 2
    await expectRejects(b.submit(inputs(5, 1), 1), ServeError, 'ERR_QUEUE_FULL');
    await expectRejects(b.submit(inputs(6, 1), 1, { signal: pre.signal }), ServeError, 'ERR_ABORTED');
    mid.abort();
    await vi.advanceTimersByTimeAsync(5);
    expect(ab.settled && to.settled).toBe(true);
    await vi.advanceTimersByTimeAsync(5);
    fake.release(); // t = 10: batch 1 done, batch 2 = [1, 4] starts
    await flush();
    expect(fake.calls[1]!.ids).toEqual([1, 4]);
    fake.fail(new Error('lost the worker')); // batch 2 fails at t = 10
    await flush();
    const ok3 = track(b.submit(inputs(7, 4), 4)); // batch 3 (n = 4)
    await vi.advanceTimersByTimeAsync(7);
    fake.release(); // t = 17
    await flush();
    expectResult(ok0.value, 0, 3);
    expectResult(ok3.value, 7, 4);
    expect(ok1.error).toBeInstanceOf(Error);
    expect(ok2.error).toBe(ok1.error);

    const s = b.stats();
    expect({ ...s, batchSize: undefined, latencyMs: undefined }).toEqual({
      queued: 0,
      runningBatches: 0,
      submitted: 8,
      completed: 2,
      failed: 2,
      rejected: 1,
      timedOut: 1,
      aborted: 2,
      batches: 3,
      batchSize: undefined,
      latencyMs: undefined,
    });
    expect(s.batchSize.count).toBe(3);
    expect(s.batchSize.sum).toBe(3 + 3 + 4);
    expect(s.batchSize.buckets().map((x) => x.count).slice(0, 4)).toEqual([0, 0, 3, 3]); // le 1, 2, 4, 8: sizes 3, 3, 4
    // Latency of the successful requests only: 10 ms and 7 ms.
    expect(s.latencyMs.count).toBe(2);
    expect(s.latencyMs.sum).toBeCloseTo(17, 6);
  });
});

describe('MicroBatcher with a misbehaving runner', () => {
  const base = { inputSizes: [1], outputSizes: [1], layout: 'batch-last' as const, concurrency: 1 };

  it('a runner that returns a plain array (not a promise) still settles its batch and the next', async () => {
    const b = new MicroBatcher({ ...base, run: ((x: Float32Array[]) => [x[0]!.map((v) => v + 1)]) as unknown as BatchRun });
    expect(Array.from((await b.submit([Float32Array.of(1)], 1))[0]!)).toEqual([2]);
    expect(Array.from((await b.submit([Float32Array.of(5)], 1))[0]!)).toEqual([6]);
  });

  it('a runner that resolves to nothing rejects with ERR_WORKER', async () => {
    const b = new MicroBatcher({ ...base, run: (async () => undefined) as unknown as BatchRun });
    await expectRejects(b.submit([Float32Array.of(1)], 1), ServeError, 'ERR_WORKER');
  });

  it('concurrency is required', () => {
    expectThrows(() => new MicroBatcher({ ...base, concurrency: undefined as unknown as number, run: async () => [] }), IndexRangeError, 'ERR_RANGE');
  });
});

describe('MicroBatcher and inputs transferred while queued', () => {
  it('a request whose input was detached while it waited fails alone with ERR_DETACHED', async () => {
    let release: (() => void) | undefined;
    const runs: number[] = [];
    const b = new MicroBatcher({
      inputSizes: [2],
      outputSizes: [2],
      layout: 'batch-first',
      concurrency: 1,
      maxBatch: 8,
      run: async (x, n) => {
        runs.push(n);
        if (runs.length === 1) await new Promise<void>((r) => (release = r));
        return [x[0]!.map((v) => v * 10)];
      },
    });
    const first = b.submit([Float32Array.of(1, 2)], 1);
    const doomed = Float32Array.of(3, 4);
    const lost = b.submit([doomed], 1);
    const kept = b.submit([Float32Array.of(5, 6)], 1);
    structuredClone(doomed.buffer, { transfer: [doomed.buffer] });
    release!();
    expect(Array.from((await first)[0]!)).toEqual([10, 20]);
    await expectRejects(lost, NativeError, 'ERR_DETACHED');
    expect(Array.from((await kept)[0]!)).toEqual([50, 60]);
    expect(runs).toEqual([1, 1]);
  });
});
