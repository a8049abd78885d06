/**
 * compile(): a trained (and usually pruned) model becomes an InferenceSession. On a private copy
 * of the model it removes units that cannot affect the outputs, traces the dataflow, folds
 * batch norms and fuses bias and ReLU into the products, plans buffers, and picks each layer's
 * weight format (dense, CSR, N:M, block, and for convolutions the direct sparse kernel) by timing
 * the formats that hold its weights exactly,
 * for each expected batch size, on this machine (timings cached per machine, see timing.ts).
 */
import { FormatError, IndexRangeError, SparsennTypeError } from '../errors.js';
import { Module } from '../nn/module.js';
import { moduleFromConfig } from '../nn/registry.js';
import { UNLIMITED } from '../limits.js';
import { getThreads, capabilities } from '../runtime.js';
import { removeDeadUnits } from './dead-units.js';
import { candidates, forcedCandidate, type FormatCandidate, type FormatName } from './formats.js';
import type { LayerKernel } from './layer-kernels.js';
import { lower, nonzeros, type Op, type ProductOp } from './lower.js';
import type { PlanLayer, PlanReport } from './plan-report.js';
import { InferenceSession, type SessionValue } from './session.js';
import { AddStep, ConcatStep, GeluStep, MaxPoolStep, ModuleStep, ProductStep, ReluStep, type Step } from './steps.js';
import { defaultCachePath, KernelTimer, type TimingCache } from './timing.js';
import { checkSampleShapes, inputNames, traceModel, type TracedModel } from './trace.js';
import { CudaChainStep, planOnDevice } from './cuda.js';

export interface CompileOptions {
  /** One sample's input shape without the batch (one per input of a multi-input Graph). */
  sampleShape: readonly number[] | ReadonlyArray<readonly number[]>;
  /** Batch sizes to tune the kernel choice for (default [1, 32]); a run uses the nearest. */
  batchSizes?: readonly number[];
  /**
   * 'auto' (default): time the formats that fit each layer and take the fastest. A format name
   * ('dense', 'csr', 'nm', '2:4', 'bsr', 'bsr 4x1', ...) forces it on every layer; a record
   * forces it per layer name (others stay 'auto').
   */
  formats?: 'auto' | FormatName | Readonly<Record<string, FormatName>>;
  /** The timing cache file, or false for none (default: defaultCachePath()). */
  timingCache?: TimingCache;
  /** Remove units that cannot reach an output or that no input reaches (default true). */
  removeDeadUnits?: boolean;
  /**
   * 'cpu' (default), or 'cuda': run the model on the GPU of a CUDA build (chains of Linear
   * layers with ReLU so far). When that cannot be (a build without CUDA, no GPU now, a layer
   * with no CUDA kernel) the session is compiled for the CPU and `onWarning` says why;
   * session.plan().device tells where it runs.
   */
  device?: 'cpu' | 'cuda';
  /** Receives the reason a 'cuda' session fell back to the CPU (default: process.emitWarning). */
  onWarning?: (message: string) => void;
}

function privateCopy(model: Module): Module {
  let copy: Module;
  try {
    copy = moduleFromConfig(structuredClone(model.config()), UNLIMITED);
  } catch (e) {
    throw new FormatError('ERR_FORMAT', `compile works on a copy rebuilt from config(); this model cannot be rebuilt (${(e as Error).message}). Register custom modules with registerModuleType().`);
  }
  copy.loadStateDict(model.stateDict(), { masks: model.masks() });
  copy.eval();
  return copy;
}

function checkBatchSizes(b: unknown): number[] {
  if (b === undefined) return [1, 32];
  if (!Array.isArray(b) || b.length === 0 || b.some((v) => typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1 << 20))
    throw new IndexRangeError('ERR_RANGE', `batchSizes must be a non-empty array of positive integers, got ${JSON.stringify(b)}`);
  return [...new Set(b as number[])].sort((x, y) => x - y);
}

