/** The model graph and training engine (re-exports only; the package index re-exports this). */
export { Tensor, noGrad, isGradEnabled, type GradNode } from './tensor.js';
export { Parameter, type MaskPattern } from './parameter.js';
export { Module, type ModuleConfig, type StateEntry } from './module.js';
export { Graph, type GraphValue } from './graph.js';
export { addForwardHook, withForwardHooks, type ForwardHook } from './hooks.js';
export { moduleFromConfig, registerModuleType } from './registry.js';
export { Sequential } from './layers/sequential.js';
export { Linear, type LinearOptions } from './layers/linear.js';
export { Conv2d, type Conv2dOptions } from './layers/conv.js';
export { MaxPool2d, AvgPool2d, GlobalAvgPool, type Pool2dLayerOptions, type AvgPool2dLayerOptions } from './layers/pool.js';
export { BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm, type BatchNormOptions, type LayerNormOptions, type GroupNormOptions } from './layers/norm.js';
export { Embedding, type EmbeddingOptions } from './layers/embedding.js';
export {
  ReLU,
  LeakyReLU,
  GELU,
  Tanh,
  Sigmoid,
  HardSwish,
  HardSigmoid,
  Softmax,
  Dropout,
  Flatten,
  Reshape,
  Add,
  Concat,
  type DropoutOptions,
} from './layers/activations.js';
export {
  Elementwise,
  Unary,
  Clip,
  MatMulActs,
  Transpose,
  Slice,
  Gather,
  ReduceMean,
  Resize,
  ConvTranspose2d,
  Identity,
  type ElementwiseOptions,
  type ConvTranspose2dOptions,
} from './layers/tensor-ops.js';
export { AlongAxis, ConstantPad } from './layers/axis.js';
export * as functional from './functional.js';
export { setSparseThreshold, getSparseThreshold, type WeightExecution } from './ops/weight-product.js';
export {
  manualSeed,
  defaultRandom,
  kaimingUniform,
  kaimingNormal,
  xavierUniform,
  xavierNormal,
  sparseKaiming,
  uniform,
  gain,
  fans,
  type Nonlinearity,
  type InitOptions,
  type KaimingOptions,
  type SparseInitOptions,
} from './init.js';
export { Random } from './random.js';
export { Optimizer, type ParamState } from './optim/optimizer.js';
export { SGD, type SgdOptions } from './optim/sgd.js';
export { Adam, AdamW, type AdamOptions } from './optim/adam.js';
export { constantLr, stepLr, cosineLr, linearWarmup, type LrSchedule } from './optim/schedule.js';
export { clipGradNorm, clipGradValue } from './optim/clip.js';
export {
  fit,
  evaluate,
  predict,
  type FitOptions,
  type EvaluateOptions,
  type Callback,
  type TrainContext,
  type StepInfo,
  type EpochLogs,
  type History,
  type LossFn,
} from './train/fit.js';
export type { Dataset } from './data/dataset.js';
export { DataLoader, type Batch, type DataLoaderOptions } from './data/loader.js';
export { readIdx, readIdxFile, readIdxFileSync, encodeIdx, type IdxArray, type IdxDtype } from './data/idx.js';
export {
  loadFashionMnist,
  loadFashionMnistSync,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DEFAULT_DIR,
  type FashionMnistDataset,
  type FashionMnistOptions,
} from './data/fashion-mnist.js';
export { lenet300, smallCnn, mlpBlock } from './zoo.js';
