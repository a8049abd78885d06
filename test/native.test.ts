/**
 * The addon as a whole (lib/native.ts and native/binding): handles, per-environment state in
 * worker threads, and surviving the end of a worker whose async products are still running.
 * The worker scenarios run in a child process (test/helpers/worker-threads.ts), so that a native
 * abort shows up as a failed test rather than a dead test runner.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BsrMatrix, CsrMatrix, Matrix, NmMatrix } from '../lib/index.js';
import type { native } from '../lib/native.js';
import { kNative } from '../lib/tensor/base.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function runHelper(mode: string): { status: number | null; signal: string | null; stdout: string; stderr: string } {
  const res = spawnSync(process.execPath, ['--import', 'tsx', join('test', 'helpers', 'worker-threads.ts'), mode], {
    cwd: root,
    encoding: 'utf8',
    timeout: 90_000,
  });
  return { status: res.status, signal: res.signal, stdout: res.stdout, stderr: res.stderr };
}

describe('native handles', () => {
  it('info() reports format, shape and native bytes, and disposal', () => {
    const d = new Float32Array(8 * 8).map((_, i) => (i % 3 === 0 ? 1 : 0));
    const cases: Array<[string, { [kNative](): ReturnType<typeof native.prepareDense> }]> = [
      ['dense', new Matrix(d, 8, 8)],
      ['csr', CsrMatrix.fromDense(d, 8, 8)],
      ['nm', NmMatrix.fromDense(d, 8, 8)],
      ['bsr', BsrMatrix.fromDense(d, 8, 8, { blockRows: 2, blockCols: 2 })],
    ];
    for (const [format, m] of cases) {
      const h = m[kNative]();
      const info = h.info();
      expect(info).toMatchObject({ disposed: false, format, rows: 8, cols: 8 });
      expect(info.nativeBytes).toBeGreaterThan(0);
      h.dispose();
      expect(h.info()).toEqual({ disposed: true });
    }
  });
});

describe('worker threads', () => {
  it('load the addon in turn and at once, with correct products and typed errors in each', () => {
    const res = runHelper('lifecycle');
    expect(res.status, `helper exited with ${res.status} / ${res.signal}: ${res.stderr}`).toBe(0);
    const out = JSON.parse(res.stdout.trim().split('\n').pop()!) as {
      expected: number[];
      sequential: Array<{ sum: number; asyncSum: number; typedError: boolean }>;
      concurrent: Array<{ sum: number; asyncSum: number; typedError: boolean }>;
      after: number;
      typedError: boolean;
    };
    for (const list of [out.sequential, out.concurrent]) {
      expect(list.map((r) => r.sum)).toEqual(out.expected);
      for (const r of list) {
        expect(r.asyncSum).toBe(6);
        expect(r.typedError).toBe(true);
      }
    }
    expect(out.after).toBe(out.expected[0]);
    expect(out.typedError).toBe(true);
  });

  // A worker may be terminated at any time; the async products it started finish on libuv
  // threads after its environment is gone. That must not bring the process down.
  it('terminating a worker while its async products run does not crash the process', () => {
    const res = runHelper('terminate');
    expect(res.signal, `helper was killed by ${res.signal}: ${res.stderr.trim()}`).toBeNull();
    expect(res.status, `helper exited with ${res.status}: ${res.stderr.trim()}`).toBe(0);
    const out = JSON.parse(res.stdout.trim().split('\n').pop()!) as { exits: number[]; after: number; long: number };
    expect(out.exits).toEqual([1, 1, 1]);
    expect(out.long).toBe(1500);
  });
});
