/**
 * What every operator converter shares: the graph being built, the opset, module naming, the
 * attribute readers and the errors that name the ONNX node at fault.
 */
import { FormatError, SparsennError } from '../../errors.js';
import type { Graph } from '../../nn/graph.js';
import type { Module } from '../../nn/module.js';
import { noGrad } from '../../nn/tensor.js';
import type { OnnxAttributeValue, OnnxNode, OnnxTensor } from './types.js';
import { chargeImportWork, maxImportElements, type ActValue, type ConstValue, type Value } from './values.js';

/** Turns any string into a Graph value name: letters, digits and '_' (no '.'), never empty. */
export function sanitizeName(name: string, fallback: string): string {
  const s = name.replace(/^[^A-Za-z0-9_]+/, '').replace(/[^A-Za-z0-9_]+/g, '_').replace(/_+$/, '');
  return s === '' ? fallback : s;
}

/**
 * A module's name from its ONNX node: PyTorch names nodes by scope and op ('/layer1/conv/Conv'),
 * so dropping the op gives 'layer1_conv' and parameter names like 'layer1_conv.weight'.
 */
export function moduleBaseName(node: ImportNode): string {
  const op = node.fused ? node.fused[0]! : node.opType;
  let n = node.name;
  const scoped = new RegExp(`/${op}(_\\d+)?$`);
  if (n && scoped.test(n)) {
    const stripped = n.replace(scoped, '');
    n = stripped.replace(/[^A-Za-z0-9]/g, '') !== '' ? stripped : node.fused ? '' : n;
  }
  if (!n) n = node.fused ? node.opType.toLowerCase() : (node.outputs[0] ?? '');
  return sanitizeName(n, node.opType.toLowerCase());
}

/** A node as the importer sees it: the ONNX node and its position in the graph. */
export interface ImportNode extends OnnxNode {
  readonly index: number;
  /** For a node the pre-pass fused from a pattern: the original op types, first node first. */
  readonly fused?: readonly string[];
}

/** How a node is named in messages: its name, or its position and first output. */
export function nodeLabel(node: ImportNode): string {
  const op = node.fused ? `${node.fused.join(' + ')}, imported as one ${node.opType}` : node.opType;
  return node.name ? `node '${node.name}' (${op})` : `node #${node.index} (${op}, output '${node.outputs[0] ?? ''}')`;
}

export class ImportContext {
  readonly graph: Graph;
  /** The default-domain opset the model imports. */
  readonly opset: number;
  /** The batch size every graph input declares when all declare the same fixed one, else null. */
  readonly fixedBatch: number | null;
  private readonly used = new Set<string>();

  constructor(graph: Graph, opset: number, fixedBatch: number | null) {
    this.graph = graph;
    this.opset = opset;
    this.fixedBatch = fixedBatch;
  }

  /** Throws a FormatError naming the node. */
  fail(node: ImportNode, message: string): never {
    throw new FormatError('ERR_FORMAT', `ONNX import: ${nodeLabel(node)}: ${message}`);
  }

