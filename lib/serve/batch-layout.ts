/**
 * Gathering requests into one batch and splitting the batch's outputs back. Each request
 * comes in its own layout (batch-last, the library's: a feature's values for every sample
 * contiguous; or batch-first, sample rows one after another, as services receive them); a
 * batch is built in the layout its runner takes. In batch-last, request r's sample j of
 * feature f sits at f·N + offset_r + j; in batch-first, sample (offset_r + j) is a contiguous
 * run of all its features. Batch-first requests into a batch-first batch are plain copies.
 */

export type BatchLayout = 'batch-last' | 'batch-first';

/** One request's arrays (one per model input or output) and its sample count. */
export interface BatchPart {
  readonly arrays: readonly Float32Array[];
  readonly n: number;
  /** The layout of `arrays` (default 'batch-last'). */
  readonly layout?: BatchLayout;
}

/** Copies `parts` into one batch per input, in `layout`; `sizes` are floats per sample. */
export function gatherBatch(parts: readonly BatchPart[], sizes: readonly number[], layout: BatchLayout): { arrays: Float32Array[]; n: number } {
  const n = parts.reduce((s, p) => s + p.n, 0);
  const arrays = sizes.map((size, i) => {
    const out = new Float32Array(size * n);
    let offset = 0;
    for (const p of parts) {
      copyPart(p.arrays[i]!, p.layout ?? 'batch-last', p.n, out, layout, n, offset, size, true);
      offset += p.n;
    }
    return out;
  });
  return { arrays, n };
}

/**
 * Splits a batch's outputs (one array per output, in `layout`) back into per-request arrays,
 * each in its request's layout (`partLayouts[r]`, default batch-last).
 */
export function scatterBatch(
  outputs: readonly Float32Array[],
  sizes: readonly number[],
  counts: readonly number[],
  layout: BatchLayout,
  partLayouts: readonly BatchLayout[] = [],
): Float32Array[][] {
  const n = counts.reduce((s, c) => s + c, 0);
  const result: Float32Array[][] = counts.map(() => []);
  sizes.forEach((size, i) => {
    let offset = 0;
    counts.forEach((c, r) => {
      const out = new Float32Array(size * c);
      copyPart(out, partLayouts[r] ?? 'batch-last', c, outputs[i]!, layout, n, offset, size, false);
      result[r]!.push(out);
      offset += c;
    });
  });
  return result;
}

/**
 * Moves one request's values between its array `part` (layout `pl`, c samples) and the batch
 * `batch` (layout `bl`, n samples, the request at `offset`): into the batch when `gather`,
 * else out of it. Mixed layouts are strided transposes (tiled, see transpose2d); no
 * per-feature views (those would allocate size × requests objects per batch).
 */
function copyPart(part: Float32Array, pl: BatchLayout, c: number, batch: Float32Array, bl: BatchLayout, n: number, offset: number, size: number, gather: boolean): void {
  // One sample, or both batch-first: the request is one contiguous run of the batch.
  if ((c === 1 && bl === 'batch-first') || (pl === 'batch-first' && bl === 'batch-first')) {
    if (gather) batch.set(part, offset * size);
    else part.set(batch.subarray(offset * size, (offset + c) * size));
    return;
  }
  if (pl === 'batch-last' && bl === 'batch-last') {
    if (c === n) {
      if (gather) batch.set(part);
      else part.set(batch);
      return;
    }
    // Feature f is a run of c values in the part and of n (ours at offset) in the batch.
    for (let f = 0; f < size; f++) {
      const p0 = f * c;
      const b0 = f * n + offset;
      if (gather) for (let j = 0; j < c; j++) batch[b0 + j] = part[p0 + j]!;
      else for (let j = 0; j < c; j++) part[p0 + j] = batch[b0 + j]!;
    }
    return;
  }
  if (pl === 'batch-first') {
    // part: c rows of size; batch: size rows of n, ours from column offset.
    if (gather) transpose2d(part, 0, size, batch, offset, n, c, size);
    else transpose2d(batch, offset, n, part, 0, size, size, c);
  } else {
    // part: size rows of c; batch: n rows of size, ours from row offset.
    if (gather) transpose2d(part, 0, c, batch, offset * size, size, size, c);
    else transpose2d(batch, offset * size, size, part, 0, c, c, size);
  }
}

const TILE = 32;

/**
 * dst[dstOff + j·dstStride + i] = src[srcOff + i·srcStride + j] for i < rows, j < cols: a
 * strided transpose in 32 × 32 tiles, so both sides stay in cache (the plain double loop
 * strides through one side a row per element).
 */
export function transpose2d(src: Float32Array, srcOff: number, srcStride: number, dst: Float32Array, dstOff: number, dstStride: number, rows: number, cols: number): void {
  for (let i0 = 0; i0 < rows; i0 += TILE) {
    const i1 = Math.min(rows, i0 + TILE);
    for (let j0 = 0; j0 < cols; j0 += TILE) {
      const j1 = Math.min(cols, j0 + TILE);
      for (let i = i0; i < i1; i++) {
        const s = srcOff + i * srcStride;
        const d = dstOff + i;
        for (let j = j0; j < j1; j++) dst[d + j * dstStride] = src[s + j]!;
      }
    }
  }
}

/** The same arrays in the other layout (each `sizes[i]` floats per sample, n samples); copies only when n > 1. */
export function relayout(arrays: readonly Float32Array[], sizes: readonly number[], n: number, from: BatchLayout, to: BatchLayout): Float32Array[] {
  if (from === to || n === 1) return [...arrays];
  return arrays.map((a, i) => {
    const out = new Float32Array(a.length);
    copyPart(a, from, n, out, to, n, 0, sizes[i]!, true);
    return out;
  });
}
