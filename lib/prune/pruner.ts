/**
 * The pruner: one criterion, one structure, one scope, applied to a model's masks. Schedules
 * call pruneTo() repeatedly with rising sparsities; prune() is the one-shot shorthand.
 *
 * ```ts
 * const pruner = new Pruner(model, { criterion: taylor(), structure: nm(2, 4), calibration: { data } });
 * pruner.pruneTo(0.5);
 * ```
 */
import { IndexRangeError, SparsennTypeError } from '../errors.js';
import type { Module } from '../nn/module.js';
import { Module as ModuleClass } from '../nn/module.js';
import { magnitude } from './criteria.js';
import { allocateBySensitivity, checkSparsity, erkDensities, minDensity, proportionalDensities, type Scope } from './scope.js';
import { channelGroups, channelScores, maskChannels, type ChannelGroup, type SampleShapes } from './dependency.js';
import { rankDescending, topK } from './rank.js';
import { layerResult, pruneResult } from './results.js';
import { maskedScores, unstructured } from './structures.js';
import { pruneTargets, targetDims, type TargetOptions } from './targets.js';
import type { CalibrationOptions, Criterion, GroupedStructure, LayerPruneResult, PruneResult, PruneTarget, Structure } from './types.js';

export interface PrunerOptions extends TargetOptions {
  /** Default magnitude(). */
  criterion?: Criterion;
  /** Default unstructured(). */
  structure?: Structure;
  /** Default 'layer'. */
  scope?: Scope;
  /** Explicit targets (overrides include/exclude/keepDense). */
  targets?: PruneTarget[];
  /** Data for the criteria that need gradients or activations. */
  calibration?: CalibrationOptions;
  /**
   * Connectivity guard: each layer keeps a density of at least minFanOut * max(1/rows, 1/cols),
   * i.e. a kept fan-out (and fan-in) of minFanOut per unit on average. Default 1 (the
   * percolation threshold); 0 turns the guard off.
   */
  minFanOut?: number;
  /** Receives warnings (default: process.emitWarning). */
  onWarning?: (message: string) => void;
  /**
   * One sample's input shape (one per input for a multi-input Graph). Required by channels():
   * the model is traced once to find which layers' channels must go together (batch norm,
   * residual adds, concatenations, see dependency.ts).
   */
  sampleShape?: SampleShapes;
}

export interface PruneOptions extends PrunerOptions {
  sparsity: number;
}

/**
 * The best groups (1 = kept) until `budget` weights are kept: with single-weight groups exactly
 * `budget`; otherwise the last group taken may overshoot by less than its size.
 */
function bestGroups(scores: Float64Array, sizes: Int32Array, budget: number): Uint8Array {
  if (budget <= 0) return new Uint8Array(scores.length);
  if (sizes.every((v) => v === 1)) return topK(scores, budget);
  const kept = new Uint8Array(scores.length);
  let used = 0;
  for (const g of rankDescending(scores)) {
    if (used >= budget || scores[g] === -Infinity) break;
    kept[g] = 1;
    used += sizes[g]!;
  }
  return kept;
}

export class Pruner {
  readonly model: Module;
  readonly targets: readonly PruneTarget[];
  readonly criterion: Criterion;
  readonly structure: Structure;
  readonly scope: Scope;
  readonly calibration: CalibrationOptions | undefined;
  private readonly minFanOut: number;
  /** Channel groups (channels() only). */
  private readonly groups: ChannelGroup[] = [];
  private readonly warn: (message: string) => void;