/** Value → the value whose buffer it shares (aliases resolve to their source). */
function storageRoots(traced: TracedModel, ops: Op[]): number[] {
  const root = traced.values.map((v) => v.id);
  for (const op of ops) if (op.kind === 'alias') root[op.output] = root[op.input]!;
  return root;
}

function opInputs(op: Op): readonly number[] {
  return op.kind === 'product' || op.kind === 'alias' || op.kind === 'maxpool' ? [op.input] : op.inputs;
}

/** Greedy buffer sharing: a value's buffer is free again after its last reader. */
function planSlots(traced: TracedModel, ops: Op[], root: number[], valueSizes: number[]): { slotOf: number[]; slotSizes: number[] } {
  const isInput = new Set(traced.inputs.map((i) => i.value));
  const lastUse = new Map<number, number>();
  ops.forEach((op, i) => opInputs(op).forEach((v) => lastUse.set(root[v]!, i)));
  for (const o of traced.outputs) lastUse.set(root[o.value]!, Infinity);
  const slotOf = new Array<number>(traced.values.length).fill(-1);
  const slotSizes: number[] = [];
  const free: number[] = [];
  const releaseAt = new Map<number, number[]>();
  ops.forEach((op, i) => {
    if (op.kind !== 'alias') {
      const r = root[op.output]!;
      const need = valueSizes[r]!;
      // The smallest free slot that fits, else the largest free one grown, else a new slot.
      free.sort((a, b) => slotSizes[a]! - slotSizes[b]!);
      let k = free.findIndex((s) => slotSizes[s]! >= need);
      if (k < 0 && free.length > 0) k = free.length - 1;
      const slot = k >= 0 ? free.splice(k, 1)[0]! : slotSizes.push(0) - 1;
      slotSizes[slot] = Math.max(slotSizes[slot]!, need);
      slotOf[r] = slot;
      const end = lastUse.get(r) ?? i;
      if (end !== Infinity) (releaseAt.get(end) ?? releaseAt.set(end, []).get(end)!).push(slot);
    }
    for (const s of releaseAt.get(i) ?? []) free.push(s);
  });
  // Aliases live in their source's slot.
  return { slotOf: slotOf.map((s, v) => (isInput.has(root[v]!) ? -1 : slotOf[root[v]!]!)), slotSizes };
}

interface Choice {
  perBucket: LayerKernel[];
  layer: PlanLayer;
}

/** What decides a layer's timings besides format, stored count and batch: its shapes. */
function layerKey(op: ProductOp): string {
  const c = op.conv;
  const conv = c ? `|conv${[c.c, c.h, c.w, c.kh, c.kw, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw].join(',')}` : '';
  return `${op.groups}x${op.rows}x${op.cols}${conv}${op.relu ? '|relu' : ''}`;
}

function chooseFormats(op: ProductOp, batchSizes: number[], forced: FormatName | null, timer: KernelTimer, built: LayerKernel[]): Choice {
  const all = candidates(op);
  const cache = new Map<string, LayerKernel>();
  const build = (c: FormatCandidate) => {
    let k = cache.get(c.format);
    if (!k) {
      k = c.build();
      cache.set(c.format, k);
    }
    return k;
  };
  const positions = op.conv ? op.conv.oh * op.conv.ow : 1;
  const inputLen = op.conv ? op.conv.c * op.conv.h * op.conv.w : op.cols;
  const outputLen = op.groups * op.rows * positions;
  const key = layerKey(op);
  const formats: Record<string, string> = {};
  const timings: Record<string, Record<string, number>> = {};
  const perBucket: LayerKernel[] = [];
  for (const b of batchSizes) {
    let pick: FormatCandidate;
    if (forced !== null) {
      pick = forcedCandidate(all, forced, op.name);
      timings[String(b)] = {};
    } else {
      const t: Record<string, number> = {};
      for (const c of all) if (c.worthTiming) t[c.format] = timer.time(build(c), key, inputLen, outputLen, b);
      timings[String(b)] = t;
      pick = all.filter((c) => c.worthTiming).reduce((best, c) => (t[c.format]! < t[best.format]! ? c : best));
    }
    formats[String(b)] = pick.format;
    perBucket.push(build(pick));
  }
  const chosen = new Set(perBucket);
  for (const k of cache.values()) {
    if (chosen.has(k)) built.push(k);
    else k.dispose();
  }
  const nnz = nonzeros(op.weight);
  return {
    perBucket,
    layer: {
      name: op.name,
      fused: op.fused,
      kind: op.conv ? 'conv' : 'linear',
      rows: op.rows,
      cols: op.cols,
      groups: op.groups,
      nnz,
      density: op.weight.length === 0 ? 0 : nnz / op.weight.length,
      positions,
      formats,
      timings,
      reason: forced !== null ? 'forced' : 'timed',
    },
  };
}

