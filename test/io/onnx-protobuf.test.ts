/**
 * The ONNX codec: the protobuf wire format against hand-computed encodings (varints incl. 64-bit
 * and negative values, packed and unpacked repeated fields), decode(encode(m)) = m for every
 * attribute and element type, fixture round trips checked by onnxruntime-node running the
 * re-encoded bytes, typed-field tensors, external data rejection, and truncated / garbage /
 * bit-flipped input giving a FormatError (never another error, a crash or a hang).
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bfloat16ToFloat, floatToBfloat16, floatToHalf, halfToFloat } from '../../lib/io/onnx/dtypes.js';
import { decodeOnnx, encodeOnnx, importOnnx, OnnxDataType, type OnnxModel, type OnnxTensor } from '../../lib/io/onnx/index.js';
import { ProtoReader, ProtoWriter } from '../../lib/io/onnx/protobuf.js';
import { FormatError, SparsennError } from '../../lib/errors.js';
import { expectThrows } from '../helpers/errors.js';
import { mulberry32 } from '../helpers/random.js';
import { FIXTURE_DIR, fixture, runOrt, randomValues } from './onnx-helpers.js';

const FIXTURES = readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.onnx')).sort();

function bytesOf(build: (w: ProtoWriter) => void): Uint8Array {
  const w = new ProtoWriter();
  build(w);
  return w.finish();
}

describe('protobuf wire format', () => {
  it('writes varints as the spec gives them', () => {
    expect([...bytesOf((w) => w.varint(0))]).toEqual([0]);
    expect([...bytesOf((w) => w.varint(1))]).toEqual([1]);
    expect([...bytesOf((w) => w.varint(127))]).toEqual([0x7f]);
    expect([...bytesOf((w) => w.varint(128))]).toEqual([0x80, 0x01]);
    expect([...bytesOf((w) => w.varint(300))]).toEqual([0xac, 0x02]);
    // 2^32: 32 zero bits in 7-bit groups, then the 1
    expect([...bytesOf((w) => w.varint(2 ** 32))]).toEqual([0x80, 0x80, 0x80, 0x80, 0x10]);
    // -1 as int64: ten bytes, all ones
    expect([...bytesOf((w) => w.varint(-1))]).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    // -2: ...fe
    expect([...bytesOf((w) => w.varint(-2))]).toEqual([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  });

  it('reads back every varint it writes, 64-bit and negative included', () => {
    const values = [0, 1, 127, 128, 300, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 12345, 2 ** 53 - 1, -1, -2, -128, -(2 ** 31), -(2 ** 32) - 7, -(2 ** 53 - 1)];
    const bytes = bytesOf((w) => values.forEach((v) => w.varint(v)));
    const r = new ProtoReader(bytes, 'test');
    for (const v of values) expect(r.int64()).toBe(v);
    expect(r.done()).toBe(true);
  });

  it('reads int64 values beyond 2^53 as ±Infinity (the Slice "to the end" sentinels)', () => {
    const max = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f); // 2^63 - 1
    const min = Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01); // -2^63
    expect(new ProtoReader(max, 't').int64()).toBe(Infinity);
    expect(new ProtoReader(min, 't').int64()).toBe(-Infinity);
    expect(new ProtoReader(max, 't').uint64()).toBe(Infinity);
  });

  it('rejects truncated, overlong and malformed fields with FormatError', () => {
    expectThrows(() => new ProtoReader(Uint8Array.of(0x80), 't').int64(), FormatError, 'ERR_FORMAT', 'truncated varint');
    expectThrows(() => new ProtoReader(new Uint8Array(11).fill(0x80), 't').int64(), FormatError, 'ERR_FORMAT', '11-byte varint');
    // a length of 2^31 - 1 with two bytes behind it
    expectThrows(() => new ProtoReader(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x07, 1, 2), 't').bytesField(), FormatError, 'ERR_FORMAT', 'huge length');
    expectThrows(() => new ProtoReader(Uint8Array.of(0x0b), 't').tag(), FormatError, 'ERR_FORMAT', 'group wire type 3');
    expectThrows(() => new ProtoReader(Uint8Array.of(0x00), 't').tag(), FormatError, 'ERR_FORMAT', 'field 0');
    expectThrows(() => new ProtoReader(Uint8Array.of(1, 2, 3), 't').float64(), FormatError, 'ERR_FORMAT', 'short fixed64');
    const e = expectThrows(() => new ProtoReader(Uint8Array.of(0x0a, 0x05, 1), 'GraphProto').message('x'), FormatError, 'ERR_FORMAT');
    expect(e.message).toMatch(/GraphProto.*truncated/);
  });

  it('accepts repeated scalars packed and unpacked', () => {
    const packed = bytesOf((w) => w.packedVarints(1, [3, -4, 2 ** 40]));
    const unpacked = bytesOf((w) => [3, -4, 2 ** 40].forEach((v) => w.int(1, v)));
    for (const bytes of [packed, unpacked]) {
      const r = new ProtoReader(bytes, 't');
      const out: number[] = [];
      while (!r.done()) r.repeatedVarint(r.tag(), 'ints', out, (x) => x.int64());
      expect(out).toEqual([3, -4, 2 ** 40]);
    }
    const floats = bytesOf((w) => w.packedFloat32(7, [1.5, -2.25]));
    const r = new ProtoReader(floats, 't');
    const out: number[] = [];
    r.repeatedFloat32(r.tag(), 'floats', out);
    expect(out).toEqual([1.5, -2.25]);
  });
});

describe('half precision', () => {
  it('converts float16 and bfloat16 with round-to-nearest-even', () => {
    expect(floatToHalf(1)).toBe(0x3c00);
    expect(floatToHalf(-2)).toBe(0xc000);
    expect(floatToHalf(65504)).toBe(0x7bff);
    expect(floatToHalf(65520)).toBe(0x7c00); // rounds up to infinity
    expect(floatToHalf(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(floatToHalf(2 ** -26)).toBe(0); // below half of it
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // tie -> even
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie -> even (up)
    expect(halfToFloat(0x3555)).toBeCloseTo(0.333251953125, 12);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(0xfc00)).toBe(-Infinity);
    expect(Number.isNaN(halfToFloat(floatToHalf(NaN)))).toBe(true);
    expect(floatToBfloat16(1)).toBe(0x3f80);
    expect(bfloat16ToFloat(0x3f80)).toBe(1);
    expect(floatToBfloat16(1 + 2 ** -8)).toBe(0x3f80); // tie -> even
    expect(floatToBfloat16(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(Number.isNaN(bfloat16ToFloat(floatToBfloat16(NaN)))).toBe(true);
  });
});

/** A model with one of everything the codec models. */
function kitchenSink(): OnnxModel {
  const t = (name: string, dataType: number, dims: number[], data: number[]): OnnxTensor => ({
    name,
    dataType,
    dims,
    data: [OnnxDataType.FLOAT, OnnxDataType.FLOAT16, OnnxDataType.BFLOAT16, OnnxDataType.DOUBLE].includes(dataType as 1) ? Float32Array.from(data) : Int32Array.from(data),
  });
  const inits: OnnxTensor[] = [
    t('f32', OnnxDataType.FLOAT, [2, 2], [1.5, -2, 3.25, Math.fround(0.1)]),
    t('f16', OnnxDataType.FLOAT16, [3], [0.5, -65504, halfToFloat(0x3555)]),
    t('bf16', OnnxDataType.BFLOAT16, [2], [1, bfloat16ToFloat(0x3f82)]),
    t('f64', OnnxDataType.DOUBLE, [1], [Math.fround(1 / 3)]),
    t('i8', OnnxDataType.INT8, [3], [-128, 0, 127]),
    t('u8', OnnxDataType.UINT8, [2], [0, 255]),
    t('i16', OnnxDataType.INT16, [2], [-32768, 32767]),
    t('u16', OnnxDataType.UINT16, [1], [65535]),
    t('i32', OnnxDataType.INT32, [2], [-(2 ** 31), 2 ** 31 - 1]),
    t('i64', OnnxDataType.INT64, [4], [-1, 0, 2 ** 31 - 1, -(2 ** 31)]),
    t('u32', OnnxDataType.UINT32, [1], [2 ** 31 - 1]),
    t('u64', OnnxDataType.UINT64, [1], [12345]),
    t('b', OnnxDataType.BOOL, [3], [1, 0, 1]),
    t('scalar', OnnxDataType.FLOAT, [], [7]),
    t('empty', OnnxDataType.FLOAT, [0, 3], []),
  ];
  const body = {
    name: 'body',
    nodes: [{ name: 'inner', opType: 'Identity', domain: '', inputs: ['a'], outputs: ['b'], attributes: [] }],
    initializers: [],
    inputs: [{ name: 'a', elemType: 1, shape: [] }],
    outputs: [{ name: 'b', elemType: 1, shape: [] }],
    valueInfo: [],
  };
  return {
    irVersion: 8,
    opsetImports: [
      { domain: '', version: 13 },
      { domain: 'com.example', version: 2 },
    ],
    producerName: 'sparsenn-test',
    producerVersion: '1.0',
    metadata: { author: 'test', note: 'ünïcode ✓' },
    graph: {
      name: 'sink',
      nodes: [
        {
          name: 'n1',
          opType: 'Custom',
          domain: 'com.example',
          inputs: ['x', '', 'f32'],
          outputs: ['y', 'z'],
          attributes: [
            { name: 'f', value: { type: 'float', value: Math.fround(-0.75) } },
            { name: 'i', value: { type: 'int', value: -(2 ** 40) } },
            { name: 's', value: { type: 'string', value: 'SAME_UPPER' } },
            { name: 't', value: { type: 'tensor', value: t('attr', OnnxDataType.INT64, [2], [5, -6]) } },
            { name: 'g', value: { type: 'graph', value: body } },
            { name: 'fs', value: { type: 'floats', value: [1, Math.fround(0.2), -3] } },
            { name: 'is', value: { type: 'ints', value: [0, -1, 2 ** 33] } },
            { name: 'ss', value: { type: 'strings', value: ['a', '', 'c'] } },
            { name: 'empty_ints', value: { type: 'ints', value: [] } },
          ],
        },
      ],
      initializers: inits,
      inputs: [
        { name: 'x', elemType: 1, shape: ['N', 3, null] },
        { name: 'unknown', elemType: 0, shape: null },
        { name: 'rankless', elemType: 7, shape: null },
      ],
      outputs: [{ name: 'y', elemType: 1, shape: ['N', 2] }],
      valueInfo: [{ name: 'z', elemType: 10, shape: [] }],
    },
  };
}

