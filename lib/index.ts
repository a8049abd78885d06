/** sparsenn: sparse neural networks for Node.js. Public API (re-exports only). */
export { Matrix, transposeDense } from './tensor/matrix.js';
export type { MatrixBase, MatrixFormat } from './tensor/base.js';
export { CsrMatrix, type CsrFromDenseOptions } from './sparse/csr.js';
export { NmMatrix, type NmPattern } from './sparse/nm.js';
export { BsrMatrix, type BlockShape, type BsrFromDenseOptions } from './sparse/bsr.js';
export type { KeepTarget } from './select.js';
export {
  matmul,
  matmulAsync,
  matmulTransposed,
  matmulTransposedAsync,
  sddmm,
  sddmmAsync,
  type AnyMatrix,
  type Activation,
  type MatmulOptions,
} from './matmul.js';
export { setThreads, getThreads, capabilities, listKernels } from './runtime.js';
export type { Capabilities, KernelInfo } from './native.js';
export {
  SparsennError,
  SparsennTypeError,
  ShapeError,
  FormatError,
  IndexRangeError,
  NativeError,
  ServeError,
  LimitError,
  errorFromCode,
  type ErrorCode,
} from './errors.js';
export * from './nn/index.js';
export * from './prune/index.js';
export * from './infer/index.js';
export {
  saveModel,
  saveModelSync,
  loadModel,
  loadModelSync,
  loadWeights,
  encodeModel,
  decodeModel,
  applyWeights,
  modelTensors,
} from './io/model.js';
export {
  encodeSafetensors,
  decodeSafetensors,
  saveSafetensors,
  saveSafetensorsSync,
  loadSafetensors,
  loadSafetensorsSync,
  type SafetensorsDtype,
  type SafetensorsTensor,
  type SafetensorsFile,
} from './io/safetensors.js';
export { referenceMatmul, referenceAbsMatmul, referenceMatmulTransposed, referenceSddmm } from './reference/kernels.js';
export {
  encodeSpnn,
  decodeSpnn,
  inspectSpnn,
  readSpnn,
  saveSpnn,
  saveSpnnSync,
  loadSpnn,
  loadSpnnSync,
  sizeReport,
  formatSizeReport,
  SPNN_VERSION,
  type SpnnOptions,
  type SpnnLoadOptions,
  type SpnnPrecision,
  type SpnnInfo,
  type SpnnSizeReport,
  type SpnnTensorSize,
} from './io/spnn.js';
export { loadModelFile, loadModelBytes, detectModelFormat, saveModelFile, modelFileFormat, type LoadModelOptions, type LoadedModel, type ModelFileFormat, type SaveModelFileOptions } from './io/files.js';
export * from './analysis/index.js';
export { measureLatency, formatLatency, type LatencyOptions, type LatencyResult, type LatencyRow } from './infer/latency.js';
export * from './io/onnx/index.js';
export { renderReport, writeReport, writeReportSync, validateReportData } from './report/index.js';
export type { ReportData, ReportMachine, ReportModel, AccuracyPoint, ReportAccuracy, ReportLayer, ReportSize, ReportLatency, ReportPlan, ReportPlanLayer } from './report/index.js';
export * from './serve/index.js';
export type { LoadLimits } from './limits.js';
