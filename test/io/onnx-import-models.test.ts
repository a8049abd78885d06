/**
 * importOnnx on real exported models and hand-built operator models (test/fixtures/onnx, made by
 * make_onnx_fixtures.py): every output checked against onnxruntime-node run on the same file
 * with the same inputs, at several batch sizes, and the imported structure checked to use
 * sparsenn's layers with the file's weights as Parameters.
 */
import { describe, expect, it } from 'vitest';
import { decodeOnnx, importOnnx, importOnnxFile, SUPPORTED_ONNX_OPS } from '../../lib/io/onnx/index.js';
import { AlongAxis } from '../../lib/nn/layers/axis.js';
import type { Graph } from '../../lib/nn/graph.js';
import { Linear } from '../../lib/nn/layers/linear.js';
import type { ModuleConfig } from '../../lib/nn/module.js';
import { compareWithOrt, expectAllClose, FIXTURE_DIR, fixture, runImported, runOrt, randomValues } from './onnx-helpers.js';
import { mulberry32 } from '../helpers/random.js';

/** "name:Type" of every graph node (AlongAxis shows its inner layer). */
function nodeTypes(g: Graph): string[] {
  const nodes = (g.config() as ModuleConfig & { nodes: Array<{ name: string; module: ModuleConfig }> }).nodes;
  return nodes.map((n) => `${n.name}:${n.module.type}${n.module.type === 'AlongAxis' ? `(${(n.module['layer'] as ModuleConfig).type})` : ''}`);
}

function typeCounts(g: Graph): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of nodeTypes(g)) {
    const type = t.split(':')[1]!.replace(/\(.*\)$/, '');
    out[type] = (out[type] ?? 0) + 1;
  }
  return out;
}

/** The ONNX file's initializer (or Constant) values by name. */
function initializer(file: string, name: string): Float32Array {
  const t = decodeOnnx(fixture(file)).graph.initializers.find((i) => i.name === name);
  if (!t) throw new Error(`no initializer ${name} in ${file}`);
  return Float32Array.from(t.data);
}

