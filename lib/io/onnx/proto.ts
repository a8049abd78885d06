/**
 * ONNX files <-> the plain objects of types.ts, with the wire format of protobuf.ts. Field
 * numbers are those of onnx/onnx.proto. Only self-contained files are read: external data and
 * sparse initializers are rejected with a message that says so.
 *
 * decodeOnnx(encodeOnnx(m)) gives back `m` (values of FLOAT16 / BFLOAT16 tensors are already
 * representable, so they survive too); fields sparsenn does not model (doc strings, the model
 * domain and version) are dropped on decoding.
 */
import { FormatError } from '../../errors.js';
import { checkLimit, resolveLimits, type LoadLimits } from '../../limits.js';
import { dataTypeName, decodeRaw, encodeRaw, halfToFloat, intRange, isFloatType, rawElementSize, saturateInt32, bfloat16ToFloat } from './dtypes.js';
import { ProtoReader, ProtoWriter, WireType, type Tag } from './protobuf.js';
import {
  OnnxDataType,
  type OnnxAttribute,
  type OnnxAttributeValue,
  type OnnxDim,
  type OnnxGraph,
  type OnnxModel,
  type OnnxNode,
  type OnnxOpsetImport,
  type OnnxTensor,
  type OnnxValueInfo,
} from './types.js';

/** Graphs nest through attributes (If / Loop bodies); deeper than this is garbage, not a model. */
const MAX_DEPTH = 32;

/** What one decode may still take: graph nesting and nodes in all graphs (limits.maxDepth / maxNodes). */
interface Budget {
  readonly maxDepth: number;
  readonly maxNodes: number;
  nodes: number;
}

// AttributeProto.AttributeType
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;
const ATTR_NAMES: Record<number, string> = {
  9: 'TENSORS',
  10: 'GRAPHS',
  11: 'SPARSE_TENSOR',
  12: 'SPARSE_TENSORS',
  13: 'TYPE_PROTO',
  14: 'TYPE_PROTOS',
};

function fail(message: string): never {
  throw new FormatError('ERR_FORMAT', `ONNX: ${message}`);
}

/** An attribute integer: exact below 2^53, saturated beyond (see types.ts). */
function saturateSafe(v: number): number {
  return v === Infinity ? Number.MAX_SAFE_INTEGER : v === -Infinity ? -Number.MAX_SAFE_INTEGER : v;
}

const readInt64 = (r: ProtoReader): number => r.int64();
const readUint64 = (r: ProtoReader): number => r.uint64();

// ------------------------------------------------------------------------------ decoding --

/**
 * Decodes an ONNX model file (ModelProto).
 * @throws {FormatError} ERR_FORMAT on truncated or malformed bytes, external data, sparse
 *   initializers, or tensor / attribute types sparsenn does not read.
 */
export function decodeOnnx(bytes: Uint8Array, limits?: LoadLimits): OnnxModel {
  if (!(bytes instanceof Uint8Array)) fail('decodeOnnx needs the file bytes as a Uint8Array');
  if (bytes.length === 0) fail('the file is empty');
  const l = resolveLimits(limits, bytes.length);
  checkLimit('the file size in bytes', bytes.length, l.maxFileBytes, 'maxFileBytes');
  const budget: Budget = { maxDepth: l.maxDepth, maxNodes: l.maxNodes, nodes: 0 };
  const r = new ProtoReader(bytes, 'ModelProto');
  const model: OnnxModel = { irVersion: 0, opsetImports: [], producerName: '', producerVersion: '', graph: emptyGraph(), metadata: {} };
  let haveGraph = false;
  while (!r.done()) {
    const t = r.tag();
    switch (t.field) {
      case 1:
        r.expect(t, WireType.VARINT, 'ir_version');
        model.irVersion = r.int64();
        break;
      case 2:
        r.expect(t, WireType.LEN, 'producer_name');
        model.producerName = r.string();
        break;
      case 3:
        r.expect(t, WireType.LEN, 'producer_version');
        model.producerVersion = r.string();
        break;
      case 7:
        r.expect(t, WireType.LEN, 'graph');
        model.graph = decodeGraph(r.message('GraphProto'), 0, budget);
        haveGraph = true;
        break;
      case 8:
        r.expect(t, WireType.LEN, 'opset_import');
        model.opsetImports.push(decodeOpset(r.message('OperatorSetIdProto')));
        break;
      case 14: {
        r.expect(t, WireType.LEN, 'metadata_props');
        const [k, v] = decodeStringPair(r.message('StringStringEntryProto'));
        model.metadata[k] = v;
        break;
      }
      default:
        r.skip(t.wire);
    }
  }
  if (!Number.isFinite(model.irVersion) || model.irVersion < 0) fail(`ir_version ${model.irVersion} is invalid`);
  if (!haveGraph) fail('the model has no graph (is this an ONNX model file?)');
  return model;
}

