/**
 * ONNX -> sparsenn: importOnnx turns an ONNX model into a Graph of sparsenn layers whose
 * weights are real Parameters (Gemm / MatMul -> Linear, Conv -> Conv2d, BatchNormalization ->
 * BatchNorm1d / 2d, ...), so it can be pruned, fine-tuned with fit() and saved with saveModel.
 *
 * Layout: sparsenn tensors are batch-last. Axis 0 of every graph input is the batch (fixed or
 * symbolic); the ONNX activation [N, d1, ..., dk] is the sparsenn tensor [d1, ..., dk, N], and
 * the Graph takes and returns tensors in that layout. Operators that would move, slice, gather
 * or reduce the batch axis are rejected with an error naming the node. Shape arithmetic
 * (Shape, Gather, Concat, ...) is evaluated at import with the batch size as a symbol.
 *
 * Supported: opsets 9-23 of the default domain, the operators listed in SUPPORTED_ONNX_OPS.
 * Before building anything, every node is checked and one FormatError names every unsupported
 * operator with the nodes using it.
 */
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { FormatError, SparsennError, SparsennTypeError, type ErrorCode } from '../../errors.js';
import { Graph } from '../../nn/graph.js';
import { Tensor } from '../../nn/tensor.js';
import { ImportContext, nodeLabel, sanitizeName, type ImportNode } from './context.js';
import { constFromTensor } from './fold.js';
import { fusePatterns } from './fuse.js';
import { converters } from './ops/index.js';
import { decodeOnnx } from './proto.js';
import type { OnnxModel, OnnxTensor, OnnxValueInfo } from './types.js';
import { maxImportElements, withElementLimit, type Value } from './values.js';
import { resolveLimits, type LoadLimits } from '../../limits.js';

/**
 * The lowest and highest default-domain opset the importer accepts. Opsets 19-23 changed the
 * supported operators only by new element types and attributes whose defaults keep the old
 * behaviour (non-default values are rejected by the converters).
 */
export const ONNX_OPSET_RANGE: readonly [number, number] = [9, 23];

/** The ONNX operators (default domain) importOnnx converts. */
export const SUPPORTED_ONNX_OPS: readonly string[] = Object.keys(converters)
  .filter((k) => !k.includes(':'))
  .sort();

export interface ImportOnnxOptions {
  /**
   * Sample shapes (the dims after the batch) by ONNX input name, for inputs whose declared
   * shape is missing or has symbolic dims besides the batch.
   */
  inputShapes?: Record<string, readonly number[]>;
  /** Caps for untrusted files (file size, graph size and nesting, value sizes); see LoadLimits. */
  limits?: LoadLimits;
}

function fail(message: string): never {
  throw new FormatError('ERR_FORMAT', `ONNX import: ${message}`);
}

function isDefaultDomain(domain: string): boolean {
  return domain === '' || domain === 'ai.onnx';
}

function opKey(n: ImportNode): string {
  return isDefaultDomain(n.domain) ? n.opType : `${n.domain}.${n.opType}`;
}

/** Throws one FormatError naming every unsupported operator and the nodes that use it. */
function checkSupported(nodes: readonly ImportNode[]): void {
  const missing = new Map<string, string[]>();
  for (const n of nodes) {
    const key = opKey(n);
    if (isDefaultDomain(n.domain) && Object.hasOwn(converters, key)) continue;
    const list = missing.get(key) ?? [];
    list.push(n.name ? `'${n.name}'` : `#${n.index}`);
    missing.set(key, list);
  }
  if (missing.size === 0) return;
  const parts = [...missing].map(([op, names]) => {
    const shown = names.length > 10 ? [...names.slice(0, 10), `and ${names.length - 10} more`] : names;
    return `${op} (node${names.length > 1 ? 's' : ''} ${shown.join(', ')})`;
  });
  fail(
    `the model uses ${missing.size} operator${missing.size > 1 ? 's' : ''} sparsenn does not convert: ${parts.join('; ')}. ` +
      `Supported (default domain, opsets ${ONNX_OPSET_RANGE[0]}-${ONNX_OPSET_RANGE[1]}): ${SUPPORTED_ONNX_OPS.join(', ')}`,
  );
}

function defaultOpset(model: OnnxModel): number {
  const entry = model.opsetImports.find((o) => isDefaultDomain(o.domain));
  if (!entry) fail('the model imports no default-domain opset (opset_import is missing)');
  const [lo, hi] = ONNX_OPSET_RANGE;
  if (entry.version < lo || entry.version > hi) fail(`opset ${entry.version} is not supported (sparsenn imports opsets ${lo}-${hi}); convert the model with onnx.version_converter`);
  return entry.version;
}