describe('PyTorch exports', () => {
  it('MLP (Gemm, opset 13) imports as three Linear layers holding the file weights', async () => {
    const bytes = fixture('mlp_opset13.onnx');
    const g = importOnnx(bytes);
    expect(nodeTypes(g)).toEqual(['fc1:Linear', 'Relu:ReLU', 'fc2:Linear', 'Tanh:Tanh', 'fc3:Linear']);
    expect(g.inputs).toEqual(['x']);
    expect(g.outputs).toEqual(['y']);
    expect(g.training).toBe(false);
    const params = Object.fromEntries(g.namedParameters().map(([n, p]) => [n, p]));
    expect(Object.keys(params)).toEqual(['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias', 'fc3.weight', 'fc3.bias']);
    expect(params['fc1.weight']!.shape).toEqual([32, 20]);
    // Gemm with transB = 1 stores the weight as [out, in], Linear's layout
    expect(params['fc2.weight']!.data).toEqual(initializer('mlp_opset13.onnx', 'fc2.weight'));
    expect(params['fc3.bias']!.data).toEqual(initializer('mlp_opset13.onnx', 'fc3.bias'));
    await compareWithOrt(bytes, g, { x: [20] });
  });

  it('MLP with BatchNorm1d, LeakyReLU, Sigmoid, a bias-free MatMul and Softmax (opset 11)', async () => {
    const bytes = fixture('mlp_misc_opset11.onnx');
    const g = importOnnx(bytes);
    const counts = typeCounts(g);
    expect(counts).toMatchObject({ Linear: 2, BatchNorm1d: 1, LeakyReLU: 1, Sigmoid: 1, Softmax: 1 });
    // the MatMul weight is [in, out] in ONNX, transposed into Linear's [out, in]
    const fc2 = g.namedModules().find(([n]) => n === 'fc2')![1] as Linear;
    expect(fc2.bias).toBeNull();
    const w = initializer('mlp_misc_opset11.onnx', decodeOnnx(bytes).graph.nodes.find((n) => n.opType === 'MatMul')!.inputs[1]!);
    expect(fc2.weight.data[1 * 24 + 5]).toBe(w[5 * 8 + 1]);
    await compareWithOrt(bytes, g, { x: [12] });
  });

  it('CNN with BatchNorm2d, pools and x.view(x.size(0), -1) (opsets 13 and 9)', async () => {
    for (const file of ['cnn_opset13.onnx', 'cnn_opset9.onnx']) {
      const bytes = fixture(file);
      const g = importOnnx(bytes);
      // the shape arithmetic (Shape, Gather, Unsqueeze, Concat) folds into one Reshape
      expect(nodeTypes(g), file).toEqual([
        'conv1:Conv2d',
        'Relu:ReLU',
        'bn1:BatchNorm2d',
        'MaxPool:MaxPool2d',
        'conv2:Conv2d',
        'Relu_1:ReLU',
        'pool2:AvgPool2d',
        'Reshape:Reshape',
        'fc:Linear',
      ]);
      await compareWithOrt(bytes, g, { x: [3, 16, 16] }, { batches: [1, 4] });
    }
  });

  it('a model exported with a fixed batch size runs at any batch size', async () => {
    // The same weights exported with a fixed batch of 2 (Reshape target [2, 64]) and with a
    // dynamic one: the fixed file imports with its batch symbolic and matches the dynamic one.
    const fixed = importOnnx(fixture('cnn_fixed_batch_opset13.onnx'));
    const dynamicBytes = fixture('cnn_opset13.onnx');
    const rng = mulberry32(5);
    for (const n of [1, 2, 5]) {
      const feed = { x: { dims: [n, 3, 16, 16], data: randomValues(rng, n * 3 * 16 * 16) } };
      expectAllClose(runImported(fixed, feed).y!, (await runOrt(dynamicBytes, feed)).y!, 1e-4, `batch ${n}`);
    }
  });

  it('residual block: depthwise dilated conv, squeeze-excite gate (HardSigmoid, HardSwish), GlobalAveragePool (opset 17)', async () => {
    const bytes = fixture('resblock_opset17.onnx');
    const g = importOnnx(bytes);
    const counts = typeCounts(g);
    expect(counts).toMatchObject({ Conv2d: 5, HardSigmoid: 1, HardSwish: 2, GlobalAvgPool: 2, Elementwise: 1, Add: 1, Flatten: 1, Linear: 1 });
    const dw = g.namedModules().find(([n]) => n === 'dw')![1] as unknown as { groups: number; dilation: number[] };
    expect(dw.groups).toBe(8);
    expect(dw.dilation).toEqual([2, 2]);
    await compareWithOrt(bytes, g, { x: [3, 10, 10] }, { batches: [1, 3] });
  });

  it('transformer encoder block (LayerNorm, attention with Transpose / MatMul / Softmax, GELU MLP), opsets 11 and 17', async () => {
    for (const file of ['attention_opset11.onnx', 'attention_opset17.onnx']) {
      const bytes = fixture(file);
      const g = importOnnx(bytes);
      const counts = typeCounts(g);
      // Projections and LayerNorms are real Linear / LayerNorm layers applied per token; the
      // opset-11 LayerNorm decomposition and the erf GELU pattern are recognised as such.
      expect(counts['AlongAxis'], file).toBe(8);
      expect(counts, file).toMatchObject({ MatMulActs: 2, Softmax: 1, GELU: 1, Transpose: 4, Add: 2 });
      expect(counts['Unary'], `${file}: no leftover erf/sqrt`).toBeUndefined();
      const inner = g.namedModules().filter(([, m]) => m instanceof AlongAxis).map(([, m]) => (m as AlongAxis).layer.constructor.name);
      expect(inner.sort()).toEqual(['LayerNorm', 'LayerNorm', 'Linear', 'Linear', 'Linear', 'Linear', 'Linear', 'Linear']);
      const names = g.namedParameters().map(([n]) => n);
      expect(names).toContain('q.layer.weight');
      expect(names).toContain('fc1.layer.bias');
      await compareWithOrt(bytes, g, { x: [6, 16] }, { batches: [1, 2, 5] });
    }
  });

  it('decoder: ConvTranspose2d, Resize nearest and bilinear, ReLU6 (Clip), Concat, Slice (opsets 11 and 13)', async () => {
    for (const file of ['decoder_opset11.onnx', 'decoder_opset13.onnx']) {
      const bytes = fixture(file);
      const g = importOnnx(bytes);
      expect(typeCounts(g), file).toMatchObject({ ConvTranspose2d: 1, Resize: 2, Clip: 1, Concat: 1, Slice: 2 });
      await compareWithOrt(bytes, g, { x: [4, 5, 6] }, { batches: [1, 3] });
    }
  });
});

