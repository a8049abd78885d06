/**
 * The module system: layers and models own parameters, buffers and child modules under
 * stable names, so a parameter's full name is its path (`fc1.weight`, `block2.conv.bias`),
 * the same names PyTorch gives, and state dicts line up with safetensors files.
 */
import { FormatError, ShapeError, SparsennTypeError } from '../errors.js';
import { Parameter } from './parameter.js';
import type { Tensor } from './tensor.js';

/** A module's constructor arguments as plain JSON, enough to rebuild it (see registry.ts). */
export interface ModuleConfig {
  type: string;
  [key: string]: unknown;
}

/** A named tensor in a state dict: shape and a copy of the values. */
export interface StateEntry {
  shape: number[];
  data: Float32Array;
}

export abstract class Module {
  /** Training mode (dropout active, batch norm uses batch statistics). */
  training = true;
  private readonly paramMap = new Map<string, Parameter>();
  private readonly bufferMap = new Map<string, { shape: number[]; data: Float32Array }>();
  private readonly childMap = new Map<string, Module>();

  /** The forward pass. Inputs and outputs are batch-last tensors. */
  abstract forward(...inputs: Tensor[]): Tensor;

  /** The constructor arguments, for saving the architecture with the weights. */
  abstract config(): ModuleConfig;

  /** Calls forward(). */
  call(...inputs: Tensor[]): Tensor {
    return this.forward(...inputs);
  }

  protected registerParameter(name: string, p: Parameter): Parameter {
    this.checkFree(name);
    this.paramMap.set(name, p);
    return p;
  }

  /** A non-trained state array (e.g. batch norm running statistics), saved in the state dict. */
  protected registerBuffer(name: string, data: Float32Array, shape: number[] = [data.length]): Float32Array {
    this.checkFree(name);
    this.bufferMap.set(name, { shape, data });
    return data;
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    this.checkFree(name);
    if (!(m instanceof Module)) throw new SparsennTypeError('ERR_TYPE', `child '${name}' must be a Module`);
    this.childMap.set(name, m);
    return m;
  }

  /** A new member name: valid, and not already a parameter, buffer or child of this module. */
  private checkFree(name: string): void {
    checkName(name);
    if (this.paramMap.has(name) || this.bufferMap.has(name) || this.childMap.has(name))
      throw new FormatError('ERR_FORMAT', `'${name}' is already a member of this ${this.constructor.name}; member names must be unique`);
  }

  /** Direct children with their names. */
  children(): Array<[string, Module]> {
    return [...this.childMap];
  }

  /** Every module in the tree (this one first, name ''), depth-first, with full names. */
  namedModules(prefix = ''): Array<[string, Module]> {
    const out: Array<[string, Module]> = [[prefix, this]];
    for (const [name, child] of this.childMap) out.push(...child.namedModules(join(prefix, name)));
    return out;
  }

