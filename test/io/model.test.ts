/**
 * saveModel / loadModel: bit-exact round trips (weights, buffers, masks, outputs), the file
 * checked against the safetensors spec by decoding its header by hand, atomic saves that keep
 * the previous file when saving fails, and typed errors for truncated, corrupted and
 * inconsistent files; loadWeights with and without strict.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BatchNorm2d,
  Conv2d,
  decodeModel,
  encodeModel,
  encodeSafetensors,
  Flatten,
  FormatError,
  Linear,
  loadModel,
  loadModelSync,
  loadWeights,
  manualSeed,
  MaxPool2d,
  Module,
  noGrad,
  ReLU,
  saveModel,
  saveModelSync,
  Sequential,
  ShapeError,
  Tensor,
  type ModuleConfig,
  type SafetensorsTensor,
} from '../../lib/index.js';
import { expectRejects, expectThrows } from '../helpers/errors.js';
import { expectSameBits } from '../helpers/expect.js';
import { mulberry32 } from '../helpers/random.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sparsenn-model-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function randomTensor(shape: number[], seed: number): Tensor {
  const rng = mulberry32(seed);
  const t = Tensor.zeros(shape);
  for (let i = 0; i < t.size; i++) t.data[i] = rng() * 2 - 1;
  return t;
}

function randomMask(size: number, density: number, seed: number): Uint8Array {
  const rng = mulberry32(seed);
  return new Uint8Array(size).map(() => (rng() < density ? 1 : 0));
}

function maskedMlp(): Sequential {
  manualSeed(1);
  const m = new Sequential({ fc1: new Linear(20, 16), act: new ReLU(), fc2: new Linear(16, 4) });
  (m.at(0) as Linear).weight.setMask(randomMask(320, 0.3, 2)); // sparse execution
  (m.at(2) as Linear).weight.setMask(randomMask(64, 0.7, 3)); // dense execution, masked
  return m;
}

function cnn(): Sequential {
  manualSeed(4);
  const m = new Sequential({
    conv1: new Conv2d(1, 4, 3, { padding: 1 }),
    bn1: new BatchNorm2d(4),
    act: new ReLU(),
    pool: new MaxPool2d(2),
    flat: new Flatten(),
    fc: new Linear(4 * 4 * 4, 3),
  });
  // move the running statistics and the affine parameters away from their defaults
  const bn = m.at(1) as BatchNorm2d;
  bn.weight!.data.set([0.5, 1.5, -1, 2]);
  bn.bias!.data.set([0.1, -0.2, 0.3, 0]);
  noGrad(() => m.forward(randomTensor([1, 8, 8, 5], 5)));
  noGrad(() => m.forward(randomTensor([1, 8, 8, 5], 6)));
  return m;
}

function expectSameModel(got: Module, want: Module, input: Tensor): void {
  expect(got.config()).toEqual(want.config());
  const gs = got.stateDict();
  const ws = want.stateDict();
  expect(Object.keys(gs)).toEqual(Object.keys(ws));
  for (const k of Object.keys(ws)) {
    expect(gs[k]!.shape, k).toEqual(ws[k]!.shape);
    expectSameBits(gs[k]!.data, ws[k]!.data, k);
  }
  const gm = got.masks();
  const wm = want.masks();
  expect(Object.keys(gm)).toEqual(Object.keys(wm));
  for (const k of Object.keys(wm)) expect(Array.from(gm[k]!), `mask ${k}`).toEqual(Array.from(wm[k]!));
  got.eval();
  want.eval();
  const a = noGrad(() => got.forward(input));
  const b = noGrad(() => want.forward(input));
  expect(a.shape).toEqual(b.shape);
  expectSameBits(a.data, b.data, 'outputs');
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Decodes a safetensors file by the spec, independently of lib/io/safetensors.ts. */
function parseByHand(bytes: Uint8Array): { header: Record<string, HeaderEntry>; metadata: Record<string, string>; data: Uint8Array } {
  expect(bytes.length).toBeGreaterThanOrEqual(8);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  expect(8 + n).toBeLessThanOrEqual(bytes.length);
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  expect(text.startsWith('{'), 'header starts with {').toBe(true);
  // trailing padding may only be spaces
  expect(/^\{.*\} *$/s.test(text)).toBe(true);
  const json = JSON.parse(text) as Record<string, unknown>;
  const metadata = (json['__metadata__'] ?? {}) as Record<string, string>;
  delete json['__metadata__'];
  return { header: json as unknown as Record<string, HeaderEntry>, metadata, data: bytes.subarray(8 + n) };
}

