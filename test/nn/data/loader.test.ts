/** lib/nn/data/loader.ts: mini-batches in the batch-last layout, reproducible shuffles. */
import { describe, expect, it } from 'vitest';
import { IndexRangeError, ShapeError, SparsennError, SparsennTypeError, type ErrorCode } from '../../../lib/errors.js';
import type { Dataset } from '../../../lib/nn/data/dataset.js';
import { loadFashionMnistSync } from '../../../lib/nn/data/fashion-mnist.js';
import { DataLoader, type Batch } from '../../../lib/nn/data/loader.js';

function expectError(fn: () => unknown, cls: abstract new (...a: never[]) => SparsennError, code: ErrorCode, label = ''): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `${label}: expected ${code}, got ${String(caught)}`).toBeInstanceOf(cls);
  expect((caught as SparsennError).code, label).toBe(code);
}

/** A dataset whose every value names its sample and position: images[i * F + f] = i * 1000 + f. */
function synthetic(n: number, sampleShape = [2, 3, 5], numClasses = 7): Dataset {
  const f = sampleShape.reduce((a, b) => a * b, 1);
  const images = new Float32Array(n * f);
  for (let i = 0; i < n; i++) for (let k = 0; k < f; k++) images[i * f + k] = i * 1000 + k;
  const labels = Int32Array.from({ length: n }, (_, i) => (i * 5 + 3) % numClasses);
  return { length: n, sampleShape, images, labels, numClasses };
}

/** Every element of a batch against the dataset, by the batch-last formula x[f * size + b]. */
function checkBatch(ds: Dataset, batch: Batch): number {
  const f = ds.sampleShape.reduce((a, b) => a * b, 1);
  expect(batch.shape).toEqual([...ds.sampleShape, batch.size]);
  expect(batch.x.length).toBe(f * batch.size);
  expect(batch.y.length).toBe(batch.size);
  expect(batch.indices.length).toBe(batch.size);
  let bad = 0;
  for (let b = 0; b < batch.size; b++) {
    const i = batch.indices[b];
    if (batch.y[b] !== ds.labels[i]) bad++;
    for (let k = 0; k < f; k++) if (batch.x[k * batch.size + b] !== ds.images[i * f + k]) bad++;
  }
  return bad;
}

