/**
 * The .spnn model file: the size target on a LeNet-300-100 pruned to 90% (file within 1.1× of
 * values + entropy bound, under 12% of dense fp32), bit-exact fp32 round trips (weights, masks,
 * buffers, outputs), fp16/int8 within their documented bounds, N:M and channel masks, models
 * without masks, the container checked by hand against the documented layout, every
 * single-byte corruption and every truncation rejected, hand-crafted inconsistent files
 * (valid checksum) rejected with ERR_FORMAT, and atomic saves that keep the previous file.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BatchNorm1d,
  LimitError,
  BatchNorm2d,
  Conv2d,
  Flatten,
  FormatError,
  Linear,
  manualSeed,
  MaxPool2d,
  Module,
  nm,
  noGrad,
  prune,
  ReLU,
  Sequential,
  SparsennTypeError,
  Tensor,
  type ModuleConfig,
} from '../../lib/index.js';
import { crc32 } from '../../lib/io/entropy/crc32.js';
import {
  decodeSpnn,
  encodeSpnn,
  formatSizeReport,
  inspectSpnn,
  loadSpnn,
  loadSpnnSync,
  readSpnn,
  saveSpnn,
  saveSpnnSync,
  sizeReport,
  SPNN_MAGIC,
  type SpnnOptions,
} from '../../lib/io/spnn.js';
import { expectRejects, expectThrows } from '../helpers/errors.js';
import { expectSameBits } from '../helpers/expect.js';
import { mulberry32 } from '../helpers/random.js';
import { randomMask, randomTensor } from '../helpers/tensors.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sparsenn-spnn-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function H(p: number): number {
  return p <= 0 || p >= 1 ? 0 : -(p * Math.log2(p) + (1 - p) * Math.log2(1 - p));
}

function lenet(): Sequential {
  manualSeed(3);
  return new Sequential({ fc1: new Linear(784, 300), r1: new ReLU(), fc2: new Linear(300, 100), r2: new ReLU(), fc3: new Linear(100, 10) });
}

/** Conv-BN-ReLU-pool-flatten-Linear-BN1d-ReLU-Linear with moved running stats and masks. */
function cnn(): Sequential {
  manualSeed(4);
  const m = new Sequential({
    conv1: new Conv2d(2, 6, 3, { padding: 1 }),
    bn1: new BatchNorm2d(6),
    act: new ReLU(),
    pool: new MaxPool2d(2),
    flat: new Flatten(),
    fc1: new Linear(6 * 4 * 4, 12),
    bn2: new BatchNorm1d(12),
    act2: new ReLU(),
    fc2: new Linear(12, 3),
  });
  noGrad(() => m.forward(randomTensor([2, 8, 8, 5], 5))); // training mode: moves running stats
  (m.at(0) as Conv2d).weight.setMask(randomMask(6 * 2 * 9, 0.4, 6));
  (m.at(5) as Linear).weight.setMask(randomMask(96 * 12, 0.2, 7));
  return m;
}

function expectSameModel(got: Module, want: Module, input: Tensor): void {
  expect(got.config()).toEqual(want.config());
  const gs = got.stateDict();
  const ws = want.stateDict();
  expect(Object.keys(gs).sort()).toEqual(Object.keys(ws).sort());
  for (const k of Object.keys(ws)) {
    expect(gs[k]!.shape, k).toEqual(ws[k]!.shape);
    expectSameBits(gs[k]!.data, ws[k]!.data, k);
  }
  expectSameMasks(got, want);
  const a = got.inEvalMode(() => noGrad(() => got.forward(input)));
  const b = want.inEvalMode(() => noGrad(() => want.forward(input)));
  expect(a.shape).toEqual(b.shape);
  expectSameBits(a.data, b.data, 'outputs');
}

function expectSameMasks(got: Module, want: Module): void {
  const gm = got.masks();
  const wm = want.masks();
  expect(Object.keys(gm)).toEqual(Object.keys(wm));
  for (const k of Object.keys(wm)) expect(Buffer.compare(gm[k]!, wm[k]!), `mask ${k}`).toBe(0);
}

