/**
 * shrink(): turns structured sparsity into a smaller dense model. Channels that are dead — zero
 * wherever they are consumed, for every input (see ChannelGroup.dead: producer rows and biases
 * zero, or a following batch norm's weight and bias zero; through an Add, on every side) — are
 * cut out of every layer of their group: producer rows and bias entries, batch norm parameters
 * and running statistics, depthwise filters, and the consumers' input columns (Linear columns,
 * Conv2d input channels, the ranges a Flatten made, at their Concat offsets).
 *
 * Value-based, so it works after maskChannels(), after group lasso / L0 training that left exact
 * zeros, or on hand-edited weights. The new model is built from the edited config() with
 * moduleFromConfig() and gets the sliced state dict (masks of the remaining weights carried
 * over, sliced), so parameter names stay the same. Since a dead channel contributes exact zeros,
 * the shrunk model computes the same function; see test/prune/shrink.test.ts for when the
 * results are also bit-identical (same kernel path, inner dimensions within one GEMM k-block).
 */
import { FormatError, SparsennTypeError } from '../errors.js';
import { Dropout } from '../nn/layers/activations.js';
import { Conv2d } from '../nn/layers/conv.js';
import { Linear } from '../nn/layers/linear.js';
import { Module, type ModuleConfig, type StateEntry } from '../nn/module.js';
import { moduleFromConfig } from '../nn/registry.js';
import { UNLIMITED } from '../limits.js';
import { channelGroups, type ChannelGroup, type SampleShapes } from './dependency.js';

export interface ShrinkResult {
  /** The new, smaller model (same parameter names, same training / eval modes). */
  model: Module;
  /** Removed output channels (indices in the original model) by producer module name. */
  removed: Record<string, number[]>;
  /** parameterCount() of the original and of the new model (all entries, masked ones included). */
  parametersBefore: number;
  parametersAfter: number;
  /** Dead channels that were left in place, and why (e.g. a layer inside a custom container). */
  warnings: string[];
}

/** Indices to drop along the first two axes of a parameter or buffer. */
interface Cut {
  axis0: Set<number>;
  axis1: Set<number>;
}

/** How much each module shrinks: output channels, input channels / features, both (depthwise), norm features. */
interface Edit {
  out: number;
  in: number;
  depthwise: number;
  features: number;
}

/** The config of the module at `path` inside a Sequential / Graph config tree, or null. */
function findConfig(root: ModuleConfig, path: string): ModuleConfig | null {
  if (path === '') return root;
  let cfg: ModuleConfig = root;
  for (const part of path.split('.')) {
    const list = cfg.type === 'Sequential' ? cfg['layers'] : cfg.type === 'Graph' ? cfg['nodes'] : null;
    if (!Array.isArray(list)) return null;
    const entry = (list as Array<{ name: string; module: ModuleConfig }>).find((e) => e.name === part);
    if (!entry) return null;
    cfg = entry.module;
  }
  return cfg;
}

function cutOf(cuts: Map<string, Cut>, name: string): Cut {
  let c = cuts.get(name);
  if (!c) cuts.set(name, (c = { axis0: new Set(), axis1: new Set() }));
  return c;
}

function editOf(edits: Map<string, Edit>, name: string): Edit {
  let e = edits.get(name);
  if (!e) edits.set(name, (e = { out: 0, in: 0, depthwise: 0, features: 0 }));
  return e;
}

/** Indices [offset + c*span, offset + (c+1)*span) for each channel c. */
function spread(channels: readonly number[], offset: number, span: number): number[] {
  return channels.flatMap((c) => Array.from({ length: span }, (_, j) => offset + c * span + j));
}

/** `data` (shape [d0, d1, ...rest]) without the cut indices on axes 0 and 1. */
function sliceArray<T extends Float32Array | Uint8Array>(data: T, shape: readonly number[], cut: Cut | undefined): { data: T; shape: number[] } {
  if (!cut || shape.length === 0 || (cut.axis0.size === 0 && cut.axis1.size === 0)) return { data: data.slice() as T, shape: [...shape] };
  const d0 = shape[0]!;
  const d1 = shape.length >= 2 ? shape[1]! : 1;
  const inner = shape.slice(2).reduce((a, b) => a * b, 1);
  const keep0 = [...Array(d0).keys()].filter((i) => !cut.axis0.has(i));
  const keep1 = [...Array(d1).keys()].filter((i) => !cut.axis1.has(i));
  const out = new (data.constructor as new (n: number) => T)(keep0.length * keep1.length * inner);
  let o = 0;
  for (const i of keep0)
    for (const j of keep1) {
      const src = (i * d1 + j) * inner;
      out.set(data.subarray(src, src + inner), o);
      o += inner;
    }
  const next = [...shape];
  next[0] = keep0.length;
  if (shape.length >= 2) next[1] = keep1.length;
  return { data: out, shape: next };
}