function f32At(data: Uint8Array, [b, e]: [number, number]): Float32Array {
  const out = new Float32Array((e - b) / 4);
  const v = new DataView(data.buffer, data.byteOffset + b, e - b);
  for (let i = 0; i < out.length; i++) out[i] = v.getFloat32(i * 4, true);
  return out;
}

describe('round trips', () => {
  it('an MLP with masks: weights, masks and outputs bit-exact', async () => {
    const m = maskedMlp();
    const path = join(dir, 'mlp.safetensors');
    await saveModel(m, path);
    const loaded = await loadModel(path);
    expect(loaded).toBeInstanceOf(Sequential);
    expectSameModel(loaded, m, randomTensor([20, 7], 10));
    // the masks are live: pruned weights are zero and remain so
    const w = (loaded as Sequential).at(0) as Linear;
    expect(w.weight.density()).toBeCloseTo(m.parameters()[0]!.density(), 12);
    w.weight.mask!.forEach((k, i) => k === 0 && expect(w.weight.data[i]).toBe(0));
    // the synchronous pair agrees
    const path2 = join(dir, 'mlp-sync.safetensors');
    saveModelSync(m, path2);
    expect(readFileSync(path2)).toEqual(readFileSync(path));
    expectSameModel(loadModelSync(path2), m, randomTensor([20, 3], 11));
  });

  it('a CNN with BatchNorm: running statistics included, outputs bit-exact in eval mode', async () => {
    const m = cnn();
    const bn = m.at(1) as BatchNorm2d;
    expect(Array.from(bn.runningMean!).some((v) => v !== 0)).toBe(true);
    const path = join(dir, 'cnn.safetensors');
    await saveModel(m, path);
    const loaded = await loadModel(path);
    expectSameModel(loaded, m, randomTensor([1, 8, 8, 4], 12));
    const lbn = (loaded as Sequential).at(1) as BatchNorm2d;
    expectSameBits(lbn.runningMean!, bn.runningMean!, 'runningMean');
    expectSameBits(lbn.runningVar!, bn.runningVar!, 'runningVar');
  });

  it('encodeModel / decodeModel round trip in memory, and equal the file bytes', async () => {
    const m = cnn();
    const bytes = encodeModel(m);
    expectSameModel(decodeModel(bytes), m, randomTensor([1, 8, 8, 2], 13));
    const path = join(dir, 'cnn-bytes.safetensors');
    await saveModel(m, path);
    expect(new Uint8Array(readFileSync(path))).toEqual(bytes);
  });

  it('special float values survive bit-exactly', async () => {
    const m = new Sequential({ fc: new Linear(2, 3) });
    const w = (m.at(0) as Linear).weight;
    w.data.set([-0, Infinity, -Infinity, 1e-45, 3.4028234663852886e38, -1.1754943508222875e-38]);
    const path = join(dir, 'special.safetensors');
    await saveModel(m, path);
    const loaded = (await loadModel(path)) as Sequential;
    expectSameBits((loaded.at(0) as Linear).weight.data, w.data, 'special values');
  });
});