/** The container by the documented layout, read independently of lib/io/spnn.ts. */
function splitFile(bytes: Uint8Array): { header: Record<string, unknown>; data: Uint8Array } {
  expect(Array.from(bytes.subarray(0, 8))).toEqual([0x89, 0x53, 0x50, 0x4e, 0x4e, 0x0d, 0x0a, 0x1a]);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  expect(dv.getUint16(8, true)).toBe(1);
  expect(dv.getUint16(10, true)).toBe(0);
  const h = dv.getUint32(12, true);
  expect(dv.getUint32(bytes.length - 4, true)).toBe(crc32(bytes.subarray(0, bytes.length - 4)));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + h))) as Record<string, unknown>;
  return { header, data: bytes.slice(16 + h, bytes.length - 4) };
}

/** Reassembles a file from a header and data, with a correct length and checksum. */
function joinFile(header: unknown, data: Uint8Array, version = 1, flags = 0): Uint8Array {
  const json = header instanceof Uint8Array ? header : new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(16 + json.length + data.length + 4);
  const dv = new DataView(out.buffer);
  out.set(SPNN_MAGIC, 0);
  dv.setUint16(8, version, true);
  dv.setUint16(10, flags, true);
  dv.setUint32(12, json.length, true);
  out.set(json, 16);
  out.set(data, 16 + json.length);
  dv.setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

describe('size on LeNet-300-100 pruned to 90%', () => {
  for (const how of ['magnitude', 'random'] as const) {
    it(`${how} mask: file <= 1.1 x (values + N·H(p)/8) and <= 12% of dense fp32`, () => {
      const m = lenet();
      if (how === 'magnitude') prune(m, { sparsity: 0.9 });
      else [0, 2, 4].forEach((i, j) => (m.at(i) as Linear).weight.setMask(randomMask((m.at(i) as Linear).weight.size, 0.1, 40 + j)));
      // the bound and the values, computed from the model itself
      let values = 0;
      let bound = 0;
      let dense = 0;
      for (const [, p] of m.namedParameters()) {
        dense += 4 * p.size;
        if (p.mask) {
          const k = p.mask.reduce((a, v) => a + v, 0);
          values += 4 * k;
          bound += (p.size * H(k / p.size)) / 8;
        } else values += 4 * p.size;
      }
      expect(dense).toBe(4 * 266_610);
      const bytes = encodeSpnn(m);
      const report = sizeReport(bytes);
      expect(report.totals.fileBytes).toBe(bytes.length);
      expect(report.totals.valueBytes).toBe(values);
      expect(report.totals.boundBytes).toBeCloseTo(bound, 6);
      expect(report.totals.denseBytes).toBe(dense);
      expect(report.totals.valueBytes + report.totals.indexBytes + report.totals.headerBytes).toBe(bytes.length);
      const vsBound = bytes.length / (values + bound);
      const vsDense = bytes.length / dense;
      console.log(`LeNet-300-100, 90% ${how}: file ${bytes.length} B = ${vsBound.toFixed(4)} x (values + bound), ${(100 * vsDense).toFixed(2)}% of dense; masks ${report.totals.indexBytes} B vs bound ${bound.toFixed(0)} B`);
      expect(vsBound).toBeLessThanOrEqual(1.1);
      expect(vsDense).toBeLessThanOrEqual(0.12);
      // a mask never costs more than its bound plus the coder's flush
      for (const t of report.tensors) if (t.encoding === 'mask') expect(t.indexBytes).toBeLessThanOrEqual(t.boundBytes + 5);
      const text = formatSizeReport(report);
      expect(text).toContain('fc1.weight');
      expect(text).toMatch(/% of dense fp32/);
      // the same report straight from the model
      expect(sizeReport(m).totals).toEqual(report.totals);
      expectSameModel(decodeSpnn(bytes), m, randomTensor([784, 3], 8));
    });
  }
});

describe('fp32 round trips', () => {
  it('a CNN with masks and batch-norm buffers: bit-exact weights, masks, buffers, outputs', async () => {
    const m = cnn();
    const input = randomTensor([2, 8, 8, 4], 9);
    const bytes = encodeSpnn(m);
    const { header } = splitFile(bytes);
    expect(header['architecture']).toEqual(JSON.parse(JSON.stringify(m.config())));
    expectSameModel(decodeSpnn(bytes), m, input);
    const path = join(dir, 'cnn.spnn');
    saveSpnnSync(m, path);
    expect(Buffer.compare(readFileSync(path), bytes)).toBe(0);
    expectSameModel(loadSpnnSync(path), m, input);
    await saveSpnn(m, join(dir, 'cnn2.spnn'));
    expectSameModel(await loadSpnn(join(dir, 'cnn2.spnn')), m, input);
  });

  it('a model with no masks stores everything dense and loads without masks', () => {
    manualSeed(12);
    const m = new Sequential(new Linear(10, 7), new ReLU(), new Linear(7, 2, { bias: false }));
    const bytes = encodeSpnn(m);
    const info = inspectSpnn(bytes);
    expect(info.tensors.map((t) => t.encoding)).toEqual(['dense', 'dense', 'dense']);
    const back = decodeSpnn(bytes);
    expect(back.namedParameters().every(([, p]) => p.mask === null)).toBe(true);
    expectSameModel(back, m, randomTensor([10, 2], 13));
    // values only: 4 bytes per parameter
    expect(sizeReport(bytes).totals.valueBytes).toBe(4 * (70 + 7 + 14));
  });

  it('masks that keep everything or nothing, kept exact zeros and -0', () => {
    manualSeed(14);
    const m = new Sequential(new Linear(16, 8), new Linear(8, 4));
    const w = (m.at(0) as Linear).weight;
    w.data[3] = 0;
    w.data[4] = -0;
    w.setMask(new Uint8Array(128).fill(1));
    (m.at(1) as Linear).weight.setMask(new Uint8Array(32));
    const bytes = encodeSpnn(m);
    const r = sizeReport(bytes);
    expect(r.tensors[0]!.indexBytes).toBe(0); // an all-kept mask costs nothing
    expect(r.tensors[2]!.indexBytes).toBe(0);
    const back = decodeSpnn(bytes);
    expectSameModel(back, m, randomTensor([16, 3], 15));
    expect(Object.is(((back as Sequential).at(0) as Linear).weight.data[4], -0)).toBe(true);
  });

  it('unmasked weights with many exact zeros are stored sparse (implicitZeros) and come back without a mask', () => {
    manualSeed(16);
    const m = new Sequential(new Linear(64, 32));
    const w = (m.at(0) as Linear).weight;
    const keep = randomMask(w.size, 0.15, 17);
    for (let i = 0; i < w.size; i++) if (!keep[i]) w.data[i] = 0;
    const bytes = encodeSpnn(m);
    const t = inspectSpnn(bytes).tensors[0]!;
    expect(t.encoding).toBe('zeros');
    const back = decodeSpnn(bytes);
    expect(((back as Sequential).at(0) as Linear).weight.mask).toBeNull();
    expectSameModel(back, m, randomTensor([64, 2], 18));
    const plain = encodeSpnn(m, { implicitZeros: false });
    expect(inspectSpnn(plain).tensors[0]!.encoding).toBe('dense');
    expect(bytes.length).toBeLessThan(0.3 * plain.length);
  });

  it('N:M and channel-structured masks round trip and cost far less than N·H(p)', () => {
    manualSeed(20);
    const m = new Sequential({ fc1: new Linear(256, 64), r: new ReLU(), fc2: new Linear(64, 48), fc3: new Linear(48, 16) });
    prune(m, { sparsity: 0.5, structure: nm(2, 4), include: ['fc1.weight'] });
    const rows = randomMask(48, 0.5, 21);
    (m.at(2) as Linear).weight.setMask(new Uint8Array(48 * 64).map((_, i) => rows[Math.floor(i / 64)]!));
    // input-channel (column) pruning of fc3
    const cols = randomMask(48, 0.25, 22);
    (m.at(3) as Linear).weight.setMask(new Uint8Array(16 * 48).map((_, i) => cols[i % 48]!));
    const bytes = encodeSpnn(m);
    const r = sizeReport(bytes);
    const [fc1, , fc2, , fc3] = r.tensors;
    expect(fc1!.coder).toBe('context/4');
    expect(fc1!.density).toBe(0.5);
    // 2:4: log2 C(4, 2) bits per group of 4, against 4 bits for an unstructured 50% mask
    expect(fc1!.indexBytes).toBeLessThanOrEqual(((256 * 64) / 4) * Math.log2(6) / 8 * 1.05 + 32);
    expect(fc2!.indexBytes).toBeLessThan(0.1 * fc2!.boundBytes);
    expect(fc3!.indexBytes).toBeLessThan(0.3 * fc3!.boundBytes);
    expectSameModel(decodeSpnn(bytes), m, randomTensor([256, 3], 23));
  });

  it('keeps metadata', () => {
    manualSeed(24);
    const m = new Sequential(new Linear(3, 2));
    const bytes = encodeSpnn(m, { metadata: { task: 'demo' } });
    expect(inspectSpnn(bytes).metadata).toEqual({ task: 'demo' });
    const { model, info } = readSpnn(bytes);
    expect(info.metadata).toEqual({ task: 'demo' });
    expectSameModel(model, m, randomTensor([3, 2], 25));
    expect(inspectSpnn(encodeSpnn(m)).metadata).toEqual({});
  });
});

describe('reduced precision', () => {
  function check(opts: SpnnOptions, bound: (x: number, rowMax: number, tensorMax: number) => number): void {
    const m = cnn();
    const bytes = encodeSpnn(m, opts);
    const back = decodeSpnn(bytes);
    expectSameMasks(back, m);
    const got = new Map(back.namedParameters());
    for (const [name, p] of m.namedParameters()) {
      const g = got.get(name)!.data;
      if (p.shape.length < 2) {
        expectSameBits(g, p.data, `${name} stays exact`);
        continue;
      }
      const rows = p.shape[0]!;
      const cols = p.size / rows;
      let tensorMax = 0;
      for (const v of p.data) tensorMax = Math.max(tensorMax, Math.abs(v));
      for (let r = 0; r < rows; r++) {
        let rowMax = 0;
        for (let c = 0; c < cols; c++) rowMax = Math.max(rowMax, Math.abs(p.data[r * cols + c]!));
        for (let c = 0; c < cols; c++) {
          const i = r * cols + c;
          if (p.mask && !p.mask[i]) expect(g[i]).toBe(0);
          const err = Math.abs(g[i]! - p.data[i]!);
          if (err > bound(p.data[i]!, rowMax, tensorMax)) expect.fail(`${name}[${i}]: |${g[i]} - ${p.data[i]}| = ${err} over the bound`);
        }
      }
    }
    const wantBuffers = new Map(m.namedBuffers());
    for (const [name, b] of back.namedBuffers()) expectSameBits(b.data, wantBuffers.get(name)!.data, name);
    // outputs stay close
    const x = randomTensor([2, 8, 8, 4], 30);
    const a = back.inEvalMode(() => noGrad(() => back.forward(x)));
    const b = m.inEvalMode(() => noGrad(() => m.forward(x)));
    for (let i = 0; i < a.size; i++) expect(Math.abs(a.data[i]! - b.data[i]!)).toBeLessThan(0.05);
  }

  it('fp16: |x̂ - x| <= max(2^-11 |x|, 2^-25), biases and buffers exact, 2 bytes per weight', () => {
    check({ precision: 'fp16' }, (x) => Math.max(2 ** -11 * Math.abs(x), 2 ** -25));
    const m = cnn();
    const r32 = sizeReport(m);
    const r16 = sizeReport(m, { precision: 'fp16' });
    const w32 = r32.tensors.find((t) => t.name === 'fc1.weight')!;
    const w16 = r16.tensors.find((t) => t.name === 'fc1.weight')!;
    expect(w16.dtype).toBe('f16');
    expect(w16.valueBytes * 2).toBe(w32.valueBytes);
  });

  it('int8 per row: |x̂ - x| <= 0.50001 · rowmax/127', () => {
    check({ precision: 'int8' }, (_x, rowMax) => 0.50001 * (rowMax / 127) * (1 + 2 ** -23));
  });

  it('int8 per tensor: |x̂ - x| <= 0.50001 · max/127', () => {
    check({ precision: 'int8', int8Scale: 'tensor' }, (_x, _r, tensorMax) => 0.50001 * (tensorMax / 127) * (1 + 2 ** -23));
  });

  it('falls back to fp32 for a weight that does not fit the precision', () => {
    manualSeed(31);
    const m = new Sequential(new Linear(4, 3), new Linear(3, 2));
    (m.at(0) as Linear).weight.data[2] = 1e6; // overflows fp16
    (m.at(1) as Linear).weight.data[1] = NaN; // int8 cannot hold it
    const t16 = inspectSpnn(encodeSpnn(m, { precision: 'fp16' })).tensors;
    expect(t16.map((t) => t.dtype)).toEqual(['f32', 'f32', 'f16', 'f32']);
    const t8 = inspectSpnn(encodeSpnn(m, { precision: 'int8' })).tensors;
    expect(t8.map((t) => t.dtype)).toEqual(['i8', 'f32', 'f32', 'f32']);
    expect(((decodeSpnn(encodeSpnn(m, { precision: 'fp16' })) as Sequential).at(0) as Linear).weight.data[2]).toBe(1e6);
  });
});

function withByte(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const b = bytes.slice();
  b[at] = value;
  return b;
}

function insertByte(bytes: Uint8Array, at: number): Uint8Array {
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes.subarray(0, at));
  out.set(bytes.subarray(at), at + 1);
  return out;
}