function forcedFor(formats: CompileOptions['formats'], name: string): FormatName | null {
  if (formats === undefined || formats === 'auto') return null;
  if (typeof formats === 'string') return formats;
  return formats[name] ?? null;
}

/** Compiles `model` into an InferenceSession (the model itself is not changed). */
export function compile(model: Module, opts: CompileOptions): InferenceSession {
  if (!(model instanceof Module)) throw new SparsennTypeError('ERR_TYPE', `compile needs a Module, got ${model === null ? 'null' : typeof model}`);
  if (opts === null || typeof opts !== 'object') throw new SparsennTypeError('ERR_TYPE', 'compile needs options with at least { sampleShape }');
  const batchSizes = checkBatchSizes(opts.batchSizes);
  const f = opts.formats;
  if (f !== undefined && typeof f !== 'string' && (f === null || typeof f !== 'object'))
    throw new SparsennTypeError('ERR_TYPE', `formats must be 'auto', a format name or a record of format names by layer, got ${typeof f}`);
  let copy = privateCopy(model);
  const shapes = checkSampleShapes(opts.sampleShape, inputNames(copy).length);
  let removedUnits: Record<string, number[]> = {};
  let foldedUnits: Record<string, number[]> = {};
  if (opts.removeDeadUnits ?? true) {
    const r = removeDeadUnits(copy, shapes);
    copy = r.model;
    copy.eval();
    removedUnits = r.removed;
    foldedUnits = r.folded;
  }
  const traced = traceModel(copy, shapes);
  const ops = lower(traced);
  if (f !== undefined && typeof f === 'object') {
    const products = new Set(ops.filter((o) => o.kind === 'product').map((o) => o.name));
    const unknown = Object.keys(f).filter((k) => !products.has(k));
    if (unknown.length > 0)
      throw new IndexRangeError('ERR_RANGE', `formats names layer(s) ${unknown.map((k) => `'${k}'`).join(', ')} that are not products of the compiled model; products: ${[...products].join(', ') || 'none'}`);
  }

  const root = storageRoots(traced, ops);
  const valueSizes = traced.values.map((v) => v.shape.reduce((a, b) => a * b, 1));
  const { slotOf, slotSizes } = planSlots(traced, ops, root, valueSizes);
  const inputIndex = new Map(traced.inputs.map((inp, i) => [inp.value, i]));
  const inputOf = traced.values.map((v) => inputIndex.get(root[v.id]!) ?? -1);

  const device = opts.device ?? 'cpu';
  if (device !== 'cpu' && device !== 'cuda') throw new IndexRangeError('ERR_RANGE', `device must be 'cpu' or 'cuda', got ${JSON.stringify(device)}`);
  if (opts.onWarning !== undefined && typeof opts.onWarning !== 'function') throw new SparsennTypeError('ERR_TYPE', 'onWarning must be a function');
  const io = (list: ReadonlyArray<{ name: string; value: number }>): SessionValue[] => list.map((x) => ({ name: x.name, value: x.value, shape: traced.values[x.value]!.shape }));
  const inputs = io(traced.inputs);
  const outputs = io(traced.outputs);
  const base = {
    inputs: inputs.map((i) => ({ name: i.name, shape: [...i.shape] })),
    outputs: outputs.map((o) => ({ name: o.name, shape: [...o.shape] })),
    batchSizes,
    removedUnits,
    foldedUnits,
    isa: capabilities().isa,
    threads: getThreads(),
  };
  let deviceNote: string | null = null;
  const warn = (message: string): void => (opts.onWarning ? opts.onWarning(message) : void process.emitWarning(message, { code: 'SPARSENN_CUDA_FALLBACK' }));
  if (device === 'cuda') {
    const onDevice = planOnDevice(ops, inputs.map((i) => i.value), outputs.map((o) => o.value), batchSizes);
    if (typeof onDevice !== 'string') {
      const { plan, chain, layers } = onDevice;
      if (opts.formats !== undefined && opts.formats !== 'auto') warn(`formats is ignored on the CUDA path (each layer is CSR at density <= 50%, else dense)`);
      const report: PlanReport = { ...base, layers, steps: [`cuda chain ${chain.layers.map((l) => l.name).join(' → ')}`], device: 'cuda', deviceNote: null };
      return new InferenceSession({ inputs, outputs, steps: [new CudaChainStep(plan, chain.input, chain.output)], slotOf, slotSizes, valueSizes, inputOf, batchSizes, kernels: [], release: [() => plan.dispose()], report });
    }
    deviceNote = `device 'cuda' was asked for but the session runs on the CPU: ${onDevice}`;
    warn(deviceNote);
  }

  const timer = new KernelTimer(opts.timingCache === undefined ? defaultCachePath() : opts.timingCache);
  const kernels: LayerKernel[] = [];
  const layers: PlanLayer[] = [];
  const steps: Step[] = [];
  const stepNames: string[] = [];
  const shapeOf = (v: number) => traced.values[v]!.shape;
  try {
    for (const op of ops) {
      switch (op.kind) {
        case 'product': {
          const choice = chooseFormats(op, batchSizes, forcedFor(f, op.name), timer, kernels);
          layers.push(choice.layer);
          steps.push(new ProductStep(op.name, op.input, op.output, choice.perBucket));
          stepNames.push(`${op.conv ? 'conv' : 'linear'} ${op.name}${op.fused.length > 0 ? ` (+${op.fused.join(', ')})` : ''}`);
          break;
        }
        case 'alias':
          continue;
        case 'relu':
          steps.push(new ReluStep(op.inputs[0]!, op.output));
          stepNames.push(`relu ${op.name}`);
          break;
        case 'gelu':
          steps.push(new GeluStep(op.inputs[0]!, op.output));
          stepNames.push(`gelu ${op.name}`);
          break;
        case 'add':
          steps.push(new AddStep(op.inputs[0]!, op.inputs[1]!, op.output));
          stepNames.push(`add ${op.name}`);
          break;
        case 'concat':
          steps.push(new ConcatStep(op.inputs, op.output));
          stepNames.push(`concat ${op.name}`);
          break;
        case 'maxpool':
          steps.push(new MaxPoolStep(op.input, op.output, op.geometry));
          stepNames.push(`maxpool ${op.name}`);
          break;
        case 'module':
          steps.push(new ModuleStep(op.module, op.inputs.map((v) => ({ value: v, shape: shapeOf(v) })), op.output));
          stepNames.push(`module ${op.name} (${op.module.constructor.name})`);
          break;
      }
    }
  } catch (e) {
    for (const k of kernels) k.dispose();
    throw e;
  } finally {
    timer.save();
  }
  const report: PlanReport = { ...base, layers, steps: stepNames, device: 'cpu', deviceNote };
  return new InferenceSession({ inputs, outputs, steps, slotOf, slotSizes, valueSizes, inputOf, batchSizes, kernels, release: [], report });
}
