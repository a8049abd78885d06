/**
 * Removing units that cannot matter. Two kinds, both exact (the smaller model computes the same
 * function):
 * - unreachable: every layer that reads the channel has zero weights for it, so nothing it
 *   computes reaches an output. Its producers are masked and shrink() cuts it out.
 * - unfed: every producer row is zero, so the channel is a constant whatever the input
 *   (act(bias), through batch norm and pooling). The constant is folded into the bias of each
 *   reader (a Linear: any constant; a Conv2d: a spatially uniform constant, and only without
 *   padding, since padding would read zeros where the channel is not zero), the reader's
 *   columns are zeroed, and the channel is then unreachable.
 * Channel groups (lib/prune/dependency.ts) say which layers produce, carry and read each
 * channel, across Flatten, Concat and residual Adds.
 */
import { Conv2d } from '../nn/layers/conv.js';
import { Linear } from '../nn/layers/linear.js';
import { addForwardHook } from '../nn/hooks.js';
import type { Module } from '../nn/module.js';
import type { Parameter } from '../nn/parameter.js';
import { noGrad, Tensor } from '../nn/tensor.js';
import { Graph } from '../nn/graph.js';
import { channelGroups, maskChannels, type ChannelConsumer, type ChannelGroup } from '../prune/dependency.js';
import { shrink } from '../prune/shrink.js';

export interface DeadUnitResult {
  model: Module;
  /** Removed channels / neurons (original indices) by producing layer. */
  removed: Record<string, number[]>;
  /** Channels whose constant value was folded into the readers' biases, by producing layer. */
  folded: Record<string, number[]>;
}

function rowZero(p: Parameter, c: number, channels: number): boolean {
  const cols = p.size / channels;
  for (let i = c * cols; i < (c + 1) * cols; i++) if (p.data[i] !== 0) return false;
  return true;
}

/** The flat indices of weight entries reading input index `k` (axis 1) of a [rows, inputs, ...inner] weight. */
function inputEntries(w: Parameter, k: number): number[] {
  const rows = w.shape[0]!;
  const inputs = w.shape[1]!;
  const inner = w.size / (rows * inputs);
  const out: number[] = [];
  for (let r = 0; r < rows; r++) for (let j = 0; j < inner; j++) out.push((r * inputs + k) * inner + j);
  return out;
}

/** Input indices along a reader's axis 1 that hold channel c. */
function readerIndices(consumer: ChannelConsumer, c: number): number[] {
  return Array.from({ length: consumer.span }, (_, j) => consumer.offset + c * consumer.span + j);
}

function unreadBy(w: Parameter, consumer: ChannelConsumer, c: number): boolean {
  return readerIndices(consumer, c).every((k) => inputEntries(w, k).every((i) => w.data[i] === 0));
}

/** Each reader's input on one zero sample: what constant an unfed channel holds. */
function readerInputs(model: Module, readers: Map<string, Module>, sampleShapes: number[][]): Map<string, Float32Array> {
  const seen = new Map<string, Float32Array>();
  const removers = [...readers].map(([name, m]) => addForwardHook(m, (_m, inputs) => seen.set(name, inputs[0]!.data.slice())));
  try {
    const xs = sampleShapes.map((s) => Tensor.zeros([...s, 1]));
    model.inEvalMode(() => noGrad(() => (model instanceof Graph ? model.run(xs) : model.forward(...xs))));
  } finally {
    for (const r of removers) r();
  }
  return seen;
}

/**
 * Folds the constant channel c into a reader's bias and zeroes the reader's weights for it.
 * Returns false (nothing changed) when that would not be exact.
 */
