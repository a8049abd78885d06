/**
 * The inputs a run accepts (one tensor, tensors in input order, or tensors by input name),
 * checked against the model's inputs: shared by InferenceSession and the serving pool.
 */
import { ShapeError, SparsennTypeError } from '../errors.js';
import { Tensor } from '../nn/tensor.js';

/** A model input's or output's name and the shape of one sample (the batch excluded). */
export interface ValueSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

/** One tensor, tensors in input order, or tensors by input name; each batch-last. */
export type SessionInputs = Tensor | readonly Tensor[] | Readonly<Record<string, Tensor>>;

/**
 * Each input's data array and the batch size shared by all.
 * @throws {SparsennTypeError} ERR_TYPE for anything but tensors; {ShapeError} ERR_SHAPE for
 * missing, unknown or misshapen inputs and differing batch sizes.
 */
export function parseSessionInputs(inputs: SessionInputs, spec: readonly ValueSpec[]): { arrays: Float32Array[]; n: number } {
  let list: unknown[];
  if (inputs instanceof Tensor) list = [inputs];
  else if (Array.isArray(inputs)) list = [...(inputs as unknown[])];
  else if (inputs !== null && typeof inputs === 'object' && !ArrayBuffer.isView(inputs)) {
    const rec = inputs as Record<string, unknown>;
    const unknownNames = Object.keys(rec).filter((k) => !spec.some((s) => s.name === k));
    if (unknownNames.length > 0) throw new ShapeError('ERR_SHAPE', `unknown input(s) ${unknownNames.map((k) => `'${k}'`).join(', ')}; the model's inputs are ${spec.map((s) => `'${s.name}'`).join(', ')}`);
    list = spec.map((s) => {
      if (!(s.name in rec)) throw new ShapeError('ERR_SHAPE', `missing input '${s.name}'`);
      return rec[s.name];
    });
  } else throw new SparsennTypeError('ERR_TYPE', `run() takes a Tensor, an array of Tensors or a record of Tensors by input name, got ${inputs === null ? 'null' : typeof inputs}`);
  if (list.length !== spec.length) throw new ShapeError('ERR_SHAPE', `the model takes ${spec.length} input(s) (${spec.map((s) => s.name).join(', ')}), got ${list.length}`);
  let n = -1;
  const arrays = list.map((t, i) => {
    const s = spec[i]!;
    if (!(t instanceof Tensor)) throw new SparsennTypeError('ERR_TYPE', `input '${s.name}' must be a Tensor, got ${t === null ? 'null' : typeof t}`);
    const want = `[${[...s.shape, 'n'].join(', ')}]`;
    if (t.shape.length !== s.shape.length + 1 || s.shape.some((d, k) => t.shape[k] !== d))
      throw new ShapeError('ERR_SHAPE', `input '${s.name}' must have shape ${want} (batch last), got [${t.shape.join(', ')}]`);
    const batch = t.shape[t.shape.length - 1]!;
    if (n >= 0 && batch !== n) throw new ShapeError('ERR_SHAPE', `all inputs need the same batch size; '${s.name}' has ${batch}, an earlier input ${n}`);
    n = batch;
    // A tensor's data can be swapped or its buffer transferred after it was made: check it here,
    // where every step (native or not) will read it.
    const data: unknown = t.data;
    if (!(data instanceof Float32Array)) throw new SparsennTypeError('ERR_TYPE', `input '${s.name}' holds a ${data === null ? 'null' : (data as object)?.constructor?.name ?? typeof data} where a Float32Array is expected`);
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (data.length !== size)
      throw new ShapeError('ERR_SHAPE', `input '${s.name}' has shape [${t.shape.join(', ')}] (${size} floats) but its data holds ${data.length}${data.length === 0 ? ' (was its buffer transferred?)' : ''}`);
    return data;
  });
  return { arrays, n };
}
