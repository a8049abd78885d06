/**
 * The PyTorch layer references (test/fixtures/nn/layers.json, made by make_layer_fixtures.py):
 * batch-last activations, PyTorch-layout parameters, gradients of sum(output * upstream).
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { ModuleConfig } from '../../lib/nn/module.js';

/** A tensor as the fixtures store it: shape and row-major values. */
export interface Enc {
  shape: number[];
  data: number[];
}

export interface FixtureCase {
  name: string;
  layer: string;
  config: ModuleConfig;
  inputs: Enc[];
  params: Record<string, Enc>;
  training: boolean;
  output: Enc;
  upstream: Enc;
  grads: Record<string, Enc>;
  buffers?: { before: Record<string, Enc>; after: Record<string, Enc> };
}

export const fixtures: readonly FixtureCase[] = (
  JSON.parse(readFileSync(new URL('../fixtures/nn/layers.json', import.meta.url), 'utf8')) as { cases: FixtureCase[] }
).cases;

/** The case called `name` (an error when the JSON lacks it). */
export function fixture(name: string): FixtureCase {
  const c = fixtures.find((f) => f.name === name);
  if (!c) throw new Error(`fixture ${name} missing from layers.json`);
  return c;
}

/** |got - want| <= atol + rtol * |want| element-wise. */
export function expectNear(got: ArrayLike<number>, want: ArrayLike<number>, label: string, rtol = 1e-4, atol = 1e-5): void {
  expect(got.length, `${label}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++)
    if (!(Math.abs(got[i]! - want[i]!) <= atol + rtol * Math.abs(want[i]!))) expect.fail(`${label}[${i}]: got ${got[i]}, expected ${want[i]}`);
}
