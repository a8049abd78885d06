/**
 * LoadLimits: every loader refuses a file over a configured cap with a LimitError (ERR_LIMIT)
 * naming the option, before allocating for it, and accepts the same file with the cap raised.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FormatError,
  InferencePool,
  LimitError,
  Linear,
  ReLU,
  Sequential,
  decodeModel,
  decodeOnnx,
  decodeSpnn,
  encodeModel,
  encodeSpnn,
  exportOnnx,
  importOnnx,
  loadModelBytes,
  loadModelFile,
  manualSeed,
} from '../../lib/index.js';
import { expectRejects, expectThrows } from '../helpers/errors.js';

function nested(levels: number): Sequential {
  let m = new Sequential(new Linear(4, 4), new ReLU());
  for (let i = 0; i < levels; i++) m = new Sequential(m);
  return m;
}

describe('LoadLimits', () => {
  manualSeed(3);
  const deep = nested(12);
  const wide = new Sequential(...Array.from({ length: 30 }, () => new ReLU()), new Linear(4, 2));

  it('.spnn: file size, declared elements, architecture depth and module count', () => {
    const bytes = encodeSpnn(deep, { metadata: { 'sparsenn.sampleShape': '[4]' } });
    expect(expectThrows(() => decodeSpnn(bytes, { limits: { maxFileBytes: 100 } }), LimitError, 'ERR_LIMIT').message).toMatch(/maxFileBytes/);
    expect(expectThrows(() => decodeSpnn(bytes, { limits: { maxElements: 10 } }), LimitError, 'ERR_LIMIT').message).toMatch(/limits\.maxElements/);
    expect(expectThrows(() => decodeSpnn(bytes, { limits: { maxDepth: 5 } }), LimitError, 'ERR_LIMIT').message).toMatch(/maxDepth/);
    expectThrows(() => decodeSpnn(encodeSpnn(wide), { limits: { maxNodes: 10 } }), LimitError, 'ERR_LIMIT');
    expect(decodeSpnn(bytes, { limits: { maxDepth: 20, maxElements: 100 } }).config()).toEqual(deep.config());
  });

  it('safetensors: architecture depth and module count, file size', () => {
    const bytes = encodeModel(deep);
    expectThrows(() => decodeModel(bytes, { maxDepth: 5 }), LimitError, 'ERR_LIMIT');
    expectThrows(() => decodeModel(encodeModel(wide), { maxNodes: 10 }), LimitError, 'ERR_LIMIT');
    expectThrows(() => decodeModel(bytes, { maxFileBytes: 10 }), LimitError, 'ERR_LIMIT');
    expect(decodeModel(bytes, { maxDepth: 20 }).config()).toEqual(deep.config());
  });

  it('ONNX: node count, file size and values per sample', () => {
    const bytes = exportOnnx(wide, { sampleShape: [4] });
    expectThrows(() => decodeOnnx(bytes, { maxNodes: 5 }), LimitError, 'ERR_LIMIT');
    expectThrows(() => decodeOnnx(bytes, { maxFileBytes: 50 }), LimitError, 'ERR_LIMIT');
    expect(() => importOnnx(bytes, { limits: { maxValueElements: 2 } })).toThrow(/more than sparsenn imports \(2\)/);
    expect(importOnnx(bytes, { limits: { maxNodes: 100 } })).toBeDefined();
  });

  it('loadModelFile / loadModelBytes: an oversized file is refused before it is read; the recorded sample shape counts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sparsenn-limits-'));
    const path = join(dir, 'm.spnn');
    const bytes = encodeSpnn(deep, { metadata: { 'sparsenn.sampleShape': '[4]' } });
    writeFileSync(path, bytes);
    expectThrows(() => loadModelFile(path, { limits: { maxFileBytes: 64 } }), LimitError, 'ERR_LIMIT');
    expectThrows(() => loadModelBytes(bytes, undefined, { limits: { maxValueElements: 3 } }), LimitError, 'ERR_LIMIT');
    expect(loadModelFile(path, { limits: { maxDepth: 20 } }).sampleShape).toEqual([4]);
    expectThrows(() => loadModelBytes(bytes, 'spnn', { limits: { maxDepth: 2 } }), LimitError, 'ERR_LIMIT');
  });

  it('the serving pool passes its limits to every worker', async () => {
    const bytes = encodeSpnn(deep, { metadata: { 'sparsenn.sampleShape': '[4]' } });
    await expectRejects(InferencePool.create({ model: bytes, workers: 1, limits: { maxDepth: 3 } }), LimitError, 'ERR_LIMIT');
  });

  it('an ONNX file the loader fuzzer found (Expand of an empty input to [2^31 - 1, ...]) is refused before allocating', () => {
    // 1.2 KB that made the importer allocate 2 x 8 GB of zeros for the broadcast constant.
    const bytes = new Uint8Array(readFileSync(join(__dirname, '..', 'fixtures', 'fuzz', 'onnx-expand-huge-constant.onnx')));
    expect(expectThrows(() => importOnnx(bytes), FormatError, 'ERR_FORMAT').message).toMatch(/Expand.*more than 134217728 values/);
  });

  it('an ONNX file the fuzzer found in CI (Expand to a negative dimension) is a typed error, not a RangeError', () => {
    const bytes = new Uint8Array(readFileSync(join(__dirname, '..', 'fixtures', 'fuzz', 'onnx-expand-negative-dim.onnx')));
    expect(expectThrows(() => importOnnx(bytes), FormatError, 'ERR_FORMAT').message).toMatch(/Expand/);
  });

  it('bad limits are a type error', () => {
    const bytes = encodeSpnn(deep);
    expect(() => decodeSpnn(bytes, { limits: { maxDepth: -1 } })).toThrow(/limits\.maxDepth must be a non-negative number/);
  });
});
