/**
 * sparsityReport / formatSparsityReport / detectStructure (lib/prune/report.ts): nonzeros and
 * sparsity per layer and in total (from masks, or from exact zeros without one); FLOPs of a Linear
 * (2 * rows * cols dense, 2 * nnz sparse) and of Conv2d layers times their output positions,
 * OH * OW computed here by hand for strided, padded and rectangular kernels; structure detection
 * on hand-made patterns and on masks the Pruner made ('dense', 'channel', '2:4', '4:8',
 * 'block 4x1', 'block 1x4', 'block 2x2', 'unstructured'); the table names every layer; tracing
 * leaves the model's mode and forward methods as they were; bad sampleShape is a typed error.
 */
import { describe, expect, it } from 'vitest';
import { SparsennTypeError } from '../../lib/errors.js';
import { Flatten, ReLU } from '../../lib/nn/layers/activations.js';
import { Conv2d } from '../../lib/nn/layers/conv.js';
import { Linear } from '../../lib/nn/layers/linear.js';
import { Sequential } from '../../lib/nn/layers/sequential.js';
import type { Module } from '../../lib/nn/module.js';
import { Random } from '../../lib/nn/random.js';
import { Pruner } from '../../lib/prune/pruner.js';
import { detectStructure, formatSparsityReport, sparsityReport } from '../../lib/prune/report.js';
import { blocks, channels, nm } from '../../lib/prune/structures.js';
import { expectThrows } from '../helpers/errors.js';

const quiet = { onWarning: () => {}, minFanOut: 0 };

function linearModel() {
  const fc0 = new Linear(20, 16, { rng: new Random(1) });
  const fc1 = new Linear(16, 8, { rng: new Random(2) });
  const fc2 = new Linear(8, 4, { rng: new Random(3) });
  const fc3 = new Linear(12, 16, { rng: new Random(4) });
  const fc4 = new Linear(16, 12, { rng: new Random(5) });
  const model = new Sequential({ fc0, r0: new ReLU(), fc1, r1: new ReLU(), fc2, fc5: new Linear(4, 12, { rng: new Random(6) }), fc3, fc4 });
  return { model, fc0, fc1, fc2, fc3, fc4 };
}

const count = (m: Readonly<Uint8Array>) => m.reduce((a, b) => a + b, 0);

describe('sparsityReport on Linear layers', () => {
  it('nnz, sparsity, FLOPs (2 rows cols dense, 2 nnz sparse) and the structure of each mask', () => {
    const { model, fc0, fc1, fc2, fc3 } = linearModel();
    new Pruner(model, { include: ['fc0.weight'], structure: channels(), sampleShape: [20], ...quiet }).pruneTo(0.5);
    new Pruner(model, { include: ['fc1.weight'], structure: nm(2, 4) }).pruneTo(0);
    new Pruner(model, { include: ['fc3.weight'], structure: blocks(4, 1), ...quiet }).pruneTo(0.5);
    new Pruner(model, { include: ['fc4.weight'], ...quiet }).pruneTo(0.7);
    // fc2 has no mask but three exact zeros: they count as pruned
    fc2.weight.data[0] = 0;
    fc2.weight.data[5] = 0;
    fc2.weight.data[31] = 0;
    const r = sparsityReport(model);
    const byName = Object.fromEntries(r.layers.map((l) => [l.name, l]));
    expect(r.layers.map((l) => l.name)).toEqual(['fc0.weight', 'fc1.weight', 'fc2.weight', 'fc5.weight', 'fc3.weight', 'fc4.weight']);
    const expectLayer = (name: string, rows: number, cols: number, nnz: number, structure: string) => {
      expect(byName[name]).toEqual({
        name,
        shape: [rows, cols],
        size: rows * cols,
        nnz,
        sparsity: 1 - nnz / (rows * cols),
        structure,
        positions: 1,
        flopsDense: 2 * rows * cols,
        flopsSparse: 2 * nnz,
      });
    };
    expectLayer('fc0.weight', 16, 20, 8 * 20, 'channel');
    expectLayer('fc1.weight', 8, 16, 8 * 8, '2:4');
    expectLayer('fc2.weight', 4, 8, 29, 'unstructured');
    expectLayer('fc5.weight', 12, 4, 48, 'dense');
    expectLayer('fc3.weight', 16, 12, count(fc3.weight.mask!), 'block 4x1');
    expectLayer('fc4.weight', 12, 16, Math.round(0.3 * 192), 'unstructured');
    expect(count(fc0.weight.mask!)).toBe(160);
    expect(count(fc1.weight.mask!)).toBe(64);
    const size = 320 + 128 + 32 + 48 + 192 + 192;
    const nnz = r.layers.reduce((a, l) => a + l.nnz, 0);
    expect(r.size).toBe(size);
    expect(r.nnz).toBe(nnz);
    expect(r.sparsity).toBeCloseTo(1 - nnz / size, 14);
    expect(r.flopsDense).toBe(2 * size);
    expect(r.flopsSparse).toBe(2 * nnz);
  });

  it('takes target options (include / keepDense)', () => {
    const { model } = linearModel();
    expect(sparsityReport(model, { keepDense: 'first-last' }).layers.map((l) => l.name)).toEqual(['fc1.weight', 'fc2.weight', 'fc5.weight', 'fc3.weight']);
    expect(sparsityReport(model, { include: ['fc2.weight'] }).size).toBe(32);
  });
});

