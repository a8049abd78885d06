/**
 * Model files by extension, for the CLI and for callers that take "a model file": `.spnn`
 * (the compact format), `.safetensors` (weights + masks + architecture) and `.onnx` (imported
 * into the model graph; written as a dense ONNX model). The sample shape a model was saved
 * with travels in the file's metadata (`sparsenn.sampleShape`; for ONNX, the input's dims).
 */
import { readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { FormatError, LimitError } from '../errors.js';
import { checkLimit, resolveLimits, type LoadLimits } from '../limits.js';
import type { Module } from '../nn/module.js';
import { decodeModel, saveModel } from './model.js';
import { decodeSafetensors } from './safetensors.js';
import { readSpnn, saveSpnn, SPNN_MAGIC, type SpnnOptions } from './spnn.js';
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

export interface LoadModelOptions {
  /** Caps for untrusted files; see LoadLimits. */
  limits?: LoadLimits;
}

/** Loads a model file of any supported type (by extension). */
export function loadModelFile(path: string, opts: LoadModelOptions = {}): LoadedModel {
  const format = modelFileFormat(path);
  let bytes: Uint8Array;
  try {
    // Refuse an oversized file before reading it.
    checkLimit(`the size of '${path}' in bytes`, statSync(path).size, resolveLimits(opts.limits, 0).maxFileBytes, 'maxFileBytes');
    bytes = readFileSync(path);
  } catch (e) {
    if (e instanceof LimitError) throw e;
    throw new FormatError('ERR_FORMAT', `cannot read model file '${path}': ${(e as Error).message}`);
  }
  return loadModelBytes(bytes, format, opts);
}

/**
 * The type of a model file from its first bytes: the .spnn magic, a safetensors header (an
 * 8-byte length, then '{'), else ONNX (a protobuf; its own decoder validates it).
 */
export function detectModelFormat(bytes: Uint8Array): ModelFileFormat {
  if (bytes.length >= SPNN_MAGIC.length && SPNN_MAGIC.every((b, i) => bytes[i] === b)) return 'spnn';
  // A safetensors header length is far below 2^32 (its top 4 bytes are 0), then '{'.
  if (bytes.length >= 9 && bytes[8] === 0x7b && bytes[4] === 0 && bytes[5] === 0 && bytes[6] === 0 && bytes[7] === 0) return 'safetensors';
  return 'onnx';
}

/**
 * Loads a model from a file's bytes (`format` defaults to detectModelFormat()). For files from
 * elsewhere, `opts.limits` caps what the file may make the loader allocate (LimitError
 * ERR_LIMIT past a cap); the sample shape the file records counts against maxValueElements.
 */
export function loadModelBytes(bytes: Uint8Array, format: ModelFileFormat = detectModelFormat(bytes), opts: LoadModelOptions = {}): LoadedModel {
  const loaded = loadBytes(bytes, format, opts.limits);
  if (loaded.sampleShape)
    checkLimit('the values of one input sample', loaded.sampleShape.reduce((a, b) => a * b, 1), resolveLimits(opts.limits, bytes.length).maxValueElements, 'maxValueElements');
  return loaded;
}

function loadBytes(bytes: Uint8Array, format: ModelFileFormat, limits: LoadLimits | undefined): LoadedModel {
  if (format === 'spnn') {
    const { model, info } = readSpnn(bytes, { limits });
    return { model, format, sampleShape: parseShape(info.metadata[SAMPLE_SHAPE_KEY]), metadata: info.metadata, fileBytes: bytes.length };
  }
  if (format === 'safetensors') {
    const metadata = decodeSafetensors(bytes).metadata;
    return { model: decodeModel(bytes, limits), format, sampleShape: parseShape(metadata[SAMPLE_SHAPE_KEY]), metadata, fileBytes: bytes.length };
  }
  const onnx = decodeOnnx(bytes, limits);
  const model = importOnnx(onnx, { limits });
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
