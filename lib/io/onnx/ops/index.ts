/**
 * Every operator converter by op type (default ONNX domain). Synthetic ops the importer's
 * pre-pass creates from fused patterns are keyed 'sparsenn:<Op>'.
 */
import { activationOps } from './activation.js';
import { arithOps } from './arith.js';
import type { Converter } from './common.js';
import { convOps } from './conv.js';
import { linearOps } from './linear.js';
import { normOps, layerNormFused } from './norm.js';
import { poolOps } from './pool.js';
import { reduceOps } from './reduce.js';
import { resizeOps } from './resize.js';
import { shapeOps } from './shape.js';

export const converters: Readonly<Record<string, Converter>> = {
  ...linearOps,
  ...convOps,
  ...normOps,
  ...activationOps,
  ...arithOps,
  ...poolOps,
  ...reduceOps,
  ...resizeOps,
  ...shapeOps,
  'sparsenn:LayerNormalization': layerNormFused,
};

export type { Converter } from './common.js';
