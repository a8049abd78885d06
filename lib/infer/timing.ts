/**
 * Timing candidate kernels for one layer on this machine, with a per-machine cache so a
 * service that compiles the same model at every start does not time it again. A timing is
 * keyed by what decides it: the kernel path (ISA), the thread count, the format, the layer's
 * shape (weight matrix, convolution geometry) and stored count, and the batch size. A layer
 * kernel is timed as a whole: a convolution's im2col counts against the formats that need it.
 * The cache is a JSON file (default `$XDG_CACHE_HOME/sparsenn/kernel-timings.json`, or
 * `~/.cache/...`; SPARSENN_CACHE_DIR overrides the folder), written atomically; an unreadable
 * or foreign file is ignored and rewritten.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { writeFileAtomicSync } from '../io/atomic-file.js';
import { capabilities, getThreads } from '../runtime.js';
import type { KernelScratch, LayerKernel } from './layer-kernels.js';

// 2: convolutions timed with their im2col (version 1 timed the product alone).
const CACHE_VERSION = 2;

/** Where timings are kept: a file path, or false to neither read nor write a cache. */
export type TimingCache = string | false;

export function defaultCachePath(): string {
  const dir = process.env['SPARSENN_CACHE_DIR'] ?? join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'sparsenn');
  return join(dir, 'kernel-timings.json');
}

function load(path: string): Record<string, number> {
  try {
    if (!existsSync(path)) return {};
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { version?: unknown; timings?: unknown };
    if (parsed.version !== CACHE_VERSION || typeof parsed.timings !== 'object' || parsed.timings === null) return {};
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(parsed.timings)) if (typeof v === 'number' && Number.isFinite(v) && v > 0) out[k] = v;
    return out;
  } catch {
    return {};
  }
}

/** Timings of one compile: reads the cache once, writes it back once at the end. */
export class KernelTimer {
  private readonly path: string | null;
  private readonly known: Record<string, number>;
  private dirty = false;
  private readonly prefix: string;

  constructor(cache: TimingCache) {
    this.path = cache === false ? null : cache;
    this.known = this.path ? load(this.path) : {};
    this.prefix = `${capabilities().isa}|t${getThreads()}`;
  }

  /**
   * Median milliseconds of one run of `kernel` on a batch of n samples; `layer` names the
   * layer's shape (the weight matrix and any convolution geometry), `inputLen` and `outputLen`
   * are one sample's input and output sizes.
   */
  time(kernel: LayerKernel, layer: string, inputLen: number, outputLen: number, n: number): number {
    const key = `${this.prefix}|${kernel.format}|${layer}|nnz${kernel.nnz}|n${n}`;
    const cached = this.known[key];
    if (cached !== undefined) return cached;
    const ms = measure(kernel, inputLen, outputLen, n);
    this.known[key] = ms;
    this.dirty = true;
    return ms;
  }

  /** Writes new timings to the cache file (atomically); failures to write are not errors. */
  save(): void {
    if (!this.path || !this.dirty) return;
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      writeFileAtomicSync(this.path, new TextEncoder().encode(JSON.stringify({ version: CACHE_VERSION, timings: this.known })));
      this.dirty = false;
    } catch {
      // A read-only home or cache folder only costs the next compile a re-timing.
    }
  }
}

/** Repeats until ~15 ms have passed (at least 5, at most 50 runs) after two warm-up runs. */
function measure(kernel: LayerKernel, inputLen: number, outputLen: number, n: number): number {
  const x = new Float32Array(inputLen * n);
  for (let i = 0; i < x.length; i++) x[i] = ((i * 2654435761) % 1000) / 1000 - 0.5;
  const y = new Float32Array(outputLen * n);
  const buffers = new Map<string, Float32Array>();
  const ws: KernelScratch = {
    n,
    scratch(key, length) {
      let a = buffers.get(key);
      if (!a || a.length < length) buffers.set(key, (a = new Float32Array(length)));
      return a.subarray(0, length);
    },
  };
  const once = () => kernel.run(x, y, ws);
  once();
  once();
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < 50 && (samples.length < 5 || performance.now() - start < 15)) {
    const t0 = performance.now();
    once();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1]!;
}