function firstLayer(header: Record<string, unknown>): Record<string, unknown> {
  return (header['architecture'] as { layers: Array<{ module: Record<string, unknown> }> }).layers[0]!.module;
}

describe('rejecting bad files', () => {
  function small(): { model: Sequential; bytes: Uint8Array } {
    manualSeed(40);
    const model = new Sequential({ fc: new Linear(6, 4), bn: new BatchNorm1d(4) });
    (model.at(0) as Linear).weight.setMask(randomMask(24, 0.5, 41));
    return { model, bytes: encodeSpnn(model) };
  }

  it('every single-byte corruption and every truncation is an ERR_FORMAT', () => {
    const { bytes } = small();
    expect(bytes.length).toBeLessThan(1200);
    const copy = bytes.slice();
    for (let i = 0; i < bytes.length; i++)
      for (const x of [0x01, 0x80, 0xff]) {
        copy[i] = bytes[i]! ^ x;
        expectThrows(() => decodeSpnn(copy), FormatError, 'ERR_FORMAT', `byte ${i} ^ ${x}`);
        copy[i] = bytes[i]!;
      }
    for (let n = 0; n < bytes.length; n++) expectThrows(() => decodeSpnn(bytes.subarray(0, n)), FormatError, 'ERR_FORMAT', `truncated to ${n}`);
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expectThrows(() => decodeSpnn(longer), FormatError, 'ERR_FORMAT', 'one byte appended');
  });

  it('every single-byte change under a recomputed checksum is an ERR_FORMAT or a well-formed model, never another error', () => {
    const { bytes } = small();
    const { header, data } = splitFile(bytes);
    const json = new TextEncoder().encode(JSON.stringify(header));
    expect(16 + json.length + data.length + 4).toBe(bytes.length); // the writer's header is compact JSON
    const maskBytes = (header['tensors'] as Array<Record<string, number>>)[0]!['maskBytes']!;
    let rejected = 0;
    for (let i = 0; i < json.length + data.length; i++)
      for (const x of [0x01, 0x20]) {
        const j = json.slice();
        const d = data.slice();
        if (i < json.length) j[i] ^= x;
        else d[i - json.length] ^= x;
        let result: unknown;
        try {
          result = decodeSpnn(joinFile(j, d));
        } catch (e) {
          result = e;
        }
        if (result instanceof Module) {
          // only a value or a harmless header change decodes; a changed mask byte never does
          expect(i >= json.length && i < json.length + maskBytes, `mask byte ${i - json.length} ^ ${x} decoded`).toBe(false);
          continue;
        }
        expect(result, `byte ${i} ^ ${x}: ${String(result)}`).toBeInstanceOf(FormatError);
        rejected++;
      }
    expect(rejected).toBeGreaterThan(json.length); // most header changes are caught
  });

  it('limits the elements a file may declare', () => {
    const { bytes } = small();
    expect(() => decodeSpnn(bytes, { maxElements: 10 })).toThrow(/limit of 10/);
    expect(decodeSpnn(bytes, { maxElements: 24 + 4 + 4 * 2 + 8 + 1 })).toBeInstanceOf(Module);
  });

  it('says what is wrong in files with a valid checksum', () => {
    const { bytes } = small();
    const { header, data } = splitFile(bytes);
    const tensors = header['tensors'] as Array<Record<string, unknown>>;
    const edit = (f: (h: Record<string, unknown>, t: Array<Record<string, unknown>>) => void, d: Uint8Array = data): Uint8Array => {
      const h = JSON.parse(JSON.stringify(header)) as Record<string, unknown>;
      f(h, h['tensors'] as Array<Record<string, unknown>>);
      return joinFile(h, d);
    };
    const maskBytes = tensors[0]!['maskBytes'] as number;
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ['magic', withByte(bytes, 1, 0x54), /magic/],
      ['version', joinFile(header, data, 2), /version 2/],
      ['flags', joinFile(header, data, 1, 4), /flags/],
      ['not JSON', joinFile('{"architecture": ', data), /not valid JSON/],
      ['not UTF-8', joinFile(Uint8Array.of(0x7b, 0xff, 0x7d), data), /UTF-8/],
      ['unknown header field', edit((h) => (h['extra'] = 1)), /unexpected header field/],
      ['no architecture', edit((h) => delete h['architecture']), /architecture/],
      ['unknown module type', edit((h) => ((h['architecture'] as ModuleConfig).type = 'Nope')), /architecture cannot be rebuilt.*Nope/],
      ['shape mismatch', edit((_h, t) => (t[0]!['shape'] = [4, 5])), /shape|runs past|more than/],
      ['wrong shape vs architecture', edit((h) => (firstLayer(h)['inFeatures'] = 5)), /architecture expects/],
      ['missing tensor', edit((_h, t) => t.splice(1, 1), data.subarray(0, data.length)), /holds \d+ bytes more|stores no values/],
      ['unknown tensor', edit((_h, t) => (t[1]!['name'] = 'fc.nope')), /not a parameter or buffer/],
      ['duplicate tensor', edit((_h, t) => (t[2]!['name'] = t[3]!['name'])), /twice/],
      ['kind', edit((_h, t) => (t[1]!['kind'] = 'buffer')), /stored as a buffer|kind/],
      ['nnz too large', edit((_h, t) => (t[0]!['nnz'] = 25)), /nnz/],
      // one value fewer: the count coder then decodes a different bitmap from the same stream
      ['nnz vs mask', edit((_h, t) => (t[0]!['nnz'] = (t[0]!['nnz'] as number) - 1), data.subarray(0, data.length - 4)), /does not decode cleanly|keeps|decoding it took/],
      ['maskBytes', edit((_h, t) => (t[0]!['maskBytes'] = maskBytes + 1), insertByte(data, maskBytes)), /decoding it took/],
      ['bad coder', edit((_h, t) => (t[0]!['coder'] = 'zip')), /coder/],
      ['bad period', edit((_h, t) => Object.assign(t[0]!, { coder: 'context', period: 17 })), /period/],
      ['f16 bias', edit((_h, t) => (t[1]!['dtype'] = 'f16')), /2\+ dimensions/],
      ['buffer encoding', edit((_h, t) => (t[4]!['encoding'] = 'zeros')), /buffer/],
      ['unknown tensor field', edit((_h, t) => (t[1]!['extra'] = 1)), /unexpected field/],
      ['negative dimension', edit((_h, t) => (t[1]!['shape'] = [-4])), /shape/],
      ['trailing data', joinFile(header, Uint8Array.from([...data, 0])), /more than its tensors use/],
      ['data too short', joinFile(header, data.subarray(0, data.length - 1)), /runs past the end/],
    ];
    for (const [label, file, message] of cases) {
      const err = expectThrows(() => decodeSpnn(file), FormatError, 'ERR_FORMAT', label);
      expect(err.message, label).toMatch(message);
    }
    // Over the element limit is a limit, not a malformed file.
    const huge = edit((_h, t) => (t[1]!['shape'] = [2 ** 30]));
    expect(expectThrows(() => decodeSpnn(huge), LimitError, 'ERR_LIMIT', 'element limit').message).toMatch(/more than the limit/);
    // a hostile mask stream (random bytes under a valid checksum) is caught by its length or popcount
    const rng = mulberry32(42);
    const mb = tensors[0]!['maskBytes'] as number;
    for (let t = 0; t < 30; t++) {
      const d = data.slice();
      for (let i = 0; i < mb; i++) d[i] = Math.floor(rng() * 256);
      for (const coder of [{ coder: 'count' }, { coder: 'context', period: 1 + (t % 4) }]) {
        const f = edit((_h, ts) => Object.assign(ts[0]!, coder), d);
        expectThrows(() => decodeSpnn(f), FormatError, 'ERR_FORMAT', `random mask stream ${t}`);
      }
    }
    // int8 specifics: -128 and a negative scale
    const m8 = new Sequential(new Linear(2, 2));
    const f8 = splitFile(encodeSpnn(m8, { precision: 'int8' }));
    const d1 = f8.data.slice();
    d1[8] = 0x80; // first value (after the two f32 row scales)
    expectThrows(() => decodeSpnn(joinFile(f8.header, d1)), FormatError, 'ERR_FORMAT', 'int8 -128');
    const d2 = f8.data.slice();
    d2[3] = 0xbf; // sign bit of the first scale
    expectThrows(() => decodeSpnn(joinFile(f8.header, d2)), FormatError, 'ERR_FORMAT', 'negative scale');
  });

  it('rejects bad arguments with typed errors', async () => {
    const { model } = small();
    expectThrows(() => decodeSpnn([1, 2] as unknown as Uint8Array), SparsennTypeError, 'ERR_TYPE', 'array');
    expectThrows(() => encodeSpnn({} as Module), SparsennTypeError, 'ERR_TYPE', 'model');
    expectThrows(() => encodeSpnn(model, { precision: 'fp8' as 'fp16' }), SparsennTypeError, 'ERR_TYPE', 'precision');
    expectThrows(() => saveSpnnSync(model, ''), SparsennTypeError, 'ERR_TYPE', 'path');
    await expectRejects(loadSpnn(''), SparsennTypeError, 'ERR_TYPE', 'empty path');
    // a missing file is the file system's error, as with every other loader
    await expect(loadSpnn(join(dir, 'missing.spnn'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('atomic saves', () => {
  it('a failed save keeps the previous file and leaves no temporary file', async () => {
    const { model, bytes } = (() => {
      manualSeed(50);
      const m = new Sequential(new Linear(5, 3));
      return { model: m, bytes: encodeSpnn(m) };
    })();
    const sub = join(dir, 'atomic');
    mkdirSync(sub);
    // 1) the temporary file cannot be created: its name (target + ~25 chars) is too long
    const longName = join(sub, 'm'.repeat(240) + '.spnn');
    writeFileSync(longName, 'previous');
    expect(() => saveSpnnSync(model, longName)).toThrow();
    await expect(saveSpnn(model, longName)).rejects.toThrow();
    expect(readFileSync(longName, 'utf8')).toBe('previous');
    // 2) the rename fails: the target is a non-empty directory
    const asDir = join(sub, 'dir.spnn');
    mkdirSync(asDir);
    writeFileSync(join(asDir, 'keep'), 'x');
    expect(() => saveSpnnSync(model, asDir)).toThrow();
    await expect(saveSpnn(model, asDir)).rejects.toThrow();
    expect(readFileSync(join(asDir, 'keep'), 'utf8')).toBe('x');
    // 3) encoding fails (a module whose config is not JSON) before the file is touched
    const good = join(sub, 'good.spnn');
    saveSpnnSync(model, good);
    class Bad extends Module {
      forward(x: Tensor): Tensor {
        return x;
      }
      config(): ModuleConfig {
        throw new Error('no config');
      }
    }
    expect(() => saveSpnnSync(new Bad(), good)).toThrow(/no config/);
    expect(Buffer.compare(readFileSync(good), bytes)).toBe(0);
    expect(readdirSync(sub).filter((f) => f.includes('.tmp-'))).toEqual([]);
    // and a successful save replaces the file
    manualSeed(51);
    const other = new Sequential(new Linear(5, 3));
    await saveSpnn(other, good);
    expectSameModel(loadSpnnSync(good), other, randomTensor([5, 2], 52));
    expect(existsSync(good)).toBe(true);
  });
});
