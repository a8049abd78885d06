/**
 * Coverage feedback for the JS fuzzer: the bundled library (dist/cjs/index.cjs) is instrumented
 * once with istanbul (statement, branch and function counters) and loaded in place of the
 * package, so every execution bumps counters we can read. An input is interesting when it
 * covers a statement, branch arm or function no input covered before ("new coverage"), the
 * signal AFL and libFuzzer keep inputs for (without hit-count buckets).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInstrumenter } from 'istanbul-lib-instrument';

const COVERAGE = '__sparsennFuzzCoverage';

interface FileCoverage {
  s: Record<string, number>;
  b: Record<string, number[]>;
  f: Record<string, number>;
}

/** Loads the instrumented bundle (instrumenting it on first use); returns the library's exports. */
export function loadInstrumented(root: string): Record<string, unknown> {
  const bundle = join(root, 'dist', 'cjs', 'index.cjs');
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run \`npm run build:ts\` first`);
  // Beside the bundle, so the library still finds its package root (data/, the addon).
  const target = join(root, 'dist', 'cjs', 'index.fuzz.cjs');
  const source = readFileSync(bundle, 'utf8');
  const instrumenter = createInstrumenter({ coverageVariable: COVERAGE, compact: true, esModules: false, produceSourceMap: false });
  writeFileSync(target, instrumenter.instrumentSync(source, target));
  return createRequire(import.meta.url)(target) as Record<string, unknown>;
}

/**
 * All counters in one Uint32Array: each file's statement, function and branch counters are
 * replaced by views of it (the instrumented code looks them up on every increment), so one
 * pass over one array finds what an execution covered for the first time.
 */
export class CoverageMap {
  readonly #counts: Uint32Array;
  readonly #virgin: Uint8Array;
  #covered = 0;

  constructor() {
    const all = (globalThis as unknown as Record<string, Record<string, FileCoverage>>)[COVERAGE];
    if (!all) throw new Error('the instrumented bundle is not loaded');
    let total = 0;
    for (const fc of Object.values(all)) {
      total += Object.keys(fc.s).length + Object.keys(fc.f).length;
      for (const arms of Object.values(fc.b)) total += arms.length;
    }
    const counts = new Uint32Array(total);
    let at = 0;
    const view = (src: Record<string, number> | number[]): Uint32Array => {
      const n = Object.keys(src).length;
      const v = counts.subarray(at, at + n);
      for (let i = 0; i < n; i++) v[i] = (src as Record<string, number>)[i]!;
      at += n;
      return v;
    };
    for (const fc of Object.values(all)) {
      (fc as unknown as { s: Uint32Array }).s = view(fc.s);
      (fc as unknown as { f: Uint32Array }).f = view(fc.f);
      for (const k of Object.keys(fc.b)) (fc.b as unknown as Record<string, Uint32Array>)[k] = view(fc.b[k]!);
    }
    this.#counts = counts;
    this.#virgin = new Uint8Array(total).fill(1);
    this.total = total;
    this.update();
  }

  readonly total: number;

  get covered(): number {
    return this.#covered;
  }

  /** Marks counters that became non-zero; returns how many did since the last call. */
  update(): number {
    const c = this.#counts;
    const v = this.#virgin;
    let fresh = 0;
    for (let i = 0; i < c.length; i++) {
      if (c[i] !== 0 && v[i] === 1) {
        v[i] = 0;
        fresh++;
      }
    }
    this.#covered += fresh;
    return fresh;
  }
}
