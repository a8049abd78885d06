/**
 * InferencePool: a model served by worker threads. The model file is read once into a
 * SharedArrayBuffer that every worker loads from (no per-worker copy of the file); each worker
 * compiles its own session (the first one times the kernel formats, the rest reuse its timing
 * cache) and runs one batch at a time. Requests go through a MicroBatcher: bounded queue
 * (ERR_QUEUE_FULL when full), dynamic micro-batching, per-request AbortSignal and timeout. A
 * worker that dies is replaced; the requests of its batch reject with ERR_WORKER.
 */
import { readFile, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { errorFromCode, FormatError, IndexRangeError, LimitError, ServeError, ShapeError, SparsennTypeError, type SparsennError } from '../errors.js';
import type { CompileOptions } from '../infer/compile.js';
import { parseSessionInputs, type SessionInputs, type ValueSpec } from '../infer/inputs.js';
import type { ModelFileFormat } from '../io/files.js';
import { checkLimit, resolveLimits, type LoadLimits } from '../limits.js';
import { Tensor } from '../nn/tensor.js';
import { packageRoot } from '../package-root.js';
import { MicroBatcher, type BatcherStats, type BatchingOptions, type RequestOptions } from './batcher.js';
import type { FromPool, ToPool, WireError } from './messages.js';
import type { SparsennRunnerOptions } from './sparsenn-runner.js';

export interface PoolOptions {
  /** The model: a file path (.spnn, .safetensors, .onnx) or a file's bytes. */
  model: string | Uint8Array;
  /** The file type of `model` bytes (default: detected from the bytes). */
  format?: ModelFileFormat;
  /** One sample's input shape, if the file does not record it. */
  sampleShape?: readonly number[];
  /** Worker threads (default: the machine's available parallelism). */
  workers?: number;
  /** Native threads per worker (default 1: the workers already spread requests over the cores). */
  threadsPerWorker?: number;
  /** compile() options for each worker (batchSizes default [1, 8, maxBatch]). */
  compile?: Omit<CompileOptions, 'sampleShape'>;
  /** Micro-batching (default { maxBatch: 32, windowMs: 0 }); false runs every request alone. */
  batching?: BatchingOptions | false;
  /** Most requests waiting before new ones are refused with ERR_QUEUE_FULL (default 1024). */
  maxQueue?: number;
  /** Default per-request time limit in ms (default none). */
  timeoutMs?: number;
  /** A module (path or file URL) exporting createRunner (see runner.ts) to run instead of sparsenn. */
  runner?: string | URL;
  /** Options for a custom runner (structured-cloned to each worker). */
  runnerOptions?: unknown;
  /** V8 heap limits of each worker. */
  resourceLimits?: ResourceLimits;
  /** Caps for an untrusted model file (file size, elements, architecture size; see LoadLimits). */
  limits?: LoadLimits;
}

export interface PoolStats extends BatcherStats {
  workers: number;
  /** Workers replaced after they died. */
  restarts: number;
}

interface Slot {
  worker: Worker;
  /** The thread has ended (its 'exit' fired). */
  exited: boolean;
  busy: { id: number; resolve: (o: Float32Array[]) => void; reject: (e: Error) => void } | null;
}

function errorFromWire(e: WireError): SparsennError {
  const err = errorFromCode(e.code, e.message);
  return err.code === 'ERR_INTERNAL' && e.code !== 'ERR_INTERNAL' ? new ServeError('ERR_WORKER', `${e.name}: ${e.message}`) : err;
}

/** A worker running lib/serve/worker (through tsx when sparsenn runs from its TypeScript sources). */
function startWorker(workerData: unknown, resourceLimits: ResourceLimits | undefined): Worker {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    const entry = pathToFileURL(join(dirname(here), 'worker.ts')).href;
    const tsx = import.meta.resolve('tsx/esm/api');
    const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
    return new Worker(boot, { eval: true, workerData, resourceLimits });
  }
  return new Worker(join(packageRoot(), 'dist', 'serve', 'worker.js'), { workerData, resourceLimits });
}

function checkCount(name: string, v: unknown, fallback: number, max: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) throw new IndexRangeError('ERR_RANGE', `${name} must be an integer from 1 to ${max}, got ${String(v)}`);
  return v;
}

