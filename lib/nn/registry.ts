/**
 * Rebuilding modules from their config() JSON: the architecture saved beside the weights.
 * Every layer type is listed here once; containers (Sequential, Graph) rebuild their children
 * recursively. An unknown type or a malformed config is a FormatError naming the path.
 */
import { FormatError, LimitError } from '../errors.js';
import { checkLimit, resolveLimits, type LoadLimits } from '../limits.js';
import { Graph, type GraphValue } from './graph.js';
import { withStateBudget } from './state-arrays.js';
import {
  Add,
  Concat,
  Dropout,
  Flatten,
  GELU,
  HardSigmoid,
  HardSwish,
  LeakyReLU,
  ReLU,
  Reshape,
  Sigmoid,
  Softmax,
  Tanh,
} from './layers/activations.js';
import { Conv2d } from './layers/conv.js';
import { Embedding } from './layers/embedding.js';
import { Linear } from './layers/linear.js';
import { BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm } from './layers/norm.js';
import { AvgPool2d, GlobalAvgPool, MaxPool2d } from './layers/pool.js';
import { Sequential } from './layers/sequential.js';
import { AlongAxis, ConstantPad } from './layers/axis.js';
import { Clip, ConvTranspose2d, Elementwise, Gather, Identity, MatMulActs, ReduceMean, Resize, Slice, Transpose, Unary } from './layers/tensor-ops.js';
import type { Module, ModuleConfig } from './module.js';

type Factory = (config: ModuleConfig) => Module;

const layers: Record<string, Factory> = {
  Linear: (c) => Linear.fromConfig(c),
  Conv2d: (c) => Conv2d.fromConfig(c),
  MaxPool2d: (c) => MaxPool2d.fromConfig(c),
  AvgPool2d: (c) => AvgPool2d.fromConfig(c),
  GlobalAvgPool: () => GlobalAvgPool.fromConfig(),
  BatchNorm1d: (c) => BatchNorm1d.fromConfig(c),
  BatchNorm2d: (c) => BatchNorm2d.fromConfig(c),
  LayerNorm: (c) => LayerNorm.fromConfig(c),
  GroupNorm: (c) => GroupNorm.fromConfig(c),
  Embedding: (c) => Embedding.fromConfig(c),
  ReLU: () => ReLU.fromConfig(),
  LeakyReLU: (c) => LeakyReLU.fromConfig(c),
  GELU: (c) => GELU.fromConfig(c),
  Tanh: () => Tanh.fromConfig(),
  Sigmoid: () => Sigmoid.fromConfig(),
  HardSwish: () => HardSwish.fromConfig(),
  HardSigmoid: () => HardSigmoid.fromConfig(),
  Softmax: (c) => Softmax.fromConfig(c),
  Dropout: (c) => Dropout.fromConfig(c),
  Flatten: () => Flatten.fromConfig(),
  Reshape: (c) => Reshape.fromConfig(c),
  Add: () => Add.fromConfig(),
  Concat: (c) => Concat.fromConfig(c),
  Elementwise: (c) => Elementwise.fromConfig(c),
  Unary: (c) => Unary.fromConfig(c),
  Clip: (c) => Clip.fromConfig(c),
  MatMulActs: () => MatMulActs.fromConfig(),
  Transpose: (c) => Transpose.fromConfig(c),
  Slice: (c) => Slice.fromConfig(c),
  Gather: (c) => Gather.fromConfig(c),
  ReduceMean: (c) => ReduceMean.fromConfig(c),
  Resize: (c) => Resize.fromConfig(c),
  ConvTranspose2d: (c) => ConvTranspose2d.fromConfig(c),
  Identity: () => Identity.fromConfig(),
  AlongAxis: (c) => AlongAxis.fromConfig(c),
  ConstantPad: (c) => ConstantPad.fromConfig(c),
};

const custom = new Map<string, Factory>();

/** Errors that already name their path (the rest get it added on the way out). */
const located = new WeakSet<Error>();

function fail(message: string): never {
  const e = new FormatError('ERR_FORMAT', message);
  located.add(e);
  throw e;
}

