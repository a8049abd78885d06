/** Selecting the best-scored entries: the one ranking every pruning method shares. */

/** Indices 0..n-1 sorted by descending score, ties by index (deterministic). */
export function rankDescending(scores: Float64Array): Int32Array {
  const idx = new Int32Array(scores.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  return idx.sort((a, b) => {
    const sa = scores[a]!;
    const sb = scores[b]!;
    return sa === sb ? a - b : sb > sa ? 1 : -1;
  });
}

/**
 * The k best entries (1 = kept): all above the k-th largest score, then ties at it by index.
 * -Infinity (already pruned) is never kept. A native numeric sort finds the threshold, which
 * is much faster than sorting indices with a comparator on large layers.
 */
export function topK(scores: Float64Array, k: number): Uint8Array {
  const n = scores.length;
  const kept = new Uint8Array(n);
  if (k <= 0) return kept;
  if (k >= n) {
    for (let i = 0; i < n; i++) kept[i] = scores[i] === -Infinity ? 0 : 1;
    return kept;
  }
  const sorted = Float64Array.from(scores).sort();
  const threshold = sorted[n - k]!;
  let left = k;
  for (let i = 0; i < n; i++)
    if (scores[i]! > threshold) {
      kept[i] = 1;
      left--;
    }
  if (threshold !== -Infinity) for (let i = 0; i < n && left > 0; i++)
    if (scores[i] === threshold) {
      kept[i] = 1;
      left--;
    }
  return kept;
}

