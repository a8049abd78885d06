/**
 * A minimal ONNX writer for the benchmark's peer: a model with one MatMul node whose weight is
 * an initializer (a constant ORT can prepack) and whose other operand is the only input.
 *
 * Only the protobuf fields this needs are encoded (field numbers from onnx/onnx.proto):
 *   ModelProto      1 ir_version, 2 producer_name, 7 graph, 8 opset_import
 *   OperatorSetId   1 domain, 2 version
 *   GraphProto      1 node, 2 name, 5 initializer, 11 input, 12 output
 *   NodeProto       1 input, 2 output, 3 name, 4 op_type
 *   TensorProto     1 dims, 2 data_type, 8 name, 9 raw_data
 *   ValueInfoProto  1 name, 2 type
 *   TypeProto       1 tensor_type { 1 elem_type, 2 shape { 1 dim { 1 dim_value | 2 dim_param } } }
 */

const WIRE_VARINT = 0;
const WIRE_BYTES = 2;
const ONNX_FLOAT = 1;
const IR_VERSION = 8;
const OPSET = 13;

/** Protobuf message builder: fields are appended in call order. */
class Message {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  private push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.size += bytes.length;
  }

  private key(field: number, wire: number): void {
    this.push(varint(field * 8 + wire));
  }

  int(field: number, value: number): this {
    this.key(field, WIRE_VARINT);
    this.push(varint(value));
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.key(field, WIRE_BYTES);
    this.push(varint(value.length));
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, value: Message): this {
    return this.bytes(field, value.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** Unsigned varint of a non-negative safe integer. */
function varint(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`varint: ${value} is not a non-negative safe integer`);
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

/** A dimension is a fixed size or a symbolic name (dim_param) that any size binds to at run time. */
type Dim = number | string;

function tensorValueInfo(name: string, dims: readonly Dim[]): Message {
  const shape = new Message();
  for (const d of dims) shape.message(1, typeof d === 'number' ? new Message().int(1, d) : new Message().string(2, d));
  const tensorType = new Message().int(1, ONNX_FLOAT).message(2, shape);
  return new Message().string(1, name).message(2, new Message().message(1, tensorType));
}

function floatInitializer(name: string, dims: readonly number[], data: Float32Array): Message {
  const t = new Message();
  for (const d of dims) t.int(1, d);
  t.int(2, ONNX_FLOAT).string(8, name);
  // raw_data is little-endian; so is every platform this benchmark runs on (checked below).
  return t.bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * How the peer lays the product out:
 * - 'wx':   Y[M,N] = W[M,K] · X[K,N] — the same layout as sparsenn's matmul (W is MatMul's A).
 * - 'xtwt': Yᵀ[N,M] = Xᵀ[N,K] · Wᵀ[K,M] — the usual ONNX Linear layout; W is MatMul's B,
 *           the operand ORT's CPU MatMul prepacks when it is a constant.
 */
export type PeerLayout = 'wx' | 'xtwt';

/**
 * ONNX bytes (opset 13, IR 8) of a single MatMul with the M x K weight `w` (row-major) as an
 * initializer. The batch dimension is symbolic ('N'), so one session serves every batch size.
 * In 'xtwt' layout the initializer is Wᵀ (K x M).
 */
export function matmulModel(w: Float32Array, m: number, k: number, layout: PeerLayout): Uint8Array {
  if (!littleEndian) throw new Error('onnx-matmul: raw_data needs a little-endian host');
  if (w.length !== m * k) throw new RangeError(`onnx-matmul: weight has ${w.length} values, expected ${m} * ${k}`);
  const inputDims = layout === 'wx' ? [k, 'N'] : ['N', k];
  const outputDims = layout === 'wx' ? [m, 'N'] : ['N', m];
  const init = layout === 'wx' ? floatInitializer('W', [m, k], w) : floatInitializer('Wt', [k, m], transpose(w, m, k));
  const node = new Message()
    .string(1, layout === 'wx' ? 'W' : 'X')
    .string(1, layout === 'wx' ? 'X' : 'Wt')
    .string(2, 'Y')
    .string(3, 'matmul')
    .string(4, 'MatMul');
  const graph = new Message()
    .message(1, node)
    .string(2, `matmul_${layout}_${m}x${k}`)
    .message(5, init)
    .message(11, tensorValueInfo('X', inputDims))
    .message(12, tensorValueInfo('Y', outputDims));
  const model = new Message()
    .int(1, IR_VERSION)
    .string(2, 'sparsenn-bench')
    .message(7, graph)
    .message(8, new Message().string(1, '').int(2, OPSET));
  return model.finish();
}

/** Row-major transpose of a rows x cols array. */
export function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = a[base + c];
  }
  return out;
}