describe('sparsityReport on Conv2d layers', () => {
  function convModel() {
    // [3, 11, 9] -> conv1 (k 3, stride 2, padding 1): OH = floor((11 + 2 - 3) / 2) + 1 = 6,
    //                                                  OW = floor((9 + 2 - 3) / 2) + 1 = 5
    //            -> conv2 (k 3x2, dilation 1, no padding): OH = 6 - 3 + 1 = 4, OW = 5 - 2 + 1 = 4
    const conv1 = new Conv2d(3, 4, 3, { stride: 2, padding: 1, rng: new Random(10) });
    const conv2 = new Conv2d(4, 2, [3, 2], { rng: new Random(11) });
    const fc = new Linear(2 * 4 * 4, 10, { rng: new Random(12) });
    const model = new Sequential({ conv1, relu: new ReLU(), conv2, flat: new Flatten(), fc });
    return { model, conv1, conv2, fc };
  }

  it('multiplies by the output positions OH * OW traced from sampleShape', () => {
    const { model, conv1, conv2 } = convModel();
    new Pruner(model, { include: ['conv1.weight'], ...quiet }).pruneTo(0.6);
    new Pruner(model, { include: ['conv2.weight'], structure: channels(), sampleShape: [3, 11, 9], ...quiet }).pruneTo(0.5);
    const r = sparsityReport(model, { sampleShape: [3, 11, 9] });
    const [l1, l2, l3] = r.layers;
    const nnz1 = count(conv1.weight.mask!);
    expect(nnz1).toBe(Math.round(0.4 * 108));
    expect(l1).toMatchObject({ name: 'conv1.weight', shape: [4, 3, 3, 3], size: 108, nnz: nnz1, positions: 30, flopsDense: 2 * 108 * 30, flopsSparse: 2 * nnz1 * 30 });
    expect(l2).toMatchObject({ name: 'conv2.weight', shape: [2, 4, 3, 2], size: 48, nnz: 24, positions: 16, flopsDense: 2 * 48 * 16, flopsSparse: 2 * 24 * 16, structure: 'channel' });
    expect(count(conv2.weight.mask!)).toBe(24);
    expect(l3).toMatchObject({ name: 'fc.weight', positions: 1, flopsDense: 2 * 320, flopsSparse: 2 * 320, structure: 'dense' });
    expect(r.flopsDense).toBe(2 * 108 * 30 + 2 * 48 * 16 + 2 * 320);
    expect(r.flopsSparse).toBe(2 * nnz1 * 30 + 2 * 24 * 16 + 2 * 320);
  });

  it('without sampleShape, conv FLOPs are unknown (null) and so are the totals', () => {
    const { model } = convModel();
    const r = sparsityReport(model);
    expect(r.layers.map((l) => l.positions)).toEqual([null, null, 1]);
    expect(r.layers[0]!.flopsDense).toBeNull();
    expect(r.layers[2]!.flopsDense).toBe(640);
    expect(r.flopsDense).toBeNull();
    expect(r.flopsSparse).toBeNull();
  });

  it('tracing leaves the model’s mode and forward methods as they were', () => {
    const { model } = convModel();
    const own = (m: Module) => Object.prototype.hasOwnProperty.call(m, 'forward');
    sparsityReport(model, { sampleShape: [3, 11, 9] });
    expect(model.training).toBe(true);
    expect(model.namedModules().some(([, m]) => own(m))).toBe(false);
    model.eval();
    sparsityReport(model, { sampleShape: [3, 11, 9] });
    expect(model.training).toBe(false);
  });

  it('rejects a bad sampleShape with ERR_TYPE', () => {
    const { model } = convModel();
    for (const s of [[0, 11, 9], [3, 1.5, 9], 'x' as unknown as number[]])
      expectThrows(() => sparsityReport(model, { sampleShape: s }), SparsennTypeError, 'ERR_TYPE', `sampleShape ${JSON.stringify(s)}`);
  });
});