describe('the file follows the safetensors spec', () => {
  it('8-byte little-endian header length, JSON header, F32 parameters, BOOL masks, metadata', async () => {
    const m = maskedMlp();
    const path = join(dir, 'spec.safetensors');
    await saveModel(m, path, { author: 'tests', note: 'x' });
    const bytes = new Uint8Array(readFileSync(path));
    const { header, metadata, data } = parseByHand(bytes);
    const names = Object.keys(header).sort();
    expect(names).toEqual(['fc1.bias', 'fc1.weight', 'fc1.weight_mask', 'fc2.bias', 'fc2.weight', 'fc2.weight_mask']);
    // offsets: in bounds, no overlap, no holes, covering the whole data section
    const spans = Object.values(header)
      .map((e) => e.data_offsets)
      .sort((a, b) => a[0] - b[0]);
    let at = 0;
    for (const [b, e] of spans) {
      expect(b).toBe(at);
      expect(e).toBeGreaterThanOrEqual(b);
      at = e;
    }
    expect(at).toBe(data.length);
    const params = new Map(m.namedParameters());
    for (const [name, p] of params) {
      const e = header[name]!;
      expect(e.dtype, name).toBe('F32');
      expect(e.shape, name).toEqual([...p.shape]);
      expect(e.data_offsets[1] - e.data_offsets[0]).toBe(p.size * 4);
      expectSameBits(f32At(data, e.data_offsets), p.data, name);
      if (p.mask) {
        const me = header[`${name}_mask`]!;
        expect(me.dtype).toBe('BOOL');
        expect(me.shape).toEqual([...p.shape]);
        const raw = data.subarray(me.data_offsets[0], me.data_offsets[1]);
        expect(Array.from(raw)).toEqual(Array.from(p.mask));
      }
    }
    expect(metadata['format']).toBe('pt');
    expect(metadata['author']).toBe('tests');
    expect(metadata['note']).toBe('x');
    for (const v of Object.values(metadata)) expect(typeof v).toBe('string');
    expect(JSON.parse(metadata['sparsenn.architecture']!)).toEqual(m.config());
  });

  it('buffers are F32 tensors named like parameters', async () => {
    const m = cnn();
    const path = join(dir, 'spec-cnn.safetensors');
    await saveModel(m, path);
    const { header, data } = parseByHand(new Uint8Array(readFileSync(path)));
    for (const [name, b] of m.namedBuffers()) {
      const e = header[name]!;
      expect(e, name).toBeDefined();
      expect(e.dtype).toBe('F32');
      expect(e.shape).toEqual(b.shape);
      expectSameBits(f32At(data, e.data_offsets), b.data, name);
    }
    expect(Object.keys(header).sort()).toEqual(Object.keys(m.stateDict()).sort());
  });

  it('user metadata cannot replace the architecture', async () => {
    const m = maskedMlp();
    const path = join(dir, 'meta.safetensors');
    await saveModel(m, path, { 'sparsenn.architecture': '{"type":"ReLU"}' });
    const { metadata } = parseByHand(new Uint8Array(readFileSync(path)));
    expect(JSON.parse(metadata['sparsenn.architecture']!)).toEqual(m.config());
    expectSameModel(await loadModel(path), m, randomTensor([20, 2], 14));
  });
});

describe('atomic saves', () => {
  class Unsavable extends Module {
    readonly fc = this.registerModule('fc', new Linear(2, 2));
    forward(x: Tensor): Tensor {
      return this.fc.forward(x);
    }
    config(): ModuleConfig {
      throw new Error('config() failed on purpose');
    }
  }

  function tempFiles(d: string): string[] {
    return readdirSync(d).filter((f) => f.includes('.tmp-'));
  }

  it('a save that fails keeps the previous file intact and leaves no temporary file', async () => {
    const sub = join(dir, 'atomic');
    mkdirSync(sub);
    const path = join(sub, 'model.safetensors');
    await saveModel(maskedMlp(), path);
    const before = readFileSync(path);
    await expect(saveModel(new Unsavable(), path)).rejects.toThrow('config() failed on purpose');
    expect(() => saveModelSync(new Unsavable(), path)).toThrow('config() failed on purpose');
    expect(readFileSync(path)).toEqual(before);
    expect(tempFiles(sub)).toEqual([]);
    expectSameModel(await loadModel(path), maskedMlp(), randomTensor([20, 2], 15));
  });

  it('a save that fails after the temporary file was written removes it', async () => {
    const sub = join(dir, 'atomic2');
    mkdirSync(sub);
    // the target is a non-empty directory: the final rename fails
    const target = join(sub, 'model.safetensors');
    mkdirSync(target);
    writeFileSync(join(target, 'keep'), 'x');
    await expect(saveModel(maskedMlp(), target)).rejects.toThrow();
    expect(() => saveModelSync(maskedMlp(), target)).toThrow();
    expect(tempFiles(sub)).toEqual([]);
    expect(readFileSync(join(target, 'keep'), 'utf8')).toBe('x');
  });

  it('saving over an existing file replaces it', async () => {
    const path = join(dir, 'replace.safetensors');
    await saveModel(maskedMlp(), path);
    const m = cnn();
    await saveModel(m, path);
    expectSameModel(await loadModel(path), m, randomTensor([1, 8, 8, 1], 16));
    expect(tempFiles(dir)).toEqual([]);
  });
});