function emptyGraph(): OnnxGraph {
  return { name: '', nodes: [], initializers: [], inputs: [], outputs: [], valueInfo: [] };
}

function decodeOpset(r: ProtoReader): OnnxOpsetImport {
  const out: OnnxOpsetImport = { domain: '', version: 0 };
  while (!r.done()) {
    const t = r.tag();
    if (t.field === 1) {
      r.expect(t, WireType.LEN, 'domain');
      out.domain = r.string();
    } else if (t.field === 2) {
      r.expect(t, WireType.VARINT, 'version');
      out.version = r.int64();
    } else r.skip(t.wire);
  }
  if (!Number.isFinite(out.version)) fail(`opset_import '${out.domain}' has version ${out.version}`);
  return out;
}

function decodeStringPair(r: ProtoReader): [string, string] {
  let key = '';
  let value = '';
  while (!r.done()) {
    const t = r.tag();
    if (t.field === 1) {
      r.expect(t, WireType.LEN, 'key');
      key = r.string();
    } else if (t.field === 2) {
      r.expect(t, WireType.LEN, 'value');
      value = r.string();
    } else r.skip(t.wire);
  }
  return [key, value];
}

function decodeGraph(r: ProtoReader, depth: number, b: Budget): OnnxGraph {
  checkLimit('the nesting of graphs', depth, b.maxDepth, 'maxDepth');
  const g = emptyGraph();
  while (!r.done()) {
    const t = r.tag();
    switch (t.field) {
      case 1:
        r.expect(t, WireType.LEN, 'node');
        checkLimit('the number of nodes', ++b.nodes, b.maxNodes, 'maxNodes');
        g.nodes.push(decodeNode(r.message('NodeProto'), depth, b));
        break;
      case 2:
        r.expect(t, WireType.LEN, 'name');
        g.name = r.string();
        break;
      case 5:
        r.expect(t, WireType.LEN, 'initializer');
        g.initializers.push(decodeTensor(r.message('TensorProto')));
        break;
      case 11:
        r.expect(t, WireType.LEN, 'input');
        g.inputs.push(decodeValueInfo(r.message('ValueInfoProto')));
        break;
      case 12:
        r.expect(t, WireType.LEN, 'output');
        g.outputs.push(decodeValueInfo(r.message('ValueInfoProto')));
        break;
      case 13:
        r.expect(t, WireType.LEN, 'value_info');
        g.valueInfo.push(decodeValueInfo(r.message('ValueInfoProto')));
        break;
      case 15:
        fail(`graph '${g.name}' has sparse initializers, which sparsenn does not read (store them dense)`);
        break;
      default:
        r.skip(t.wire);
    }
  }
  return g;
}

function decodeNode(r: ProtoReader, depth: number, b: Budget): OnnxNode {
  const node: OnnxNode = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: [] };
  const unsupported: string[] = [];
  while (!r.done()) {
    const t = r.tag();
    switch (t.field) {
      case 1:
        r.expect(t, WireType.LEN, 'input');
        node.inputs.push(r.string());
        break;
      case 2:
        r.expect(t, WireType.LEN, 'output');
        node.outputs.push(r.string());
        break;
      case 3:
        r.expect(t, WireType.LEN, 'name');
        node.name = r.string();
        break;
      case 4:
        r.expect(t, WireType.LEN, 'op_type');
        node.opType = r.string();
        break;
      case 5: {
        r.expect(t, WireType.LEN, 'attribute');
        const a = decodeAttribute(r.message('AttributeProto'), depth, b);
        if ('unsupported' in a) unsupported.push(`'${a.name}' (${a.unsupported})`);
        else node.attributes.push(a);
        break;
      }
      case 7:
        r.expect(t, WireType.LEN, 'domain');
        node.domain = r.string();
        break;
      default:
        r.skip(t.wire);
    }
  }
  if (node.opType === '') fail(`node '${node.name}' has no op_type`);
  if (unsupported.length > 0)
    fail(`node '${node.name}' (${node.opType}) has attributes of types sparsenn does not read: ${unsupported.join(', ')}`);
  return node;
}

