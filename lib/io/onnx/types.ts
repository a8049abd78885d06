/**
 * The subset of the ONNX protobuf schema (onnx/onnx.proto, IR versions 3–10) that sparsenn reads
 * and writes, as plain objects. Field names follow the .proto file in camelCase; 64-bit integers
 * are JS numbers (ONNX shapes, axes and indices fit in 2^53). Dimensions beyond 2^53 are
 * rejected; integer attributes beyond ±(2^53 - 1) saturate there, and integer tensor values
 * beyond the int32 range saturate to ±(2^31 - 1) / -2^31: exporters write ±(2^63 - 1) as "to the
 * end" in Slice, which keeps its meaning, and no real dimension or index is that large.
 * proto.ts decodes and encodes these; import.ts and export.ts convert them to and from models.
 */

/** TensorProto.DataType values sparsenn handles. */
export const OnnxDataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const;
export type OnnxDataTypeCode = number;

/** A constant tensor (initializer, Constant value, attribute). Values are decoded to one typed array. */
export interface OnnxTensor {
  name: string;
  dataType: OnnxDataTypeCode;
  dims: number[];
  /**
   * FLOAT, FLOAT16 / BFLOAT16 (widened) and DOUBLE (narrowed) → Float32Array; INT64, INT32,
   * INT16, INT8, UINT8, UINT16, UINT32, UINT64, BOOL → Int32Array, values outside the int32
   * range saturated (see above; values are shape arithmetic and indices in the models we
   * import). STRING and other types are rejected. The element count equals the product of dims.
   */
  data: Float32Array | Int32Array;
}

export type OnnxAttributeValue =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: OnnxTensor }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: number[] }
  | { type: 'strings'; value: string[] }
  | { type: 'graph'; value: OnnxGraph };

export interface OnnxAttribute {
  name: string;
  value: OnnxAttributeValue;
}

export interface OnnxNode {
  name: string;
  opType: string;
  /** '' (or 'ai.onnx') is the default domain. */
  domain: string;
  /** Input value names; '' marks an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attributes: OnnxAttribute[];
}

/** One dimension of a value's type: a fixed size, a symbolic name (e.g. 'batch'), or unknown. */
export type OnnxDim = number | string | null;

export interface OnnxValueInfo {
  name: string;
  /** Element type (TensorProto.DataType); 0 when the type is absent. */
  elemType: OnnxDataTypeCode;
  /** null when the shape is absent (unknown rank). */
  shape: OnnxDim[] | null;
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  valueInfo: OnnxValueInfo[];
}

export interface OnnxOpsetImport {
  /** '' (or 'ai.onnx') for the default operator set. */
  domain: string;
  version: number;
}

export interface OnnxModel {
  irVersion: number;
  opsetImports: OnnxOpsetImport[];
  producerName: string;
  producerVersion: string;
  graph: OnnxGraph;
  /** metadata_props as a plain record. */
  metadata: Record<string, string>;
}
