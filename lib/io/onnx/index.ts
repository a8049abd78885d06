/** ONNX support: the file codec and the importer (re-exports only). */
export { decodeOnnx, encodeOnnx } from './proto.js';
export { importOnnx, importOnnxFile, SUPPORTED_ONNX_OPS, ONNX_OPSET_RANGE, type ImportOnnxOptions } from './import.js';
export { AlongAxis } from './layers.js';
export {
  OnnxDataType,
  type OnnxDataTypeCode,
  type OnnxTensor,
  type OnnxAttribute,
  type OnnxAttributeValue,
  type OnnxNode,
  type OnnxDim,
  type OnnxValueInfo,
  type OnnxGraph,
  type OnnxOpsetImport,
  type OnnxModel,
} from './types.js';