function decodeAttribute(r: ProtoReader, depth: number, b: Budget): OnnxAttribute | { name: string; unsupported: string } {
  let name = '';
  let type = 0;
  let f: number | undefined;
  let i: number | undefined;
  let s: string | undefined;
  let tensor: OnnxTensor | undefined;
  let graph: OnnxGraph | undefined;
  const floats: number[] = [];
  const ints: number[] = [];
  const strings: string[] = [];
  let other = 0; // a field of an unsupported kind, by its type code
  let refAttr = '';
  while (!r.done()) {
    const t = r.tag();
    switch (t.field) {
      case 1:
        r.expect(t, WireType.LEN, 'name');
        name = r.string();
        break;
      case 20:
        r.expect(t, WireType.VARINT, 'type');
        type = r.int32();
        break;
      case 2:
        r.expect(t, WireType.FIXED32, 'f');
        f = r.float32();
        break;
      case 3:
        r.expect(t, WireType.VARINT, 'i');
        i = saturateSafe(r.int64());
        break;
      case 4:
        r.expect(t, WireType.LEN, 's');
        s = r.string();
        break;
      case 5:
        r.expect(t, WireType.LEN, 't');
        tensor = decodeTensor(r.message('TensorProto'));
        break;
      case 6:
        r.expect(t, WireType.LEN, 'g');
        graph = decodeGraph(r.message('GraphProto'), depth + 1, b);
        break;
      case 7:
        r.repeatedFloat32(t, 'floats', floats);
        break;
      case 8: {
        const raw: number[] = [];
        r.repeatedVarint(t, 'ints', raw, readInt64);
        for (const v of raw) ints.push(saturateSafe(v));
        break;
      }
      case 9:
        r.expect(t, WireType.LEN, 'strings');
        strings.push(r.string());
        break;
      case 10:
      case 11:
      case 22:
      case 23:
      case 14:
      case 15:
        other = ({ 10: 9, 11: 10, 22: 11, 23: 12, 14: 13, 15: 14 } as Record<number, number>)[t.field]!;
        r.skip(t.wire);
        break;
      case 21:
        r.expect(t, WireType.LEN, 'ref_attr_name');
        refAttr = r.string();
        break;
      default:
        r.skip(t.wire);
    }
  }
  if (refAttr !== '') return { name, unsupported: `a reference to function attribute '${refAttr}'` };
  // IR version 1 files have no type field: the one value field present tells.
  if (type === 0) {
    if (f !== undefined) type = ATTR.FLOAT;
    else if (i !== undefined) type = ATTR.INT;
    else if (s !== undefined) type = ATTR.STRING;
    else if (tensor) type = ATTR.TENSOR;
    else if (graph) type = ATTR.GRAPH;
    else if (floats.length) type = ATTR.FLOATS;
    else if (ints.length) type = ATTR.INTS;
    else if (strings.length) type = ATTR.STRINGS;
    else if (other) type = other;
    else fail(`attribute '${name}' has no type and no value`);
  }
  let value: OnnxAttributeValue;
  switch (type) {
    case ATTR.FLOAT:
      value = { type: 'float', value: f ?? 0 };
      break;
    case ATTR.INT:
      value = { type: 'int', value: i ?? 0 };
      break;
    case ATTR.STRING:
      value = { type: 'string', value: s ?? '' };
      break;
    case ATTR.TENSOR:
      if (!tensor) fail(`attribute '${name}' of type TENSOR has no tensor`);
      value = { type: 'tensor', value: tensor };
      break;
    case ATTR.GRAPH:
      if (!graph) fail(`attribute '${name}' of type GRAPH has no graph`);
      value = { type: 'graph', value: graph };
      break;
    case ATTR.FLOATS:
      value = { type: 'floats', value: floats };
      break;
    case ATTR.INTS:
      value = { type: 'ints', value: ints };
      break;
    case ATTR.STRINGS:
      value = { type: 'strings', value: strings };
      break;
    default:
      return { name, unsupported: ATTR_NAMES[type] ?? `attribute type ${type}` };
  }
  return { name, value };
}