export class InferencePool {
  readonly inputs: readonly ValueSpec[];
  readonly outputs: readonly ValueSpec[];
  readonly #slots: Slot[];
  readonly #idle: Slot[] = [];
  readonly #waiting: { resolve: (s: Slot) => void; reject: (e: Error) => void }[] = [];
  #broken: Error | undefined;
  readonly #batcher: MicroBatcher;
  readonly #start: () => Promise<{ slot: Slot; ready: Extract<ToPool, { type: 'ready' }> }>;
  #nextId = 1;
  #restarts = 0;
  #closing = false;
  #closed: Promise<void> | undefined;

  private constructor(
    first: Extract<ToPool, { type: 'ready' }>,
    slots: Slot[],
    start: () => Promise<{ slot: Slot; ready: Extract<ToPool, { type: 'ready' }> }>,
    batching: BatchingOptions,
    opts: PoolOptions,
  ) {
    this.inputs = first.inputs;
    this.outputs = first.outputs;
    this.#slots = slots;
    this.#start = start;
    const size = (v: ValueSpec): number => v.shape.reduce((a, b) => a * b, 1);
    // Batches travel batch-first (gathering single samples and batch-first requests is plain
    // copying); the worker converts to its runner's layout, off this thread.
    this.#batcher = new MicroBatcher({
      ...batching,
      inputSizes: first.inputs.map(size),
      outputSizes: first.outputs.map(size),
      layout: 'batch-first',
      concurrency: slots.length,
      maxQueue: opts.maxQueue,
      timeoutMs: opts.timeoutMs,
      run: (arrays, n) => this.#runOnWorker(arrays, n),
    });
    for (const s of slots) {
      this.#watch(s);
      // A worker that died while the others were still starting is replaced now.
      if (s.exited) this.#replace(s);
      else this.#idle.push(s);
    }
  }

  /**
   * Starts the workers and waits until each has loaded and compiled the model.
   * @throws the first worker's load or compile error (e.g. FormatError for a corrupt file),
   * ERR_RANGE / ERR_TYPE for bad options.
   */
  static async create(opts: PoolOptions): Promise<InferencePool> {
    if (opts === null || typeof opts !== 'object') throw new SparsennTypeError('ERR_TYPE', `InferencePool.create takes an options object, got ${opts === null ? 'null' : typeof opts}`);
    const workers = checkCount('workers', opts.workers, Math.max(1, availableParallelism()), 256);
    const threads = checkCount('threadsPerWorker', opts.threadsPerWorker, 1, 1024);
    const batching: BatchingOptions = opts.batching === false ? { maxBatch: 1, windowMs: 0 } : { maxBatch: 32, windowMs: 0, ...opts.batching };
    const maxBatch = checkCount('batching.maxBatch', batching.maxBatch, 32, 1 << 16);
    let bytes: Uint8Array;
    if (typeof opts.model === 'string') {
      try {
        checkLimit(`the size of '${opts.model}' in bytes`, (await stat(opts.model)).size, resolveLimits(opts.limits, 0).maxFileBytes, 'maxFileBytes');
        bytes = await readFile(opts.model);
      } catch (e) {
        if (e instanceof LimitError) throw e;
        throw new FormatError('ERR_FORMAT', `cannot read model file '${opts.model}': ${(e as Error).message}`);
      }
    } else if (opts.model instanceof Uint8Array) bytes = opts.model;
    else throw new SparsennTypeError('ERR_TYPE', `model must be a file path or a Uint8Array of a model file, got ${opts.model === null ? 'null' : typeof opts.model}`);
    const format = opts.format ?? (typeof opts.model === 'string' ? extensionFormat(opts.model) : undefined);
    const shared = new SharedArrayBuffer(bytes.length);
    new Uint8Array(shared).set(bytes);
    const options: SparsennRunnerOptions | unknown =
      opts.runner === undefined
        ? ({ format, sampleShape: opts.sampleShape ?? null, threads, limits: opts.limits, compile: { batchSizes: [...new Set([1, Math.min(8, maxBatch), maxBatch])], ...opts.compile } } satisfies SparsennRunnerOptions)
        : opts.runnerOptions;
    const runner = opts.runner === undefined ? null : opts.runner instanceof URL ? opts.runner.href : opts.runner;
    const workerData = { bytes: shared, runner, options };

    const start = (): Promise<{ slot: Slot; ready: Extract<ToPool, { type: 'ready' }> }> =>
      new Promise((resolve, reject) => {
        const worker = startWorker(workerData, opts.resourceLimits);
        const slot: Slot = { worker, exited: false, busy: null };
        // For the slot's whole life: whether it has ended, and no 'error' ever goes unheard
        // (an unheard one would be thrown in the main thread), even before #watch listens.
        worker.on('exit', () => (slot.exited = true));
        worker.on('error', () => {});
        const onMessage = (m: ToPool): void => {
          detach();
          if (m.type === 'ready') resolve({ slot, ready: m });
          else if (m.type === 'init-failed') fail(errorFromWire(m.error));
          else fail(new ServeError('ERR_WORKER', `a worker sent '${m.type}' before it was ready`));
        };
        const onError = (e: Error): void => fail(new ServeError('ERR_WORKER', `a worker failed while loading the model: ${e.message}`));
        const onExit = (code: number): void => fail(new ServeError('ERR_WORKER', `a worker exited (code ${code}) while loading the model`));
        // Only our own listeners come off (Node's Worker keeps internal ones).
        const detach = (): void => {
          worker.off('message', onMessage);
          worker.off('error', onError);
          worker.off('exit', onExit);
        };
        const fail = (e: Error): void => {
          detach();
          void worker.terminate();
          reject(e);
        };
        worker.on('message', onMessage);
        worker.on('error', onError);
        worker.on('exit', onExit);
      });

    // The first worker alone times the kernel formats; the others then hit its timing cache.
    const first = await start();
    const rest = await Promise.allSettled(Array.from({ length: workers - 1 }, () => start()));
    const failed = rest.find((r) => r.status === 'rejected');
    const slots = [first.slot, ...rest.flatMap((r) => (r.status === 'fulfilled' ? [r.value.slot] : []))];
    if (failed) {
      await Promise.all(slots.map((s) => s.worker.terminate()));
      throw failed.reason as Error;
    }
    return new InferencePool(first.ready, slots, start, batching, opts);
  }

  /** Worker threads serving requests. */
  get workers(): number {
    return this.#slots.length;
  }

  /**
   * Runs one request (any batch size, batch-last tensors like InferenceSession.run) and
   * resolves with every output. Concurrent requests are batched together.
   * @throws (rejects) ERR_TYPE / ERR_SHAPE for bad inputs; ServeError ERR_QUEUE_FULL,
   * ERR_TIMEOUT, ERR_ABORTED, ERR_CLOSED, ERR_WORKER; or the model's own errors.
   */
  async run(inputs: SessionInputs, opts?: RequestOptions): Promise<Record<string, Tensor>> {
    const { arrays, n } = parseSessionInputs(inputs, this.inputs);
    if (n === 0) return Object.fromEntries(this.outputs.map((o) => [o.name, new Tensor(new Float32Array(0), [...o.shape, 0])]));
    const outputs = await this.#batcher.submit(arrays, n, opts);
    return Object.fromEntries(this.outputs.map((o, i) => [o.name, new Tensor(outputs[i]!, [...o.shape, n])]));
  }

  /**
   * runSamples: like run(), for data that arrives sample by sample (a service's request body):
   * each input is one Float32Array of n samples one after another ([n, ...shape], batch
   * first), and each output comes back the same way. No transposition on this thread.
   */
  async runSamples(inputs: Float32Array | readonly Float32Array[], n: number, opts?: RequestOptions): Promise<Record<string, Float32Array>> {
    const arrays = inputs instanceof Float32Array ? [inputs] : [...inputs];
    if (!Number.isInteger(n) || n < 0) throw new IndexRangeError('ERR_RANGE', `n must be a non-negative integer, got ${String(n)}`);
    if (arrays.length !== this.inputs.length) throw new ShapeError('ERR_SHAPE', `the model takes ${this.inputs.length} input(s), got ${arrays.length}`);
    arrays.forEach((a, i) => {
      const spec = this.inputs[i]!;
      const want = spec.shape.reduce((x, y) => x * y, 1) * n;
      if (!(a instanceof Float32Array)) throw new SparsennTypeError('ERR_TYPE', `input '${spec.name}' must be a Float32Array`);
      if (a.length !== want) throw new ShapeError('ERR_SHAPE', `input '${spec.name}' must hold ${n} samples of [${spec.shape.join(', ')}] (${want} floats), got ${a.length}`);
    });
    if (n === 0) return Object.fromEntries(this.outputs.map((o) => [o.name, new Float32Array(0)]));
    const outputs = await this.#batcher.submit(arrays, n, opts, 'batch-first');
    return Object.fromEntries(this.outputs.map((o, i) => [o.name, outputs[i]!]));
  }

  stats(): PoolStats {
    return { ...this.#batcher.stats(), workers: this.#slots.length, restarts: this.#restarts };
  }

  /** Takes no new requests, lets queued and running ones finish, then stops the workers. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#batcher.close();
      this.#closing = true;
      await Promise.all(this.#slots.map((s) => this.#stop(s)));
    })();
    return this.#closed;
  }

  /** Stops at once (also during close()): queued and running requests reject with ERR_CLOSED. */
  terminate(): Promise<void> {
    this.#closing = true;
    const closed = new ServeError('ERR_CLOSED', 'the pool was terminated');
    this.#batcher.rejectQueued(closed);
    for (const w of this.#waiting.splice(0)) w.reject(closed);
    for (const s of this.#slots) s.busy?.reject(closed);
    const stopped = Promise.all(this.#slots.map((s) => s.worker.terminate())).then(() => undefined);
    this.#closed ??= stopped;
    return stopped;
  }

  async #stop(s: Slot): Promise<void> {
    if (s.exited) return;
    const exited = new Promise<void>((resolve) => s.worker.once('exit', () => resolve()));
    s.worker.postMessage({ type: 'close' } satisfies FromPool);
    const timer = setTimeout(() => void s.worker.terminate(), 5000);
    await exited;
    clearTimeout(timer);
  }

  #runOnWorker(arrays: Float32Array[], n: number): Promise<Float32Array[]> {
    const slot = this.#idle.pop();
    if (slot) return this.#send(slot, arrays, n);
    if (this.#broken) return Promise.reject(this.#broken);
    // A worker is being replaced: wait for it (the batcher never runs more batches than workers).
    return new Promise<Slot>((resolve, reject) => this.#waiting.push({ resolve, reject })).then((s) => this.#send(s, arrays, n));
  }

  #send(slot: Slot, arrays: Float32Array[], n: number): Promise<Float32Array[]> {
    return new Promise<Float32Array[]>((resolve, reject) => {
      const id = this.#nextId++;
      slot.busy = { id, resolve, reject };
      const buffers = [...new Set(arrays.map((a) => a.buffer))].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
      slot.worker.postMessage({ type: 'run', id, arrays, n, layout: 'batch-first' } satisfies FromPool, buffers);
    });
  }

  #release(slot: Slot): void {
    slot.busy = null;
    const next = this.#waiting.shift();
    if (next) next.resolve(slot);
    else this.#idle.push(slot);
  }

  #watch(slot: Slot): void {
    const onMessage = (m: ToPool): void => {
      const job = slot.busy;
      if (!job || (m.type !== 'result' && m.type !== 'failed') || m.id !== job.id) return;
      this.#release(slot);
      if (m.type === 'result') job.resolve(m.outputs);
      else job.reject(errorFromWire(m.error));
    };
    const died = (why: string): void => {
      slot.worker.off('message', onMessage);
      slot.worker.off('error', onError);
      slot.worker.off('exit', onExit);
      if (this.#closing) return;
      const at = this.#idle.indexOf(slot);
      if (at >= 0) this.#idle.splice(at, 1);
      slot.busy?.reject(new ServeError('ERR_WORKER', `the worker running this request ${why}`));
      slot.busy = null;
      this.#replace(slot);
    };
    const onError = (e: Error): void => died(`failed: ${e.message}`);
    const onExit = (code: number): void => died(`exited (code ${code})`);
    slot.worker.on('message', onMessage);
    slot.worker.on('error', onError);
    slot.worker.on('exit', onExit);
  }

  #replace(old: Slot): void {
    this.#restarts++;
    this.#start().then(
      ({ slot }) => {
        if (this.#closing) {
          void slot.worker.terminate();
          for (const w of this.#waiting.splice(0)) w.reject(new ServeError('ERR_CLOSED', 'the pool was closed'));
          return;
        }
        this.#slots[this.#slots.indexOf(old)] = slot;
        this.#watch(slot);
        this.#release(slot);
      },
      (e: Error) => {
        // The model loaded before, so this is the machine (memory, threads): stop taking work.
        this.#broken = new ServeError('ERR_WORKER', `a worker could not be replaced: ${e.message}`);
        this.#batcher.rejectQueued(this.#broken);
        for (const w of this.#waiting.splice(0)) w.reject(this.#broken);
      },
    );
  }
}

function extensionFormat(path: string): ModelFileFormat | undefined {
  const lower = path.toLowerCase();
  if (lower.endsWith('.spnn')) return 'spnn';
  if (lower.endsWith('.safetensors')) return 'safetensors';
  if (lower.endsWith('.onnx')) return 'onnx';
  return undefined;
}

