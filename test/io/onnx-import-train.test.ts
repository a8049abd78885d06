/**
 * An imported model is a sparsenn model like any other: pruned by magnitude, Wanda and OBS
 * (SparseGPT) on its real Linear / Conv2d Parameters, fine-tuned with fit(), and saved and
 * loaded with saveModel / loadModel (config() + stateDict(), masks included). Pruned and
 * updated weights are written back into the ONNX file and onnxruntime-node checks the result.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeModel, encodeModel, loadModel, saveModel } from '../../lib/io/model.js';
import { decodeOnnx, encodeOnnx, importOnnx } from '../../lib/io/onnx/index.js';
import { AlongAxis } from '../../lib/nn/layers/axis.js';
import type { Graph } from '../../lib/nn/graph.js';
import { Conv2d } from '../../lib/nn/layers/conv.js';
import { Linear } from '../../lib/nn/layers/linear.js';
import { Adam } from '../../lib/nn/optim/adam.js';
import { noGrad } from '../../lib/nn/tensor.js';
import { fit } from '../../lib/nn/train/fit.js';
import type { Dataset } from '../../lib/nn/data/dataset.js';
import { prune, sparseGpt, wanda } from '../../lib/prune/index.js';
import { mulberry32 } from '../helpers/random.js';
import { compareWithOrt, fixture, randomValues, toBatchLast } from './onnx-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'sparsenn-onnx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function dataset(sampleShape: number[], length: number, numClasses: number, seed: number): Dataset {
  const rng = mulberry32(seed);
  const f = sampleShape.reduce((a, b) => a * b, 1);
  return { length, sampleShape, images: randomValues(rng, length * f), labels: Int32Array.from({ length }, () => Math.floor(rng() * numClasses)), numClasses };
}

/** The ONNX file with the named initializers replaced (weights written back after pruning). */
function withInitializers(bytes: Uint8Array, values: Record<string, Float32Array>): Uint8Array {
  const m = decodeOnnx(bytes);
  for (const t of m.graph.initializers) if (values[t.name]) t.data = values[t.name]!;
  const missing = Object.keys(values).filter((k) => !m.graph.initializers.some((t) => t.name === k));
  expect(missing).toEqual([]);
  return encodeOnnx(m);
}

/** Each Gemm / Conv node's weight initializer name, by the module name the importer gives it. */
function weightNames(bytes: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of decodeOnnx(bytes).graph.nodes)
    if (['Gemm', 'Conv', 'MatMul'].includes(n.opType)) out[n.name.replace(/^\//, '').replace(/\/[^/]*$/, '').replace(/\//g, '_')] = n.inputs[1]!;
  return out;
}

function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c]!;
  return out;
}

/** The density of every mask, by parameter name. */
function densities(g: Graph): Record<string, number> {
  return Object.fromEntries(Object.entries(g.masks()).map(([n, m]) => [n, m.reduce((a, b) => a + b, 0) / m.length]));
}

describe('pruning an imported model', () => {
  it('magnitude to 50%: every Linear weight is masked, pruned weights are zero, and onnxruntime agrees on the pruned file', async () => {
    const bytes = fixture('mlp_opset13.onnx');
    const g = importOnnx(bytes);
    prune(g, { sparsity: 0.5 });
    expect(densities(g)).toEqual({ 'fc1.weight': 0.5, 'fc2.weight': 0.5, 'fc3.weight': 0.5 });
    const names = weightNames(bytes);
    const written: Record<string, Float32Array> = {};
    for (const [name, m] of g.namedModules()) {
      if (!(m instanceof Linear)) continue;
      const mask = m.weight.mask!;
      for (let i = 0; i < mask.length; i++) if (mask[i] === 0) expect(m.weight.data[i]).toBe(0);
      written[names[name]!] = m.weight.data.slice(); // Gemm transB = 1: [out, in], Linear's layout
    }
    await compareWithOrt(withInitializers(bytes, written), g, { x: [20] }, { batches: [1, 6] });
  });

  it('Wanda with calibration data prunes the transformer projections inside AlongAxis', async () => {
    const bytes = fixture('attention_opset17.onnx');
    const g = importOnnx(bytes);
    prune(g, { sparsity: 0.5, criterion: wanda(), calibration: { data: dataset([6, 16], 24, 2, 7), batchSize: 8 } });
    const d = densities(g);
    expect(Object.keys(d).sort()).toEqual(['fc1.layer.weight', 'fc2.layer.weight', 'k.layer.weight', 'proj.layer.weight', 'q.layer.weight', 'v.layer.weight']);
    for (const v of Object.values(d)) expect(v).toBe(0.5);
    // MatMul stores W as [in, out]: write back the transpose of each pruned Linear weight.
    const names = weightNames(bytes);
    const written: Record<string, Float32Array> = {};
    for (const [name, m] of g.namedModules())
      if (m instanceof AlongAxis && m.layer instanceof Linear) written[names[name]!] = transpose(m.layer.weight.data, m.layer.outFeatures, m.layer.inFeatures);
    await compareWithOrt(withInitializers(bytes, written), g, { x: [6, 16] }, { batches: [2] });
  });

  it('OBS (SparseGPT) updates and masks the CNN convolutions and classifier; onnxruntime agrees on the result', async () => {
    const bytes = fixture('cnn_opset13.onnx');
    const g = importOnnx(bytes);
    const before = g.stateDict();
    sparseGpt(g, { sparsity: 0.5, calibration: { data: dataset([3, 16, 16], 32, 10, 3), batchSize: 16 } });
    const d = densities(g);
    expect(Object.keys(d).sort()).toEqual(['conv1.weight', 'conv2.weight', 'fc.weight']);
    for (const v of Object.values(d)) expect(v).toBeCloseTo(0.5, 2);
    // OBS also moves the kept weights (that is what distinguishes it from plain masking).
    const conv2 = g.namedModules().find(([n]) => n === 'conv2')![1] as Conv2d;
    const kept = [...conv2.weight.mask!.keys()].filter((i) => conv2.weight.mask![i] === 1);
    expect(kept.some((i) => conv2.weight.data[i] !== before['conv2.weight']!.data[i])).toBe(true);
    const names = weightNames(bytes);
    const written: Record<string, Float32Array> = {};
    for (const [name, m] of g.namedModules()) if (m instanceof Conv2d || m instanceof Linear) written[names[name]!] = m.weight.data.slice();
    await compareWithOrt(withInitializers(bytes, written), g, { x: [3, 16, 16] }, { batches: [2] });
  });
});

