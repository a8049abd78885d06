/**
 * Checks a ReportData before rendering, so a wrong value (a percentage where a fraction belongs,
 * NaN from a failed measurement, a string where a number belongs) is reported with its path
 * instead of turning into a silently wrong chart. Sparsities and densities are fractions in
 * [0, 1]; accuracies are percentages in [0, 100].
 */
import { IndexRangeError, SparsennTypeError } from '../errors.js';
import type { ReportData } from './types.js';

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number' && Number.isNaN(v)) return 'NaN';
  return typeof v;
}

function str(v: unknown, path: string): void {
  if (typeof v !== 'string') throw new SparsennTypeError('ERR_TYPE', `${path} must be a string, got ${typeName(v)}`);
}

function obj(v: unknown, path: string): asserts v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new SparsennTypeError('ERR_TYPE', `${path} must be an object, got ${typeName(v)}`);
}

function arr(v: unknown, path: string): asserts v is unknown[] {
  if (!Array.isArray(v)) throw new SparsennTypeError('ERR_TYPE', `${path} must be an array, got ${typeName(v)}`);
}

/** A finite number in [lo, hi]. */
function num(v: unknown, path: string, lo = -Infinity, hi = Infinity, what = ''): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new SparsennTypeError('ERR_TYPE', `${path} must be a finite number, got ${typeof v === 'number' ? String(v) : typeName(v)}`);
  if (v < lo || v > hi) {
    const range = hi === Infinity ? `>= ${lo}` : `in [${lo}, ${hi}]`;
    throw new IndexRangeError('ERR_RANGE', `${path} must be ${range}${what}, got ${v}`);
  }
}

function int(v: unknown, path: string, lo = 0): void {
  num(v, path, lo);
  if (!Number.isInteger(v)) throw new SparsennTypeError('ERR_TYPE', `${path} must be an integer, got ${v as number}`);
}

function optional<T>(v: T | undefined, check: (v: T) => void): void {
  if (v !== undefined) check(v);
}

const FRACTION = ' (a fraction, not a percentage)';
const PERCENT = ' (in percent)';

/**
 * Throws SparsennTypeError (ERR_TYPE) for a value of the wrong type and IndexRangeError
 * (ERR_RANGE) for one out of range, naming the path (e.g. `report.layers[2].sparsity`).
 */
export function validateReportData(data: ReportData): void {
  const d = data as unknown;
  obj(d, 'report');
  str(d.title, 'report.title');
  str(d.generatedAt, 'report.generatedAt');
  obj(d.machine, 'report.machine');
  const m = d.machine;
  str(m.cpu, 'report.machine.cpu');
  str(m.isa, 'report.machine.isa');
  int(m.threads, 'report.machine.threads');
  str(m.node, 'report.machine.node');
  str(m.sparsenn, 'report.machine.sparsenn');
  obj(d.model, 'report.model');
  const md = d.model;
  str(md.name, 'report.model.name');
  int(md.parameters, 'report.model.parameters');
  arr(md.sampleShape, 'report.model.sampleShape');
  md.sampleShape.forEach((v, i) => int(v, `report.model.sampleShape[${i}]`));
  optional(md.description, (v) => str(v, 'report.model.description'));

  optional(d.summary, (s) => {
    arr(s, 'report.summary');
    s.forEach((e, i) => {
      obj(e, `report.summary[${i}]`);
      str(e.label, `report.summary[${i}].label`);
      str(e.value, `report.summary[${i}].value`);
    });
  });

  optional(d.accuracy, (a) => {
    obj(a, 'report.accuracy');
    arr(a.series, 'report.accuracy.series');
    a.series.forEach((s, i) => {
      const p = `report.accuracy.series[${i}]`;
      obj(s, p);
      str(s.method, `${p}.method`);
      arr(s.points, `${p}.points`);
      s.points.forEach((pt, j) => {
        obj(pt, `${p}.points[${j}]`);
        num(pt.sparsity, `${p}.points[${j}].sparsity`, 0, 1, FRACTION);
        num(pt.accuracy, `${p}.points[${j}].accuracy`, 0, 100, PERCENT);
        optional(pt.std, (v) => num(v, `${p}.points[${j}].std`, 0, 100, PERCENT));
      });
    });
    optional(a.dense, (dn) => {
      obj(dn, 'report.accuracy.dense');
      num(dn.accuracy, 'report.accuracy.dense.accuracy', 0, 100, PERCENT);
      optional(dn.std, (v) => num(v, 'report.accuracy.dense.std', 0, 100, PERCENT));
    });
  });

  optional(d.layers, (ls) => {
    arr(ls, 'report.layers');
    ls.forEach((l, i) => {
      const p = `report.layers[${i}]`;
      obj(l, p);
      str(l.name, `${p}.name`);
      arr(l.shape, `${p}.shape`);
      l.shape.forEach((v, j) => int(v, `${p}.shape[${j}]`));
      int(l.size, `${p}.size`);
      int(l.nnz, `${p}.nnz`);
      num(l.nnz, `${p}.nnz`, 0, l.size as number, ' (at most size)');
      num(l.sparsity, `${p}.sparsity`, 0, 1, FRACTION);
      str(l.structure, `${p}.structure`);
      if (l.flopsDense !== null) num(l.flopsDense, `${p}.flopsDense`, 0);
      if (l.flopsSparse !== null) num(l.flopsSparse, `${p}.flopsSparse`, 0);
    });
  });

  optional(d.size, (s) => {
    obj(s, 'report.size');
    for (const k of ['denseBytes', 'fileBytes', 'valuesBytes', 'indexBytes', 'entropyBoundBytes', 'otherBytes']) num(s[k], `report.size.${k}`, 0);
  });

  optional(d.latency, (ls) => {
    arr(ls, 'report.latency');
    ls.forEach((l, i) => {
      const p = `report.latency[${i}]`;
      obj(l, p);
      int(l.batch, `${p}.batch`, 1);
      num(l.denseMs, `${p}.denseMs`, 0);
      num(l.sparseMs, `${p}.sparseMs`, 0);
      optional(l.ortMs, (v) => num(v, `${p}.ortMs`, 0));
    });
  });

  optional(d.plan, (pl) => {
    obj(pl, 'report.plan');
    arr(pl.layers, 'report.plan.layers');
    pl.layers.forEach((l, i) => {
      const p = `report.plan.layers[${i}]`;
      obj(l, p);
      str(l.name, `${p}.name`);
      arr(l.fused, `${p}.fused`);
      l.fused.forEach((f, j) => str(f, `${p}.fused[${j}]`));
      int(l.rows, `${p}.rows`);
      int(l.cols, `${p}.cols`);
      int(l.groups, `${p}.groups`, 1);
      num(l.density, `${p}.density`, 0, 1, FRACTION);
      obj(l.formats, `${p}.formats`);
      for (const [k, v] of Object.entries(l.formats)) str(v, `${p}.formats[${JSON.stringify(k)}]`);
      obj(l.timings, `${p}.timings`);
      for (const [k, v] of Object.entries(l.timings)) {
        obj(v, `${p}.timings[${JSON.stringify(k)}]`);
        for (const [f, ms] of Object.entries(v)) num(ms, `${p}.timings[${JSON.stringify(k)}][${JSON.stringify(f)}]`, 0);
      }
    });
    arr(pl.steps, 'report.plan.steps');
    pl.steps.forEach((s, i) => str(s, `report.plan.steps[${i}]`));
  });

  optional(d.notes, (ns) => {
    arr(ns, 'report.notes');
    ns.forEach((n, i) => str(n, `report.notes[${i}]`));
  });
}