describe('detectStructure', () => {
  const from = (rows: string[]) => ({
    kept: Uint8Array.from(rows.join('').split('').map(Number)),
    rows: rows.length,
    cols: rows[0]!.length,
  });
  const detect = (rows: string[]) => {
    const p = from(rows);
    return detectStructure(p.kept, p.rows, p.cols);
  };

  it('names hand-made patterns', () => {
    expect(detect(['1111', '1111'])).toBe('dense');
    expect(detect(['1111', '0000', '1111'])).toBe('channel');
    expect(detect(['11000110', '10100011'])).toBe('2:4');
    expect(detect(['10000100', '00010010'])).toBe('1:4');
    // four of eight, but 4 in one run of 4: 4:8, not 2:4
    expect(detect(['11110000', '00111100'])).toBe('4:8');
    expect(detect(['11110000', '00001111', '11111111', '00000000'])).toBe('block 1x4');
    expect(detect(['1100', '1100', '1111', '1111'])).toBe('block 2x2');
    expect(detect(['10', '10', '10', '10', '01', '01', '01', '01'])).toBe('block 4x1');
    expect(detect(['1000', '0110', '0001'])).toBe('unstructured');
  });
});

describe('formatSparsityReport', () => {
  it('is a table naming every layer, its structure, and the total', () => {
    const { model } = linearModel();
    new Pruner(model, { include: ['fc1.weight'], structure: nm(2, 4) }).pruneTo(0);
    const r = sparsityReport(model);
    const text = formatSparsityReport(r);
    const lines = text.split('\n');
    expect(lines).toHaveLength(2 + r.layers.length + 1);
    expect(lines[0]).toMatch(/^layer\s+shape\s+nnz \/ size\s+sparsity\s+structure\s+FLOPs dense\s+FLOPs sparse$/);
    r.layers.forEach((l, i) => {
      const line = lines[2 + i]!;
      expect(line.startsWith(l.name)).toBe(true);
      expect(line).toContain(`${l.nnz} / ${l.size}`);
      expect(line).toContain(l.structure);
      expect(line).toContain(`${(l.sparsity * 100).toFixed(2)}%`);
    });
    expect(lines[lines.length - 1]!.startsWith('total')).toBe(true);
    expect(lines[lines.length - 1]).toContain(`${r.nnz} / ${r.size}`);
    // aligned columns: every line has the same width
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
  });
});
