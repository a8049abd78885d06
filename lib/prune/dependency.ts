/**
 * Channel dependency groups (DepGraph, Fang et al. 2023): which output channels of which layers
 * must be removed together for a model to stay well formed, found by tracing the model once.
 *
 * A {@link ChannelGroup} starts at a producer (a Linear's output features = weight rows, a
 * Conv2d's filters) and follows its channels through the layers that keep channels apart:
 * batch norm (its per-channel weight, bias and running statistics follow the channel), the
 * element-wise activations, dropout, pooling, Flatten (channel c becomes the features
 * c*S ... (c+1)*S-1 of what follows, S the spatial size), Concat along channels (an offset) and
 * depthwise convolutions (filter c reads only channel c). An Add couples every input: the
 * producers on both sides of a residual join one group, since channel c of the sum is made of
 * channel c of each. The group ends at its consumers, the Linear / Conv2d layers that read it
 * (their weight columns, or input-channel slices). Anything that mixes channels in a way that
 * cannot be sliced (LayerNorm, GroupNorm, Softmax, Reshape, Embedding, a grouped convolution
 * that is not depthwise, module types this file does not know, code in a custom forward() that
 * is not a module) blocks the group, as does reaching a model output.
 *
 * Tracing: one forward pass of a batch of two zero samples in eval mode, with forward hooks on
 * every leaf module; layers are linked by tensor identity (the output Tensor of one leaf is an
 * input of the next), which works for Sequential, Graph and nested containers alike. The pass
 * records gradients (it does not run backward): the recorded autograd graph shows every op that
 * used a layer's output, so a use outside any leaf module — a custom container doing arithmetic
 * in its forward() — is caught and blocks the group instead of silently breaking the shrunk
 * model. That is why channelGroups() must not be called inside noGrad().
 */
import { FormatError, ShapeError, SparsennTypeError } from '../errors.js';
import { Graph } from '../nn/graph.js';
import { addForwardHook } from '../nn/hooks.js';
import { Add, Concat, Dropout, Flatten, GELU, HardSigmoid, HardSwish, LeakyReLU, ReLU, Sigmoid, Tanh } from '../nn/layers/activations.js';
import { Conv2d } from '../nn/layers/conv.js';
import { Linear } from '../nn/layers/linear.js';
import { BatchNorm1d, BatchNorm2d, type BatchNormBase } from '../nn/layers/norm.js';
import { AvgPool2d, GlobalAvgPool, MaxPool2d } from '../nn/layers/pool.js';
import { Module } from '../nn/module.js';
import type { Parameter } from '../nn/parameter.js';
import { isGradEnabled, Tensor } from '../nn/tensor.js';

/** A layer whose output channels (weight rows / filters) are the group's channels, row c = channel c. */
export interface ChannelProducer {
  /** Full module name, e.g. 'block1.conv'. */
  readonly module: string;
  /** Full parameter names of the weight ([channels, ...]) and the bias ([channels]) or null. */
  readonly weight: string;
  readonly bias: string | null;
}

/**
 * A layer that carries the group's channels one by one (batch norm, a depthwise convolution):
 * channel c of the group is its entries offset + c*span ... offset + (c+1)*span - 1 along the
 * first axis of each listed parameter and buffer (span > 1 after a Flatten: a BatchNorm1d over
 * flattened conv features).
 */
export interface CoupledChannels {
  readonly module: string;
  readonly kind: 'batchnorm' | 'depthwise';
  /** Per-channel parameters: batch norm weight and bias (when affine), depthwise filter and bias. */
  readonly params: readonly string[];
  /** Per-channel buffers: batch norm running_mean and running_var (when tracked). */
  readonly buffers: readonly string[];
  readonly offset: number;
  readonly span: number;
}

/**
 * A layer that reads the group's channels: channel c is the input index range
 * offset + c*span ... offset + (c+1)*span - 1 of the consumer's weight along axis 1 (a Linear's
 * columns; a Conv2d's input channels). `offset` comes from a Concat, `span` is the spatial size
 * a Flatten folded into the features (1 otherwise).
 */
export interface ChannelConsumer {
  readonly module: string;
  readonly weight: string;
  readonly offset: number;
  readonly span: number;
}