/** Registers a user-defined module type so saved models containing it can be loaded. */
export function registerModuleType(type: string, factory: Factory): void {
  if (Object.hasOwn(layers, type) || type === 'Sequential' || type === 'Graph') throw new FormatError('ERR_FORMAT', `module type '${type}' is built in`);
  custom.set(type, factory);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The build in progress: its depth and module count against the limits. Module types that
 * hold modules (AlongAxis) call moduleFromConfig from their factory; such a nested call
 * continues this budget instead of starting a fresh one.
 */
let active: { depth: number; nodes: number; maxDepth: number; maxNodes: number } | null = null;

function build(config: unknown, path: string, depth: number): Module {
  const budget = active!;
  checkLimit(`the architecture's nesting at ${path}`, depth, budget.maxDepth, 'maxDepth');
  checkLimit('the number of modules in the architecture', ++budget.nodes, budget.maxNodes, 'maxNodes');
  if (!isObject(config) || typeof config['type'] !== 'string') fail(`module config at ${path} needs a string 'type'`);
  const c = config as ModuleConfig;
  const outer = budget.depth;
  budget.depth = depth;
  try {
    if (c.type === 'Sequential') {
      const list = c['layers'];
      if (!Array.isArray(list)) fail(`Sequential at ${path} needs a 'layers' array`);
      const seq = new Sequential();
      list.forEach((entry: unknown, i) => {
        if (!isObject(entry) || typeof entry['name'] !== 'string') fail(`Sequential at ${path}: layer ${i} needs a name and a module`);
        seq.append(build(entry['module'], `${path}.${entry['name']}`, depth + 1), entry['name']);
      });
      return seq;
    }
    if (c.type === 'Graph') {
      const g = new Graph();
      const values = new Map<string, GraphValue>();
      const inputs = c['inputs'];
      const nodes = c['nodes'];
      const outputs = c['outputs'];
      if (!Array.isArray(inputs) || !Array.isArray(nodes) || !isObject(outputs))
        fail(`Graph at ${path} needs 'inputs', 'nodes' and 'outputs'`);
      for (const name of inputs) values.set(String(name), g.input(String(name)));
      for (const node of nodes) {
        if (!isObject(node) || typeof node['name'] !== 'string' || !Array.isArray(node['inputs']))
          fail(`Graph at ${path}: every node needs a name, inputs and a module`);
        const ins = (node['inputs'] as unknown[]).map((n) => {
          const v = values.get(String(n));
          if (!v) fail(`Graph at ${path}: node '${node['name']}' consumes unknown value '${String(n)}'`);
          return v;
        });
        values.set(node['name'], g.add(node['name'], build(node['module'], `${path}.${node['name']}`, depth + 1), ...ins));
      }
      for (const [name, value] of Object.entries(outputs)) {
        const v = values.get(String(value));
        if (!v) fail(`Graph at ${path}: output '${name}' names unknown value '${String(value)}'`);
        g.output(name, v);
      }
      return g;
    }
    const factory = Object.hasOwn(layers, c.type) ? layers[c.type] : custom.get(c.type);
    if (!factory) fail(`unknown module type '${c.type}' at ${path} (register custom types with registerModuleType)`);
    return factory(c);
  } catch (e) {
    if ((e instanceof FormatError && located.has(e)) || e instanceof LimitError) throw e;
    fail(`module config at ${path} (${c.type}) is invalid: ${(e as Error).message}`);
  } finally {
    budget.depth = outer;
  }
}

/**
 * Builds a module (with fresh weights) from its config() JSON.
 * @throws {FormatError} ERR_FORMAT for an invalid config; {LimitError} ERR_LIMIT past
 * `limits.maxDepth` (default 256) or `limits.maxNodes` (default 100,000) modules.
 */
export function moduleFromConfig(config: unknown, limits?: Pick<LoadLimits, 'maxDepth' | 'maxNodes' | 'maxElements'>): Module {
  if (active) return build(config, 'model', active.depth + 1);
  const l = resolveLimits(limits, 0);
  active = { depth: 0, nodes: 0, maxDepth: l.maxDepth, maxNodes: l.maxNodes };
  try {
    // Only an explicit maxElements bounds the state the constructors allocate (the loaders pass
    // the file's; building a model in code is not bounded).
    return withStateBudget(limits?.maxElements ?? Infinity, () => build(config, 'model', 0));
  } finally {
    active = null;
  }
}