/** The nodes the outputs depend on, in an order where every input is defined first. */
function liveNodesInOrder(nodes: readonly ImportNode[], defined: Set<string>, outputs: readonly string[]): ImportNode[] {
  const producer = new Map<string, ImportNode>();
  for (const n of nodes)
    for (const o of n.outputs) {
      if (!o) continue;
      if (producer.has(o) || defined.has(o)) fail(`value '${o}' is defined twice (${nodeLabel(n)})`);
      producer.set(o, n);
    }
  const live = new Set<ImportNode>();
  const stack = outputs.map((o) => producer.get(o)).filter((n): n is ImportNode => n !== undefined);
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (live.has(n)) continue;
    live.add(n);
    for (const i of n.inputs) {
      const p = i ? producer.get(i) : undefined;
      if (p && !live.has(p)) stack.push(p);
    }
  }
  // Depth-first topological order; ONNX requires sorted nodes, but a wrong order should not matter.
  const order: ImportNode[] = [];
  const state = new Map<ImportNode, 1 | 2>();
  for (const root of nodes) {
    if (!live.has(root) || state.has(root)) continue;
    const work: Array<{ n: ImportNode; next: number }> = [{ n: root, next: 0 }];
    state.set(root, 1);
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      if (top.next < top.n.inputs.length) {
        const i = top.n.inputs[top.next++]!;
        if (!i) continue;
        const p = producer.get(i);
        if (!p) {
          if (!defined.has(i)) fail(`${nodeLabel(top.n)} reads '${i}', which no node, initializer or graph input defines`);
          continue;
        }
        const s = state.get(p);
        if (s === 1) fail(`the graph has a cycle through ${nodeLabel(p)}`);
        if (s === undefined) {
          state.set(p, 1);
          work.push({ n: p, next: 0 });
        }
      } else {
        state.set(top.n, 2);
        order.push(top.n);
        work.pop();
      }
    }
  }
  return order;
}

/** The sample shape of a graph input: its declared dims after the batch, or opts.inputShapes. */
function sampleShapeOf(info: OnnxValueInfo, opts: ImportOnnxOptions): number[] {
  const given = opts.inputShapes?.[info.name];
  if (given !== undefined) {
    if (!Array.isArray(given) || given.some((d) => !Number.isInteger(d) || d < 0))
      throw new SparsennTypeError('ERR_TYPE', `inputShapes['${info.name}'] must be an array of non-negative integers (the dims after the batch)`);
    if (info.shape && info.shape.length > 0 && info.shape.length - 1 !== given.length)
      fail(`inputShapes['${info.name}'] gives ${given.length} dims after the batch, the model declares ${info.shape.length - 1}`);
    return [...given];
  }
  if (!info.shape) fail(`graph input '${info.name}' declares no shape; pass its sample shape (the dims after the batch) in inputShapes`);
  if (info.shape.length === 0) fail(`graph input '${info.name}' is a scalar; sparsenn needs the batch on axis 0`);
  return info.shape.slice(1).map((d, i) => {
    if (typeof d !== 'number')
      fail(`graph input '${info.name}' has ${d === null ? 'an unknown' : `the symbolic '${d}'`} dim at axis ${i + 1}; pass its sample shape in inputShapes`);
    return d;
  });
}

function toModel(source: Uint8Array | ArrayBuffer | string | OnnxModel, limits: LoadLimits | undefined): OnnxModel {
  if (typeof source === 'string') return decodeOnnx(readFileSync(source), limits);
  if (source instanceof Uint8Array) return decodeOnnx(source, limits);
  if (source instanceof ArrayBuffer) return decodeOnnx(new Uint8Array(source), limits);
  if (source && typeof source === 'object' && 'graph' in source) return source;
  throw new SparsennTypeError('ERR_TYPE', 'importOnnx needs the .onnx bytes (Uint8Array or ArrayBuffer), a file path, or a decoded OnnxModel');
}

/**
 * Imports an ONNX model as a sparsenn Graph (in eval mode) whose inputs and outputs are named
 * after the ONNX ones (characters other than letters, digits and '_' become '_'). Tensors are
 * batch-last: feed the ONNX input [N, d1, ..., dk] as [d1, ..., dk, N].
 * @throws {FormatError} ERR_FORMAT for malformed files, unsupported operators (all listed at
 *   once), and nodes sparsenn cannot convert (the message names the node).
 */
export function importOnnx(source: Uint8Array | ArrayBuffer | string | OnnxModel, opts: ImportOnnxOptions = {}): Graph {
  const model = toModel(source, opts.limits);
  const l = resolveLimits(opts.limits, 0);
  return withElementLimit(l.maxValueElements, l.maxTotalValueElements, () => importModel(model, opts));
}

