import { describe, expect, it } from 'vitest';
import { gatherBatch, relayout, scatterBatch, transpose2d, type BatchLayout, type BatchPart } from '../../lib/serve/batch-layout.js';
import { mulberry32, type Rng } from '../helpers/random.js';

const layouts: BatchLayout[] = ['batch-last', 'batch-first'];

/** One request's batch-last arrays: input i is [sizes[i], n], every value distinct and random. */
function makePart(rng: Rng, sizes: readonly number[], n: number): BatchPart {
  return { n, arrays: sizes.map((s) => Float32Array.from({ length: s * n }, () => Math.fround(rng() * 200 - 100))) };
}

/** Index by index: where request r's sample j of feature f lands in the batch. */
function batchIndex(layout: BatchLayout, size: number, total: number, offset: number, j: number, f: number): number {
  return layout === 'batch-last' ? f * total + offset + j : (offset + j) * size + f;
}

function referenceGather(parts: readonly BatchPart[], sizes: readonly number[], layout: BatchLayout): Float32Array[] {
  const total = parts.reduce((s, p) => s + p.n, 0);
  return sizes.map((size, i) => {
    const out = new Float32Array(size * total).fill(NaN);
    let offset = 0;
    for (const p of parts) {
      for (let j = 0; j < p.n; j++) for (let f = 0; f < size; f++) out[batchIndex(layout, size, total, offset, j, f)] = p.arrays[i]![f * p.n + j]!;
      offset += p.n;
    }
    return out;
  });
}

function referenceScatter(outputs: readonly Float32Array[], sizes: readonly number[], counts: readonly number[], layout: BatchLayout): Float32Array[][] {
  const total = counts.reduce((s, c) => s + c, 0);
  let offset = 0;
  return counts.map((c) => {
    const arrays = sizes.map((size, i) => {
      const out = new Float32Array(size * c).fill(NaN);
      for (let j = 0; j < c; j++) for (let f = 0; f < size; f++) out[f * c + j] = outputs[i]![batchIndex(layout, size, total, offset, j, f)]!;
      return out;
    });
    offset += c;
    return arrays;
  });
}

const cases: { name: string; sizes: number[]; counts: number[] }[] = [
  { name: 'a single request of one sample', sizes: [5], counts: [1] },
  { name: 'a single request of several samples', sizes: [3, 1, 4], counts: [6] },
  { name: 'many one-sample requests', sizes: [4, 2], counts: [1, 1, 1, 1, 1] },
  { name: 'mixed request sizes', sizes: [3, 1, 7], counts: [2, 1, 5, 3, 1, 4] },
  { name: 'size-1 features and a big request', sizes: [1, 1], counts: [1, 9, 2] },
  { name: 'one wide input', sizes: [33], counts: [3, 1, 2] },
];

describe.each(layouts)('gatherBatch / scatterBatch (%s)', (layout) => {
  for (const [k, c] of cases.entries()) {
    it(`gathers ${c.name} (seed ${k})`, () => {
      const rng = mulberry32(1000 + k);
      const parts = c.counts.map((n) => makePart(rng, c.sizes, n));
      const copies = parts.map((p) => p.arrays.map((a) => a.slice()));
      const got = gatherBatch(parts, c.sizes, layout);
      const total = c.counts.reduce((s, n) => s + n, 0);
      expect(got.n).toBe(total);
      expect(got.arrays.length).toBe(c.sizes.length);
      const want = referenceGather(parts, c.sizes, layout);
      got.arrays.forEach((a, i) => {
        expect(a.length).toBe(c.sizes[i]! * total);
        expect(Array.from(a)).toEqual(Array.from(want[i]!));
      });
      // The requests' own arrays are left alone.
      parts.forEach((p, r) => p.arrays.forEach((a, i) => expect(Array.from(a)).toEqual(Array.from(copies[r]![i]!))));
    });

    it(`scatters ${c.name} (seed ${k})`, () => {
      const rng = mulberry32(2000 + k);
      const total = c.counts.reduce((s, n) => s + n, 0);
      // Outputs with different per-sample sizes than the inputs would have.
      const outSizes = c.sizes.map((s) => s + 1);
      const outputs = outSizes.map((s) => Float32Array.from({ length: s * total }, () => Math.fround(rng() * 10 - 5)));
      const copies = outputs.map((o) => o.slice());
      const got = scatterBatch(outputs, outSizes, c.counts, layout);
      const want = referenceScatter(outputs, outSizes, c.counts, layout);
      expect(got.length).toBe(c.counts.length);
      got.forEach((arrays, r) => {
        expect(arrays.length).toBe(outSizes.length);
        arrays.forEach((a, i) => {
          expect(a.length).toBe(outSizes[i]! * c.counts[r]!);
          expect(Array.from(a)).toEqual(Array.from(want[r]![i]!));
          // Each request gets its own copy, not a view of the batch's buffer.
          expect(a.buffer).not.toBe(outputs[i]!.buffer);
        });
      });
      outputs.forEach((o, i) => expect(Array.from(o)).toEqual(Array.from(copies[i]!)));
    });

    it(`scatter(gather(x)) round-trips ${c.name} (seed ${k})`, () => {
      const rng = mulberry32(3000 + k);
      const parts = c.counts.map((n) => makePart(rng, c.sizes, n));
      const batch = gatherBatch(parts, c.sizes, layout);
      const back = scatterBatch(batch.arrays, c.sizes, c.counts, layout);
      expect(back.length).toBe(parts.length);
      back.forEach((arrays, r) => arrays.forEach((a, i) => expect(Array.from(a)).toEqual(Array.from(parts[r]!.arrays[i]!))));
    });
  }

  it('places known values where the layout says (2 requests, hand-checked)', () => {
    // Request A: n=2, feature size 3: batch-last [[a00 a01] [a10 a11] [a20 a21]] (feature-major).
    const a = Float32Array.from([1, 2, 3, 4, 5, 6]); // f0: 1,2  f1: 3,4  f2: 5,6
    const b = Float32Array.from([7, 8, 9]); // n=1: f0: 7  f1: 8  f2: 9
    const { arrays, n } = gatherBatch([{ arrays: [a], n: 2 }, { arrays: [b], n: 1 }], [3], layout);
    expect(n).toBe(3);
    const want = layout === 'batch-last' ? [1, 2, 7, 3, 4, 8, 5, 6, 9] : [1, 3, 5, 2, 4, 6, 7, 8, 9];
    expect(Array.from(arrays[0]!)).toEqual(want);
    const [ra, rb] = scatterBatch(arrays, [3], [2, 1], layout);
    expect(Array.from(ra![0]!)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(rb![0]!)).toEqual([7, 8, 9]);
  });
});