describe('bad files', () => {
  async function good(): Promise<{ path: string; bytes: Uint8Array }> {
    const path = join(dir, 'good.safetensors');
    await saveModel(maskedMlp(), path);
    return { path, bytes: new Uint8Array(readFileSync(path)) };
  }

  function writeBytes(name: string, bytes: Uint8Array): string {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  }

  it('truncated files are FormatErrors (async and sync)', async () => {
    const { bytes } = await good();
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    for (const len of [0, 3, 8, 8 + Math.floor(n / 2), 8 + n, bytes.length - 1]) {
      const path = writeBytes(`trunc-${len}.safetensors`, bytes.subarray(0, len));
      await expectRejects(loadModel(path), FormatError, 'ERR_FORMAT', `truncated at ${len}`);
      expectThrows(() => loadModelSync(path), FormatError, 'ERR_FORMAT', `sync truncated at ${len}`);
      expectThrows(() => decodeModel(bytes.subarray(0, len)), FormatError, 'ERR_FORMAT', `decode truncated at ${len}`);
    }
  });

  it('corrupted headers are FormatErrors', async () => {
    const { bytes } = await good();
    // JSON syntax broken
    const brokenJson = bytes.slice();
    brokenJson[8] = 0x5b; // '[' instead of '{'
    await expectRejects(loadModel(writeBytes('broken-json.safetensors', brokenJson)), FormatError, 'ERR_FORMAT', 'json');
    // header length larger than the file
    const hugeLen = bytes.slice();
    new DataView(hugeLen.buffer).setBigUint64(0, BigInt(bytes.length), true);
    await expectRejects(loadModel(writeBytes('huge-len.safetensors', hugeLen)), FormatError, 'ERR_FORMAT', 'length');
    // an absurd header length
    const absurd = bytes.slice();
    new DataView(absurd.buffer).setBigUint64(0, 2n ** 62n, true);
    await expectRejects(loadModel(writeBytes('absurd-len.safetensors', absurd)), FormatError, 'ERR_FORMAT', 'absurd length');
    // garbage
    const garbage = new Uint8Array(64).map((_, i) => (i * 37) & 0xff);
    await expectRejects(loadModel(writeBytes('garbage.safetensors', garbage)), FormatError, 'ERR_FORMAT', 'garbage');
  });

  function fileWith(tensors: Record<string, SafetensorsTensor>, metadata: Record<string, string>): Uint8Array {
    return encodeSafetensors(tensors, metadata);
  }

  function mlpTensors(): { tensors: Record<string, SafetensorsTensor>; metadata: Record<string, string> } {
    const m = maskedMlp();
    const tensors: Record<string, SafetensorsTensor> = {};
    for (const [k, v] of Object.entries(m.stateDict())) tensors[k] = { dtype: 'F32', shape: v.shape, data: v.data };
    for (const [k, v] of Object.entries(m.masks())) tensors[`${k}_mask`] = { dtype: 'BOOL', shape: [...new Map(m.namedParameters()).get(k)!.shape], data: v };
    return { tensors, metadata: { format: 'pt', 'sparsenn.architecture': JSON.stringify(m.config()) } };
  }

  it('a hand-built file equal to what saveModel writes loads (the test fixture is right)', () => {
    const { tensors, metadata } = mlpTensors();
    expectSameModel(decodeModel(fileWith(tensors, metadata)), maskedMlp(), randomTensor([20, 2], 17));
  });

  it('missing or invalid architecture metadata is a FormatError', async () => {
    const { tensors, metadata } = mlpTensors();
    const none = { ...metadata };
    delete none['sparsenn.architecture'];
    const e1 = expectThrows(() => decodeModel(fileWith(tensors, none)), FormatError, 'ERR_FORMAT', 'no architecture');
    expect(e1.message).toContain('loadWeights');
    expectThrows(() => decodeModel(fileWith(tensors, { ...metadata, 'sparsenn.architecture': '{"type":' })), FormatError, 'ERR_FORMAT', 'bad json');
    const e3 = expectThrows(() => decodeModel(fileWith(tensors, { ...metadata, 'sparsenn.architecture': '{"type":"Bogus"}' })), FormatError, 'ERR_FORMAT', 'unknown type');
    expect(e3.message).toContain('Bogus');
    await expectRejects(loadModel(writeBytes('no-arch.safetensors', fileWith(tensors, none))), FormatError, 'ERR_FORMAT', 'file without architecture');
  });

  it('a mask for a parameter the model does not have is a FormatError', async () => {
    const { tensors, metadata } = mlpTensors();
    tensors['fc3.weight_mask'] = { dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) };
    const path = writeBytes('stray-mask.safetensors', fileWith(tensors, metadata));
    const err = await expectRejects(loadModel(path), FormatError, 'ERR_FORMAT', 'stray mask');
    expect(err.message).toContain('fc3.weight');
    // a mask for a buffer-less name that is a module, not a parameter
    const t2 = mlpTensors();
    t2.tensors['act_mask'] = { dtype: 'BOOL', shape: [1], data: new Uint8Array([1]) };
    expectThrows(() => decodeModel(fileWith(t2.tensors, t2.metadata)), FormatError, 'ERR_FORMAT', 'module mask');
  });

  it('a mask of the wrong length is a ShapeError', () => {
    const { tensors, metadata } = mlpTensors();
    tensors['fc1.weight_mask'] = { dtype: 'BOOL', shape: [319], data: new Uint8Array(319).fill(1) };
    const err = expectThrows(() => decodeModel(fileWith(tensors, metadata)), ShapeError, 'ERR_SHAPE', 'short mask');
    expect(err.message).toContain('fc1.weight');
  });

  it('a mask of a non-boolean dtype is a FormatError; U8 0/1 masks are accepted', () => {
    const { tensors, metadata } = mlpTensors();
    const mask = tensors['fc1.weight_mask']!.data as Uint8Array;
    tensors['fc1.weight_mask'] = { dtype: 'I32', shape: [16, 20], data: Int32Array.from(mask) };
    expectThrows(() => decodeModel(fileWith(tensors, metadata)), FormatError, 'ERR_FORMAT', 'I32 mask');
    tensors['fc1.weight_mask'] = { dtype: 'U8', shape: [16, 20], data: mask };
    const m = decodeModel(fileWith(tensors, metadata));
    expect(Array.from(m.masks()['fc1.weight']!)).toEqual(Array.from(mask));
  });

  it('an F16 weight is a FormatError naming it', () => {
    const { tensors, metadata } = mlpTensors();
    tensors['fc2.bias'] = { dtype: 'F16', shape: [4], data: new Uint16Array([0x3c00, 0, 0, 0]) };
    const err = expectThrows(() => decodeModel(fileWith(tensors, metadata)), FormatError, 'ERR_FORMAT', 'F16');
    expect(err.message).toContain('fc2.bias');
    expect(err.message).toContain('F16');
  });

  it('a weight of the wrong shape, a missing weight or an extra tensor is a typed error', () => {
    const base = mlpTensors();
    base.tensors['fc2.bias'] = { dtype: 'F32', shape: [2, 2], data: new Float32Array(4) };
    expectThrows(() => decodeModel(fileWith(base.tensors, base.metadata)), ShapeError, 'ERR_SHAPE', 'wrong shape');
    const missing = mlpTensors();
    delete missing.tensors['fc2.bias'];
    expectThrows(() => decodeModel(fileWith(missing.tensors, missing.metadata)), FormatError, 'ERR_FORMAT', 'missing');
    const extra = mlpTensors();
    extra.tensors['fc9.weight'] = { dtype: 'F32', shape: [1], data: new Float32Array(1) };
    expectThrows(() => decodeModel(fileWith(extra.tensors, extra.metadata)), FormatError, 'ERR_FORMAT', 'extra');
  });
});

