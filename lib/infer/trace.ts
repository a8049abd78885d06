/**
 * The dataflow compile() lowers: the model traced once (lib/nn/trace.ts, batch 1, zero inputs)
 * with Sequential and Graph opened and every other module kept whole, turned into numbered
 * values (sample shapes) and calls between them.
 */
import { FormatError, ShapeError } from '../errors.js';
import { Graph } from '../nn/graph.js';
import type { Module } from '../nn/module.js';
import { Tensor } from '../nn/tensor.js';
import { containerLeaves, producers, sampleShapes, traceModel as traceLeaves } from '../nn/trace.js';

/** One value: a model input or a call's output; `shape` excludes the batch (the last axis). */
export interface TracedValue {
  readonly id: number;
  readonly shape: readonly number[];
}

export interface TracedCall {
  /** Full module name ('' for a model that is itself a leaf). */
  readonly name: string;
  readonly module: Module;
  readonly inputs: readonly number[];
  readonly output: number;
}

export interface TracedModel {
  readonly values: readonly TracedValue[];
  readonly inputs: ReadonlyArray<{ name: string; value: number }>;
  readonly outputs: ReadonlyArray<{ name: string; value: number }>;
  /** In execution order (a topological order). */
  readonly calls: readonly TracedCall[];
}

/** The shape of one sample per model input, validated (lib/nn/trace.ts) and counted. */
export function checkSampleShapes(sampleShape: unknown, inputCount: number): number[][] {
  const shapes = sampleShapes(sampleShape, 'compile');
  if (shapes.length !== inputCount) throw new ShapeError('ERR_SHAPE', `compile: the model takes ${inputCount} input(s); sampleShape gives ${shapes.length} shape(s)`);
  return shapes;
}

/** The names of a model's inputs: a Graph's own, otherwise one input called 'input'. */
export function inputNames(model: Module): string[] {
  return model instanceof Graph ? [...model.inputs] : ['input'];
}

export function traceModel(model: Module, sampleShapes: number[][]): TracedModel {
  const leaves = containerLeaves(model);
  for (const [name, m] of model.namedModules())
    if (leaves.has(m) && leaves.get(m) !== name) throw new FormatError('ERR_FORMAT', `module '${name}' appears twice in the model; compile needs each module once`);
  const trace = traceLeaves(
    model,
    sampleShapes.map((s) => Tensor.zeros([...s, 1])),
    leaves,
  );
  const { foreign } = producers(trace);
  if (foreign.length > 0)
    throw new FormatError('ERR_FORMAT', 'compile: the model computes between its layers outside any module (a custom container); make that computation a module of its own');
  const values: TracedValue[] = [];
  const ids = new Map<Tensor, number>();
  const define = (t: Tensor): number => {
    const id = values.length;
    values.push({ id, shape: t.shape.slice(0, -1) });
    ids.set(t, id);
    return id;
  };
  const names = inputNames(model);
  const inputs = trace.inputs.map((t, i) => ({ name: names[i]!, value: define(t) }));
  // A call that returns its input (Dropout in eval mode) still gets a value of its own.
  const calls = trace.calls.map((c) => ({ name: c.name, module: c.module, inputs: c.inputs.map((t) => ids.get(t)!), output: define(c.output) }));
  const outputs = Object.entries(trace.namedOutputs).map(([name, t]) => ({ name, value: ids.get(t)! }));
  return { values, inputs, outputs, calls };
}
