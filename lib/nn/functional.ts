/** The differentiable ops behind the layers, for custom modules (re-exports only). */
export { weightProduct } from './ops/weight-product.js';
export { conv2d, im2col } from './ops/conv.js';
export { maxPool2d, avgPool2d, globalAvgPool } from './ops/pool.js';
export { batchNorm, layerNorm, groupNorm } from './ops/norm.js';
export { embedding } from './layers/embedding.js';
export {
  unaryOp,
  relu,
  leakyRelu,
  gelu,
  tanh,
  sigmoid,
  hardsigmoid,
  hardswish,
  softmax,
  dropout,
  add,
  mul,
  scale,
  concat,
  reshape,
  flatten,
} from './ops/elementwise.js';
export { crossEntropy, mse, argmax, type CrossEntropyOptions } from './ops/loss.js';
export {
  broadcastShapes,
  elementwise,
  elementwiseConst,
  unary,
  clip,
  matmulActs,
  transpose,
  slice,
  gather,
  reduceMean,
  resize,
  convTranspose2d,
  type BinaryOp,
  type UnaryOpName,
  type ConstantTensor,
  type ResizeOptions,
  type ResizeMode,
  type CoordinateTransformationMode,
  type NearestMode,
  type ConvTranspose2dOpOptions,
} from './ops/tensor-ops.js';
