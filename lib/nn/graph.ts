/**
 * Graph: a model as a directed acyclic graph of modules, for residual connections and several
 * inputs or outputs. Nodes are added in order and may only consume nodes that already exist,
 * so the insertion order is a topological order and a cycle cannot be built.
 *
 * ```ts
 * const g = new Graph();
 * const x = g.input('image');
 * const h = g.add('conv', new Conv2d(16, 16, 3, { padding: 1 }), x);
 * const r = g.add('relu', new ReLU(), h);
 * const s = g.add('residual', new Add(), r, x);
 * g.output('features', s);
 * ```
 * Parameters are named after their node: `conv.weight`.
 */
import { FormatError, ShapeError, SparsennTypeError } from '../errors.js';
import { Module, type ModuleConfig } from './module.js';
import type { Tensor } from './tensor.js';

/** A symbolic value in a Graph: an input or a node's output. */
export interface GraphValue {
  readonly graph: Graph;
  readonly name: string;
}

interface GraphNode {
  name: string;
  module: Module;
  inputs: string[];
}

export class Graph extends Module {
  private readonly inputNames: string[] = [];
  private readonly nodes: GraphNode[] = [];
  private readonly outputMap = new Map<string, string>();
  private readonly known = new Set<string>();

  /** Declares a model input; inputs are passed to forward() in declaration order. */
  input(name: string): GraphValue {
    this.claim(name);
    this.inputNames.push(name);
    return { graph: this, name };
  }

  /** Adds a node applying `module` to `inputs` (values of this graph, already defined). */
  add(name: string, module: Module, ...inputs: GraphValue[]): GraphValue {
    if (!(module instanceof Module)) throw new SparsennTypeError('ERR_TYPE', `node '${name}' needs a Module`);
    if (inputs.length === 0) throw new SparsennTypeError('ERR_TYPE', `node '${name}' needs at least one input`);
    for (const v of inputs)
      if (!v || v.graph !== this || !this.known.has(v.name))
        throw new FormatError('ERR_FORMAT', `node '${name}' consumes '${v?.name}', which is not an earlier value of this graph`);
    this.claim(name);
    this.registerModule(name, module);
    this.nodes.push({ name, module, inputs: inputs.map((v) => v.name) });
    return { graph: this, name };
  }

  /** Marks a value as a named model output (the first declared is forward()'s result). */
  output(name: string, value: GraphValue): void {
    if (!value || value.graph !== this || !this.known.has(value.name)) throw new FormatError('ERR_FORMAT', `output '${name}' must be a value of this graph`);
    if (this.outputMap.has(name)) throw new FormatError('ERR_FORMAT', `output '${name}' is declared twice`);
    this.outputMap.set(name, value.name);
  }

  get inputs(): readonly string[] {
    return this.inputNames;
  }

  get outputs(): readonly string[] {
    return [...this.outputMap.keys()];
  }

  /** Runs the graph; inputs positional (declaration order) or by name. Returns every output. */
  run(inputs: Tensor[] | Record<string, Tensor>): Record<string, Tensor> {
    if (this.outputMap.size === 0) throw new FormatError('ERR_FORMAT', 'the graph declares no output');
    const values = new Map<string, Tensor>();
    if (Array.isArray(inputs)) {
      if (inputs.length !== this.inputNames.length)
        throw new ShapeError('ERR_SHAPE', `the graph takes ${this.inputNames.length} inputs (${this.inputNames.join(', ')}), got ${inputs.length}`);
      this.inputNames.forEach((n, i) => values.set(n, inputs[i]!));
    } else {
      for (const n of this.inputNames) {
        const t = inputs[n];
        if (!t) throw new ShapeError('ERR_SHAPE', `missing graph input '${n}'`);
        values.set(n, t);
      }
    }
    // Free each intermediate once its last consumer has run.
    const lastUse = new Map<string, number>();
    this.nodes.forEach((node, i) => node.inputs.forEach((n) => lastUse.set(n, i)));
    const kept = new Set(this.outputMap.values());
    this.nodes.forEach((node, i) => {
      values.set(node.name, node.module.forward(...node.inputs.map((n) => values.get(n)!)));
      for (const n of node.inputs) if (lastUse.get(n) === i && !kept.has(n)) values.delete(n);
    });
    const out: Record<string, Tensor> = {};
    for (const [name, value] of this.outputMap) out[name] = values.get(value)!;
    return out;
  }

  /** The first declared output, given the inputs in declaration order. */
  forward(...inputs: Tensor[]): Tensor {
    const out = this.run(inputs);
    return out[this.outputs[0]!]!;
  }

  config(): ModuleConfig {
    return {
      type: 'Graph',
      inputs: [...this.inputNames],
      nodes: this.nodes.map((n) => ({ name: n.name, inputs: [...n.inputs], module: n.module.config() })),
      outputs: Object.fromEntries(this.outputMap),
    };
  }

  private claim(name: string): void {
    if (typeof name !== 'string' || name === '' || name.includes('.'))
      throw new SparsennTypeError('ERR_TYPE', `graph value names must be non-empty strings without '.', got '${String(name)}'`);
    if (this.known.has(name)) throw new FormatError('ERR_FORMAT', `graph value '${name}' is defined twice`);
    this.known.add(name);
  }
}
