/**
 * Which weights a pruning method edits: by default the weight of every Linear and Conv2d, in
 * model order. Users narrow this with include/exclude patterns or keep the first and last
 * layers dense, as much of the literature does (the input layer has few weights and the
 * classifier has few outputs, so both are expensive to prune and cheap to keep).
 */
import { SparsennTypeError } from '../errors.js';
import { Conv2d } from '../nn/layers/conv.js';
import { Linear } from '../nn/layers/linear.js';
import { Module } from '../nn/module.js';
import type { Parameter } from '../nn/parameter.js';
import type { PruneTarget } from './types.js';

/** A parameter-name pattern: an exact name, a glob with `*`, or a RegExp. */
export type NamePattern = string | RegExp;

export interface TargetOptions {
  /** Only these parameters (names or patterns); default every Linear/Conv2d weight. */
  include?: NamePattern[];
  /** Never these. */
  exclude?: NamePattern[];
  /** Keep the first and/or last prunable layer dense. */
  keepDense?: 'first' | 'last' | 'first-last' | 'none';
}

function matches(name: string, pattern: NamePattern): boolean {
  if (pattern instanceof RegExp) {
    pattern.lastIndex = 0; // a /g or /y pattern would otherwise continue from its last match
    return pattern.test(name);
  }
  if (typeof pattern !== 'string') throw new SparsennTypeError('ERR_TYPE', `a name pattern must be a string or RegExp, got ${String(pattern)}`);
  if (!pattern.includes('*')) return name === pattern;
  const re = new RegExp('^' + pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
  return re.test(name);
}

/** The prunable weights of `model` (Linear and Conv2d weights), filtered by `opts`. */
export function pruneTargets(model: Module, opts: TargetOptions = {}): PruneTarget[] {
  if (!(model instanceof Module)) throw new SparsennTypeError('ERR_TYPE', 'pruneTargets needs a Module');
  const all: PruneTarget[] = [];
  const seen = new Set<Module>(); // a layer used twice is one target
  for (const [moduleName, module] of model.namedModules()) {
    if (!(module instanceof Linear || module instanceof Conv2d) || seen.has(module)) continue;
    seen.add(module);
    const name = moduleName ? `${moduleName}.weight` : 'weight';
    all.push({ name, param: module.weight, module, moduleName });
  }
  let out = all;
  if (opts.include) {
    const missing = opts.include.filter((p) => typeof p === 'string' && !p.includes('*') && !all.some((t) => t.name === p));
    if (missing.length) throw new SparsennTypeError('ERR_TYPE', `include names no prunable weight: ${missing.join(', ')} (prunable: ${all.map((t) => t.name).join(', ')})`);
    out = out.filter((t) => opts.include!.some((p) => matches(t.name, p)));
  }
  if (opts.exclude) out = out.filter((t) => !opts.exclude!.some((p) => matches(t.name, p)));
  const keep = opts.keepDense ?? 'none';
  if (keep === 'first' || keep === 'first-last') out = out.filter((t) => t !== all[0]);
  if (keep === 'last' || keep === 'first-last') out = out.filter((t) => t !== all[all.length - 1]);
  if (!['first', 'last', 'first-last', 'none'].includes(keep))
    throw new SparsennTypeError('ERR_TYPE', `keepDense must be 'first', 'last', 'first-last' or 'none', got ${String(keep)}`);
  return out;
}

/** Rows (output units, shape[0]) and columns (inputs per unit, kernel included) of a weight. */
export function paramDims(p: Parameter): { rows: number; cols: number } {
  const rows = p.shape[0] ?? 1;
  return { rows, cols: rows === 0 ? 0 : p.size / rows };
}

/** paramDims of a target's weight. */
export function targetDims(t: PruneTarget): { rows: number; cols: number } {
  return paramDims(t.param);
}
