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
export { broadcastShapes, elementwise, elementwiseConst, type BinaryOp, type ConstantTensor } from './ops/broadcast.js';
export { unary, clip, type UnaryOpName } from './ops/unary.js';
export { matmulActs } from './ops/matmul-acts.js';
export { transpose, slice, gather } from './ops/indexing.js';
export { reduceMean } from './ops/reduce.js';
export { resize, type ResizeOptions, type ResizeMode, type CoordinateTransformationMode, type NearestMode } from './ops/resize.js';
export { convTranspose2d, type ConvTranspose2dOpOptions } from './ops/conv-transpose.js';
