/** Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_). */
import { IndexRangeError } from '../../errors.js';
import type { Parameter } from '../parameter.js';

/**
 * Scales all gradients together so their global L2 norm is at most maxNorm; returns the norm
 * before clipping. Pruned entries hold zero gradients and do not count.
 */
export function clipGradNorm(params: Iterable<Parameter>, maxNorm: number): number {
  if (!(maxNorm > 0)) throw new IndexRangeError('ERR_RANGE', `maxNorm must be > 0, got ${maxNorm}`);
  const list = [...params].filter((p) => p.hasGrad());
  let sq = 0;
  for (const p of list) {
    const g = p.grad!;
    for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!;
  }
  const norm = Math.sqrt(sq);
  const scale = maxNorm / (norm + 1e-6);
  if (scale < 1)
    for (const p of list) {
      const g = p.grad!;
      for (let i = 0; i < g.length; i++) g[i]! *= scale;
    }
  return norm;
}

/** Clamps every gradient entry to [-value, value]. */
export function clipGradValue(params: Iterable<Parameter>, value: number): void {
  if (!(value > 0)) throw new IndexRangeError('ERR_RANGE', `the clip value must be > 0, got ${value}`);
  for (const p of params) {
    if (!p.hasGrad()) continue;
    const g = p.grad!;
    for (let i = 0; i < g.length; i++) g[i] = Math.min(value, Math.max(-value, g[i]!));
  }
}
