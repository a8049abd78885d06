/**
 * The error classes of sparsenn. Every error the library throws on purpose is a
 * {@link SparsennError} with a stable `code`; the subclass tells the kind at a glance.
 * Native code raises the same classes (lib/native.ts registers the factory).
 */

/** Stable error codes. */
export type ErrorCode =
  | 'ERR_TYPE' // an argument has the wrong type (e.g. not a Float32Array)
  | 'ERR_SHAPE' // dimensions are invalid or do not match
  | 'ERR_FORMAT' // a sparse structure is malformed (row pointers, ordering, lengths)
  | 'ERR_RANGE' // an index or count is out of range
  | 'ERR_ALIAS' // an output shares memory with an input
  | 'ERR_DISPOSED' // a native object was used after dispose()
  | 'ERR_BUSY' // a native object is in use by an unfinished async call
  | 'ERR_DETACHED' // an output array was transferred or detached while an async call ran
  | 'ERR_MEMORY' // an allocation failed
  | 'ERR_NATIVE_LOAD' // the addon could not be loaded
  | 'ERR_QUEUE_FULL' // a serving pool's queue is full (backpressure: retry later)
  | 'ERR_TIMEOUT' // a request did not finish within its time limit
  | 'ERR_ABORTED' // a request was cancelled through its AbortSignal
  | 'ERR_CLOSED' // a serving pool (or session) was closed
  | 'ERR_WORKER' // a worker thread failed or exited while running a request
  | 'ERR_LIMIT' // an untrusted input exceeds a configured limit (size, tensor size, depth)
  | 'ERR_CUDA' // the CUDA backend failed (no device, out of device memory, a failed launch)
  | 'ERR_INTERNAL'; // a bug: please report it

export class SparsennError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}
/** Wrong argument type. */
export class SparsennTypeError extends SparsennError {}
/** Invalid or mismatched dimensions. */
export class ShapeError extends SparsennError {}
/** Malformed sparse structure. */
export class FormatError extends SparsennError {}
/** Index or count out of range. */
export class IndexRangeError extends SparsennError {}
/** Native runtime problems: loading, memory, use after dispose, aliasing, internal errors. */
export class NativeError extends SparsennError {}
/** Serving: backpressure, timeouts, cancellation, closed pools, failed workers. */
export class ServeError extends SparsennError {}
/** An untrusted input (a model file, a request) is over a configured limit. */
export class LimitError extends SparsennError {}

const classes: Record<ErrorCode, new (code: ErrorCode, message: string) => SparsennError> = {
  ERR_TYPE: SparsennTypeError,
  ERR_SHAPE: ShapeError,
  ERR_FORMAT: FormatError,
  ERR_RANGE: IndexRangeError,
  ERR_ALIAS: NativeError,
  ERR_DISPOSED: NativeError,
  ERR_BUSY: NativeError,
  ERR_DETACHED: NativeError,
  ERR_MEMORY: NativeError,
  ERR_NATIVE_LOAD: NativeError,
  ERR_QUEUE_FULL: ServeError,
  ERR_TIMEOUT: ServeError,
  ERR_ABORTED: ServeError,
  ERR_CLOSED: ServeError,
  ERR_WORKER: ServeError,
  ERR_LIMIT: LimitError,
  ERR_CUDA: NativeError,
  ERR_INTERNAL: NativeError,
};

/** Builds the error of the class that belongs to `code` (unknown codes become ERR_INTERNAL). */
export function errorFromCode(code: string, message: string): SparsennError {
  const known = Object.prototype.hasOwnProperty.call(classes, code) ? (code as ErrorCode) : 'ERR_INTERNAL';
  return new classes[known](known, message);
}