describe('operator coverage (onnx.helper models)', () => {
  it('opset 13: Gemm alpha/beta/transB 0, Unsqueeze/Squeeze axes inputs, Reshape with 0, Gather, Transpose, Softmax over a middle axis, ReduceMean, Clip inputs, custom HardSigmoid, Cast, Identity, Pow, constant - x, Div', async () => {
    const bytes = fixture('misc_opset13.onnx');
    const g = importOnnx(bytes);
    expect(typeCounts(g)).toMatchObject({ Linear: 1, Gather: 1, Transpose: 1, Softmax: 1, ReduceMean: 1, Clip: 2 });
    await compareWithOrt(bytes, g, { x: [10] });
  });

  it('opset 11: Conv1d, BatchNorm over [N, C, L], 1-D pools, Slice with a negative step, constant @ activation, Expand, legacy Softmax, Clip with only a max', async () => {
    const bytes = fixture('misc_opset11.onnx');
    const g = importOnnx(bytes);
    expect(typeCounts(g)).toMatchObject({ Conv2d: 1, BatchNorm1d: 1, MaxPool2d: 1, AvgPool2d: 1, Slice: 1, Softmax: 1 });
    await compareWithOrt(bytes, g, { x: [2, 8] });
  });

  it('opset 9: Conv auto_pad SAME_UPPER, Clip / Slice / Dropout attributes, Upsample, GlobalAveragePool, Gemm transB', async () => {
    const bytes = fixture('legacy_opset9.onnx');
    await compareWithOrt(bytes, importOnnx(bytes), { x: [2, 6, 6] });
  });

  it('opset 17: uneven Conv / MaxPool padding, Pad, ceil-mode pools, ConvTranspose output_shape, Resize to sizes from Shape, LayerNormalization (axis 1 and -1), Erf, Exp, Neg, Reciprocal', async () => {
    const bytes = fixture('misc_opset17.onnx');
    const g = importOnnx(bytes);
    expect(typeCounts(g)).toMatchObject({ ConstantPad: 3, Conv2d: 1, MaxPool2d: 1, AvgPool2d: 1, ConvTranspose2d: 1, Resize: 1, LayerNorm: 1, Unary: 4 });
    await compareWithOrt(bytes, g, { x: [2, 5, 6] });
  });

  it('opset 10: Resize with scales, nearest and linear, up and down', async () => {
    const bytes = fixture('resize_opset10.onnx');
    await compareWithOrt(bytes, importOnnx(bytes), { x: [2, 4, 3] });
  });

  it('Gather from a constant table by integer ids is an Embedding; typed-field initializers decode', async () => {
    const bytes = fixture('embedding_opset13.onnx');
    const g = importOnnx(bytes);
    expect(typeCounts(g)).toMatchObject({ Embedding: 1, ReduceMean: 1, Linear: 1 });
    await compareWithOrt(bytes, g, { ids: [4] }, { int64: { ids: 7 } });
  });

  it('every supported operator appears in some fixture', () => {
    const seen = new Set<string>();
    for (const f of ['mlp_opset13', 'mlp_misc_opset11', 'cnn_opset13', 'cnn_opset9', 'resblock_opset17', 'attention_opset11', 'attention_opset17', 'decoder_opset11', 'misc_opset13', 'misc_opset11', 'misc_opset17', 'legacy_opset9', 'resize_opset10', 'embedding_opset13'])
      for (const n of decodeOnnx(fixture(`${f}.onnx`)).graph.nodes) seen.add(n.opType);
    // Constant-only helpers and ops of newer opsets are tested in onnx-import-errors.test.ts.
    const elsewhere = ['Equal', 'Less', 'Greater', 'Max', 'Min', 'Where', 'Range', 'Size', 'ConstantOfShape', 'Log', 'Gelu'];
    const missing = SUPPORTED_ONNX_OPS.filter((op) => !seen.has(op) && !elsewhere.includes(op));
    expect(missing).toEqual([]);
  });

  it('importOnnx takes a path; importOnnxFile reads asynchronously', async () => {
    const a = importOnnx(FIXTURE_DIR + 'mlp_opset13.onnx');
    const b = await importOnnxFile(FIXTURE_DIR + 'mlp_opset13.onnx');
    expect(b.stateDict()).toEqual(a.stateDict());
  });
});
