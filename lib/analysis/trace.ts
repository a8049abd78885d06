/**
 * The trace the analyses read: lib/nn/trace.ts's leaf calls, except that an AlongAxis is one
 * leaf. Its inner layer runs on a [features, positions * n] view made by transposes inside
 * AlongAxis.forward(); traced as leaves, the inner layer would be seen with the positions folded
 * into the batch (a per-sample count off by the number of positions) and the transposes as
 * computation outside any module. As one call, its input and output are the real activations.
 */
import { SparsennTypeError } from '../errors.js';
import { AlongAxis } from '../nn/layers/axis.js';
import { Linear } from '../nn/layers/linear.js';
import { Module } from '../nn/module.js';
import { Tensor } from '../nn/tensor.js';
import { sampleShapes, traceModel, type ModelTrace, type SampleShape } from '../nn/trace.js';

/**
 * Modules without children, and AlongAxis modules (whose insides are not listed), each with its
 * first full name. A module used only inside an AlongAxis is never a leaf: were it also called
 * elsewhere, that call's output would show as computation outside modules, not be miscounted.
 */
export function analysisLeaves(model: Module): Map<Module, string> {
  const leaves = new Map<Module, string>();
  const visit = (prefix: string, m: Module) => {
    if (m instanceof AlongAxis || m.children().length === 0) {
      if (!leaves.has(m)) leaves.set(m, prefix);
      return;
    }
    for (const [name, child] of m.children()) visit(prefix === '' ? name : `${prefix}.${name}`, child);
  };
  visit('', model);
  return leaves;
}

/**
 * traceShapes() with analysisLeaves(): traces the model in eval mode on all-zero inputs of the
 * given sample shapes, batch 2; without a shape, [inFeatures] of the first leaf when that is a
 * Linear.
 */
export function traceForAnalysis(model: Module, sampleShape: SampleShape | undefined, what: string): ModelTrace {
  if (!(model instanceof Module)) throw new SparsennTypeError('ERR_TYPE', `${what} needs a Module`);
  const leaves = analysisLeaves(model);
  const first = [...leaves.keys()][0];
  if (sampleShape === undefined && !(first instanceof Linear))
    throw new SparsennTypeError('ERR_TYPE', `${what}: give { sampleShape } (one sample's input shape, batch excluded); it can only be guessed when the first layer is a Linear`);
  const shapes = sampleShapes(sampleShape ?? [(first as Linear).inFeatures], what);
  return traceModel(
    model,
    shapes.map((s) => Tensor.zeros([...s, 2])),
    leaves,
  );
}