/** A set of output channels that can only be removed together, channel c in every member at once. */
export interface ChannelGroup {
  /** Index in the list channelGroups() returns. */
  readonly id: number;
  /** Channels in the group (every producer has this many outputs). */
  readonly channels: number;
  readonly producers: readonly ChannelProducer[];
  readonly coupled: readonly CoupledChannels[];
  readonly consumers: readonly ChannelConsumer[];
  /**
   * Whether channels of this group can be removed: masking a channel (maskChannels) then makes
   * it exactly zero wherever it is consumed, and shrink() can cut it out.
   */
  readonly prunable: boolean;
  /** Why the group is not prunable (empty when it is). */
  readonly reasons: readonly string[];
  /**
   * 1 for channels that were dead when the groups were computed: exactly zero for every input
   * wherever they are consumed (producer rows and biases zero, or a following batch norm's
   * weight and bias zero; through an Add, on every side). Always 0 in a group that is not prunable.
   */
  readonly dead: Uint8Array;
}

/** The shape of one sample (batch excluded), or one per model input. */
export type SampleShapes = readonly number[] | ReadonlyArray<readonly number[]>;

// --------------------------------------------------------------------------- tracing ----

interface Call {
  module: Module;
  name: string;
  inputs: readonly Tensor[];
  output: Tensor;
}

interface Trace {
  calls: Call[];
  outputs: Tensor[];
}

function checkShapes(sampleShape: unknown): number[][] {
  if (!Array.isArray(sampleShape))
    throw new SparsennTypeError('ERR_TYPE', `the sample shape must be an array of dimensions (or one array per model input), got ${typeof sampleShape}`);
  const shapes = sampleShape.length > 0 && Array.isArray(sampleShape[0]) ? (sampleShape as unknown[]) : [sampleShape];
  return shapes.map((s, i) => {
    if (!Array.isArray(s)) throw new SparsennTypeError('ERR_TYPE', `sample shape ${i} must be an array of dimensions`);
    for (const d of s)
      if (typeof d !== 'number' || !Number.isInteger(d) || d < 1)
        throw new ShapeError('ERR_SHAPE', `a sample shape holds positive integers (batch excluded), got [${s.join(', ')}]`);
    return [...(s as number[])];
  });
}

/** Runs the model once on zeros with hooks on every leaf module; restores modes and hooks. */
function trace(model: Module, shapes: number[][], leaves: Map<Module, string>): Trace {
  const calls: Call[] = [];
  const removers: Array<() => void> = [];
  return model.inEvalMode(() => {
    try {
      for (const [m, name] of leaves)
        removers.push(addForwardHook(m, (mod, inputs, output) => calls.push({ module: mod, name, inputs: [...inputs], output })));
      // requiresGrad on the input makes every op downstream record its inputs (see the file note).
      const inputs = shapes.map((s) => Tensor.zeros([...s, 2], true));
      const outputs = model instanceof Graph ? Object.values(model.run(inputs)) : [model.forward(...inputs)];
      return { calls, outputs };
    } finally {
      for (const r of removers) r();
    }
  });
}

// ------------------------------------------------------------------------ the analysis ----

/**
 * Where one group's channels sit along the first axis of a traced tensor: channel c is indices
 * offset + c*span ... offset + (c+1)*span - 1. `zero[c]`: the channel is exactly zero for any
 * input with the model's current values; `masked[c]`: it would be after maskChannels() on every
 * group; `why` says what made `masked` fail.
 */
interface Segment {
  readonly group: number;
  readonly offset: number;
  readonly span: number;
  readonly channels: number;
  readonly zero: Uint8Array;
  readonly masked: Uint8Array;
  readonly why: string | null;
}

interface Draft {
  channels: number;
  producers: ChannelProducer[];
  coupled: CoupledChannels[];
  consumers: ChannelConsumer[];
  reasons: string[];
  /** The zero flags of the group where each consumer reads it. */
  edges: Array<{ zero: Uint8Array; masked: Uint8Array; why: string | null; consumer: string }>;
}