describe('layouts agree on one-sample batches', () => {
  it('a single one-sample request is the same in both layouts', () => {
    const rng = mulberry32(77);
    const part = makePart(rng, [6, 2], 1);
    const last = gatherBatch([part], [6, 2], 'batch-last');
    const first = gatherBatch([part], [6, 2], 'batch-first');
    last.arrays.forEach((a, i) => expect(Array.from(a)).toEqual(Array.from(first.arrays[i]!)));
  });
});

describe('mixed layouts across transpose tiles', () => {
  /** Where sample j's feature f of a request with c samples sits in its own array. */
  const partIndex = (layout: BatchLayout, size: number, c: number, j: number, f: number): number => (layout === 'batch-last' ? f * c + j : j * size + f);
  // Sizes and counts that straddle the 32 × 32 tiles, in every pairing of part and batch layouts.
  const sizes = [70, 33, 1];
  const counts = [40, 1, 31, 33];
  for (const partLayout of layouts)
    for (const batchLayout of layouts)
      it(`${partLayout} requests into a ${batchLayout} batch and back, index by index`, () => {
        const rng = mulberry32(4242);
        const parts: BatchPart[] = counts.map((c) => ({ n: c, layout: partLayout, arrays: sizes.map((s) => Float32Array.from({ length: s * c }, () => Math.fround(rng() * 200 - 100))) }));
        const { arrays, n } = gatherBatch(parts, sizes, batchLayout);
        let offset = 0;
        for (const p of parts) {
          sizes.forEach((size, i) => {
            for (let j = 0; j < p.n; j++)
              for (let f = 0; f < size; f++) expect(arrays[i]![batchIndex(batchLayout, size, n, offset, j, f)]).toBe(p.arrays[i]![partIndex(partLayout, size, p.n, j, f)]);
          });
          offset += p.n;
        }
        const back = scatterBatch(arrays, sizes, counts, batchLayout, counts.map(() => partLayout));
        back.forEach((a, r) => a.forEach((x, i) => expect(Array.from(x)).toEqual(Array.from(parts[r]!.arrays[i]!))));
      });

  it('relayout converts both ways (the worker side) and copies only when needed', () => {
    const rng = mulberry32(99);
    const n = 45;
    const sizes = [768, 3];
    const first = sizes.map((s) => Float32Array.from({ length: s * n }, () => rng()));
    const last = relayout(first, sizes, n, 'batch-first', 'batch-last');
    sizes.forEach((s, i) => {
      for (let j = 0; j < n; j++) for (let f = 0; f < s; f++) expect(last[i]![f * n + j]).toBe(first[i]![j * s + f]);
    });
    const again = relayout(last, sizes, n, 'batch-last', 'batch-first');
    again.forEach((a, i) => expect(Array.from(a)).toEqual(Array.from(first[i]!)));
    expect(relayout(first, sizes, n, 'batch-first', 'batch-first')[0]).toBe(first[0]);
    expect(relayout(first.map((a, i) => a.subarray(0, sizes[i]!)), sizes, 1, 'batch-first', 'batch-last')[0]!.length).toBe(768);
  });

  it('transpose2d writes only its window of a strided destination', () => {
    const src = Float32Array.from({ length: 5 * 40 }, (_, k) => k + 1);
    const dst = new Float32Array(3 + 40 * 9).fill(-1);
    // A 5 × 37 window of src (rows of 40, from column 2) into dst rows of 9, from offset 3.
    transpose2d(src, 2, 40, dst, 3, 9, 5, 37);
    for (let i = 0; i < 5; i++) for (let j = 0; j < 37; j++) expect(dst[3 + j * 9 + i]).toBe(src[2 + i * 40 + j]);
    let untouched = 0;
    dst.forEach((v) => (untouched += v === -1 ? 1 : 0));
    expect(untouched).toBe(dst.length - 5 * 37);
  });
});
