/**
 * Dynamic micro-batching with backpressure. Requests (each a few samples, usually one) wait in
 * a bounded FIFO queue; whenever a runner is free, the requests at the head are gathered into
 * one batch of at most `maxBatch` samples and run once, and the outputs are split back. A lone
 * request waits at most `windowMs` (from its arrival) for company; under load the queue fills
 * while runners are busy, so batches form without waiting. Each request can be cancelled by an
 * AbortSignal or a timeout, queued or running (a running batch still finishes for the others).
 */
import { IndexRangeError, NativeError, ServeError, SparsennTypeError } from '../errors.js';
import { gatherBatch, scatterBatch, type BatchLayout } from './batch-layout.js';
import { Histogram } from './histogram.js';

/** Runs one gathered batch: arrays per input in `layout`, n samples → arrays per output. */
export type BatchRun = (arrays: Float32Array[], n: number) => Promise<Float32Array[]>;

export interface BatchingOptions {
  /** Most samples in one batch (default 32). A larger request runs as a batch of its own. */
  maxBatch?: number;
  /**
   * How long a lone request may wait for others to fill a batch, in ms (default 0: a free
   * runner starts at once, and batches form from the requests that arrive while runners are
   * busy, as in Triton's dynamic batcher; a small window trades latency for larger batches).
   */
  windowMs?: number;
}

export interface BatcherOptions extends BatchingOptions {
  /** Floats per sample of each input and each output. */
  inputSizes: readonly number[];
  outputSizes: readonly number[];
  /** The layout `run` takes and returns. */
  layout: BatchLayout;
  /**
   * Runs one batch. Its output arrays become the caller's: a batch of one request in `layout`
   * gets them as they are (no copy), so `run` must return arrays it no longer uses.
   */
  run: BatchRun;
  /** Batches run at once (e.g. the number of workers). */
  concurrency: number;
  /** Most requests waiting (not counting running ones) before new ones are refused (default 1024). */
  maxQueue?: number;
  /** Default time limit per request in ms, from submission to result (default none). */
  timeoutMs?: number;
}

export interface RequestOptions {
  /** Cancels the request: it rejects with ERR_ABORTED (a running batch finishes for the others). */
  signal?: AbortSignal;
  /** This request's time limit in ms (overrides the pool's). */
  timeoutMs?: number;
}

/** Counters and histograms since the batcher started. */
export interface BatcherStats {
  queued: number;
  runningBatches: number;
  submitted: number;
  completed: number;
  failed: number;
  rejected: number;
  timedOut: number;
  aborted: number;
  batches: number;
  /** Samples per batch run. */
  batchSize: Histogram;
  /** Submission to settlement of successful requests, ms. */
  latencyMs: Histogram;
}

interface Pending {
  readonly arrays: readonly Float32Array[];
  readonly n: number;
  readonly layout: BatchLayout;
  readonly arrived: number;
  readonly resolve: (outputs: Float32Array[]) => void;
  readonly reject: (error: Error) => void;
  state: 'queued' | 'running' | 'settled';
  timer?: ReturnType<typeof setTimeout>;
  signal?: AbortSignal;
  onAbort?: () => void;
}

function positiveInt(name: string, v: unknown, fallback: number, min = 1): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new IndexRangeError('ERR_RANGE', `${name} must be an integer ≥ ${min}, got ${String(v)}`);
  return v;
}

function nonNegative(name: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new IndexRangeError('ERR_RANGE', `${name} must be a finite number ≥ 0, got ${String(v)}`);
  return v;
}

function abortMessage(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  const why = r instanceof Error ? r.message : typeof r === 'string' ? r : '';
  return why ? `the request was aborted: ${why}` : 'the request was aborted';
}

export class MicroBatcher {
  readonly maxBatch: number;
  readonly windowMs: number;
  readonly maxQueue: number;
  readonly concurrency: number;
  readonly #o: BatcherOptions;
  readonly #timeoutMs: number | undefined;
  readonly #queue: Pending[] = [];
  #queuedSamples = 0;
  #running = 0;
  #window: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #drained: (() => void)[] = [];
  readonly #stats = { submitted: 0, completed: 0, failed: 0, rejected: 0, timedOut: 0, aborted: 0, batches: 0 };
  readonly #batchSize = new Histogram([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]);
  readonly #latency = Histogram.exponential(0.05, 60_000, 4);

