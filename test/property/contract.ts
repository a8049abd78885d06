/**
 * The contract every property in test/property/ checks: a call on random or mutated input
 * either returns (and then the result is checked against an independent reference) or throws
 * a typed SparsennError whose `code` is a known code of the class it was thrown as, with a
 * message. A plain TypeError / RangeError / Error is a failure; so is a crash (the worker
 * dies) or a hang (the test times out).
 *
 * Every property runs with one fixed seed (SPARSENN_PROPERTY_SEED overrides it), and a failure
 * names that seed and fast-check's counterexample path, so it reproduces. Run counts are sized
 * for the whole folder to take a few seconds; SPARSENN_PROPERTY_SCALE multiplies them.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { errorFromCode, referenceAbsMatmul, referenceMatmul, SparsennError, type ErrorCode } from '../../lib/index.js';

export const SEED = Number(process.env.SPARSENN_PROPERTY_SEED ?? 0x5eed_2024) | 0;

/** Multiplies every property's run count (SPARSENN_PROPERTY_SCALE=10 for a deeper local search). */
const SCALE = Math.max(0.01, Number(process.env.SPARSENN_PROPERTY_SCALE ?? 1) || 1);

function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.constructor.name}: ${e.message}\n${e.stack?.split('\n').slice(1, 6).join('\n') ?? ''}`;
  try {
    return `a thrown non-error ${typeof e}: ${String(e)}`;
  } catch {
    return `a thrown non-error ${typeof e}`;
  }
}

/** Asserts `e` is a SparsennError of the class its code belongs to, with a message. */
export function expectTypedError(e: unknown, label = ''): asserts e is SparsennError {
  if (!(e instanceof SparsennError)) expect.fail(`${label}: expected a SparsennError, got ${describeError(e)}`);
  expect(typeof e.code, `${label}: code`).toBe('string');
  // errorFromCode maps an unknown code to ERR_INTERNAL: a known code maps to itself, and to the class it was thrown as.
  const canonical = errorFromCode(e.code, 'x');
  expect(canonical.code, `${label}: unknown code ${e.code}`).toBe(e.code);
  expect(e.constructor, `${label}: ${e.code} thrown as ${e.constructor.name}`).toBe(canonical.constructor);
  expect(typeof e.message === 'string' && e.message.length > 0, `${label}: empty message`).toBe(true);
  expect(e.name, `${label}: name`).toBe(e.constructor.name);
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: SparsennError };

/** Runs `fn`: its value, or the typed error it threw; anything else fails the property. */
export function attempt<T>(fn: () => T, label = ''): Outcome<T> {
  let value: T;
  try {
    value = fn();
  } catch (e) {
    expectTypedError(e, label);
    return { ok: false, error: e };
  }
  return { ok: true, value };
}

/** {@link attempt} for a promise-returning call (a synchronous throw counts like a rejection). */
export async function attemptAsync<T>(fn: () => Promise<T>, label = ''): Promise<Outcome<T>> {
  let value: T;
  try {
    value = await fn();
  } catch (e) {
    expectTypedError(e, label);
    return { ok: false, error: e };
  }
  return { ok: true, value };
}

/** The contract: `fn` returns (then `onOk` checks the value) or throws a typed error. */
export function expectTypedOrOk<T>(fn: () => T, onOk?: (value: T) => void, label = ''): Outcome<T> {
  const r = attempt(fn, label);
  if (r.ok) onOk?.(r.value);
  return r;
}

/** {@link expectTypedOrOk} for async calls. */
export async function expectTypedOrOkAsync<T>(fn: () => Promise<T>, onOk?: (value: T) => void | Promise<void>, label = ''): Promise<Outcome<T>> {
  const r = await attemptAsync(fn, label);
  if (r.ok) await onOk?.(r.value);
  return r;
}

/**
 * When the test knows whether the input is valid: valid must succeed, invalid must throw a
 * typed error (with one of `codes`, when given).
 */
export function expectOutcome<T>(r: Outcome<T>, valid: boolean, codes: readonly ErrorCode[] | null, label = ''): void {
  if (valid && !r.ok) expect.fail(`${label}: valid input refused with ${r.error.code}: ${r.error.message}`);
  if (!valid && r.ok) expect.fail(`${label}: invalid input accepted`);
  if (!r.ok && codes) expect(codes, `${label}: unexpected code ${r.error.code} (${r.error.message})`).toContain(r.error.code);
}

/** fast-check parameters: the fixed seed and a run count. */
export function params(numRuns: number): fc.Parameters<unknown> {
  return { seed: SEED, numRuns: Math.max(1, Math.round(numRuns * SCALE)) };
}

function withSeed(e: unknown): never {
  if (e instanceof Error) e.message = `[property seed ${SEED}; rerun with SPARSENN_PROPERTY_SEED=${SEED} SPARSENN_PROPERTY_SCALE=${SCALE}]\n${e.message}`;
  throw e;
}

/** fc.assert with the fixed seed; the failure message starts with the seed. */
export function check<Ts>(prop: fc.IProperty<Ts>, numRuns: number): void {
  try {
    fc.assert(prop, params(numRuns) as fc.Parameters<Ts>);
  } catch (e) {
    withSeed(e);
  }
}

/** {@link check} for async properties. */
export async function checkAsync<Ts>(prop: fc.IAsyncProperty<Ts>, numRuns: number): Promise<void> {
  try {
    await fc.assert(prop, params(numRuns) as fc.Parameters<Ts>);
  } catch (e) {
    withSeed(e);
  }
}

// ---------------------------------------------------------------------------------------------
// Shared arbitraries and references.

/** Values a JS caller may pass where a dimension or count is expected. */
export const HOSTILE_NUMBERS: readonly unknown[] = [
  -1,
  -0,
  0.5,
  2.5,
  NaN,
  Infinity,
  -Infinity,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 31),
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  '3',
  '',
  null,
  undefined,
  true,
  3n,
  {},
  [3],
  Symbol('dim'),
];

/** Mostly a small valid dimension in [0, max], sometimes a hostile value. */
export function dimArb(max: number, hostileWeight = 1): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max }) },
    { weight: hostileWeight, arbitrary: fc.constantFrom(...HOSTILE_NUMBERS) },
  );
}

/** The rule the library documents for a dimension: an integer in [0, 2^31 - 1]. */
export function isDim(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 2 ** 31 - 1;
}

/** A string for a test label (symbols and bigints included). */
export function show(v: unknown): string {
  if (typeof v === 'symbol') return v.toString();
  if (typeof v === 'bigint') return `${v}n`;
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as { length: number }).length})`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** A moderate finite float32 (never huge, so the float64 reference stays a fair oracle). */
export const valueArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 2, arbitrary: fc.integer({ min: -4, max: 4 }) },
  { weight: 4, arbitrary: fc.float({ min: -8, max: 8, noNaN: true, noDefaultInfinity: true }) },
);

