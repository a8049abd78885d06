/** Assertions on sparsenn's typed errors: the class, the stable `code`, and a useful message. */
import { expect } from 'vitest';
import { SparsennError, type ErrorCode } from '../../lib/index.js';

type ErrorClass = abstract new (...args: never[]) => SparsennError;

function check(caught: unknown, cls: ErrorClass, code: ErrorCode, label: string): SparsennError {
  expect(caught, `${label}: expected a SparsennError, got ${String(caught)}`).toBeInstanceOf(SparsennError);
  const err = caught as SparsennError;
  expect(err, `${label}: wrong class (${err.name}: ${err.message})`).toBeInstanceOf(cls);
  expect(err.code, `${label}: wrong code (${err.message})`).toBe(code);
  expect(err.message.length, `${label}: empty message`).toBeGreaterThan(0);
  return err;
}

/** Asserts `fn` throws synchronously a SparsennError of class `cls` with `code`. */
export function expectThrows(fn: () => unknown, cls: ErrorClass, code: ErrorCode, label = ''): SparsennError {
  let threw = false;
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    threw = true;
    caught = e;
  }
  expect(threw, `${label}: expected ${code} but nothing was thrown`).toBe(true);
  return check(caught, cls, code, label);
}

/** Asserts the promise rejects with a SparsennError of class `cls` with `code`. */
export async function expectRejects(p: Promise<unknown>, cls: ErrorClass, code: ErrorCode, label = ''): Promise<SparsennError> {
  let rejected = false;
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    rejected = true;
    caught = e;
  }
  expect(rejected, `${label}: expected a rejection with ${code} but the promise resolved`).toBe(true);
  return check(caught, cls, code, label);
}
