/**
 * Reductions over the sample axes of batch-last tensors, with gradients: `reduceMean(x, axes |
 * null, keepdims)` (ONNX ReduceMean). Sums run in float64, so a long axis loses no precision
 * before the division.
 */
import { float32Uninit } from '../../alloc.js';
import { SparsennTypeError } from '../../errors.js';
import { accumulateOwnedGrad, opResult, type Tensor } from '../tensor.js';
import { prod, sampleShapeOf, stridedMap, stridesOf } from './index-maps.js';
import { checkActivation, checkIntArray, describe, sampleAxes } from './tensor-op-checks.js';

/**
 * The mean over sample axes (null: all of them; [] reduces nothing, ONNX's
 * noop_with_empty_axes), keeping them as dims of 1 with `keepdims`. Negative axes count back.
 */
export function reduceMean(x: Tensor, axes: readonly number[] | null, keepdims = true): Tensor {
  checkActivation(x, 'reduceMean: x');
  if (typeof keepdims !== 'boolean') throw new SparsennTypeError('ERR_TYPE', `reduceMean: keepdims must be a boolean, got ${describe(keepdims)}`);
  const s = sampleShapeOf(x);
  const ax = axes === null ? s.map((_, i) => i) : sampleAxes(checkIntArray(axes, 'reduceMean axes'), x, 'reduceMean');
  const reduced = new Set(ax);
  const keptShape = s.map((d, i) => (reduced.has(i) ? 1 : d));
  const outShape = keepdims ? keptShape : s.filter((_, i) => !reduced.has(i));
  // Each input position's output position: the input walked with the output's strides, 0 on reduced axes.
  const kst = stridesOf(keptShape);
  const map = stridedMap(
    s,
    s.map((_, i) => (reduced.has(i) ? 0 : kst[i]!)),
    0,
  );
  let count = 1;
  for (const a of ax) count *= s[a]!;
  const n = x.batch;
  const outSize = prod(keptShape);
  const xd = x.data;
  const acc = new Float64Array(outSize * n);
  for (let i = 0; i < map.length; i++) {
    const src = i * n;
    const dst = map[i]! * n;
    for (let j = 0; j < n; j++) acc[dst + j] += xd[src + j]!;
  }
  const y = new Float32Array(acc.length);
  for (let i = 0; i < y.length; i++) y[i] = acc[i]! / count;
  return opResult(y, [...outShape, n], [x], 'reduceMean', (g) => {
    const dx = float32Uninit(x.size);
    const inv = 1 / count;
    for (let i = 0; i < map.length; i++) {
      const dst = i * n;
      const src = map[i]! * n;
      for (let j = 0; j < n; j++) dx[dst + j] = g[src + j]! * inv;
    }
    accumulateOwnedGrad(x, dx);
  });
}
