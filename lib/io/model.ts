/**
 * Saving and loading models as safetensors: every parameter and buffer as F32 under its full
 * name (`fc1.weight`, the names PyTorch gives), each mask as BOOL under `<name>_mask` (the
 * name torch.nn.utils.prune uses), and in the metadata the architecture as JSON
 * (`sparsenn.architecture`), so loadModel() can rebuild the model without its code. A
 * PyTorch user reads the same file with safetensors.torch.load_file. Saving writes a
 * temporary file and renames it over the target, so a failed save keeps the previous file.
 */
import { FormatError } from '../errors.js';
import { checkLimit, resolveLimits, type LoadLimits } from '../limits.js';
import type { Module } from '../nn/module.js';
import { moduleFromConfig } from '../nn/registry.js';
import {
  decodeSafetensors,
  encodeSafetensors,
  loadSafetensors,
  loadSafetensorsSync,
  saveSafetensors,
  saveSafetensorsSync,
  type SafetensorsFile,
  type SafetensorsTensor,
} from './safetensors.js';

const MASK_SUFFIX = '_mask';
const ARCH_KEY = 'sparsenn.architecture';
const FORMAT_KEY = 'sparsenn.format';
const FORMAT_VERSION = '1';

/** The tensors and metadata saveModel() writes, for callers that want the bytes. */
export function modelTensors(model: Module, metadata: Record<string, string> = {}): { tensors: Record<string, SafetensorsTensor>; metadata: Record<string, string> } {
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const [name, entry] of Object.entries(model.stateDict())) tensors[name] = { dtype: 'F32', shape: entry.shape, data: entry.data };
  for (const [name, p] of model.namedParameters())
    if (p.mask) tensors[name + MASK_SUFFIX] = { dtype: 'BOOL', shape: [...p.shape], data: p.mask.slice() };
  return {
    tensors,
    metadata: { format: 'pt', ...metadata, [FORMAT_KEY]: FORMAT_VERSION, [ARCH_KEY]: JSON.stringify(model.config()) },
  };
}

/** The model as safetensors bytes. */
export function encodeModel(model: Module, metadata?: Record<string, string>): Uint8Array {
  const { tensors, metadata: meta } = modelTensors(model, metadata);
  return encodeSafetensors(tensors, meta);
}

/** Saves weights, masks and architecture; atomic (temp file + rename). */
export async function saveModel(model: Module, path: string, metadata?: Record<string, string>): Promise<void> {
  const { tensors, metadata: meta } = modelTensors(model, metadata);
  await saveSafetensors(path, tensors, meta);
}

export function saveModelSync(model: Module, path: string, metadata?: Record<string, string>): void {
  const { tensors, metadata: meta } = modelTensors(model, metadata);
  saveSafetensorsSync(path, tensors, meta);
}

/**
 * Copies a file's weights and masks into `model` (names and shapes must match exactly;
 * `strict: false` ignores missing and unexpected names). Masks absent from the file are
 * removed from the model when strict.
 */
export function applyWeights(model: Module, file: SafetensorsFile, opts: { strict?: boolean } = {}): void {
  const strict = opts.strict ?? true;
  const state: Record<string, { shape: number[]; data: Float32Array }> = {};
  const masks: Record<string, Uint8Array> = {};
  for (const [name, t] of Object.entries(file.tensors)) {
    if (name.endsWith(MASK_SUFFIX) && t.dtype !== 'F32') {
      if (t.dtype !== 'BOOL' && t.dtype !== 'U8') throw new FormatError('ERR_FORMAT', `mask '${name}' has dtype ${t.dtype}, expected BOOL or U8`);
      masks[name.slice(0, -MASK_SUFFIX.length)] = t.data as Uint8Array;
      continue;
    }
    if (t.dtype !== 'F32') throw new FormatError('ERR_FORMAT', `tensor '${name}' has dtype ${t.dtype}; sparsenn models hold F32 weights`);
    state[name] = { shape: t.shape, data: t.data as Float32Array };
  }
  const params = new Map(model.namedParameters());
  const apply: Record<string, Uint8Array | null> = {};
  for (const [name, mask] of Object.entries(masks)) {
    if (params.has(name)) apply[name] = mask;
    else if (strict) throw new FormatError('ERR_FORMAT', `mask '${name}${MASK_SUFFIX}' belongs to no parameter of the model`);
  }
  // Strict: the file is the whole state, so a parameter without a mask in it loses its mask.
  if (strict) for (const [name, p] of params) if (!(name in apply) && p.mask) apply[name] = null;
  model.loadStateDict(state, { strict, masks: apply });
}

function build(file: SafetensorsFile, limits?: LoadLimits): Module {
  const arch = file.metadata[ARCH_KEY];
  if (arch === undefined) throw new FormatError('ERR_FORMAT', `the file has no '${ARCH_KEY}' metadata: it was not saved by saveModel(); build the model in code and use loadWeights()`);
  let config: unknown;
  try {
    config = JSON.parse(arch);
  } catch (e) {
    throw new FormatError('ERR_FORMAT', `'${ARCH_KEY}' metadata is not valid JSON (${(e as Error).message})`);
  }
  const model = moduleFromConfig(config, limits);
  applyWeights(model, file);
  return model;
}

/** Rebuilds a model saved by saveModel(): architecture, weights, buffers and masks. */
export async function loadModel(path: string): Promise<Module> {
  return build(await loadSafetensors(path));
}

export function loadModelSync(path: string): Module {
  return build(loadSafetensorsSync(path));
}

/** Rebuilds a model from the bytes of a file saved by saveModel(); `limits` caps untrusted files. */
export function decodeModel(bytes: Uint8Array, limits?: LoadLimits): Module {
  if (bytes instanceof Uint8Array) checkLimit('the file size in bytes', bytes.length, resolveLimits(limits, bytes.length).maxFileBytes, 'maxFileBytes');
  // The architecture may allocate no more than the file's element budget.
  return build(decodeSafetensors(bytes), { ...limits, maxElements: resolveLimits(limits, bytes.length).maxElements });
}

/** Loads weights (and masks) from a safetensors file into an existing model. */
export async function loadWeights(model: Module, path: string, opts: { strict?: boolean } = {}): Promise<void> {
  applyWeights(model, await loadSafetensors(path), opts);
}
