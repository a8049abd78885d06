/**
 * Imported ONNX models through compile(): the compiled session must give what onnxruntime-node
 * gives on the original file, and after pruning what the uncompiled imported model gives.
 */
import { describe, expect, it } from 'vitest';
import { compile, decodeOnnx, importOnnx, prune, Tensor, noGrad } from '../../lib/index.js';
import { mulberry32 } from '../helpers/random.js';
import { expectAllClose, fixture, randomValues, runOrt, toBatchFirst, toBatchLast, type Feed } from '../io/onnx-helpers.js';

const FIXTURES = ['mlp_opset13.onnx', 'cnn_opset13.onnx', 'cnn_opset9.onnx', 'resblock_opset17.onnx', 'attention_opset17.onnx', 'decoder_opset13.onnx', 'misc_opset17.onnx'];

/** The real (non-initializer) inputs and their sample dims. */
function inputsOf(bytes: Uint8Array): Array<{ name: string; sample: number[] }> {
  const m = decodeOnnx(bytes);
  const weights = new Set(m.graph.initializers.map((t) => t.name));
  return m.graph.inputs.filter((i) => !weights.has(i.name)).map((i) => ({ name: i.name, sample: i.shape!.slice(1) as number[] }));
}

const sanitize = (name: string) => name.replace(/[^A-Za-z0-9_]/g, '_');

describe('compile() on imported ONNX models', () => {
  for (const file of FIXTURES) {
    it(`${file}: compiled outputs match onnxruntime-node, and the uncompiled model after pruning`, async () => {
      const bytes = fixture(file);
      const graph = importOnnx(bytes);
      const inputs = inputsOf(bytes);
      const rng = mulberry32(7);
      const n = 3;
      const feeds: Record<string, Feed> = {};
      const tensors: Record<string, Tensor> = {};
      for (const i of inputs) {
        feeds[i.name] = { dims: [n, ...i.sample], data: randomValues(rng, n * i.sample.reduce((a, b) => a * b, 1)) };
        tensors[sanitize(i.name)] = toBatchLast(feeds[i.name]!.data, feeds[i.name]!.dims);
      }
      const sampleShape = inputs.map((i) => i.sample);
      const session = compile(graph, { sampleShape, batchSizes: [n], timingCache: false });
      const want = await runOrt(bytes, feeds);
      const got = session.run(tensors);
      expect(Object.keys(got).sort()).toEqual(Object.keys(want).map(sanitize).sort());
      for (const [name, w] of Object.entries(want)) {
        const t = got[sanitize(name)]!;
        expectAllClose({ dims: [t.batch, ...t.shape.slice(0, -1)], data: toBatchFirst(t) }, w, 1e-4, `${file} ${name}`);
      }
      session.dispose();

      prune(graph, { sparsity: 0.5, scope: 'layer', onWarning: () => {} });
      const pruned = compile(graph, { sampleShape, batchSizes: [n], timingCache: false });
      const ref = noGrad(() => graph.run(tensors));
      const after = pruned.run(tensors);
      for (const [name, t] of Object.entries(ref)) {
        const c = after[name]!;
        expectAllClose({ dims: [...c.shape], data: c.data }, { dims: [...t.shape], data: t.data }, 1e-4, `${file} pruned ${name}`);
      }
    });
  }
});
