/**
 * Interleaved timing of several "sides" (ours, the peer, ...) of one benchmark cell.
 *
 * Each sample of a side is one batch of back-to-back calls (enough to take about
 * `batchMs`, so timer resolution and one-off hiccups matter less for fast calls); its per-call
 * time is batch time / calls. Sides are sampled in turn (A B C A B C ...) so slow drifts of a
 * shared, noisy machine hit them alike. Per-call time includes the JS call overhead of each
 * side (and, for a promise-returning side, the await).
 */

export interface Side {
  label: string;
  /** Runs (untimed) before each of this side's batches, e.g. to set the thread count. */
  before?: () => void;
  /** One call; a returned promise is awaited inside the timed region. */
  call: () => unknown;
}

export interface TimingOptions {
  /** Samples per side at least (unless hardCapMs cuts the cell short). */
  minSamples: number;
  /** Samples per side at most. */
  maxSamples: number;
  /** After minSamples, stop once some side has spent this long in its batches. */
  budgetMs: number;
  /** Stop after this much time in the cell once every side has 3 samples. */
  hardCapMs: number;
  /** Warm-up time per side (at least 2 calls). */
  warmupMs: number;
  /** Target duration of one batch. */
  batchMs: number;
  /** Idle time between batches of different sides (lets spinning worker threads go to sleep). */
  gapMs: number;
  /**
   * Untimed calls before each timed batch (default 0): after a gap, the first call pays for
   * waking worker threads and refilling caches the other sides evicted.
   */
  warmCalls?: number;
  /**
   * 'interleaved' (default): A B C A B C ..., so slow drifts hit every side alike. 'blocks': all
   * of A's samples, then B's, then C's, each side in its steady state; for multi-threaded
   * sides, whose worker threads (and the peer's) keep spinning between calls and would steal
   * the next side's cores, or, after an idle gap, start it cold.
   */
  order?: 'interleaved' | 'blocks';
}

export interface SideStats {
  label: string;
  /** Per-call times in microseconds. */
  medianUs: number;
  minUs: number;
  p25Us: number;
  p75Us: number;
  samples: number;
  /** Calls per sample. */
  callsPerSample: number;
}

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Wall time of `calls` back-to-back calls, in milliseconds. */
async function timeBatch(side: Side, calls: number): Promise<number> {
  const t0 = nowMs();
  for (let i = 0; i < calls; i++) {
    const r = side.call();
    if (r instanceof Promise) await r;
  }
  return nowMs() - t0;
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Warms every side up, then samples them in turn; returns per-side statistics in input order. */
export async function measureSides(sides: readonly Side[], opts: TimingOptions): Promise<SideStats[]> {
  const calls: number[] = [];
  for (const side of sides) {
    side.before?.();
    // Warm-up: warmupMs, and two calls unless the first alone took that long; the fastest
    // call sizes the batches.
    let best = Infinity;
    const start = nowMs();
    for (let i = 0; i < 2 || nowMs() - start < opts.warmupMs; i++) {
      best = Math.min(best, await timeBatch(side, 1));
      if (i === 0 && best >= opts.warmupMs) break;
    }
    calls.push(Math.max(1, Math.min(100_000, Math.round(opts.batchMs / Math.max(best, 1e-4)))));
    if (opts.gapMs > 0) await sleep(opts.gapMs);
  }

  const times: number[][] = sides.map(() => []);
  const spent: number[] = sides.map(() => 0);
  if (opts.order === 'blocks') {
    for (let s = 0; s < sides.length; s++) {
      const start = nowMs();
      sides[s].before?.();
      if (opts.warmCalls) await timeBatch(sides[s], opts.warmCalls);
      for (let round = 0; round < opts.maxSamples; round++) {
        if (round >= opts.minSamples && spent[s] >= opts.budgetMs) break;
        if (round >= 3 && nowMs() - start >= opts.hardCapMs / sides.length) break;
        const ms = await timeBatch(sides[s], calls[s]);
        spent[s] += ms;
        times[s].push((ms * 1000) / calls[s]);
      }
      if (opts.gapMs > 0) await sleep(opts.gapMs);
    }
    return stats(sides, times, calls);
  }
  const cellStart = nowMs();
  for (let round = 0; round < opts.maxSamples; round++) {
    const enough = round >= opts.minSamples && spent.some((s) => s >= opts.budgetMs);
    const capped = round >= 3 && nowMs() - cellStart >= opts.hardCapMs;
    if (enough || capped) break;
    for (let s = 0; s < sides.length; s++) {
      sides[s].before?.();
      if (opts.warmCalls) await timeBatch(sides[s], opts.warmCalls);
      const ms = await timeBatch(sides[s], calls[s]);
      spent[s] += ms;
      times[s].push((ms * 1000) / calls[s]);
      if (opts.gapMs > 0) await sleep(opts.gapMs);
    }
  }

  return stats(sides, times, calls);
}

function stats(sides: readonly Side[], times: number[][], calls: number[]): SideStats[] {
  return sides.map((side, s) => {
    const sorted = [...times[s]].sort((a, b) => a - b);
    return {
      label: side.label,
      medianUs: quantile(sorted, 0.5),
      minUs: sorted[0],
      p25Us: quantile(sorted, 0.25),
      p75Us: quantile(sorted, 0.75),
      samples: sorted.length,
      callsPerSample: calls[s],
    };
  });
}