  constructor(opts: BatcherOptions) {
    this.#o = opts;
    this.maxBatch = positiveInt('maxBatch', opts.maxBatch, 32);
    this.windowMs = nonNegative('windowMs', opts.windowMs) ?? 0;
    this.maxQueue = positiveInt('maxQueue', opts.maxQueue, 1024);
    this.#timeoutMs = nonNegative('timeoutMs', opts.timeoutMs);
    if (opts.concurrency === undefined) throw new IndexRangeError('ERR_RANGE', 'concurrency (batches run at once) is required');
    this.concurrency = positiveInt('concurrency', opts.concurrency, 1);
  }

  /**
   * Queues one request (arrays per input in `layout`, n samples; the caller checked their
   * sizes). Resolves with arrays per output in the same layout.
   * @throws (rejects) ServeError ERR_QUEUE_FULL, ERR_CLOSED, ERR_TIMEOUT, ERR_ABORTED, or the run's error.
   */
  submit(arrays: readonly Float32Array[], n: number, opts: RequestOptions = {}, layout: BatchLayout = 'batch-last'): Promise<Float32Array[]> {
    if (opts === null || typeof opts !== 'object') return Promise.reject(new SparsennTypeError('ERR_TYPE', `request options must be an object, got ${opts === null ? 'null' : typeof opts}`));
    let timeoutMs: number | undefined;
    try {
      timeoutMs = nonNegative('timeoutMs', opts.timeoutMs) ?? this.#timeoutMs;
      if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) throw new SparsennTypeError('ERR_TYPE', 'signal must be an AbortSignal');
    } catch (e) {
      return Promise.reject(e as Error);
    }
    this.#stats.submitted++;
    if (this.#closed) {
      this.#stats.rejected++;
      return Promise.reject(new ServeError('ERR_CLOSED', 'the pool is closed and takes no new requests'));
    }
    if (opts.signal?.aborted) {
      this.#stats.aborted++;
      return Promise.reject(new ServeError('ERR_ABORTED', abortMessage(opts.signal)));
    }
    if (this.#queue.length >= this.maxQueue) {
      this.#stats.rejected++;
      return Promise.reject(new ServeError('ERR_QUEUE_FULL', `the queue is full (${this.maxQueue} requests waiting); retry later or raise maxQueue`));
    }
    return new Promise<Float32Array[]>((resolve, reject) => {
      const p: Pending = { arrays, n, layout, arrived: performance.now(), resolve, reject, state: 'queued' };
      if (timeoutMs !== undefined)
        p.timer = setTimeout(() => {
          this.#stats.timedOut++;
          this.#settle(p, new ServeError('ERR_TIMEOUT', `the request did not finish within ${timeoutMs} ms`));
        }, timeoutMs);
      if (opts.signal) {
        const signal = opts.signal;
        p.signal = signal;
        p.onAbort = () => {
          this.#stats.aborted++;
          this.#settle(p, new ServeError('ERR_ABORTED', abortMessage(signal)));
        };
        signal.addEventListener('abort', p.onAbort, { once: true });
      }
      this.#queue.push(p);
      this.#queuedSamples += n;
      this.#pump();
    });
  }

  stats(): BatcherStats {
    return { queued: this.#queue.length, runningBatches: this.#running, ...this.#stats, batchSize: this.#batchSize, latencyMs: this.#latency };
  }

  /** Refuses new requests; resolves once every queued and running request has settled. */
  close(): Promise<void> {
    this.#closed = true;
    this.#pump();
    if (this.#queue.length === 0 && this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  /** Refuses new requests and rejects every queued one with `error` (running batches finish). */
  rejectQueued(error: Error): void {
    this.#closed = true;
    for (const p of [...this.#queue]) this.#settle(p, error);
  }

  #pump(): void {
    if (this.#window !== undefined) {
      clearTimeout(this.#window);
      this.#window = undefined;
    }
    while (this.#running < this.concurrency && this.#queue.length > 0) {
      const waited = performance.now() - this.#queue[0]!.arrived;
      if (!this.#closed && this.#queuedSamples < this.maxBatch && waited < this.windowMs) {
        this.#window = setTimeout(() => this.#pump(), Math.max(0, this.windowMs - waited));
        return;
      }
      this.#dispatch(this.#take());
    }
    this.#checkDrained();
  }

  /** The head of the queue up to maxBatch samples (at least one request). */
  #take(): Pending[] {
    const batch: Pending[] = [];
    let samples = 0;
    while (this.#queue.length > 0) {
      const p = this.#queue[0]!;
      if (batch.length > 0 && samples + p.n > this.maxBatch) break;
      this.#queue.shift();
      this.#queuedSamples -= p.n;
      p.state = 'running';
      batch.push(p);
      samples += p.n;
    }
    return batch;
  }

  #dispatch(taken: Pending[]): void {
    // A caller may have transferred (detached) an input while its request waited: that request
    // fails alone, the rest of the batch runs.
    const sizes = this.#o.inputSizes;
    const batch = taken.filter((p) => {
      if (p.arrays.length === sizes.length && p.arrays.every((a, i) => a.length === sizes[i]! * p.n)) return true;
      this.#settle(p, new NativeError('ERR_DETACHED', 'an input array was transferred or detached while the request waited'));
      return false;
    });
    if (batch.length === 0) return;
    this.#running++;
    this.#stats.batches++;
    // Called at once (a free runner starts now); one that throws, or returns something other
    // than a promise, still settles the batch.
    let result: unknown;
    let n = 0;
    try {
      const gathered = gatherBatch(batch, sizes, this.#o.layout);
      n = gathered.n;
      this.#batchSize.observe(n);
      result = this.#o.run(gathered.arrays, n);
    } catch (e) {
      result = Promise.reject(e as Error);
    }
    Promise.resolve(result)
      .then((outputs: unknown) => {
        const sizes = this.#o.outputSizes;
        if (!Array.isArray(outputs) || outputs.length !== sizes.length || outputs.some((o, i) => !(o instanceof Float32Array) || o.length !== sizes[i]! * n))
          throw new ServeError('ERR_WORKER', `a batch of ${n} returned outputs of the wrong sizes`);
        // A batch of one request in the batch's layout takes the outputs as they are.
        if (batch.length === 1 && (batch[0]!.layout === this.#o.layout || batch[0]!.n === 1)) {
          this.#settle(batch[0]!, outputs as Float32Array[]);
          return;
        }
        const split = scatterBatch(
          outputs,
          sizes,
          batch.map((p) => p.n),
          this.#o.layout,
          batch.map((p) => p.layout),
        );
        batch.forEach((p, i) => this.#settle(p, split[i]!));
      })
      .catch((e: unknown) => {
        const error = e instanceof Error ? e : new ServeError('ERR_WORKER', String(e));
        for (const p of batch) this.#settle(p, error);
      })
      .finally(() => {
        this.#running--;
        this.#pump();
      });
  }

  #settle(p: Pending, result: Float32Array[] | Error): void {
    if (p.state === 'settled') return;
    if (p.state === 'queued') {
      const at = this.#queue.indexOf(p);
      if (at >= 0) {
        this.#queue.splice(at, 1);
        this.#queuedSamples -= p.n;
      }
    }
    p.state = 'settled';
    if (p.timer !== undefined) clearTimeout(p.timer);
    if (p.onAbort) p.signal!.removeEventListener('abort', p.onAbort);
    if (result instanceof Error) {
      if (!(result instanceof ServeError && (result.code === 'ERR_TIMEOUT' || result.code === 'ERR_ABORTED'))) this.#stats.failed++;
      p.reject(result);
    } else {
      this.#stats.completed++;
      this.#latency.observe(performance.now() - p.arrived);
      p.resolve(result);
    }
    this.#checkDrained();
  }

  #checkDrained(): void {
    if (!this.#closed || this.#queue.length > 0 || this.#running > 0 || this.#drained.length === 0) return;
    for (const f of this.#drained.splice(0)) f();
  }
}
