/**
 * One traced forward pass, shared by the analyses: every call of every leaf module (a module
 * without children) with the tensors it received and returned, in execution order.
 *
 * Layers are linked by tensor identity: the output Tensor of one call is an input of the next.
 * This works for Sequential, Graph and nested containers alike, and it shows when a container
 * computes something itself (arithmetic in a custom forward()): a leaf then receives a tensor no
 * leaf produced, which {@link producers} reports, and the analyses refuse or flag it instead of
 * silently leaving that computation out.
 */
import { ShapeError, SparsennTypeError } from '../errors.js';
import { Graph } from './graph.js';
import { Linear } from './layers/linear.js';
import { Sequential } from './layers/sequential.js';
import { withForwardHooks } from './hooks.js';
import { Module } from './module.js';
import { noGrad, Tensor } from './tensor.js';

/** One call of a leaf module. */
export interface LeafCall {
  readonly module: Module;
  /** The module's full name ('' when the model itself is a leaf). */
  readonly name: string;
  readonly inputs: readonly Tensor[];
  readonly output: Tensor;
}

export interface ModelTrace {
  readonly calls: readonly LeafCall[];
  /** The model's inputs, in Graph declaration order (one for other models). */
  readonly inputs: readonly Tensor[];
  /** The model's outputs: every declared Graph output (distinct tensors), else forward()'s result. */
  readonly outputs: readonly Tensor[];
  /** Every output by name: a Graph's declared outputs, or `output` for other models. */
  readonly namedOutputs: Readonly<Record<string, Tensor>>;
}

/** The shape of one sample (batch excluded), or one per model input. */
export type SampleShape = readonly number[] | ReadonlyArray<readonly number[]>;

/** Modules without children, each with its first full name. */
export function leafModules(model: Module): Map<Module, string> {
  const leaves = new Map<Module, string>();
  for (const [name, m] of model.namedModules()) if (m.children().length === 0 && !leaves.has(m)) leaves.set(m, name);
  return leaves;
}

/** Validates a sample shape (or one per input) and returns one shape per model input. */
export function sampleShapes(sampleShape: unknown, what: string): number[][] {
  if (!Array.isArray(sampleShape) || sampleShape.length === 0)
    throw new SparsennTypeError('ERR_TYPE', `${what}: sampleShape must be a non-empty array of dimensions (or one array per model input), got ${JSON.stringify(sampleShape)}`);
  const shapes = Array.isArray(sampleShape[0]) ? (sampleShape as unknown[]) : [sampleShape];
  return shapes.map((s, i) => {
    if (!Array.isArray(s) || s.length === 0) throw new SparsennTypeError('ERR_TYPE', `${what}: sample shape ${i} must be a non-empty array of dimensions`);
    for (const d of s)
      if (typeof d !== 'number' || !Number.isInteger(d) || d < 1)
        throw new ShapeError('ERR_SHAPE', `${what}: a sample shape holds positive integers (batch excluded), got [${s.join(', ')}]`);
    return [...(s as number[])];
  });
}

/**
 * The modules inside Sequential and Graph containers, each with its full name: every other
 * module, children or not, is one operation (its forward() is what runs). This is what
 * compile() lowers; leafModules() looks inside custom containers too.
 */
export function containerLeaves(model: Module): Map<Module, string> {
  const leaves = new Map<Module, string>();
  const visit = (prefix: string, m: Module) => {
    if (m instanceof Graph || m instanceof Sequential) {
      for (const [name, child] of m.children()) visit(prefix === '' ? name : `${prefix}.${name}`, child);
    } else if (!leaves.has(m)) leaves.set(m, prefix);
  };
  visit('', model);
  return leaves;
}

/**
 * Runs `model` on `inputs` in eval mode without recording gradients, with a hook on every leaf
 * (default: leafModules); the model's modes and forward methods are restored afterwards (also
 * on throw).
 */
export function traceModel(model: Module, inputs: readonly Tensor[], leaves: Map<Module, string> = leafModules(model)): ModelTrace {
  if (!(model instanceof Module)) throw new SparsennTypeError('ERR_TYPE', `expected a Module, got ${model === null ? 'null' : typeof model}`);
  for (const [i, t] of inputs.entries()) if (!(t instanceof Tensor)) throw new SparsennTypeError('ERR_TYPE', `model input ${i} must be a Tensor`);
  const calls: LeafCall[] = [];
  const namedOutputs = model.inEvalMode(() =>
    noGrad(() =>
      withForwardHooks(
        leaves.keys(),
        (module, ins, output) => calls.push({ module, name: leaves.get(module)!, inputs: [...ins], output }),
        () => (model instanceof Graph ? model.run([...inputs]) : { output: model.forward(...inputs) }),
      ),
    ),
  );
  return { calls, inputs: [...inputs], outputs: [...new Set(Object.values(namedOutputs))], namedOutputs };
}

/**
 * Traces the model on all-zero inputs of the given sample shapes, batch 2 (a batch norm that
 * uses batch statistics in eval mode needs more than one value per channel). Without a shape,
 * [inFeatures] of the model's first layer when that is a Linear (an MLP needs no shape).
 */
export function traceShapes(model: Module, sampleShape: SampleShape | undefined, what: string): ModelTrace {
  if (!(model instanceof Module)) throw new SparsennTypeError('ERR_TYPE', `${what} needs a Module`);
  const first = [...leafModules(model).keys()][0];
  if (sampleShape === undefined && !(first instanceof Linear))
    throw new SparsennTypeError('ERR_TYPE', `${what}: give { sampleShape } (one sample's input shape, batch excluded); it can only be guessed when the first layer is a Linear`);
  const shapes = sampleShapes(sampleShape ?? [(first as Linear).inFeatures], what);
  return traceModel(
    model,
    shapes.map((s) => Tensor.zeros([...s, 2])),
  );
}

/**
 * The call that produced each tensor (model inputs map to null), and the tensors that were
 * used without being produced by a leaf or given as an input: computation outside modules.
 */
export function producers(trace: ModelTrace): { producer: Map<Tensor, LeafCall | null>; foreign: Tensor[] } {
  const producer = new Map<Tensor, LeafCall | null>();
  for (const t of trace.inputs) producer.set(t, null);
  const foreign: Tensor[] = [];
  for (const c of trace.calls) {
    for (const t of c.inputs) if (!producer.has(t)) foreign.push(t);
    // an identity layer (Dropout in eval mode) returns its input: keep the first producer
    if (!producer.has(c.output)) producer.set(c.output, c);
  }
  for (const t of trace.outputs) if (!producer.has(t)) foreign.push(t);
  return { producer, foreign };
}

/** A sample's shape: the tensor's shape without the batch (last) axis. */
export function sampleShapeOf(t: Tensor): number[] {
  return t.shape.slice(0, -1);
}

/** The module's class name, for reports. */
export function typeName(m: Module): string {
  return m.constructor.name;
}
