/**
 * Element-wise math of batch-last tensors with gradients, as ONNX Sqrt / Erf / Exp / Log / Neg /
 * Abs / Reciprocal and Clip need them: `unary(op, x)` with op 'sqrt' | 'erf' | 'exp' | 'log' |
 * 'neg' | 'abs' | 'reciprocal', and `clip(x, min, max)`. Both build on unaryOp of elementwise.ts
 * (the activations' building block); this file adds the op names and checks that the importer's
 * modules (Unary, Clip) store in their configs.
 */
import { SparsennTypeError } from '../../errors.js';
import type { Tensor } from '../tensor.js';
import { erf, unaryOp } from './elementwise.js';
import { checkActivation, describe } from './tensor-op-checks.js';

/** The unary ops of {@link unary}. */
export type UnaryOpName = 'sqrt' | 'erf' | 'exp' | 'log' | 'neg' | 'abs' | 'reciprocal';

const UNARY_OPS: readonly UnaryOpName[] = ['sqrt', 'erf', 'exp', 'log', 'neg', 'abs', 'reciprocal'];

export function checkUnaryOp(op: unknown, what: string): UnaryOpName {
  if (!UNARY_OPS.includes(op as UnaryOpName)) throw new SparsennTypeError('ERR_TYPE', `${what}: op must be one of ${UNARY_OPS.join(', ')}, got ${String(op)}`);
  return op as UnaryOpName;
}

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/**
 * An element-wise math function with its derivative: sqrt (1 / 2 sqrt x), erf (2 / sqrt(pi)
 * e^(-x^2)), exp, log (1 / x), neg, abs (sign x, 0 at 0), reciprocal (-1 / x^2).
 */
export function unary(op: UnaryOpName, x: Tensor): Tensor {
  checkUnaryOp(op, 'unary');
  checkActivation(x, `unary ${op}: x`);
  switch (op) {
    case 'sqrt':
      return unaryOp(
        x,
        'sqrt',
        (a, y) => {
          for (let i = 0; i < a.length; i++) y[i] = Math.sqrt(a[i]!);
        },
        (_a, y, g, dx) => {
          for (let i = 0; i < y.length; i++) dx[i] = (0.5 * g[i]!) / y[i]!;
        },
      );
    case 'erf':
      return unaryOp(
        x,
        'erf',
        (a, y) => {
          for (let i = 0; i < a.length; i++) y[i] = erf(a[i]!);
        },
        (a, _y, g, dx) => {
          for (let i = 0; i < a.length; i++) dx[i] = g[i]! * TWO_OVER_SQRT_PI * Math.exp(-a[i]! * a[i]!);
        },
      );
    case 'exp':
      return unaryOp(
        x,
        'exp',
        (a, y) => {
          for (let i = 0; i < a.length; i++) y[i] = Math.exp(a[i]!);
        },
        (_a, y, g, dx) => {
          for (let i = 0; i < y.length; i++) dx[i] = g[i]! * y[i]!;
        },
      );
    case 'log':
      return unaryOp(
        x,
        'log',
        (a, y) => {
          for (let i = 0; i < a.length; i++) y[i] = Math.log(a[i]!);
        },
        (a, _y, g, dx) => {
          for (let i = 0; i < a.length; i++) dx[i] = g[i]! / a[i]!;
        },
      );
    case 'neg':
      return unaryOp(
        x,
        'neg',
        (a, y) => {
          for (let i = 0; i < a.length; i++) y[i] = -a[i]!;
        },
        (_a, _y, g, dx) => {
          for (let i = 0; i < g.length; i++) dx[i] = -g[i]!;
        },
      );
    case 'abs':
      return unaryOp(
        x,
        'abs',
        (a, y) => {
          for (let i = 0; i < a.length; i++) y[i] = Math.abs(a[i]!);
        },
        (a, _y, g, dx) => {
          for (let i = 0; i < a.length; i++) dx[i] = a[i]! > 0 ? g[i]! : a[i]! < 0 ? -g[i]! : 0;
        },
      );
    case 'reciprocal':
      return unaryOp(
        x,
        'reciprocal',
        (a, y) => {
          for (let i = 0; i < a.length; i++) y[i] = 1 / a[i]!;
        },
        (_a, y, g, dx) => {
          for (let i = 0; i < y.length; i++) dx[i] = -g[i]! * y[i]! * y[i]!;
        },
      );
  }
}

/** Checks clip bounds: numbers, not NaN (±Infinity allowed). */
export function checkClipBounds(min: unknown, max: unknown, what: string): [number, number] {
  for (const [name, v] of [
    ['min', min],
    ['max', max],
  ] as const)
    if (typeof v !== 'number' || Number.isNaN(v)) throw new SparsennTypeError('ERR_TYPE', `${what}: ${name} must be a number (±Infinity allowed), got ${describe(v)}`);
  return [min as number, max as number];
}

/**
 * min(max(x, lo), hi) element-wise (ONNX Clip: with lo > hi every value becomes hi); NaN stays
 * NaN. The gradient passes where lo <= x <= hi.
 */
export function clip(x: Tensor, min: number, max: number): Tensor {
  checkActivation(x, 'clip: x');
  const [lo, hi] = checkClipBounds(min, max, 'clip');
  return unaryOp(
    x,
    'clip',
    (a, y) => {
      for (let i = 0; i < a.length; i++) {
        const v = a[i]!;
        y[i] = v < lo ? (lo > hi ? hi : lo) : v > hi ? hi : v;
      }
    },
    (a, _y, g, dx) => {
      for (let i = 0; i < a.length; i++) {
        const v = a[i]!;
        dx[i] = v >= lo && v <= hi ? g[i]! : 0;
      }
    },
  );
}
