/**
 * Caps for loading untrusted model files, so that a small hostile file cannot make sparsenn
 * allocate gigabytes, recurse without bound or spin on a huge graph. Every loader takes the
 * same LoadLimits (loadModelFile / loadModelBytes, decodeSpnn, decodeModel, importOnnx, the
 * serving pool); a value over a limit is refused with a LimitError (ERR_LIMIT) that names the
 * option to raise. The defaults admit any realistic model.
 */
import { LimitError, SparsennTypeError } from './errors.js';

export interface LoadLimits {
  /** Largest model file, bytes (default 2^31 − 1). */
  maxFileBytes?: number;
  /**
   * Most tensor elements a file may declare, all tensors together (default max(2^24,
   * 64 × file bytes): a compressed sparse file may expand, but not without bound).
   */
  maxElements?: number;
  /** Most elements of one sample of any value the model computes, or of one folded constant (default 2^27). */
  maxValueElements?: number;
  /** Deepest nesting: modules within modules, ONNX graphs within graphs (default 256). */
  maxDepth?: number;
  /** Most modules in an architecture, or nodes in an ONNX graph (default 100,000). */
  maxNodes?: number;
  /**
   * Most values ONNX shape inference computes in all (each node's one-sample output and
   * inputs; default 2^30): bounds the time and memory a small file chaining many large nodes
   * can cost.
   */
  maxTotalValueElements?: number;
}

/** No caps: for rebuilding a model the process already holds (compile, shrink), not for files. */
export const UNLIMITED: Readonly<LoadLimits> = Object.freeze({
  maxFileBytes: Infinity,
  maxElements: Infinity,
  maxValueElements: Infinity,
  maxDepth: Infinity,
  maxNodes: Infinity,
  maxTotalValueElements: Infinity,
});

export type ResolvedLimits = Required<LoadLimits>;

const DEFAULTS = { maxFileBytes: 2 ** 31 - 1, maxValueElements: 2 ** 27, maxDepth: 256, maxNodes: 100_000, maxTotalValueElements: 2 ** 30 } as const;

/** The limits with defaults filled in for a file of `fileBytes` bytes. */
export function resolveLimits(limits: LoadLimits | undefined, fileBytes: number): ResolvedLimits {
  if (limits !== undefined && (limits === null || typeof limits !== 'object')) throw new SparsennTypeError('ERR_TYPE', `limits must be an object, got ${limits === null ? 'null' : typeof limits}`);
  const l = limits ?? {};
  const pick = (key: keyof LoadLimits, fallback: number): number => {
    const v = l[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !(v >= 0)) throw new SparsennTypeError('ERR_TYPE', `limits.${key} must be a non-negative number, got ${String(v)}`);
    return v;
  };
  return {
    maxFileBytes: pick('maxFileBytes', DEFAULTS.maxFileBytes),
    maxElements: pick('maxElements', Math.max(2 ** 24, 64 * fileBytes)),
    maxValueElements: pick('maxValueElements', DEFAULTS.maxValueElements),
    maxDepth: pick('maxDepth', DEFAULTS.maxDepth),
    maxNodes: pick('maxNodes', DEFAULTS.maxNodes),
    maxTotalValueElements: pick('maxTotalValueElements', DEFAULTS.maxTotalValueElements),
  };
}

/** @throws {LimitError} ERR_LIMIT when `value` is over `limit` (`what` says what was counted). */
export function checkLimit(what: string, value: number, limit: number, option: keyof LoadLimits): void {
  if (value > limit || Number.isNaN(value)) throw new LimitError('ERR_LIMIT', `${what} is ${value}, over the limit of ${limit} (raise limits.${option} to accept it)`);
}
