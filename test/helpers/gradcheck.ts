/**
 * Gradient checks against central finite differences: L = sum(f(inputs) * G) for a fixed
 * random G, analytic dL/d(input) from backward() vs (L(x + eps) - L(x - eps)) / 2 eps, with
 * L summed in float64. Float32 forward passes limit the agreement to about 1e-3 relative, so
 * tests keep inputs away from kinks (ReLU at 0, max-pool ties).
 */
import { expect } from 'vitest';
import { Parameter } from '../../lib/nn/parameter.js';
import { noGrad, Tensor } from '../../lib/nn/tensor.js';
import { mulberry32 } from './random.js';

export interface GradCheckOptions {
  eps?: number;
  /** Allowed |analytic - numeric| <= atol + rtol * |numeric|. */
  atol?: number;
  rtol?: number;
  /** Check at most this many elements per input (chosen at random); default all. */
  maxPerInput?: number;
  seed?: number;
}

function weightedSum(out: Tensor, g: Float64Array): number {
  let s = 0;
  for (let i = 0; i < out.size; i++) s += out.data[i]! * g[i]!;
  return s;
}

/**
 * Checks d/d(each input with requiresGrad) of sum(fn(...) * G). `tensors` are leaves whose
 * data the check perturbs in place (parameters included).
 */
export function gradCheck(fn: () => Tensor, tensors: Tensor[], opts: GradCheckOptions = {}): void {
  const eps = opts.eps ?? 1e-2;
  const atol = opts.atol ?? 2e-3;
  const rtol = opts.rtol ?? 2e-2;
  const rng = mulberry32(opts.seed ?? 1234);
  for (const t of tensors) t.grad = null;
  const out = fn();
  const g = new Float64Array(out.size);
  for (let i = 0; i < g.length; i++) g[i] = rng() * 2 - 1;
  out.backward(Float32Array.from(g));
  for (const [ti, t] of tensors.entries()) {
    const analytic = t.grad ? t.grad.slice() : new Float32Array(t.size);
    let idx = [...Array(t.size).keys()];
    if (opts.maxPerInput !== undefined && idx.length > opts.maxPerInput) {
      for (let i = idx.length - 1; i > 0; i--) {
        const j = Math.floor(rng() * (i + 1));
        [idx[i], idx[j]] = [idx[j]!, idx[i]!];
      }
      idx = idx.slice(0, opts.maxPerInput);
    }
    const mask = t instanceof Parameter ? t.mask : null;
    for (const i of idx) {
      // A pruned weight is not a free variable (the invariant keeps it zero); its gradient must be 0.
      if (mask && mask[i] === 0) {
        if (analytic[i] !== 0) expect.fail(`input ${ti} element ${i} is pruned but has gradient ${analytic[i]}`);
        continue;
      }
      const orig = t.data[i]!;
      t.data[i] = orig + eps;
      const up = noGrad(() => weightedSum(fn(), g));
      t.data[i] = orig - eps;
      const down = noGrad(() => weightedSum(fn(), g));
      t.data[i] = orig;
      const numeric = (up - down) / (2 * eps);
      const a = analytic[i]!;
      if (!(Math.abs(a - numeric) <= atol + rtol * Math.abs(numeric)))
        expect.fail(`input ${ti} element ${i}: analytic ${a}, numeric ${numeric}`);
    }
  }
}