function decodeValueInfo(r: ProtoReader): OnnxValueInfo {
  const info: OnnxValueInfo = { name: '', elemType: 0, shape: null };
  while (!r.done()) {
    const t = r.tag();
    if (t.field === 1) {
      r.expect(t, WireType.LEN, 'name');
      info.name = r.string();
    } else if (t.field === 2) {
      r.expect(t, WireType.LEN, 'type');
      decodeType(r.message('TypeProto'), info);
    } else r.skip(t.wire);
  }
  return info;
}

/** TypeProto: only tensor_type is modelled; sequences, maps and optionals leave the type unknown. */
function decodeType(r: ProtoReader, info: OnnxValueInfo): void {
  while (!r.done()) {
    const t = r.tag();
    if (t.field !== 1) {
      r.skip(t.wire);
      continue;
    }
    r.expect(t, WireType.LEN, 'tensor_type');
    const tt = r.message('TypeProto.Tensor');
    while (!tt.done()) {
      const u = tt.tag();
      if (u.field === 1) {
        tt.expect(u, WireType.VARINT, 'elem_type');
        info.elemType = tt.int32();
      } else if (u.field === 2) {
        tt.expect(u, WireType.LEN, 'shape');
        info.shape = decodeShape(tt.message('TensorShapeProto'));
      } else tt.skip(u.wire);
    }
  }
}

function decodeShape(r: ProtoReader): OnnxDim[] {
  const dims: OnnxDim[] = [];
  while (!r.done()) {
    const t = r.tag();
    if (t.field !== 1) {
      r.skip(t.wire);
      continue;
    }
    r.expect(t, WireType.LEN, 'dim');
    const d = r.message('TensorShapeProto.Dimension');
    let dim: OnnxDim = null;
    while (!d.done()) {
      const u = d.tag();
      if (u.field === 1) {
        d.expect(u, WireType.VARINT, 'dim_value');
        const v = d.int64();
        if (!Number.isFinite(v)) fail(`a value's dimension ${v} is out of range`);
        // Some exporters write -1 for "unknown": read it as such.
        dim = v < 0 ? null : v;
      } else if (u.field === 2) {
        d.expect(u, WireType.LEN, 'dim_param');
        dim = d.string();
      } else d.skip(u.wire);
    }
    dims.push(dim);
  }
  return dims;
}

/** The fields of a TensorProto as read, before they become one typed array. */
interface RawTensor {
  name: string;
  dims: number[];
  dataType: number;
  raw: Uint8Array | null;
  floats: number[];
  int32s: number[];
  int64s: number[];
  doubles: number[];
  uint64s: number[];
  strings: number;
  external: boolean;
  location: string;
  segment: boolean;
}

function decodeTensor(r: ProtoReader): OnnxTensor {
  const t: RawTensor = {
    name: '',
    dims: [],
    dataType: 0,
    raw: null,
    floats: [],
    int32s: [],
    int64s: [],
    doubles: [],
    uint64s: [],
    strings: 0,
    external: false,
    location: '',
    segment: false,
  };
  while (!r.done()) {
    const tag = r.tag();
    readTensorField(r, tag, t);
  }
  return finishTensor(t);
}

function readTensorField(r: ProtoReader, tag: Tag, t: RawTensor): void {
  switch (tag.field) {
    case 1: {
      const dims: number[] = [];
      r.repeatedVarint(tag, 'dims', dims, readInt64);
      for (const d of dims) {
        if (!Number.isFinite(d) || d < 0) fail(`a tensor has dimension ${d}; dimensions must be non-negative integers below 2^53`);
        t.dims.push(d);
      }
      return;
    }
    case 2:
      r.expect(tag, WireType.VARINT, 'data_type');
      t.dataType = r.int32();
      return;
    case 3:
      t.segment = true;
      r.skip(tag.wire);
      return;
    case 4:
      r.repeatedFloat32(tag, 'float_data', t.floats);
      return;
    case 5:
      r.repeatedVarint(tag, 'int32_data', t.int32s, readInt64);
      return;
    case 6:
      t.strings++;
      r.skip(tag.wire);
      return;
    case 7:
      r.repeatedVarint(tag, 'int64_data', t.int64s, readInt64);
      return;
    case 8:
      r.expect(tag, WireType.LEN, 'name');
      t.name = r.string();
      return;
    case 9:
      r.expect(tag, WireType.LEN, 'raw_data');
      t.raw = r.bytesField();
      return;
    case 10:
      r.repeatedFloat64(tag, 'double_data', t.doubles);
      return;
    case 11:
      r.repeatedVarint(tag, 'uint64_data', t.uint64s, readUint64);
      return;
    case 13: {
      r.expect(tag, WireType.LEN, 'external_data');
      const [k, v] = decodeStringPair(r.message('StringStringEntryProto'));
      t.external = true;
      if (k === 'location') t.location = v;
      return;
    }
    case 14:
      r.expect(tag, WireType.VARINT, 'data_location');
      if (r.int32() === 1) t.external = true;
      return;
    default:
      r.skip(tag.wire);
  }
}