describe('decodeOnnx / encodeOnnx', () => {
  it('round-trips every attribute type, element type and shape form', () => {
    const m = kitchenSink();
    const back = decodeOnnx(encodeOnnx(m));
    expect(back).toEqual(m);
  });

  it('round-trips every fixture, and onnxruntime runs the re-encoded bytes identically', async () => {
    const rng = mulberry32(3);
    for (const name of FIXTURES) {
      const bytes = fixture(name);
      const m = decodeOnnx(bytes);
      const again = encodeOnnx(m);
      expect(decodeOnnx(again), name).toEqual(m);
      // An independent parser (onnxruntime's protobuf) must read our bytes as the original.
      if (name.startsWith('embedding')) continue; // int64 input: covered in the import tests
      const input = m.graph.inputs[0]!;
      const dims = [2, ...input.shape!.slice(1).map(Number)];
      const feed = { [input.name]: { dims, data: randomValues(rng, dims.reduce((a, b) => a * b, 1)) } };
      const [a, b] = [await runOrt(bytes, feed), await runOrt(again, feed)];
      for (const k of Object.keys(a)) expect(b[k]!.data, `${name} ${k}`).toEqual(a[k]!.data);
    }
  });

  it('decodes typed data fields (float_data, int32_data, int64_data, double_data, uint64_data), packed or not', () => {
    const tensor = (build: (w: ProtoWriter) => void): Uint8Array => bytesOf(build);
    const cases: Array<[string, Uint8Array, number[]]> = [
      ['float_data', tensor((w) => w.packedVarints(1, [3]).int(2, OnnxDataType.FLOAT).packedFloat32(4, [1.5, -2, 0.25])), [1.5, -2, 0.25]],
      ['float_data unpacked', tensor((w) => w.int(1, 2).int(2, OnnxDataType.FLOAT).float32Field(4, 3).float32Field(4, -1)), [3, -1]],
      ['int64_data', tensor((w) => w.packedVarints(1, [3]).int(2, OnnxDataType.INT64).packedVarints(7, [-5, 2 ** 40, 9])), [-5, 2 ** 31 - 1, 9]],
      ['int32_data for INT8', tensor((w) => w.packedVarints(1, [2]).int(2, OnnxDataType.INT8).packedVarints(5, [-7, 100])), [-7, 100]],
      ['int32_data for FLOAT16 bits', tensor((w) => w.packedVarints(1, [2]).int(2, OnnxDataType.FLOAT16).packedVarints(5, [0x3c00, 0xc000])), [1, -2]],
      ['uint64_data for UINT32', tensor((w) => w.packedVarints(1, [1]).int(2, OnnxDataType.UINT32).packedVarints(11, [4000000000])), [2 ** 31 - 1]],
      [
        'double_data',
        tensor((w) => {
          const d = new Uint8Array(16);
          new DataView(d.buffer).setFloat64(0, 0.5, true);
          new DataView(d.buffer).setFloat64(8, -1e300, true);
          w.packedVarints(1, [2]).int(2, OnnxDataType.DOUBLE).bytes(10, d);
        }),
        [0.5, -Infinity], // narrowed to float32
      ],
    ];
    for (const [label, tensorBytes, want] of cases) {
      const model = bytesOf((w) => {
        w.int(1, 8);
        w.message(7, (g) => g.bytes(5, tensorBytes));
      });
      const t = decodeOnnx(model).graph.initializers[0]!;
      expect(Array.from(t.data), label).toEqual(want);
    }
  });

  it('rejects external data, sparse initializers, strings and size mismatches with a clear FormatError', () => {
    const withTensor = (build: (w: ProtoWriter) => void): Uint8Array =>
      bytesOf((w) => {
        w.int(1, 8);
        w.message(7, (g) => g.message(5, build));
      });
    const external = withTensor((t) =>
      t
        .packedVarints(1, [4])
        .int(2, OnnxDataType.FLOAT)
        .string(8, 'w')
        .message(13, (e) => e.string(1, 'location').string(2, 'weights.bin'))
        .int(14, 1),
    );
    expect(expectThrows(() => decodeOnnx(external), FormatError, 'ERR_FORMAT').message).toMatch(/'w'.*external file.*weights\.bin/);
    const sparse = bytesOf((w) => w.int(1, 8).message(7, (g) => g.message(15, () => {})));
    expect(expectThrows(() => decodeOnnx(sparse), FormatError, 'ERR_FORMAT').message).toMatch(/sparse initializers/);
    const strings = withTensor((t) => t.packedVarints(1, [1]).int(2, OnnxDataType.STRING).bytes(6, Uint8Array.of(65)));
    expect(expectThrows(() => decodeOnnx(strings), FormatError, 'ERR_FORMAT').message).toMatch(/strings/);
    // dims promise 10^12 values: rejected by size, nothing allocated for them
    const huge = withTensor((t) => t.packedVarints(1, [1e6, 1e6]).int(2, OnnxDataType.FLOAT).bytes(9, new Uint8Array(8)));
    expect(expectThrows(() => decodeOnnx(huge), FormatError, 'ERR_FORMAT').message).toMatch(/8 bytes of raw_data/);
    const short = withTensor((t) => t.packedVarints(1, [3]).int(2, OnnxDataType.FLOAT).packedFloat32(4, [1, 2]));
    expect(expectThrows(() => decodeOnnx(short), FormatError, 'ERR_FORMAT').message).toMatch(/2 values, expected 3/);
    expect(expectThrows(() => decodeOnnx(new Uint8Array(0)), FormatError, 'ERR_FORMAT').message).toMatch(/empty/);
    expect(expectThrows(() => decodeOnnx(bytesOf((w) => w.int(1, 8))), FormatError, 'ERR_FORMAT').message).toMatch(/no graph/);
  });

  it('refuses to encode data that does not match its dims or element type', () => {
    const m = kitchenSink();
    m.graph.initializers = [{ name: 'bad', dataType: OnnxDataType.FLOAT, dims: [2, 2], data: new Float32Array(3) }];
    expectThrows(() => encodeOnnx(m), FormatError, 'ERR_FORMAT', 'length');
    m.graph.initializers = [{ name: 'bad', dataType: OnnxDataType.INT8, dims: [1], data: Int32Array.of(300) }];
    expectThrows(() => encodeOnnx(m), FormatError, 'ERR_FORMAT', 'range');
    m.graph.initializers = [{ name: 'bad', dataType: OnnxDataType.INT64, dims: [1], data: Float32Array.of(1) }];
    expectThrows(() => encodeOnnx(m), FormatError, 'ERR_FORMAT', 'array type');
  });
});