function importModel(model: OnnxModel, opts: ImportOnnxOptions): Graph {
  const opset = defaultOpset(model);
  const g = model.graph;
  const nodes: ImportNode[] = g.nodes.map((n, index) => ({ ...n, index }));
  checkSupported(nodes);

  const initializers = new Map<string, OnnxTensor>();
  for (const t of g.initializers) initializers.set(t.name, t);
  const constants = new Map<string, OnnxTensor>(initializers);
  for (const n of nodes) {
    if (n.opType !== 'Constant' || !isDefaultDomain(n.domain) || !n.outputs[0]) continue;
    const v = n.attributes.find((a) => a.name === 'value');
    if (v?.value.type === 'tensor') constants.set(n.outputs[0], v.value.value);
    const f = n.attributes.find((a) => a.name === 'value_float');
    if (f?.value.type === 'float') constants.set(n.outputs[0], { name: n.outputs[0], dataType: 1, dims: [], data: Float32Array.of(f.value.value) });
  }
  // Inputs that are initializers too (IR < 4 lists them) are constants with a default value.
  const inputs = g.inputs.filter((i) => !initializers.has(i.name));
  if (inputs.length === 0) fail('the graph has no input besides its initializers');
  if (g.outputs.length === 0) fail('the graph declares no output');
  const batches = inputs.map((i) => i.shape?.[0]);
  const fixedBatch = batches.every((b) => typeof b === 'number' && b === batches[0]) ? (batches[0] as number) : null;

  const defined = new Set<string>([...initializers.keys(), ...inputs.map((i) => i.name)]);
  const outputNames = g.outputs.map((o) => o.name);
  const order = fusePatterns(liveNodesInOrder(nodes, defined, outputNames), new Set(outputNames), (name) => constants.get(name) ?? null);

  const graph = new Graph();
  const ctx = new ImportContext(graph, opset, fixedBatch);
  const env = new Map<string, Value>();
  for (const [name, t] of initializers) env.set(name, constFromTensor(t));
  for (const info of inputs) {
    const shape = sampleShapeOf(info, opts);
    const count = shape.reduce((p, d) => p * d, 1);
    if (count > maxImportElements()) fail(`graph input '${info.name}' has ${count} values per sample, more than sparsenn imports (${maxImportElements()})`);
    const ref = graph.input(ctx.uniqueName(sanitizeName(info.name, 'input')));
    const probe = new Tensor(new Float32Array(count), [...shape, 1]);
    env.set(info.name, { kind: 'act', ref, shape, probe });
  }

  for (const node of order) {
    const args = node.inputs.map((name) => {
      if (!name) return undefined;
      const v = env.get(name);
      if (!v) return ctx.fail(node, `its input '${name}' is not available (an output sparsenn does not compute, such as a Dropout mask, a MaxPool's indices or a batch norm's training statistics)`);
      return v;
    });
    const converter = converters[isDefaultDomain(node.domain) ? node.opType : `${node.domain}:${node.opType}`]!;
    let result;
    try {
      result = converter(ctx, node, args);
    } catch (e) {
      // Layer constructors throw their own typed errors: say which node they came from.
      if (e instanceof SparsennError && !e.message.startsWith('ONNX import:')) {
        const Cls = e.constructor as new (code: ErrorCode, message: string) => SparsennError;
        throw new Cls(e.code, `ONNX import: ${nodeLabel(node)}: ${e.message}`);
      }
      throw e;
    }
    const outs = Array.isArray(result) ? result : [result];
    node.outputs.forEach((o, i) => {
      const v = outs[i] as Value | undefined;
      if (o && v) env.set(o, v);
    });
  }

  const used = new Set<string>();
  for (const o of g.outputs) {
    const v = env.get(o.name);
    if (!v) fail(`graph output '${o.name}' is not computed by any node`);
    if (v.kind !== 'act') fail(`graph output '${o.name}' is a constant (it does not depend on the graph input); sparsenn models compute every output from the input`);
    let name = sanitizeName(o.name, 'output');
    for (let i = 2; used.has(name); i++) name = `${sanitizeName(o.name, 'output')}_${i}`;
    used.add(name);
    graph.output(name, v.ref);
  }
  return graph.eval();
}

/** importOnnx on a file read asynchronously. */
export async function importOnnxFile(path: string, opts: ImportOnnxOptions = {}): Promise<Graph> {
  if (typeof path !== 'string') throw new SparsennTypeError('ERR_TYPE', 'importOnnxFile needs a file path');
  return importOnnx(decodeOnnx(new Uint8Array(await readFile(path)), opts.limits), opts);
}
