/** Pieces several commands share: loading the model argument, its sample shape, structures, criteria. */
import { existsSync } from 'node:fs';
import { FormatError } from '../errors.js';
import { loadModelFile, type LoadedModel } from '../io/files.js';
import { lenet300, mlpBlock, smallCnn } from '../nn/zoo.js';
import type { Module } from '../nn/module.js';
import { magnitude, obd, random, snip, taylor } from '../prune/criteria.js';
import { meanActivation, wanda } from '../prune/criteria-activation.js';
import { blocks, channels, nm, unstructured } from '../prune/structures.js';
import type { Criterion, Structure } from '../prune/types.js';
import { UsageError, type FlagSpec } from './args.js';

/** Built-in models a command can take instead of a file: `zoo:lenet300`, `zoo:cnn`, `zoo:mlp-block`. */
const ZOO: Record<string, { build: () => Module; sampleShape: number[] }> = {
  'zoo:lenet300': { build: lenet300, sampleShape: [1, 28, 28] },
  'zoo:cnn': { build: smallCnn, sampleShape: [1, 28, 28] },
  'zoo:mlp-block': { build: () => mlpBlock(), sampleShape: [768] },
};

export const SAMPLE_SHAPE_FLAG: FlagSpec = {
  type: 'numbers',
  description: "one sample's input shape without the batch, e.g. 1,28,28 (default: recorded in the model file)",
  value: 'D,D,...',
};

/** A model file, or a zoo name (untrained weights, seeded). */
export function loadModelArg(path: string, command: string): LoadedModel {
  const zoo = ZOO[path];
  if (zoo) return { model: zoo.build(), format: 'safetensors', sampleShape: zoo.sampleShape, metadata: {}, fileBytes: 0 };
  if (path.startsWith('zoo:')) throw new UsageError(`unknown built-in model '${path}'; built-in: ${Object.keys(ZOO).join(', ')}`, command);
  if (!existsSync(path)) throw new UsageError(`model file '${path}' does not exist`, command);
  return loadModelFile(path);
}

export function sampleShapeOf(loaded: LoadedModel, flag: unknown, command: string): number[] {
  if (Array.isArray(flag)) {
    if (flag.length === 0 || flag.some((d) => !Number.isInteger(d) || d < 1)) throw new UsageError(`--sample-shape needs positive integers, got ${flag.join(',')}`, command);
    return flag as number[];
  }
  if (loaded.sampleShape) return loaded.sampleShape;
  throw new UsageError('the model file does not record its input shape; give --sample-shape (e.g. --sample-shape 1,28,28)', command);
}

/** 'unstructured', 'N:M' (e.g. 2:4), 'block RxC' / 'RxC' (e.g. 4x1), or 'channels'. */
export function parseStructure(s: string, command: string): Structure {
  const t = s.trim().toLowerCase();
  if (t === 'unstructured') return unstructured();
  if (t === 'channels' || t === 'channel' || t === 'neurons') return channels();
  const nmMatch = /^(\d+):(\d+)$/.exec(t);
  if (nmMatch) return nm(Number(nmMatch[1]), Number(nmMatch[2]));
  const block = /^(?:block\s*)?(\d+)x(\d+)$/.exec(t);
  if (block) return blocks(Number(block[1]), Number(block[2]));
  throw new UsageError(`--structure must be unstructured, N:M (e.g. 2:4), RxC blocks (e.g. 4x1) or channels; got '${s}'`, command);
}

export const CRITERIA = ['magnitude', 'random', 'taylor', 'snip', 'obd', 'wanda', 'activation', 'sparsegpt'] as const;
export type CriterionName = (typeof CRITERIA)[number];

/** The criterion object (SparseGPT is a separate procedure, handled by the prune command). */
export function criterionOf(name: CriterionName, seed: number): Criterion | null {
  switch (name) {
    case 'magnitude':
      return magnitude();
    case 'random':
      return random({ seed });
    case 'taylor':
      return taylor();
    case 'snip':
      return snip();
    case 'obd':
      return obd();
    case 'wanda':
      return wanda();
    case 'activation':
      return meanActivation();
    case 'sparsegpt':
      return null;
  }
}

/** Whether a criterion needs calibration data. */
export function needsCalibration(name: CriterionName): boolean {
  return name !== 'magnitude' && name !== 'random';
}

export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

export function checkOutput(path: unknown, command: string): string {
  if (typeof path !== 'string' || path === '') throw new UsageError('give the output file with -o FILE (.spnn, .safetensors or .onnx)', command);
  return path;
}

export function assertNever(x: never): never {
  throw new FormatError('ERR_FORMAT', `unexpected value ${String(x)}`);
}
