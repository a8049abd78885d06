/**
 * Model files by extension, for the CLI and for callers that take "a model file": `.spnn`
 * (the compact format), `.safetensors` (weights + masks + architecture) and `.onnx` (imported
 * into the model graph; written as a dense ONNX model). The sample shape a model was saved
 * with travels in the file's metadata (`sparsenn.sampleShape`; for ONNX, the input's dims).
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { FormatError } from '../errors.js';
import type { Module } from '../nn/module.js';
import { decodeModel, saveModel } from './model.js';
import { decodeSafetensors } from './safetensors.js';
import { readSpnn, saveSpnn, type SpnnOptions } from './spnn.js';
import { importOnnx } from './onnx/import.js';
import { decodeOnnx } from './onnx/proto.js';
import { saveOnnx } from './onnx/export.js';

export type ModelFileFormat = 'spnn' | 'safetensors' | 'onnx';

export interface LoadedModel {
  model: Module;
  format: ModelFileFormat;
  /** The shape of one sample (batch excluded) if the file records it, else null. */
  sampleShape: number[] | null;
  metadata: Record<string, string>;
  fileBytes: number;
}

export interface SaveModelFileOptions {
  /** Recorded in the file (and required for ONNX export). */
  sampleShape?: readonly number[] | null;
  /** `.spnn` value precision and other options. */
  spnn?: SpnnOptions;
  metadata?: Record<string, string>;
}

const SAMPLE_SHAPE_KEY = 'sparsenn.sampleShape';

export function modelFileFormat(path: string): ModelFileFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.spnn') return 'spnn';
  if (ext === '.safetensors') return 'safetensors';
  if (ext === '.onnx') return 'onnx';
  throw new FormatError('ERR_FORMAT', `'${path}': unknown model file type '${ext || '(none)'}'; expected .spnn, .safetensors or .onnx`);
}

function parseShape(raw: string | undefined): number[] | null {
  if (raw === undefined) return null;
  try {
    const v = JSON.parse(raw) as unknown;
    if (Array.isArray(v) && v.length > 0 && v.every((d) => Number.isInteger(d) && d > 0)) return v as number[];
  } catch {
    // fall through: a malformed entry is treated as absent
  }
  return null;
}

/** Loads a model file of any supported type (by extension). */
export function loadModelFile(path: string): LoadedModel {
  const format = modelFileFormat(path);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new FormatError('ERR_FORMAT', `cannot read model file '${path}': ${(e as Error).message}`);
  }
  if (format === 'spnn') {
    const { model, info } = readSpnn(bytes);
    return { model, format, sampleShape: parseShape(info.metadata[SAMPLE_SHAPE_KEY]), metadata: info.metadata, fileBytes: bytes.length };
  }
  if (format === 'safetensors') {
    const metadata = decodeSafetensors(bytes).metadata;
    return { model: decodeModel(bytes), format, sampleShape: parseShape(metadata[SAMPLE_SHAPE_KEY]), metadata, fileBytes: bytes.length };
  }
  const onnx = decodeOnnx(bytes);
  const model = importOnnx(onnx);
  // The first real input (older files also list initializers as inputs): its dims after the batch.
  const weights = new Set(onnx.graph.initializers.map((t) => t.name));
  const dims = onnx.graph.inputs.find((i) => !weights.has(i.name))?.shape?.slice(1) ?? null;
  const sampleShape = dims && dims.length > 0 && dims.every((d) => typeof d === 'number' && d > 0) ? (dims as number[]) : null;
  return { model, format, sampleShape, metadata: onnx.metadata, fileBytes: bytes.length };
}

/** Saves by extension; atomic for every type (a failed save keeps the previous file). */
export async function saveModelFile(model: Module, path: string, opts: SaveModelFileOptions = {}): Promise<void> {
  const format = modelFileFormat(path);
  const metadata = { ...opts.metadata, ...(opts.sampleShape ? { [SAMPLE_SHAPE_KEY]: JSON.stringify(opts.sampleShape) } : {}) };
  if (format === 'spnn') return saveSpnn(model, path, { ...opts.spnn, metadata: { ...opts.spnn?.metadata, ...metadata } });
  if (format === 'safetensors') return saveModel(model, path, metadata);
  if (!opts.sampleShape) throw new FormatError('ERR_FORMAT', `ONNX export needs the sample shape (e.g. --sample-shape 1,28,28)`);
  return saveOnnx(model, path, { sampleShape: [...opts.sampleShape] });
}