describe('malformed files', () => {
  const original = fixture('cnn_opset13.onnx');

  it('every truncation of a model fails with FormatError (or decodes a complete prefix)', () => {
    let decoded = 0;
    for (let k = 0; k < original.length; k++) {
      try {
        decodeOnnx(original.subarray(0, k));
        decoded++;
      } catch (e) {
        expect(e, `cut at ${k}`).toBeInstanceOf(FormatError);
      }
    }
    // Only cuts after the whole graph field can decode (to a model missing its opset import).
    expect(decoded).toBeLessThan(16);
  });

  it('random garbage and bit flips give typed errors, never a crash or a hang', () => {
    const rng = mulberry32(99);
    const t0 = Date.now();
    for (let i = 0; i < 300; i++) {
      const junk = new Uint8Array(1 + Math.floor(rng() * 400));
      for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(rng() * 256);
      try {
        decodeOnnx(junk);
      } catch (e) {
        expect(e, `garbage ${i}`).toBeInstanceOf(FormatError);
      }
    }
    for (let i = 0; i < 200; i++) {
      const flipped = original.slice();
      for (let f = 0; f < 3; f++) flipped[Math.floor(rng() * flipped.length)]! ^= 1 << Math.floor(rng() * 8);
      try {
        // Import too: a flip may leave valid protobuf that is a broken model.
        importOnnx(flipped);
      } catch (e) {
        expect(e, `flip ${i}: ${(e as Error).message}`).toBeInstanceOf(SparsennError);
      }
    }
    expect(Date.now() - t0).toBeLessThan(20_000);
  });
});