function orderOf(batches: Iterable<Batch>): number[] {
  const out: number[] = [];
  for (const b of batches) out.push(...b.indices);
  return out;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('DataLoader', () => {
  it('visits each sample exactly once per epoch, with or without shuffle', () => {
    for (const n of [0, 1, 10, 103]) {
      for (const batchSize of [1, 4, 10, 103, 500]) {
        for (const shuffle of [false, true]) {
          const ds = synthetic(n);
          const dl = new DataLoader(ds, { batchSize, shuffle, seed: 5 });
          expect(dl.length).toBe(Math.ceil(n / batchSize));
          for (const e of [0, 1, 2]) {
            const batches = [...dl.epoch(e)];
            expect(batches.length).toBe(dl.length);
            batches.forEach((b, k) => expect(b.size).toBe(Math.min(batchSize, n - k * batchSize)));
            const seen = orderOf(batches);
            expect([...seen].sort((a, b) => a - b), `n ${n}, batch ${batchSize}, shuffle ${shuffle}`).toEqual(range(n));
            if (!shuffle) expect(seen).toEqual(range(n));
          }
        }
      }
    }
  });

  it('dropLast drops only the short last batch', () => {
    const ds = synthetic(103);
    const dl = new DataLoader(ds, { batchSize: 10, shuffle: true, dropLast: true, seed: 9 });
    expect(dl.length).toBe(10);
    const batches = [...dl.epoch(0)];
    expect(batches.map((b) => b.size)).toEqual(new Array<number>(10).fill(10));
    const seen = orderOf(batches);
    expect(new Set(seen).size).toBe(100);
    // the dropped samples are the tail of the epoch's order
    expect(seen).toEqual(Array.from(dl.order(0).subarray(0, 100)));
    expect(new DataLoader(ds, { batchSize: 103, dropLast: true }).length).toBe(1);
    expect(new DataLoader(ds, { batchSize: 104, dropLast: true }).length).toBe(0);
    expect([...new DataLoader(ds, { batchSize: 104, dropLast: true })]).toEqual([]);
    expect(new DataLoader(ds, { batchSize: 104 }).length).toBe(1);
  });

  it('lays batches out batch-last, element by element, for odd sizes and shapes', () => {
    for (const sampleShape of [[2, 3, 5], [1], [7], [3, 70]]) {
      const ds = synthetic(37, sampleShape);
      for (const batchSize of [1, 3, 8, 37]) {
        const dl = new DataLoader(ds, { batchSize, shuffle: true, seed: 3 });
        let bad = 0;
        for (const batch of dl) bad += checkBatch(ds, batch);
        expect(bad, `shape [${sampleShape}], batch ${batchSize}`).toBe(0);
      }
    }
  });

  it('Fashion-MNIST batches follow x[((c*28 + h)*28 + w) * size + b]', () => {
    const ds = loadFashionMnistSync({ subset: true, split: 'test' });
    const dl = new DataLoader(ds, { batchSize: 64, shuffle: true, seed: 1 });
    const batches = [...dl];
    expect(batches.length).toBe(8); // 500 = 7 * 64 + 52
    const last = batches[7];
    expect(last.size).toBe(52);
    for (const batch of [batches[0], last]) {
      expect(batch.shape).toEqual([1, 28, 28, batch.size]);
      let bad = 0;
      for (let b = 0; b < batch.size; b++) {
        const i = batch.indices[b];
        for (let h = 0; h < 28; h++) {
          for (let w = 0; w < 28; w++) {
            const c = 0;
            if (batch.x[((c * 28 + h) * 28 + w) * batch.size + b] !== ds.images[i * 784 + h * 28 + w]) bad++;
          }
        }
        if (batch.y[b] !== ds.labels[i]) bad++;
      }
      expect(bad).toBe(0);
    }
  });

  it('shuffles reproducibly: same (seed, epoch) same order; another epoch or seed, another order', () => {
    const ds = synthetic(200);
    const a = new DataLoader(ds, { batchSize: 16, shuffle: true, seed: 42 });
    const b = new DataLoader(ds, { batchSize: 16, shuffle: true, seed: 42 });
    const c = new DataLoader(ds, { batchSize: 16, shuffle: true, seed: 43 });
    expect(orderOf(a.epoch(0))).toEqual(orderOf(b.epoch(0)));
    expect(orderOf(a.epoch(5))).toEqual(orderOf(b.epoch(5)));
    expect(orderOf(a.epoch(0))).not.toEqual(orderOf(a.epoch(1)));
    expect(orderOf(a.epoch(0))).not.toEqual(orderOf(c.epoch(0)));
    expect(orderOf(a.epoch(0))).not.toEqual(range(200));
    // the order of epoch e does not depend on which epochs were drawn before, nor on batchSize
    const fresh = new DataLoader(ds, { batchSize: 7, shuffle: true, seed: 42 });
    expect(orderOf(fresh.epoch(5))).toEqual(orderOf(a.epoch(5)));
    expect(Array.from(fresh.order(3))).toEqual(orderOf(b.epoch(3)));
    // for-of runs epoch 0, then epoch 1, ...
    const it = new DataLoader(ds, { batchSize: 16, shuffle: true, seed: 42 });
    expect(orderOf(it)).toEqual(orderOf(a.epoch(0)));
    expect(orderOf(it)).toEqual(orderOf(a.epoch(1)));
    // the default seed is fixed (0)
    expect(orderOf(new DataLoader(ds, { batchSize: 16, shuffle: true }).epoch(0))).toEqual(
      orderOf(new DataLoader(ds, { batchSize: 16, shuffle: true, seed: 0 }).epoch(0)),
    );
  });

  it('batch(indices) gathers any samples, checking the indices', () => {
    const ds = synthetic(20);
    const dl = new DataLoader(ds, { batchSize: 4 });
    const batch = dl.batch(Int32Array.from([19, 0, 7, 7]));
    expect(checkBatch(ds, batch)).toBe(0);
    expect(batch.size).toBe(4);
    expect(dl.batch(new Int32Array(0)).shape).toEqual([2, 3, 5, 0]);
    expectError(() => dl.batch(Int32Array.from([20])), IndexRangeError, 'ERR_RANGE');
    expectError(() => dl.batch(Int32Array.from([-1])), IndexRangeError, 'ERR_RANGE');
    expectError(() => dl.batch([1, 2] as unknown as Int32Array), SparsennTypeError, 'ERR_TYPE');
  });

  it('rejects bad options and datasets with typed errors', () => {
    const ds = synthetic(10);
    const make = (o: unknown, d: unknown = ds) => () => new DataLoader(d as Dataset, o as never);
    expectError(make({ batchSize: 0 }), IndexRangeError, 'ERR_RANGE', 'batchSize 0');
    expectError(make({ batchSize: -4 }), IndexRangeError, 'ERR_RANGE', 'batchSize -4');
    expectError(make({ batchSize: 2.5 }), SparsennTypeError, 'ERR_TYPE', 'batchSize 2.5');
    expectError(make({ batchSize: NaN }), SparsennTypeError, 'ERR_TYPE', 'batchSize NaN');
    expectError(make({ batchSize: '8' }), SparsennTypeError, 'ERR_TYPE', "batchSize '8'");
    expectError(make({}), SparsennTypeError, 'ERR_TYPE', 'no batchSize');
    expectError(make(undefined), SparsennTypeError, 'ERR_TYPE', 'no options');
    expectError(make({ batchSize: 2, shuffle: 1 }), SparsennTypeError, 'ERR_TYPE', 'shuffle 1');
    expectError(make({ batchSize: 2, dropLast: 'no' }), SparsennTypeError, 'ERR_TYPE', 'dropLast');
    expectError(make({ batchSize: 2, seed: 0.5 }), SparsennTypeError, 'ERR_TYPE', 'seed 0.5');
    expectError(make({ batchSize: 2 }, null), SparsennTypeError, 'ERR_TYPE', 'null dataset');
    expectError(make({ batchSize: 2 }, { ...ds, images: new Float32Array(7) }), ShapeError, 'ERR_SHAPE', 'short images');
    expectError(make({ batchSize: 2 }, { ...ds, labels: new Int32Array(9) }), ShapeError, 'ERR_SHAPE', 'short labels');
    expectError(make({ batchSize: 2 }, { ...ds, images: Array.from(ds.images) }), SparsennTypeError, 'ERR_TYPE', 'images array');
    expectError(make({ batchSize: 2 }, { ...ds, labels: Int32Array.from(ds.labels, (y, i) => (i === 3 ? 7 : y)) }), IndexRangeError, 'ERR_RANGE', 'label 7 of 7');
    expectError(make({ batchSize: 2 }, { ...ds, sampleShape: [2, 0] }), ShapeError, 'ERR_SHAPE', 'zero dim');
    const dl = new DataLoader(ds, { batchSize: 3, shuffle: true });
    expectError(() => dl.epoch(-1), IndexRangeError, 'ERR_RANGE', 'epoch -1');
    expectError(() => dl.epoch(1.5), SparsennTypeError, 'ERR_TYPE', 'epoch 1.5');
    expectError(() => dl.order(NaN), SparsennTypeError, 'ERR_TYPE', 'order NaN');
  });
});