  constructor(model: Module, opts: PrunerOptions = {}) {
    if (!(model instanceof ModuleClass)) throw new SparsennTypeError('ERR_TYPE', 'Pruner needs a Module');
    this.model = model;
    this.targets = opts.targets ?? pruneTargets(model, opts);
    if (this.targets.length === 0) throw new SparsennTypeError('ERR_TYPE', 'nothing to prune: the model has no Linear/Conv2d weight matching the target options');
    this.criterion = opts.criterion ?? magnitude();
    if (typeof this.criterion?.score !== 'function') throw new SparsennTypeError('ERR_TYPE', 'criterion must be a Criterion (e.g. magnitude(), taylor())');
    this.structure = opts.structure ?? unstructured();
    if (!['unstructured', 'block', 'channel', 'nm'].includes(this.structure?.kind)) throw new SparsennTypeError('ERR_TYPE', 'structure must be a Structure (e.g. unstructured(), nm(2, 4), blocks(4, 1), channels())');
    this.scope = opts.scope ?? 'layer';
    this.calibration = opts.calibration;
    if (this.structure.kind === 'unstructured' && this.structure.perRow && this.scope === 'global')
      throw new SparsennTypeError('ERR_TYPE', "unstructured({ perRow: true }) ranks within each row; it cannot be combined with the 'global' scope");
    if (this.structure.kind === 'channel') {
      if (!opts.sampleShape) throw new SparsennTypeError('ERR_TYPE', 'channels() needs sampleShape in the pruner options: the model is traced to find which channels must be removed together');
      if (this.scope !== 'layer' && this.scope !== 'global') throw new SparsennTypeError('ERR_TYPE', "channels() supports the 'layer' and 'global' scopes");
      // the groups whose producers are all targets; the targets become those producers' weights
      const names = new Set(this.targets.map((t) => t.name));
      this.groups = channelGroups(model, opts.sampleShape).filter((g) => g.prunable && g.producers.every((p) => names.has(p.weight)));
      const producers = new Set(this.groups.flatMap((g) => g.producers.map((p) => p.weight)));
      this.targets = this.targets.filter((t) => producers.has(t.name));
      if (this.targets.length === 0) throw new SparsennTypeError('ERR_TYPE', 'channels(): no prunable channel group among the targets (model outputs and channels mixed by LayerNorm, Reshape, ... cannot be removed)');
    }
    const minFanOut = opts.minFanOut ?? 1;
    if (!(minFanOut >= 0)) throw new IndexRangeError('ERR_RANGE', `minFanOut must be >= 0, got ${String(minFanOut)}`);
    this.minFanOut = minFanOut;
    this.warn = opts.onWarning ?? ((m) => process.emitWarning(m, 'SparsennWarning'));
  }

  /** Current sparsity of each target and overall (weights, not groups). */
  status(): PruneResult {
    return this.result([]);
  }

  /**
   * Prunes every target until the scope's allocation of `sparsity` is reached (for N:M: the
   * structure's fixed ratio; `sparsity` is ignored). Already-pruned weights stay pruned, so a
   * lower target than the current sparsity changes nothing.
   */
  pruneTo(sparsity: number): PruneResult {
    checkSparsity(sparsity);
    const warnings: string[] = [];
    const scores = this.criterion.score(this.targets, { model: this.model, calibration: this.calibration });
    if (!Array.isArray(scores) || scores.length !== this.targets.length) throw new SparsennTypeError('ERR_TYPE', `criterion ${this.criterion.name} returned ${scores?.length} score arrays for ${this.targets.length} targets`);
    this.targets.forEach((t, i) => {
      const sc = scores[i];
      if (!(sc instanceof Float32Array) || sc.length !== t.param.size)
        throw new SparsennTypeError('ERR_TYPE', `criterion ${this.criterion.name} gave ${t.name} ${sc?.length} scores, expected ${t.param.size}`);
      // NaN has no rank (it would silently empty a layer); -Infinity means "prune first"
      for (let j = 0; j < sc.length; j++)
        if (Number.isNaN(sc[j]) || sc[j] === Infinity)
          throw new IndexRangeError('ERR_RANGE', `criterion ${this.criterion.name} scored ${t.name}[${j}] as ${sc[j]}; scores must be finite (or -Infinity); are the weights or gradients finite?`);
    });
    const s = this.structure;
    if (s.kind === 'nm') {
      this.targets.forEach((t, i) => t.param.setMask(s.select(t, scores[i]!)));
    } else if (s.kind === 'channel') {
      this.pruneChannels(sparsity, scores, warnings);
    } else if (this.scope === 'global') {
      this.pruneGlobal(s, scores, sparsity, warnings);
    } else {
      const densities = this.layerDensities(sparsity, scores, warnings);
      this.targets.forEach((t, i) => this.keepTop(t, s, s.groupScores(t, scores[i]!), densities[i]!));
    }
    const r = this.result(warnings);
    for (const w of r.warnings) this.warn(w);
    return r;
  }

  /** Guard floors per target, with a warning where the requested density falls below one. */
  private floors(requested: readonly number[], warnings: string[]): number[] {
    return this.targets.map((t, i) => {
      const lo = minDensity(t, this.minFanOut);
      if (requested[i]! < lo - 1e-12) {
        const { rows, cols } = targetDims(t);
        warnings.push(
          `${t.name}: sparsity ${(1 - requested[i]!).toFixed(4)} would leave a kept fan-out of ${(requested[i]! * rows).toFixed(2)} and fan-in of ${(requested[i]! * cols).toFixed(2)} per unit (below ${this.minFanOut}): the layer would disconnect; kept at sparsity ${(1 - lo).toFixed(4)} instead`,
        );
      }
      return lo;
    });
  }

