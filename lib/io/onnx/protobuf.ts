/**
 * The protobuf wire format (https://protobuf.dev/programming-guides/encoding/), enough to read
 * and write ONNX files without a dependency: varints (64-bit values as two 32-bit halves),
 * length-delimited fields, fixed32/fixed64 and packed repeated scalars.
 *
 * Every read is bounds-checked against the end of the current message, so a truncated or
 * garbage file gives a FormatError saying where it went wrong, never a read past the buffer,
 * a hang or a RangeError from a DataView.
 */
import { FormatError } from '../../errors.js';

/** Protobuf wire types. Groups (3, 4) are obsolete and not accepted. */
export const WireType = { VARINT: 0, FIXED64: 1, LEN: 2, FIXED32: 5 } as const;

const TWO_32 = 4294967296;
/** 2^53 split: a value's high 32-bit half must be below this for the value to be an exact double. */
const SAFE_HI = 0x200000;

const utf8 = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

/** A (field number, wire type) pair read from a tag. */
export interface Tag {
  field: number;
  wire: number;
}

/** Reads one message (or a sub-range of one) from a byte array. */
export class ProtoReader {
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  pos: number;
  readonly end: number;
  /** What is being read, for error messages ('ModelProto', 'TensorProto conv1.weight', ...). */
  readonly what: string;