describe('fine-tuning and saving', () => {
  it('fit() trains an imported (pruned) model: the loss falls and pruned weights stay zero', async () => {
    const g = importOnnx(fixture('mlp_opset13.onnx'));
    prune(g, { sparsity: 0.5 });
    const masksBefore = g.masks();
    // A learnable task: the label is the argmax of a fixed random linear map of the input.
    const data = dataset([20], 128, 10, 11);
    const teacher = randomValues(mulberry32(12), 10 * 20);
    const labels = new Int32Array(data.length);
    for (let i = 0; i < data.length; i++) {
      let best = -Infinity;
      for (let c = 0; c < 10; c++) {
        let s = 0;
        for (let j = 0; j < 20; j++) s += teacher[c * 20 + j]! * data.images[i * 20 + j]!;
        if (s > best) [best, labels[i]] = [s, c];
      }
    }
    const history = await fit(g, { ...data, labels }, { optimizer: new Adam(g.parameters(), { lr: 1e-2 }), epochs: 10, batchSize: 16, progress: false });
    const losses = history.epochs.map((e) => e.loss);
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! * 0.7);
    expect(g.masks()).toEqual(masksBefore);
    for (const [, p] of g.namedParameters()) if (p.mask) for (let i = 0; i < p.size; i++) if (p.mask[i] === 0) expect(p.data[i]).toBe(0);
  });

  it('fit() runs through batch norm in training mode and updates its running statistics', async () => {
    const g = importOnnx(fixture('mlp_misc_opset11.onnx'));
    const before = g.stateDict()['bn.running_mean']!.data.slice();
    await fit(g, dataset([12], 32, 8, 13), { optimizer: new Adam(g.parameters(), { lr: 1e-3 }), epochs: 1, batchSize: 16, progress: false });
    expect(g.stateDict()['bn.running_mean']!.data).not.toEqual(before);
  });

  it('saveModel / loadModel rebuild imported models exactly (AlongAxis, Elementwise, ConstantPad, Resize, ConvTranspose2d, masks)', async () => {
    const rng = mulberry32(21);
    const cases: Array<[string, number[]]> = [
      ['attention_opset11.onnx', [6, 16]],
      ['misc_opset17.onnx', [2, 5, 6]],
      ['decoder_opset13.onnx', [4, 5, 6]],
      ['misc_opset13.onnx', [10]],
      ['mlp_opset13.onnx', [20]],
    ];
    for (const [file, sample] of cases) {
      const g = importOnnx(fixture(file));
      if (file.startsWith('mlp')) prune(g, { sparsity: 0.75 });
      const path = join(dir, file.replace('.onnx', '.safetensors'));
      await saveModel(g, path);
      const loaded = (await loadModel(path)).eval();
      const again = decodeModel(encodeModel(g)).eval();
      expect(loaded.config(), file).toEqual(g.config());
      expect(loaded.masks(), file).toEqual(g.masks());
      const x = toBatchLast(randomValues(rng, 3 * sample.reduce((a, b) => a * b, 1)), [3, ...sample]);
      const want = noGrad(() => g.forward(x)).data;
      expect(noGrad(() => loaded.forward(x)).data, file).toEqual(want);
      expect(noGrad(() => again.forward(x)).data, file).toEqual(want);
    }
  });
});