  private layerDensities(sparsity: number, scores: Float32Array[], warnings: string[]): number[] {
    const ts = this.targets;
    const scope = this.scope;
    const sizes = ts.map((t) => t.param.size);
    if (scope === 'layer') {
      const lo = this.floors(ts.map(() => 1 - sparsity), warnings);
      return lo.map((l) => Math.max(1 - sparsity, l));
    }
    if (scope === 'erk') {
      const raw = erkDensities(ts, 1 - sparsity);
      const lo = this.floors(raw, warnings);
      return erkDensities(ts, 1 - sparsity, lo);
    }
    if (typeof scope === 'object' && 'perLayer' in scope) {
      const names = new Set(ts.map((t) => t.name));
      for (const k of Object.keys(scope.perLayer)) if (!names.has(k)) throw new SparsennTypeError('ERR_TYPE', `perLayer names ${k}, which is not a pruning target (${[...names].join(', ')})`);
      const req = ts.map((t) => 1 - checkSparsity(scope.perLayer[t.name] ?? 0, `perLayer sparsity of ${t.name}`));
      const lo = this.floors(req, warnings);
      return req.map((d, i) => Math.max(d, lo[i]!));
    }
    if (typeof scope === 'object' && scope.kind === 'sensitivity') {
      const lo = ts.map((t) => minDensity(t, this.minFanOut));
      const sp = this.scanSensitivity(scope.metric, scope.levels, scores, sizes, sparsity, lo);
      return proportionalDensities(sizes, sp.map((v) => 1 - v), 1 - sparsity, lo);
    }
    throw new SparsennTypeError('ERR_TYPE', `unknown scope ${JSON.stringify(scope)}: use 'layer', 'global', 'erk', { perLayer } or sensitivity(metric)`);
  }

  /** Prunes each target alone at each level, measures the metric, restores. */
  private scanSensitivity(metric: (m: Module) => number, levels: number[], scores: Float32Array[], sizes: number[], sparsity: number, lo: number[]): number[] {
    const s = this.structure as GroupedStructure;
    const base = this.model.inEvalMode(() => metric(this.model));
    const curves = this.targets.map((t, i) => {
      const data = t.param.data.slice();
      const mask = t.param.mask ? Uint8Array.from(t.param.mask) : null;
      const groupScores = s.groupScores(t, scores[i]!);
      try {
        return levels.map((level) => {
          this.keepTop(t, s, groupScores, Math.max(1 - level, lo[i]!));
          return this.model.inEvalMode(() => metric(this.model));
        });
      } finally {
        t.param.setMask(mask);
        t.param.data.set(data);
      }
    });
    return allocateBySensitivity(sizes, levels, base, curves, sparsity, lo.map((l) => 1 - l));
  }

  /** Keeps the best round(density * groups) groups of a target (never regrowing). */
  private keepTop(t: PruneTarget, s: GroupedStructure, groupScores: Float64Array, density: number): void {
    const d = Math.min(1, Math.max(0, density));
    if (!s.perRow) {
      t.param.setMask(s.expand(t, topK(groupScores, Math.round(d * groupScores.length))));
      return;
    }
    const { rows, cols } = targetDims(t);
    const kept = new Uint8Array(groupScores.length);
    const keep = Math.round(d * cols);
    for (let r = 0; r < rows; r++) kept.set(topK(groupScores.subarray(r * cols, (r + 1) * cols), keep), r * cols);
    t.param.setMask(s.expand(t, kept));
  }