function foldInto(reader: Module, consumer: ChannelConsumer, c: number, input: Float32Array): boolean {
  if (reader instanceof Linear) {
    const w = reader.weight;
    const idx = readerIndices(consumer, c);
    const needsBias = idx.some((k) => input[k] !== 0);
    if (needsBias && reader.bias === null) return false;
    const [rows, cols] = w.shape as [number, number];
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      for (const k of idx) sum += w.data[r * cols + k]! * input[k]!;
      if (needsBias) reader.bias!.data[r]! += sum;
    }
    zeroEntries(w, idx.flatMap((k) => inputEntries(w, k)));
    return true;
  }
  if (reader instanceof Conv2d && reader.groups === 1) {
    const [, cin, kh, kw] = reader.weight.shape as [number, number, number, number];
    const plane = input.length / cin;
    const ch = consumer.offset + c * consumer.span;
    if (consumer.span !== 1) return false;
    const k = input[ch * plane]!;
    for (let i = 1; i < plane; i++) if (input[ch * plane + i] !== k) return false;
    const padded = reader.padding[0] > 0 || reader.padding[1] > 0;
    if (k !== 0 && (padded || reader.bias === null)) return false;
    const w = reader.weight;
    const entries = inputEntries(w, ch);
    if (k !== 0) {
      const per = kh * kw;
      for (let r = 0; r < w.shape[0]!; r++) {
        let sum = 0;
        for (let j = 0; j < per; j++) sum += w.data[(r * cin + ch) * per + j]!;
        reader.bias!.data[r]! += k * sum;
      }
    }
    zeroEntries(w, entries);
    return true;
  }
  return false;
}

function zeroEntries(w: Parameter, entries: number[]): void {
  for (const i of entries) w.data[i] = 0;
  if (w.mask) {
    const mask = w.mask.slice();
    for (const i of entries) mask[i] = 0;
    w.setMask(mask);
  }
}

/**
 * Removes unreachable and unfed units from `model` in place where exact, then returns the
 * shrunk copy. `model` should be a private copy: its weights are edited.
 */
export function removeDeadUnits(model: Module, sampleShapes: number[][]): DeadUnitResult {
  const params = new Map(model.namedParameters());
  const modules = new Map(model.namedModules());
  const groups = channelGroups(model, sampleShapes).filter((g) => g.prunable && g.consumers.length > 0);
  const folded: Record<string, number[]> = {};

  const unfed = (g: ChannelGroup, c: number) => g.producers.every((p) => rowZero(params.get(p.weight)!, c, g.channels));
  const unread = (g: ChannelGroup, c: number) => g.consumers.every((k) => unreadBy(params.get(k.weight)!, k, c));

  // Fold unfed channels first: one trace gives every reader's input on a zero sample.
  const pending = groups.flatMap((g) => Array.from({ length: g.channels }, (_, c) => ({ g, c })).filter(({ g, c }) => !unread(g, c) && unfed(g, c)));
  if (pending.length > 0) {
    const readers = new Map(pending.flatMap(({ g }) => g.consumers.map((k) => [k.module, modules.get(k.module)!] as const)));
    const inputs = readerInputs(model, readers, sampleShapes);
    for (const { g, c } of pending) {
      // All readers must accept the fold, or none is changed: foldInto says whether it was exact.
      const snapshot = g.consumers.map((k) => {
        const m = modules.get(k.module)! as Linear | Conv2d;
        return { w: m.weight.data.slice(), mask: m.weight.mask?.slice() ?? null, b: m.bias?.data.slice() ?? null, m };
      });
      const ok = g.consumers.every((k) => foldInto(modules.get(k.module)!, k, c, inputs.get(k.module)!));
      if (!ok) {
        for (const s of snapshot) {
          s.m.weight.data.set(s.w);
          s.m.weight.setMask(s.mask);
          if (s.b) s.m.bias!.data.set(s.b);
        }
        continue;
      }
      for (const p of g.producers) (folded[p.module] ??= []).push(c);
    }
  }

  for (const g of groups) {
    const keep = new Uint8Array(g.channels).fill(1);
    let any = false;
    for (let c = 0; c < g.channels; c++)
      if (!g.dead[c] && unread(g, c)) {
        keep[c] = 0;
        any = true;
      }
    if (any) maskChannels(model, g, keep);
  }
  const shrunk = shrink(model, sampleShapes);
  return { model: shrunk.model, removed: shrunk.removed, folded };
}
