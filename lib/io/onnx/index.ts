/** ONNX support: the file codec, the importer and the exporter (re-exports only). */
export { decodeOnnx, encodeOnnx } from './proto.js';
export { importOnnx, importOnnxFile, SUPPORTED_ONNX_OPS, ONNX_OPSET_RANGE, type ImportOnnxOptions } from './import.js';
export { exportOnnx, saveOnnx, saveOnnxSync, toOnnxModel, MIN_EXPORT_OPSET, MAX_EXPORT_OPSET, type ExportOnnxOptions } from './export.js';
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