describe('loadWeights', () => {
  it('strict (default): names must match exactly; masks absent from the file are removed', async () => {
    const path = join(dir, 'weights.safetensors');
    const src = maskedMlp();
    await saveModel(src, path);
    // same architecture, different init, different masks
    manualSeed(50);
    const dst = new Sequential({ fc1: new Linear(20, 16), act: new ReLU(), fc2: new Linear(16, 4) });
    (dst.at(2) as Linear).bias!.setMask(new Uint8Array([1, 0, 1, 1]));
    await loadWeights(dst, path);
    expectSameModel(dst, src, randomTensor([20, 3], 18));
    expect(dst.masks()['fc2.bias']).toBeUndefined();
    // a model with one more layer is missing names
    const bigger = new Sequential({ fc1: new Linear(20, 16), act: new ReLU(), fc2: new Linear(16, 4), fc3: new Linear(4, 2) });
    const before = bigger.stateDict();
    await expectRejects(loadWeights(bigger, path), FormatError, 'ERR_FORMAT', 'missing fc3');
    for (const [k, v] of Object.entries(bigger.stateDict())) expectSameBits(v.data, before[k]!.data, `unchanged ${k}`);
  });

  it('strict: false loads what matches, ignores the rest, keeps shapes checked', async () => {
    const path = join(dir, 'weights2.safetensors');
    const src = maskedMlp();
    await saveModel(src, path);
    manualSeed(60);
    const bigger = new Sequential({ fc1: new Linear(20, 16), act: new ReLU(), fc2: new Linear(16, 4), fc3: new Linear(4, 2) });
    const fc3Before = (bigger.at(3) as Linear).weight.data.slice();
    await loadWeights(bigger, path, { strict: false });
    const s = src.stateDict();
    for (const name of ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias'])
      expectSameBits(bigger.stateDict()[name]!.data, s[name]!.data, name);
    expectSameBits((bigger.at(3) as Linear).weight.data, fc3Before, 'fc3 untouched');
    expect(Array.from(bigger.masks()['fc1.weight']!)).toEqual(Array.from(src.masks()['fc1.weight']!));
    // a shape mismatch is still an error
    const wrong = new Sequential({ fc1: new Linear(20, 8), act: new ReLU(), fc2: new Linear(8, 4) });
    await expectRejects(loadWeights(wrong, path, { strict: false }), ShapeError, 'ERR_SHAPE', 'shape mismatch');
  });

  it('strict: false also ignores the masks of tensors the model does not have', async () => {
    // BUG (lib/io/model.ts applyWeights, the "belongs to no parameter" check): it runs whatever
    // `strict` is, so loading part of a pruned checkpoint (a backbone without the head) with
    // strict: false fails on the head's mask although the head's weights are ignored as
    // documented ("strict: false ignores missing and unexpected names"). With strict (and in
    // loadModel) the FormatError is right; it should be skipped when !strict.
    const path = join(dir, 'weights3.safetensors');
    const src = maskedMlp(); // fc1 and fc2 are both masked
    await saveModel(src, path);
    const backbone = new Sequential({ fc1: new Linear(20, 16) });
    await loadWeights(backbone, path, { strict: false });
    expectSameBits(backbone.stateDict()['fc1.weight']!.data, src.stateDict()['fc1.weight']!.data, 'backbone fc1');
    expect(Array.from(backbone.masks()['fc1.weight']!)).toEqual(Array.from(src.masks()['fc1.weight']!));
    // strict keeps rejecting it
    await expectRejects(loadWeights(new Sequential({ fc1: new Linear(20, 16) }), path), FormatError, 'ERR_FORMAT', 'strict stray mask');
  });

  it('a missing file is passed through as the file-system error', async () => {
    const missing = join(dir, 'does-not-exist.safetensors');
    expect(existsSync(missing)).toBe(false);
    await expect(loadModel(missing)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