function join(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}.${name}`;
}

function ones(n: number): Uint8Array {
  return new Uint8Array(n).fill(1);
}

/** Whether rows [r*cols, (r+1)*cols) of `data` are all zero. */
function rowIsZero(data: Float32Array, r: number, cols: number): boolean {
  for (let i = r * cols; i < (r + 1) * cols; i++) if (data[i] !== 0) return false;
  return true;
}

/** Activations with f(0) = 0: a zero channel stays zero. */
const zeroKeeping = new Set<unknown>([ReLU, LeakyReLU, GELU, Tanh, HardSwish]);
/** Activations with f(0) != 0: the channel structure passes, but a zeroed channel becomes a constant. */
const zeroMoving = new Set<unknown>([Sigmoid, HardSigmoid]);
/** Layers that keep channels apart and keep zeros zero (pooling, dropout at inference). */
const passThrough = new Set<unknown>([Dropout, MaxPool2d, AvgPool2d, GlobalAvgPool]);

class Analysis {
  private readonly drafts: Draft[] = [];
  private readonly parent: number[] = [];
  private readonly layouts = new Map<Tensor, Segment[]>();

  constructor(private readonly shared: Set<Module>) {}

  private newGroup(channels: number): number {
    this.drafts.push({ channels, producers: [], coupled: [], consumers: [], reasons: [], edges: [] });
    this.parent.push(this.parent.length);
    return this.parent.length - 1;
  }

  find(g: number): number {
    while (this.parent[g] !== g) {
      this.parent[g] = this.parent[this.parent[g]!]!;
      g = this.parent[g]!;
    }
    return g;
  }

  private union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }

  private block(g: number, reason: string): void {
    this.drafts[g]!.reasons.push(reason);
  }

  layoutOf(t: Tensor): Segment[] {
    return this.layouts.get(t) ?? [];
  }

  blockTensor(t: Tensor, reason: string): void {
    for (const s of this.layoutOf(t)) this.block(s.group, reason);
  }

  private setLayout(call: Call, layout: Segment[]): void {
    if (call.inputs.includes(call.output)) return; // an identity (dropout in eval mode)
    if (layout.length > 0) this.layouts.set(call.output, layout);
  }

  /** One leaf call, in execution order. */
  visit(call: Call): void {
    const { module: m, name } = call;
    const type = m.constructor;
    const kind = `${type.name} '${name}'`;
    if (this.shared.has(m)) {
      for (const x of call.inputs) this.blockTensor(x, `${kind} is used more than once or shares its parameters, so its channels cannot be sliced for one use`);
      return;
    }
    const x = call.inputs[0];
    if (x === undefined) return;
    if (type === Linear) return this.linear(call, m as Linear);
    if (type === Conv2d) return this.conv(call, m as Conv2d);
    if (type === BatchNorm1d || type === BatchNorm2d) return this.batchNorm(call, m as BatchNormBase);
    if (zeroKeeping.has(type) || passThrough.has(type)) return this.setLayout(call, this.layoutOf(x));
    if (zeroMoving.has(type)) {
      const why = `${kind} maps a zeroed channel to a nonzero constant`;
      const layout = this.layoutOf(x).map((s) => ({ ...s, zero: new Uint8Array(s.channels), masked: new Uint8Array(s.channels), why }));
      return this.setLayout(call, layout);
    }
    if (type === Flatten) {
      const inner = x.rank >= 2 ? x.size / x.batch / x.shape[0]! : 1;
      return this.setLayout(call, this.layoutOf(x).map((s) => ({ ...s, offset: s.offset * inner, span: s.span * inner })));
    }
    if (type === Add && call.inputs.length === 2) return this.add(call, kind);
    if (type === Concat) return this.concat(call, kind);
    for (const t of call.inputs) this.blockTensor(t, `${kind} mixes channels in a way that cannot be sliced`);
  }

  /** Records `x`'s segments as read by the weight columns of `module` (span scaled by `inner`). */
  private consume(x: Tensor, module: string, weight: string, inner: number): void {
    for (const s of this.layoutOf(x)) {
      const d = this.drafts[s.group]!;
      d.consumers.push({ module, weight, offset: s.offset * inner, span: s.span * inner });
      d.edges.push({ zero: s.zero, masked: s.masked, why: s.why, consumer: module });
    }
  }

  /** A new group for the outputs of a Linear / Conv2d: zero where the weight row and bias are. */
  private produce(call: Call, weight: Parameter, bias: Parameter | null): void {
    const rows = weight.shape[0]!;
    const cols = weight.size / rows;
    const g = this.newGroup(rows);
    this.drafts[g]!.producers.push({ module: call.name, weight: join(call.name, 'weight'), bias: bias ? join(call.name, 'bias') : null });
    const zero = new Uint8Array(rows);
    for (let r = 0; r < rows; r++) zero[r] = rowIsZero(weight.data, r, cols) && (!bias || bias.data[r] === 0) ? 1 : 0;
    this.setLayout(call, [{ group: g, offset: 0, span: 1, channels: rows, zero, masked: ones(rows), why: null }]);
  }

  private linear(call: Call, m: Linear): void {
    const x = call.inputs[0]!;
    const inner = x.rank >= 2 ? x.size / x.batch / x.shape[0]! : 1;
    this.consume(x, call.name, join(call.name, 'weight'), inner);
    this.produce(call, m.weight, m.bias);
  }

  private conv(call: Call, m: Conv2d): void {
    const x = call.inputs[0]!;
    const kind = `Conv2d '${call.name}'`;
    if (m.groups === 1) {
      for (const s of this.layoutOf(x)) if (s.span !== 1) this.block(s.group, `${kind} reads channels that were reshaped`);
      this.consume(x, call.name, join(call.name, 'weight'), 1);
      return this.produce(call, m.weight, m.bias);
    }
    if (m.groups !== m.inChannels || m.groups !== m.outChannels) {
      this.blockTensor(x, `${kind} is a grouped convolution (${m.groups} groups of ${m.inChannels} channels), which mixes channels within a group`);
      return;
    }
    // Depthwise: output c = filter c * input c + bias c, so channel c of the input, filter c and
    // bias c are one channel of the group.
    const params = [join(call.name, 'weight'), ...(m.bias ? [join(call.name, 'bias')] : [])];
    const cols = m.weight.size / m.outChannels;
    const layout = this.layoutOf(x).map((s) => {
      if (s.span !== 1) this.block(s.group, `${kind} reads channels that were reshaped`);
      this.drafts[s.group]!.coupled.push({ module: call.name, kind: 'depthwise', params, buffers: [], offset: s.offset, span: 1 });
      const zero = new Uint8Array(s.channels);
      for (let c = 0; c < s.channels; c++) {
        const k = s.offset + c;
        const biasZero = !m.bias || m.bias.data[k] === 0;
        zero[c] = biasZero && (s.zero[c] === 1 || rowIsZero(m.weight.data, k, cols)) ? 1 : 0;
      }
      return { ...s, zero, masked: ones(s.channels), why: null };
    });
    this.setLayout(call, layout);
  }

  private batchNorm(call: Call, m: BatchNormBase): void {
    const x = call.inputs[0]!;
    const params = m.affine ? [join(call.name, 'weight'), join(call.name, 'bias')] : [];
    const buffers = m.trackRunningStats ? [join(call.name, 'running_mean'), join(call.name, 'running_var')] : [];
    const w = m.weight?.data;
    const b = m.bias?.data;
    const mean = m.runningMean;
    // Zero out for every input (eval and training mode): bias 0 and either weight 0, or a zero
    // input with a zero running mean (training mode normalises a zero channel to zero).
    const zeroAt = (k: number, inZero: boolean): boolean =>
      (b ? b[k] === 0 : true) && ((w ? w[k] === 0 : false) || (inZero && (!mean || mean[k] === 0)));
    const layout = this.layoutOf(x).map((s) => {
      this.drafts[s.group]!.coupled.push({ module: call.name, kind: 'batchnorm', params, buffers, offset: s.offset, span: s.span });
      const zero = new Uint8Array(s.channels);
      const masked = new Uint8Array(s.channels);
      for (let c = 0; c < s.channels; c++) {
        let z = 1;
        for (let j = 0; j < s.span && z; j++) if (!zeroAt(s.offset + c * s.span + j, s.zero[c] === 1)) z = 0;
        zero[c] = z;
        // masking zeroes an affine norm's weight and bias; without them only batch statistics
        // keep a zeroed channel at zero
        masked[c] = m.affine || (s.masked[c] === 1 && !mean) ? 1 : 0;
      }
      const why = masked.every((v) => v === 1) ? s.why : `${m.constructor.name} '${call.name}' has no weight and bias to mask and its running mean shifts a zeroed channel`;
      return { ...s, zero, masked, why };
    });
    this.setLayout(call, layout);
  }

  /** Channel c of the sum is channel c of both inputs: aligned segments join one group. */
  private add(call: Call, kind: string): void {
    const [a, b] = [this.layoutOf(call.inputs[0]!), this.layoutOf(call.inputs[1]!)];
    const out: Segment[] = [];
    const matched = new Set<Segment>();
    const dead = (s: Segment): Segment => ({ ...s, zero: new Uint8Array(s.channels), masked: new Uint8Array(s.channels), why: s.why ?? `${kind} adds it to other values` });
    for (const s of a) {
      const t = b.find((u) => u.offset === s.offset && u.span === s.span && u.channels === s.channels);
      if (t) {
        matched.add(t);
        this.union(s.group, t.group);
        const zero = s.zero.map((v, c) => v & t.zero[c]!);
        const masked = s.masked.map((v, c) => v & t.masked[c]!);
        out.push({ ...s, zero, masked, why: s.why ?? t.why });
      } else {
        this.block(s.group, `${kind} adds these channels to ${b.some((u) => overlaps(u, s)) ? 'channel ranges that do not line up with them' : 'channels that cannot be removed (a model input or an untracked value)'}`);
        out.push(dead(s));
      }
    }
    for (const t of b)
      if (!matched.has(t)) {
        this.block(t.group, `${kind} adds these channels to ${a.some((u) => overlaps(u, t)) ? 'channel ranges that do not line up with them' : 'channels that cannot be removed (a model input or an untracked value)'}`);
        out.push(dead(t));
      }
    this.setLayout(call, out);
  }

  private concat(call: Call, kind: string): void {
    const ins = call.inputs;
    const first = ins[0]!;
    const out = call.output;
    const along0 =
      ins.length === 1 ||
      (out.shape[0] === ins.reduce((n, t) => n + t.shape[0]!, 0) && out.rank === first.rank && out.shape.every((d, k) => k === 0 || d === first.shape[k]));
    if (!along0) {
      for (const t of ins) this.blockTensor(t, `${kind} joins along an axis other than the channels`);
      return;
    }
    const layout: Segment[] = [];
    let offset = 0;
    for (const t of ins) {
      for (const s of this.layoutOf(t)) layout.push({ ...s, offset: s.offset + offset });
      offset += t.shape[0]!;
    }
    this.setLayout(call, layout);
  }

  /** The groups, merged by their union-find roots, in order of their first producer. */
  finish(): ChannelGroup[] {
    const merged = new Map<number, Draft>();
    for (let g = 0; g < this.drafts.length; g++) {
      const root = this.find(g);
      const d = this.drafts[g]!;
      const acc = merged.get(root);
      if (!acc) merged.set(root, { ...d, producers: [...d.producers], coupled: [...d.coupled], consumers: [...d.consumers], reasons: [...d.reasons], edges: [...d.edges] });
      else {
        acc.producers.push(...d.producers);
        acc.coupled.push(...d.coupled);
        acc.consumers.push(...d.consumers);
        acc.reasons.push(...d.reasons);
        acc.edges.push(...d.edges);
      }
    }
    return [...merged.values()].map((d, id) => {
      const reasons = [...new Set(d.reasons)];
      if (d.consumers.length === 0 && reasons.length === 0) reasons.push('its channels reach no layer that reads them (an unused output)');
      for (const e of d.edges)
        if (e.masked.some((v) => v === 0)) reasons.push(`${e.why ?? 'a layer on the way'} before '${e.consumer}' reads it, so a masked channel would not be zero there`);
      const uniqueReasons = [...new Set(reasons)];
      const prunable = uniqueReasons.length === 0;
      const dead = new Uint8Array(d.channels);
      if (prunable) for (let c = 0; c < d.channels; c++) dead[c] = d.edges.every((e) => e.zero[c] === 1) ? 1 : 0;
      return { id, channels: d.channels, producers: d.producers, coupled: d.coupled, consumers: d.consumers, prunable, reasons: uniqueReasons, dead };
    });
  }
}

function overlaps(a: Segment, b: Segment): boolean {
  return a.offset < b.offset + b.channels * b.span && b.offset < a.offset + a.channels * a.span;
}

/**
 * Modules with per-channel state (parameters or buffers) that cannot be sliced for one use:
 * in the tree under two names, called twice, or sharing a parameter with another module.
 * Stateless layers (a ReLU instance used twice) are fine.
 */
function sharedModules(model: Module, calls: readonly Call[]): Set<Module> {
  const shared = new Set<Module>();
  const seen = new Set<Module>();
  const owners = new Map<Parameter, Module>();
  const stateful = (m: Module): boolean => m.namedParameters().length > 0 || m.namedBuffers().length > 0;
  for (const [, m] of model.namedModules()) {
    if (m.children().length > 0) continue;
    if (seen.has(m) && stateful(m)) shared.add(m);
    seen.add(m);
    for (const [, p] of m.namedParameters()) {
      const other = owners.get(p);
      if (other && other !== m) {
        shared.add(m);
        shared.add(other);
      }
      owners.set(p, m);
    }
  }
  const count = new Map<Module, number>();
  for (const c of calls) count.set(c.module, (count.get(c.module) ?? 0) + 1);
  for (const [m, n] of count) if (n > 1 && stateful(m)) shared.add(m);
  return shared;
}

/**
 * Blocks the groups of every leaf output that an op outside its consuming leaf modules used:
 * walks the recorded autograd graph back from the model outputs, knowing which ops belong to
 * which leaf call (those between the call's inputs and its output).
 */
function checkUntracedUses(analysis: Analysis, calls: readonly Call[], outputs: readonly Tensor[]): void {
  const producedBy = new Map<Tensor, Call>();
  for (const c of calls) if (!c.inputs.includes(c.output)) producedBy.set(c.output, c);
  const owner = new Map<Tensor, Call>();
  for (const c of calls) {
    if (!producedBy.has(c.output) || owner.has(c.output)) continue;
    owner.set(c.output, c);
    const stack = [c.output];
    while (stack.length > 0) {
      for (const y of stack.pop()!.node?.inputs ?? []) {
        if (c.inputs.includes(y) || producedBy.has(y) || !y.node || owner.has(y)) continue;
        owner.set(y, c);
        stack.push(y);
      }
    }
  }
  const seen = new Set<Tensor>(outputs);
  const stack = [...outputs];
  while (stack.length > 0) {
    const t = stack.pop()!;
    const node = t.node;
    if (!node) continue;
    const o = owner.get(t);
    for (const y of node.inputs) {
      if (producedBy.has(y) && !(o && o.inputs.includes(y)))
        analysis.blockTensor(y, `the output of '${producedBy.get(y)!.name}' is used by code outside any layer module (op '${node.op}' in a custom forward())`);
      if (!seen.has(y)) {
        seen.add(y);
        stack.push(y);
      }
    }
    // the recorded graph was only needed for this walk: drop it now
    node.release?.();
    t.node = null;
  }
}

/**
 * The channel groups of `model`, found by tracing one forward pass of two zero samples of
 * `sampleShape` (the shape of one sample without the batch, e.g. [3, 32, 32]; one shape per
 * input for a Graph with several inputs). The model's modes, weights and hooks are left as they
 * were. Must be called with gradient recording on (not inside noGrad()).
 */
export function channelGroups(model: Module, sampleShape: SampleShapes): ChannelGroup[] {
  if (!(model instanceof Module)) throw new SparsennTypeError('ERR_TYPE', 'channelGroups needs a Module');
  const shapes = checkShapes(sampleShape);
  if (!isGradEnabled())
    throw new SparsennTypeError(
      'ERR_TYPE',
      'channelGroups traces the model with gradient recording on, to see every use of every layer output; call it outside noGrad()',
    );
  if (model instanceof Graph && model.inputs.length !== shapes.length)
    throw new ShapeError('ERR_SHAPE', `the graph takes ${model.inputs.length} inputs (${model.inputs.join(', ')}), got ${shapes.length} sample shapes`);
  const leaves = new Map<Module, string>();
  for (const [name, m] of model.namedModules()) if (m.children().length === 0 && !leaves.has(m)) leaves.set(m, name);
  const { calls, outputs } = trace(model, shapes, leaves);
  const analysis = new Analysis(sharedModules(model, calls));
  for (const call of calls) analysis.visit(call);
  checkUntracedUses(analysis, calls, outputs);
  for (const t of outputs) analysis.blockTensor(t, 'its channels reach a model output');
  return analysis.finish();
}

// ----------------------------------------------------------------------------- masking ----

function paramsByName(model: Module): Map<string, Parameter> {
  return new Map(model.namedParameters());
}

function lookup(params: Map<string, Parameter>, name: string): Parameter {
  const p = params.get(name);
  if (!p) throw new FormatError('ERR_FORMAT', `the group names parameter '${name}', which the model does not have (was the group found on another model?)`);
  return p;
}

/** A planned mask edit: rows (first-axis entries) of `param` to prune, seen as `rowCount` rows. */
interface RowMask {
  param: Parameter;
  rows: readonly number[];
  rowCount: number;
}

function checkRows(e: RowMask, name: string): RowMask {
  if (e.param.shape[0] !== e.rowCount || e.rows.some((r) => r >= e.rowCount))
    throw new ShapeError('ERR_SHAPE', `parameter '${name}' [${e.param.shape.join(', ')}] does not have the rows the channel group expects (${e.rowCount})`);
  return e;
}

/** Zeroes, in a copy of the parameter's mask, every entry of the listed rows. */
function applyRows({ param: p, rows, rowCount }: RowMask): void {
  const cols = p.size / rowCount;
  const mask = p.mask ? p.mask.slice() : ones(p.size);
  for (const r of rows) mask.fill(0, r * cols, (r + 1) * cols);
  p.setMask(mask);
}

/**
 * Masks the channels of `group` with keep[c] = 0 so that each one's output is exactly zero:
 * producer weight rows and bias entries, batch norm weight and bias entries, depthwise filters
 * and biases. Existing masks are kept (the new mask is their AND with the channel mask);
 * consumers are not touched (a zero channel contributes nothing to them), so shrink() can later
 * remove the channels without changing the model's outputs.
 */
export function maskChannels(model: Module, group: ChannelGroup, keep: Uint8Array): void {
  if (!(model instanceof Module)) throw new SparsennTypeError('ERR_TYPE', 'maskChannels needs a Module');
  if (!(keep instanceof Uint8Array)) throw new SparsennTypeError('ERR_TYPE', 'maskChannels: keep must be a Uint8Array of 0/1 per channel');
  if (keep.length !== group.channels) throw new ShapeError('ERR_SHAPE', `maskChannels: keep has ${keep.length} entries, the group has ${group.channels} channels`);
  const removed: number[] = [];
  keep.forEach((k, c) => {
    if (k > 1) throw new SparsennTypeError('ERR_TYPE', `maskChannels: keep entries must be 0 or 1, found ${k} at ${c}`);
    if (k === 0) removed.push(c);
  });
  if (removed.length === 0) return;
  if (!group.prunable) throw new FormatError('ERR_FORMAT', `channel group ${group.id} cannot be pruned: ${group.reasons.join('; ')}`);
  const params = paramsByName(model);
  // Look everything up and check every shape before changing anything, so a group found on
  // another model leaves this one as it was.
  const plan: RowMask[] = [];
  for (const p of group.producers) {
    plan.push(checkRows({ param: lookup(params, p.weight), rows: removed, rowCount: group.channels }, p.weight));
    if (p.bias !== null) plan.push(checkRows({ param: lookup(params, p.bias), rows: removed, rowCount: group.channels }, p.bias));
  }
  for (const c of group.coupled) {
    // entries offset + ch*span ... + span - 1 along the first axis
    const rows = removed.flatMap((ch) => Array.from({ length: c.span }, (_, j) => c.offset + ch * c.span + j));
    for (const name of c.params) {
      const param = lookup(params, name);
      plan.push(checkRows({ param, rows, rowCount: param.shape[0]! }, name));
    }
  }
  for (const e of plan) applyRows(e);
}

/**
 * Per-channel importance from per-weight scores (e.g. a Criterion's output by parameter name):
 * the sum of the scores of the kept weights of every producer row of the channel. Scores of
 * -Infinity (already pruned weights) are skipped; a channel with nothing kept scores -Infinity.
 */
export function channelScores(group: ChannelGroup, scoresByParamName: Readonly<Record<string, Float32Array>>): Float64Array {
  const out = new Float64Array(group.channels);
  const kept = new Uint8Array(group.channels);
  for (const p of group.producers) {
    const s = scoresByParamName[p.weight];
    if (!(s instanceof Float32Array)) throw new FormatError('ERR_FORMAT', `channelScores: no Float32Array of scores for '${p.weight}'`);
    if (s.length % group.channels !== 0)
      throw new ShapeError('ERR_SHAPE', `channelScores: '${p.weight}' has ${s.length} scores, not a multiple of the group's ${group.channels} channels`);
    const cols = s.length / group.channels;
    for (let c = 0; c < group.channels; c++)
      for (let i = c * cols; i < (c + 1) * cols; i++) {
        const v = s[i]!;
        if (v === -Infinity) continue;
        out[c]! += v;
        kept[c] = 1;
      }
  }
  for (let c = 0; c < group.channels; c++) if (!kept[c]) out[c] = -Infinity;
  return out;
}