function finishTensor(t: RawTensor): OnnxTensor {
  const label = `tensor '${t.name}'`;
  if (t.external)
    fail(
      `${label} keeps its data in an external file${t.location ? ` ('${t.location}')` : ''}; sparsenn reads self-contained .onnx files only ` +
        `(re-save the model with onnx.save_model(model, path, save_as_external_data=False), below 2 GB)`,
    );
  if (t.segment) fail(`${label} is segmented, which sparsenn does not read`);
  if (t.dataType === OnnxDataType.STRING || t.strings > 0) fail(`${label} holds strings, which sparsenn does not read`);
  const size = rawElementSize(t.dataType);
  if (size === 0) fail(`${label} has element type ${dataTypeName(t.dataType)}, which sparsenn does not read`);
  let count = 1;
  for (const d of t.dims) count *= d;
  const label2 = `${label} [${t.dims.join(', ')}] of ${dataTypeName(t.dataType)}`;
  let data: Float32Array | Int32Array;
  if (t.raw !== null) {
    if (t.raw.length !== count * size)
      fail(`${label2} has ${t.raw.length} bytes of raw_data, expected ${count} x ${size} = ${count * size}`);
    data = decodeRaw(t.raw, t.dataType, count);
  } else {
    const code = t.dataType;
    // Where the ONNX spec keeps each type's values when raw_data is absent.
    const src =
      code === OnnxDataType.FLOAT
        ? t.floats
        : code === OnnxDataType.DOUBLE
          ? t.doubles
          : code === OnnxDataType.INT64
            ? t.int64s
            : code === OnnxDataType.UINT32 || code === OnnxDataType.UINT64
              ? t.uint64s
              : t.int32s;
    if (src.length !== count) fail(`${label2} has ${src.length} values, expected ${count}`);
    if (code === OnnxDataType.FLOAT || code === OnnxDataType.DOUBLE) data = Float32Array.from(src);
    else if (code === OnnxDataType.FLOAT16) data = Float32Array.from(src, (v) => halfToFloat(v & 0xffff));
    else if (code === OnnxDataType.BFLOAT16) data = Float32Array.from(src, (v) => bfloat16ToFloat(v & 0xffff));
    else if (code === OnnxDataType.BOOL) data = Int32Array.from(src, (v) => (v !== 0 ? 1 : 0));
    else data = Int32Array.from(src, saturateInt32);
  }
  return { name: t.name, dataType: t.dataType, dims: t.dims, data };
}

// ------------------------------------------------------------------------------ encoding --

/**
 * Encodes a model as an ONNX file (ModelProto). Tensors are written as raw_data of their
 * dataType (FLOAT16 / BFLOAT16 rounded to nearest even; integer types checked to fit).
 * @throws {FormatError} ERR_FORMAT when a tensor's data does not match its dims or dataType.
 */
export function encodeOnnx(model: OnnxModel): Uint8Array {
  if (!model || typeof model !== 'object' || !model.graph) fail('encodeOnnx needs an OnnxModel with a graph');
  const w = new ProtoWriter(1 << 16);
  w.int(1, model.irVersion);
  if (model.producerName) w.string(2, model.producerName);
  if (model.producerVersion) w.string(3, model.producerVersion);
  w.message(7, (g) => encodeGraph(g, model.graph, 0));
  for (const op of model.opsetImports)
    w.message(8, (o) => {
      if (op.domain) o.string(1, op.domain);
      o.int(2, op.version);
    });
  for (const [k, v] of Object.entries(model.metadata ?? {}))
    w.message(14, (e) => {
      e.string(1, k);
      e.string(2, v);
    });
  return w.finish();
}