  /** Every parameter in the tree with its full name, in registration order. */
  namedParameters(prefix = ''): Array<[string, Parameter]> {
    const out: Array<[string, Parameter]> = [];
    const seen = new Set<Parameter>();
    for (const [modName, m] of this.namedModules(prefix))
      for (const [name, p] of m.paramMap)
        if (!seen.has(p)) {
          seen.add(p);
          out.push([join(modName, name), p]);
        }
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Every buffer in the tree with its full name. */
  namedBuffers(prefix = ''): Array<[string, { shape: number[]; data: Float32Array }]> {
    const out: Array<[string, { shape: number[]; data: Float32Array }]> = [];
    const seen = new Set<Float32Array>(); // a module used twice lists its buffers once
    for (const [modName, m] of this.namedModules(prefix))
      for (const [name, b] of m.bufferMap)
        if (!seen.has(b.data)) {
          seen.add(b.data);
          out.push([join(modName, name), b]);
        }
    return out;
  }

  /** Sets training mode on this module and every descendant. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Evaluation mode: train(false). */
  eval(): this {
    return this.train(false);
  }

  /**
   * Runs `fn` with every module in eval mode, then restores each module's own mode (a
   * submodule the user froze in eval mode stays so; train(wasTraining) would flatten them).
   */
  inEvalMode<T>(fn: () => T): T {
    const modes = this.namedModules().map(([, m]) => [m, m.training] as const);
    this.eval();
    try {
      return fn();
    } finally {
      for (const [m, mode] of modes) m.training = mode;
    }
  }

  /** Parameters and buffers by full name, copied. Masks are in masks(). */
  stateDict(): Record<string, StateEntry> {
    const out: Record<string, StateEntry> = {};
    for (const [name, p] of this.namedParameters()) out[name] = { shape: [...p.shape], data: p.data.slice() };
    for (const [name, b] of this.namedBuffers()) out[name] = { shape: [...b.shape], data: b.data.slice() };
    return out;
  }

  /** The masks of masked parameters by the parameter's full name. */
  masks(): Record<string, Uint8Array> {
    const out: Record<string, Uint8Array> = {};
    for (const [name, p] of this.namedParameters()) if (p.mask) out[name] = p.mask.slice();
    return out;
  }

  /**
   * Copies values into parameters and buffers by full name. With `strict` (default) every
   * parameter and buffer must be present and nothing else; shapes must match exactly. Masks
   * (by parameter name) are applied when given.
   */
  loadStateDict(
    state: Record<string, { shape: readonly number[]; data: Float32Array }>,
    opts: { strict?: boolean; masks?: Record<string, Uint8Array | null> } = {},
  ): void {
    const strict = opts.strict ?? true;
    const targets = new Map<string, { shape: readonly number[]; data: Float32Array; param?: Parameter }>();
    for (const [name, p] of this.namedParameters()) targets.set(name, { shape: p.shape, data: p.data, param: p });
    for (const [name, b] of this.namedBuffers()) targets.set(name, b);
    if (strict) {
      const missing = [...targets.keys()].filter((k) => !(k in state));
      const unexpected = Object.keys(state).filter((k) => !targets.has(k));
      if (missing.length > 0 || unexpected.length > 0)
        throw new FormatError(
          'ERR_FORMAT',
          `state dict does not match the model: missing [${missing.join(', ')}], unexpected [${unexpected.join(', ')}]`,
        );
    }
    // Check everything before changing anything, so a bad dict leaves the model as it was.
    for (const [name, entry] of Object.entries(state)) {
      const t = targets.get(name);
      if (!t) continue;
      if (!(entry.data instanceof Float32Array)) throw new SparsennTypeError('ERR_TYPE', `state '${name}' must hold a Float32Array`);
      if (t.shape.length !== entry.shape.length || t.shape.some((d, i) => d !== entry.shape[i]))
        throw new ShapeError('ERR_SHAPE', `state '${name}' has shape [${entry.shape.join(', ')}], the model expects [${t.shape.join(', ')}]`);
      if (entry.data.length !== t.data.length)
        throw new ShapeError('ERR_SHAPE', `state '${name}' has ${entry.data.length} values, expected ${t.data.length}`);
    }
    const masks = opts.masks ?? {};
    for (const [name, mask] of Object.entries(masks)) {
      const t = targets.get(name);
      if (!t?.param) throw new FormatError('ERR_FORMAT', `mask '${name}' names no parameter of the model`);
      if (mask === null) continue;
      if (!(mask instanceof Uint8Array)) throw new SparsennTypeError('ERR_TYPE', `mask '${name}' must be a Uint8Array of 0/1 or null`);
      if (mask.length !== t.data.length) throw new ShapeError('ERR_SHAPE', `mask '${name}' has ${mask.length} entries, the parameter has ${t.data.length}`);
      for (let i = 0; i < mask.length; i++)
        if (mask[i]! > 1) throw new SparsennTypeError('ERR_TYPE', `mask '${name}' entry ${i} is ${mask[i]}, expected 0 or 1`);
    }
    for (const [name, entry] of Object.entries(state)) {
      const t = targets.get(name);
      if (t) t.data.set(entry.data);
    }
    // New masks (null removes one); a parameter that keeps its mask gets its pruned weights
    // zeroed again, since the loaded values may hold anything there.
    for (const [name, t] of targets) {
      if (!t.param) continue;
      if (Object.hasOwn(masks, name)) t.param.setMask(masks[name]!);
      else t.param.applyMask();
    }
  }

  /** Number of parameters (kept ones only when `kept`). */
  parameterCount(kept = false): number {
    let n = 0;
    for (const p of this.parameters()) n += kept ? Math.round(p.density() * p.size) : p.size;
    return n;
  }
}

function join(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}.${name}`;
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name === '' || name.includes('.'))
    throw new SparsennTypeError('ERR_TYPE', `module member names must be non-empty strings without '.', got '${String(name)}'`);
}