/** A Float32Array of exactly `length` values from `valueArb`. */
export function f32Arb(length: number, value: fc.Arbitrary<number> = valueArb): fc.Arbitrary<Float32Array> {
  return fc.array(value, { minLength: length, maxLength: length }).map((v) => Float32Array.from(v));
}

/** Detaches `a`'s buffer (as postMessage with a transfer list does): a.length becomes 0. */
export function detach(a: ArrayBufferView): void {
  structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
}

/** Whether `a`'s buffer was detached (Node 20 has no ArrayBuffer.prototype.detached). */
export function isDetached(a: unknown): boolean {
  if (!ArrayBuffer.isView(a) || a instanceof DataView) return false;
  try {
    (a as Float32Array).slice(0, 0);
    return false;
  } catch {
    return true;
  }
}

/** A copy of a typed array (an empty one for a detached array), or the value itself. */
export function copyOf<T>(v: T): T {
  if (!(v instanceof Float32Array)) return v;
  return (isDetached(v) ? new Float32Array(0) : v.slice()) as T;
}

/**
 * Float32 result vs float64 reference: |got - ref| <= 1e-5 * bound + 1e-6, where bound is the
 * sum of the magnitudes of the terms (so cancellation does not make the check flaky).
 */
export function expectClose(got: Float32Array, ref: Float64Array, bound: Float64Array, label = ''): void {
  expect(got, `${label}: result type`).toBeInstanceOf(Float32Array);
  expect(got.length, `${label}: result length`).toBe(ref.length);
  for (let i = 0; i < got.length; i++) {
    const tol = 1e-5 * bound[i] + 1e-6;
    if (!(Math.abs(got[i] - ref[i]) <= tol)) expect.fail(`${label}: index ${i}: got ${got[i]}, expected ${ref[i]} (allowed ${tol})`);
  }
}

/** Identical values, NaN equal to NaN (for round trips, which must be exact). */
export function expectSameArray(got: ArrayLike<number>, want: ArrayLike<number>, label = ''): void {
  expect(got.length, `${label}: length`).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    const g = got[i];
    const w = want[i];
    if (!(g === w || (Number.isNaN(g) && Number.isNaN(w)))) expect.fail(`${label}: index ${i}: got ${g}, expected ${w}`);
  }
}

/** Y = A X (+ bias, ReLU) in float64 (lib/reference) and the per-element bound sum |a||x| + |bias|. */
export function denseProduct(a: Float32Array, rows: number, cols: number, x: Float32Array, n: number, bias?: Float32Array, relu = false): { ref: Float64Array; bound: Float64Array } {
  return { ref: referenceMatmul(a, rows, cols, x, n, bias, relu), bound: referenceAbsMatmul(a, rows, cols, x, n, bias) };
}