function encodeGraph(w: ProtoWriter, g: OnnxGraph, depth: number): void {
  if (depth > MAX_DEPTH) fail(`graphs nest deeper than ${MAX_DEPTH} levels`);
  for (const n of g.nodes) w.message(1, (m) => encodeNode(m, n, depth));
  if (g.name) w.string(2, g.name);
  for (const t of g.initializers) w.message(5, (m) => encodeTensor(m, t));
  for (const v of g.inputs) w.message(11, (m) => encodeValueInfo(m, v));
  for (const v of g.outputs) w.message(12, (m) => encodeValueInfo(m, v));
  for (const v of g.valueInfo) w.message(13, (m) => encodeValueInfo(m, v));
}

function encodeNode(w: ProtoWriter, n: OnnxNode, depth: number): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attributes) w.message(5, (m) => encodeAttribute(m, a, n, depth));
  if (n.domain) w.string(7, n.domain);
}

function encodeAttribute(w: ProtoWriter, a: OnnxAttribute, n: OnnxNode, depth: number): void {
  w.string(1, a.name);
  const v = a.value;
  switch (v.type) {
    case 'float':
      w.int(20, ATTR.FLOAT).float32Field(2, v.value);
      break;
    case 'int':
      w.int(20, ATTR.INT).int(3, checkInt(v.value, a, n));
      break;
    case 'string':
      w.int(20, ATTR.STRING).string(4, v.value);
      break;
    case 'tensor':
      w.int(20, ATTR.TENSOR).message(5, (m) => encodeTensor(m, v.value));
      break;
    case 'graph':
      w.int(20, ATTR.GRAPH).message(6, (m) => encodeGraph(m, v.value, depth + 1));
      break;
    case 'floats':
      w.int(20, ATTR.FLOATS).packedFloat32(7, v.value);
      break;
    case 'ints':
      w.int(20, ATTR.INTS).packedVarints(
        8,
        v.value.map((x) => checkInt(x, a, n)),
      );
      break;
    case 'strings':
      w.int(20, ATTR.STRINGS);
      for (const s of v.value) w.string(9, s);
      break;
    default:
      fail(`node '${n.name}' attribute '${a.name}' has unknown type '${(v as { type: string }).type}'`);
  }
}

function checkInt(v: number, a: OnnxAttribute, n: OnnxNode): number {
  if (!Number.isSafeInteger(v)) fail(`node '${n.name}' attribute '${a.name}' holds ${v}, expected an integer below 2^53 in magnitude`);
  return v;
}

function encodeValueInfo(w: ProtoWriter, v: OnnxValueInfo): void {
  w.string(1, v.name);
  if (v.elemType === 0 && v.shape === null) return;
  w.message(2, (t) =>
    t.message(1, (tt) => {
      if (v.elemType !== 0) tt.int(1, v.elemType);
      if (v.shape !== null)
        tt.message(2, (s) => {
          for (const d of v.shape!)
            s.message(1, (dm) => {
              if (typeof d === 'number') {
                if (!Number.isSafeInteger(d) || d < 0) fail(`value '${v.name}' has dimension ${d}, expected a non-negative integer`);
                dm.int(1, d);
              } else if (typeof d === 'string') dm.string(2, d);
            });
        });
    }),
  );
}

function encodeTensor(w: ProtoWriter, t: OnnxTensor): void {
  const label = `tensor '${t.name}'`;
  const size = rawElementSize(t.dataType);
  if (size === 0) fail(`${label} has element type ${dataTypeName(t.dataType)}, which sparsenn does not write`);
  let count = 1;
  for (const d of t.dims) {
    if (!Number.isSafeInteger(d) || d < 0) fail(`${label} has dimension ${d}, expected a non-negative integer`);
    count *= d;
  }
  const float = isFloatType(t.dataType);
  if (float ? !(t.data instanceof Float32Array) : !(t.data instanceof Int32Array))
    fail(`${label} of ${dataTypeName(t.dataType)} must hold its values in ${float ? 'a Float32Array' : 'an Int32Array'}`);
  if (t.data.length !== count) fail(`${label} [${t.dims.join(', ')}] holds ${t.data.length} values, expected ${count}`);
  if (!float) {
    const [lo, hi] = intRange(t.dataType);
    for (let i = 0; i < t.data.length; i++)
      if (t.data[i]! < lo || t.data[i]! > hi) fail(`${label} value ${t.data[i]} at ${i} does not fit ${dataTypeName(t.dataType)}`);
  }
  w.packedVarints(1, t.dims);
  w.int(2, t.dataType);
  if (t.name) w.string(8, t.name);
  w.bytes(9, encodeRaw(t.data, t.dataType));
}
