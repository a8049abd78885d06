/**
 * Output arrays that the caller fills completely: large ones come from Buffer.allocUnsafe
 * (no zero fill; a dedicated, 8-byte aligned ArrayBuffer above Node's pool size), small ones
 * from the plain constructor. A training step allocates a few such arrays per layer, and
 * zeroing them cost as much as the ReLU that fills them.
 */
const UNSAFE_MIN_BYTES = 64 * 1024;

export function float32Uninit(length: number): Float32Array {
  const bytes = length * 4;
  if (bytes < UNSAFE_MIN_BYTES) return new Float32Array(length);
  const buf = Buffer.allocUnsafe(bytes);
  if (buf.byteOffset % 4 !== 0) return new Float32Array(length);
  return new Float32Array(buf.buffer, buf.byteOffset, length);
}