  /**
   * One ranking over every target's groups: keep the best groups until round(density * N)
   * weights are kept. Each target first gets the groups its guard floor needs.
   */
  private pruneGlobal(s: GroupedStructure, scores: Float32Array[], sparsity: number, warnings: string[]): void {
    const ts = this.targets;
    const total = ts.reduce((a, t) => a + t.param.size, 0);
    const budget = Math.round((1 - sparsity) * total);
    const gs = ts.map((t, i) => s.groupScores(t, scores[i]!));
    const sizes = ts.map((t) => s.groupSizes(t));
    const lo = ts.map((t) => minDensity(t, this.minFanOut));
    // guard floors: each target's best groups up to its minimum density
    const kept = ts.map((t, i) => bestGroups(gs[i]!, sizes[i]!, Math.ceil(lo[i]! * t.param.size - 1e-9)));
    const floorOnly = kept.map((k) => k.some((v) => v === 1));
    let used = 0;
    kept.forEach((k, i) => k.forEach((v, j) => (used += v * sizes[i]![j]!)));
    // then one ranking over the rest
    const offsets = [0];
    for (const g of gs) offsets.push(offsets[offsets.length - 1]! + g.length);
    const flat = new Float64Array(offsets[offsets.length - 1]!);
    const flatSizes = new Int32Array(flat.length);
    gs.forEach((g, i) => {
      const o = offsets[i]!;
      for (let j = 0; j < g.length; j++) flat[o + j] = kept[i]![j] ? -Infinity : g[j]!;
      flatSizes.set(sizes[i]!, o);
    });
    const more = bestGroups(flat, flatSizes, budget - used);
    ts.forEach((t, i) => {
      const k = kept[i]!;
      const o = offsets[i]!;
      let extra = false;
      for (let j = 0; j < k.length; j++)
        if (more[o + j]) {
          k[j] = 1;
          extra = true;
        }
      t.param.setMask(s.expand(t, k));
      if (floorOnly[i] && !extra && lo[i]! > 0 && sparsity > 0)
        warnings.push(`${t.name}: the global ranking would prune it below a kept fan-out of ${this.minFanOut} per unit; kept at sparsity ${(1 - t.param.density()).toFixed(4)} by the connectivity guard`);
    });
  }

  /**
   * Channel pruning over the dependency groups: a channel's score is the mean score of its
   * producers' kept weights; 'layer' keeps round((1 - s) * channels) per group, 'global' ranks
   * every channel and keeps them until round((1 - s) * N) producer weights are kept. At least
   * max(1, minFanOut) channels stay in each group. maskChannels zeroes the removed channels
   * everywhere (rows, biases, batch norm), so shrink() can cut them out exactly.
   */
  private pruneChannels(sparsity: number, scores: Float32Array[], warnings: string[]): void {
    const byName: Record<string, Float32Array> = {};
    this.targets.forEach((t, i) => (byName[t.name] = maskedScores(t, scores[i]!)));
    const params = new Map(this.targets.map((t) => [t.name, t.param]));
    const perChannel = this.groups.map((g) => g.producers.reduce((a, p) => a + params.get(p.weight)!.size / g.channels, 0));
    const gs = this.groups.map((g, i) => channelScores(g, byName).map((v) => v / perChannel[i]!));
    const floor = Math.max(1, Math.ceil(this.minFanOut));
    const keeps = this.groups.map((g, i) => {
      const want = this.scope === 'global' ? 0 : Math.round((1 - sparsity) * g.channels);
      if (this.scope !== 'global' && want < floor && sparsity > 0) warnings.push(`channel group of ${g.producers.map((p) => p.weight).join(' + ')}: ${want} channels would disconnect it; keeping ${Math.min(floor, g.channels)}`);
      return topK(gs[i]!, Math.min(g.channels, Math.max(want, floor)));
    });
    if (this.scope === 'global') {
      const total = perChannel.reduce((a, w, i) => a + w * this.groups[i]!.channels, 0);
      let used = keeps.reduce((a, k, i) => a + k.reduce((x, y) => x + y, 0) * perChannel[i]!, 0);
      const budget = Math.round((1 - sparsity) * total);
      const owner: number[] = [];
      const channel: number[] = [];
      const flat: number[] = [];
      gs.forEach((g, i) => g.forEach((v, c) => {
        if (keeps[i]![c] || v === -Infinity) return;
        owner.push(i);
        channel.push(c);
        flat.push(v);
      }));
      for (const k of rankDescending(Float64Array.from(flat))) {
        if (used >= budget) break;
        keeps[owner[k]!]![channel[k]!] = 1;
        used += perChannel[owner[k]!]!;
      }
    }
    this.groups.forEach((g, i) => maskChannels(this.model, g, keeps[i]!));
  }

  private result(warnings: string[]): PruneResult {
    const r = pruneResult(this.targets.map(layerResult));
    return { ...r, warnings: [...warnings, ...r.warnings] };
  }
}

/** One-shot pruning: `new Pruner(model, opts).pruneTo(opts.sparsity)`. */
export function prune(model: Module, opts: PruneOptions): PruneResult {
  if (!opts || typeof opts !== 'object') throw new SparsennTypeError('ERR_TYPE', 'prune() needs options with a sparsity');
  if (opts.structure?.kind !== 'nm') checkSparsity(opts.sparsity);
  return new Pruner(model, opts).pruneTo(opts.structure?.kind === 'nm' ? 0 : opts.sparsity);
}