  /** A graph value name not used yet, from `base`. */
  uniqueName(base: string): string {
    let name = base;
    for (let i = 2; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  /**
   * Adds `module` to the graph on `inputs` and runs it on their probes (in eval mode, without
   * gradients) to learn its output shape. `tag` distinguishes several modules of one node.
   */
  emit(node: ImportNode, module: Module, inputs: readonly ActValue[], tag?: string): ActValue {
    module.eval();
    let probe;
    try {
      probe = noGrad(() => module.forward(...inputs.map((i) => i.probe)));
    } catch (e) {
      // A corrupt file can ask for outputs no typed array holds.
      if (e instanceof RangeError) this.fail(node, `its output is too large to compute (${e.message})`);
      if (!(e instanceof SparsennError)) throw e;
      const shapes = inputs.map((i) => `[N, ${i.shape.join(', ')}]`).join(' and ');
      this.fail(node, `${module.constructor.name} cannot take the ONNX input${inputs.length > 1 ? 's' : ''} ${shapes}: ${e.message}`);
    }
    chargeImportWork(probe.size + inputs.reduce((sum, i) => sum + i.probe.size, 0));
    const base = moduleBaseName(node);
    const ref = this.graph.add(this.uniqueName(tag ? `${base}_${tag}` : base), module, ...inputs.map((i) => i.ref));
    if (probe.size > maxImportElements()) this.fail(node, `its output [N, ${probe.shape.slice(0, -1).join(', ')}] has more than ${maxImportElements()} values per sample`);
    return { kind: 'act', ref, shape: probe.shape.slice(0, -1), probe };
  }

  /** Input `i` of the node as an activation (FormatError when it is a constant or absent). */
  act(node: ImportNode, inputs: ReadonlyArray<Value | undefined>, i: number, what = `input ${i}`): ActValue {
    const v = inputs[i];
    if (!v) this.fail(node, `${what} is missing`);
    if (v.kind !== 'act') this.fail(node, `${what} must depend on the graph input, got a constant`);
    return v;
  }

  /** Input `i` of the node as a constant (FormatError when it depends on the graph input). */
  konst(node: ImportNode, inputs: ReadonlyArray<Value | undefined>, i: number, what = `input ${i}`): ConstValue {
    const v = inputs[i];
    if (!v) this.fail(node, `${what} is missing`);
    if (v.kind !== 'const')
      this.fail(node, `${what} must be a constant (an initializer, a Constant node, or shape arithmetic sparsenn folds at import), got a value computed from the graph input`);
    return v;
  }

  /** A constant input with no dependence on the batch size, as plain numbers. */
  numbers(node: ImportNode, inputs: ReadonlyArray<Value | undefined>, i: number, what = `input ${i}`): number[] {
    const c = this.konst(node, inputs, i, what);
    if (c.batch) this.fail(node, `${what} depends on the batch size, which this operator cannot take`);
    return Array.from(c.data);
  }

  attrs(node: ImportNode): Attrs {
    return new Attrs(node, this);
  }
}

/** Typed access to a node's attributes, with defaults; a wrong type is a FormatError naming the node. */
export class Attrs {
  private readonly map = new Map<string, OnnxAttributeValue>();
  constructor(
    private readonly node: ImportNode,
    private readonly ctx: ImportContext,
  ) {
    for (const a of node.attributes) this.map.set(a.name, a.value);
  }

  has(name: string): boolean {
    return this.map.has(name);
  }

  names(): string[] {
    return [...this.map.keys()];
  }

  /** The value of attribute `name` (checked to be of `type`), or undefined when absent. */
  private get(name: string, type: OnnxAttributeValue['type']): unknown {
    const v = this.map.get(name);
    if (v === undefined) return undefined;
    if (v.type !== type) this.ctx.fail(this.node, `attribute '${name}' must be of type ${type}, got ${v.type}`);
    return v.value;
  }

  int(name: string, def: number): number;
  int(name: string): number | undefined;
  int(name: string, def?: number): number | undefined {
    return (this.get(name, 'int') as number | undefined) ?? def;
  }

  float(name: string, def: number): number;
  float(name: string): number | undefined;
  float(name: string, def?: number): number | undefined {
    return (this.get(name, 'float') as number | undefined) ?? def;
  }

  string(name: string, def: string): string;
  string(name: string): string | undefined;
  string(name: string, def?: string): string | undefined {
    return (this.get(name, 'string') as string | undefined) ?? def;
  }

  ints(name: string, def: number[]): number[];
  ints(name: string): number[] | undefined;
  ints(name: string, def?: number[]): number[] | undefined {
    return (this.get(name, 'ints') as number[] | undefined) ?? def;
  }

  floats(name: string): number[] | undefined {
    return this.get(name, 'floats') as number[] | undefined;
  }

  tensor(name: string): OnnxTensor | undefined {
    return this.get(name, 'tensor') as OnnxTensor | undefined;
  }
}