  constructor(bytes: Uint8Array, what: string, start = 0, end = bytes.length) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
    this.end = end;
    this.what = what;
  }

  /** Whether the whole message has been read. */
  done(): boolean {
    return this.pos >= this.end;
  }

  private fail(message: string): never {
    throw new FormatError('ERR_FORMAT', `protobuf: ${this.what}: ${message} (at byte ${this.pos})`);
  }

  private need(n: number, what: string): void {
    if (this.end - this.pos < n) this.fail(`truncated ${what}: needs ${n} bytes, ${this.end - this.pos} left`);
  }

  /** A field tag; field numbers must be positive and wire types known. */
  tag(): Tag {
    const v = this.uint32();
    const field = v >>> 3;
    const wire = v & 7;
    if (field === 0) this.fail('field number 0 is invalid');
    if (wire !== 0 && wire !== 1 && wire !== 2 && wire !== 5) this.fail(`field ${field} has wire type ${wire}, expected 0, 1, 2 or 5`);
    return { field, wire };
  }

  /**
   * A varint as its low and high 32-bit halves (both unsigned). At most 10 bytes; extra high
   * bits of the tenth byte are dropped, as protobuf does.
   */
  private varintHalves(): [number, number] {
    let lo = 0;
    let hi = 0;
    const bytes = this.bytes;
    for (let i = 0; i < 4; i++) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const b = bytes[this.pos++]!;
      lo |= (b & 0x7f) << (7 * i);
      if (b < 0x80) return [lo >>> 0, 0];
    }
    if (this.pos >= this.end) this.fail('truncated varint');
    let b = bytes[this.pos++]!;
    lo |= (b & 0x7f) << 28;
    hi = (b & 0x7f) >>> 4;
    if (b < 0x80) return [lo >>> 0, hi];
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.end) this.fail('truncated varint');
      b = bytes[this.pos++]!;
      hi |= (b & 0x7f) << (3 + 7 * i);
      if (b < 0x80) return [lo >>> 0, hi >>> 0];
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** An unsigned varint that must fit in 32 bits (tags, lengths, enums). */
  uint32(): number {
    const [lo, hi] = this.varintHalves();
    if (hi !== 0) this.fail(`varint ${hi * TWO_32 + lo} does not fit in 32 bits`);
    return lo;
  }

  /**
   * A signed 64-bit varint (int64, int32, enum) as a number: exact when |v| < 2^53, else
   * ±Infinity (callers decide whether to reject or saturate: ONNX uses ±(2^63 - 1) as "to the
   * end" in Slice).
   */
  int64(): number {
    const [lo, hi] = this.varintHalves();
    if ((hi & 0x80000000) === 0) return hi < SAFE_HI ? hi * TWO_32 + lo : Infinity;
    // Two's complement: the magnitude is ~v + 1.
    const nlo = (~lo + 1) >>> 0;
    const nhi = (~hi + (nlo === 0 ? 1 : 0)) >>> 0;
    return nhi < SAFE_HI ? -(nhi * TWO_32 + nlo) : -Infinity;
  }

  /** An unsigned 64-bit varint (uint64): exact below 2^53, else Infinity. */
  uint64(): number {
    const [lo, hi] = this.varintHalves();
    return hi < SAFE_HI ? hi * TWO_32 + lo : Infinity;
  }

  /** A 32-bit signed varint (int32 fields are sign-extended to 64 bits on the wire). */
  int32(): number {
    const v = this.int64();
    if (!(v >= -2147483648 && v <= 2147483647)) this.fail(`int32 field holds ${v}, outside the int32 range`);
    return v;
  }

  float32(): number {
    this.need(4, 'fixed32');
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  float64(): number {
    this.need(8, 'fixed64');
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** The [start, end) byte range of a length-delimited field, skipped. */
  lenRange(): [number, number] {
    const len = this.uint32();
    this.need(len, 'length-delimited field');
    const start = this.pos;
    this.pos += len;
    return [start, this.pos];
  }

  /** A length-delimited field's bytes (a view into the input, not a copy). */
  bytesField(): Uint8Array {
    const [s, e] = this.lenRange();
    return this.bytes.subarray(s, e);
  }

  string(): string {
    return utf8.decode(this.bytesField());
  }

  /** A reader over an embedded message. */
  message(what: string): ProtoReader {
    const [s, e] = this.lenRange();
    return new ProtoReader(this.bytes, what, s, e);
  }

  /** Skips a field of the given wire type. */
  skip(wire: number): void {
    switch (wire) {
      case WireType.VARINT:
        this.varintHalves();
        return;
      case WireType.FIXED64:
        this.need(8, 'fixed64');
        this.pos += 8;
        return;
      case WireType.LEN:
        this.lenRange();
        return;
      case WireType.FIXED32:
        this.need(4, 'fixed32');
        this.pos += 4;
        return;
      default:
        this.fail(`cannot skip wire type ${wire}`);
    }
  }

  /** Checks that a field has the wire type its schema gives. */
  expect(tag: Tag, wire: number, name: string): void {
    if (tag.wire !== wire) this.fail(`field ${tag.field} (${name}) has wire type ${tag.wire}, expected ${wire}`);
  }

  /**
   * Appends a repeated varint field's values to `out` (via `read`), packed (wire type 2) or not
   * (wire type 0): parsers must accept both.
   */
  repeatedVarint(tag: Tag, name: string, out: number[], read: (r: ProtoReader) => number): void {
    if (tag.wire === WireType.VARINT) {
      out.push(read(this));
      return;
    }
    this.expect(tag, WireType.LEN, name);
    const sub = this.message(`${this.what}.${name}`);
    while (!sub.done()) out.push(read(sub));
  }

  /** Appends a repeated float (fixed32) field's values, packed or not. */
  repeatedFloat32(tag: Tag, name: string, out: number[]): void {
    if (tag.wire === WireType.FIXED32) {
      out.push(this.float32());
      return;
    }
    this.expect(tag, WireType.LEN, name);
    const [s, e] = this.lenRange();
    if ((e - s) % 4 !== 0) this.fail(`packed ${name} has ${e - s} bytes, not a multiple of 4`);
    for (let p = s; p < e; p += 4) out.push(this.view.getFloat32(p, true));
  }

  /** Appends a repeated double (fixed64) field's values, packed or not. */
  repeatedFloat64(tag: Tag, name: string, out: number[]): void {
    if (tag.wire === WireType.FIXED64) {
      out.push(this.float64());
      return;
    }
    this.expect(tag, WireType.LEN, name);
    const [s, e] = this.lenRange();
    if ((e - s) % 8 !== 0) this.fail(`packed ${name} has ${e - s} bytes, not a multiple of 8`);
    for (let p = s; p < e; p += 8) out.push(this.view.getFloat64(p, true));
  }
}

/** Builds a message. Embedded messages are encoded into their own writer and copied in. */
export class ProtoWriter {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
  }

  private ensure(extra: number): void {
    const needed = this.len + extra;
    if (needed <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < needed) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** The encoded bytes (a copy sized to the content). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  get length(): number {
    return this.len;
  }

  /**
   * A varint of an integer in [-2^63, 2^64) that is exactly representable (|v| <= 2^53 is always
   * exact); negative values take 10 bytes (two's complement, as int64 and int32 fields are written).
   */
  varint(v: number): this {
    if (!Number.isInteger(v)) throw new FormatError('ERR_FORMAT', `protobuf: varint value ${v} is not an integer`);
    this.ensure(10);
    if (v >= 0 && v < 0x80000000) {
      let x = v;
      while (x > 0x7f) {
        this.buf[this.len++] = (x & 0x7f) | 0x80;
        x >>>= 7;
      }
      this.buf[this.len++] = x;
      return this;
    }
    let hi = Math.floor(v / TWO_32);
    let lo = (v - hi * TWO_32) >>> 0;
    hi >>>= 0; // two's complement of the high half for negative values
    while (hi !== 0 || lo > 0x7f) {
      this.buf[this.len++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    this.buf[this.len++] = lo;
    return this;
  }

  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  /** A varint field (int32, int64, enum, bool). */
  int(field: number, v: number): this {
    return this.tag(field, WireType.VARINT).varint(v);
  }

  float32Field(field: number, v: number): this {
    this.tag(field, WireType.FIXED32);
    this.ensure(4);
    this.view.setFloat32(this.len, v, true);
    this.len += 4;
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, WireType.LEN).varint(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, utf8Encoder.encode(s));
  }

  /** An embedded message built by `build`. */
  message(field: number, build: (w: ProtoWriter) => void): this {
    const sub = new ProtoWriter();
    build(sub);
    return this.bytes(field, sub.buf.subarray(0, sub.len));
  }

  /** A packed repeated varint field (omitted when empty, as protobuf does). */
  packedVarints(field: number, values: ArrayLike<number>): this {
    if (values.length === 0) return this;
    const sub = new ProtoWriter(values.length * 2 + 8);
    for (let i = 0; i < values.length; i++) sub.varint(values[i]!);
    return this.bytes(field, sub.buf.subarray(0, sub.len));
  }

  /** A packed repeated float field (omitted when empty). */
  packedFloat32(field: number, values: ArrayLike<number>): this {
    if (values.length === 0) return this;
    const bytes = new Uint8Array(values.length * 4);
    const dv = new DataView(bytes.buffer);
    for (let i = 0; i < values.length; i++) dv.setFloat32(i * 4, values[i]!, true);
    return this.bytes(field, bytes);
  }
}

/** Encodes a string as UTF-8 (shared with proto.ts). */
export function encodeUtf8(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}