/** The new config of one leaf module after its edit. */
function applyEdit(cfg: ModuleConfig, e: Edit, name: string): void {
  const num = (key: string): number => cfg[key] as number;
  if (cfg.type === 'Linear') {
    cfg['inFeatures'] = num('inFeatures') - e.in;
    cfg['outFeatures'] = num('outFeatures') - e.out;
  } else if (cfg.type === 'Conv2d') {
    cfg['inChannels'] = num('inChannels') - e.in - e.depthwise;
    cfg['outChannels'] = num('outChannels') - e.out - e.depthwise;
    if (e.depthwise > 0) cfg['groups'] = num('groups') - e.depthwise;
  } else if (cfg.type === 'BatchNorm1d' || cfg.type === 'BatchNorm2d') {
    cfg['numFeatures'] = num('numFeatures') - e.features;
  } else {
    throw new FormatError('ERR_FORMAT', `shrink: module '${name}' has config type '${cfg.type}', expected a Linear, Conv2d or batch norm (internal inconsistency)`);
  }
}

/**
 * A new model without the dead channels of `model` (see the file note). `sampleShape` is the
 * shape of one sample without the batch (one per input of a multi-input Graph), used to trace
 * the channel groups. The original model is not modified. A group whose channels are all dead
 * keeps one of them, since layers need at least one channel. Call outside noGrad().
 */
export function shrink(model: Module, sampleShape: SampleShapes): ShrinkResult {
  if (!(model instanceof Module)) throw new SparsennTypeError('ERR_TYPE', 'shrink needs a Module');
  const groups = channelGroups(model, sampleShape);
  const seen = new Set<Module>();
  for (const [name, m] of model.namedModules()) {
    if (seen.has(m) && (m.namedParameters().length > 0 || m.namedBuffers().length > 0))
      throw new FormatError('ERR_FORMAT', `shrink rebuilds the model from config(), which cannot express module '${name}' appearing twice in the tree`);
    seen.add(m);
  }
  const config = structuredClone(model.config());
  const cuts = new Map<string, Cut>();
  const edits = new Map<string, Edit>();
  const removed: Record<string, number[]> = {};
  const warnings: string[] = [];
  for (const g of groups) plan(g, config, cuts, edits, removed, warnings);
  for (const [name, e] of edits) applyEdit(findConfig(config, name)!, e, name);

  const next = moduleFromConfig(config, UNLIMITED);
  // What config() does not carry: modes, the execution choice, dropout generators.
  const byName = new Map(next.namedModules());
  for (const [name, m] of model.namedModules()) {
    const n = byName.get(name);
    if (!n) continue;
    n.training = m.training;
    if ((m instanceof Linear && n instanceof Linear) || (m instanceof Conv2d && n instanceof Conv2d)) n.execution = m.execution;
    if (m instanceof Dropout && n instanceof Dropout) n.rng = m.rng;
  }
  const state: Record<string, StateEntry> = {};
  for (const [name, entry] of Object.entries(model.stateDict())) state[name] = sliceArray(entry.data, entry.shape, cuts.get(name));
  const shapes = new Map(model.namedParameters().map(([name, p]) => [name, p.shape] as const));
  const masks: Record<string, Uint8Array> = {};
  for (const [name, mask] of Object.entries(model.masks())) masks[name] = sliceArray(mask, shapes.get(name)!, cuts.get(name)).data;
  next.loadStateDict(state, { masks });
  return { model: next, removed, parametersBefore: model.parameterCount(), parametersAfter: next.parameterCount(), warnings };
}

/** Records the cuts and config edits that remove the dead channels of `g`. */
function plan(
  g: ChannelGroup,
  config: ModuleConfig,
  cuts: Map<string, Cut>,
  edits: Map<string, Edit>,
  removed: Record<string, number[]>,
  warnings: string[],
): void {
  if (!g.prunable) return;
  let dead = [...g.dead.keys()].filter((c) => g.dead[c] === 1);
  if (dead.length === 0) return;
  if (dead.length === g.channels) dead = dead.slice(1);
  if (dead.length === 0) return;
  const modules = [...g.producers, ...g.coupled, ...g.consumers].map((m) => m.module);
  const lost = modules.find((m) => findConfig(config, m) === null);
  if (lost !== undefined) {
    warnings.push(`group ${g.id} (${g.producers.map((p) => p.module).join(', ')}): ${dead.length} dead channels kept, since module '${lost}' sits in a container whose config shrink cannot edit`);
    return;
  }
  for (const p of g.producers) {
    for (const c of dead) cutOf(cuts, p.weight).axis0.add(c);
    if (p.bias) for (const c of dead) cutOf(cuts, p.bias).axis0.add(c);
    editOf(edits, p.module).out += dead.length;
    removed[p.module] = [...dead];
  }
  for (const k of g.coupled) {
    const idx = spread(dead, k.offset, k.span);
    for (const name of [...k.params, ...k.buffers]) for (const i of idx) cutOf(cuts, name).axis0.add(i);
    if (k.kind === 'depthwise') editOf(edits, k.module).depthwise += idx.length;
    else editOf(edits, k.module).features += idx.length;
  }
  for (const k of g.consumers) {
    const idx = spread(dead, k.offset, k.span);
    for (const i of idx) cutOf(cuts, k.weight).axis1.add(i);
    editOf(edits, k.module).in += idx.length;
  }
}
