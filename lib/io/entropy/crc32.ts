/**
 * CRC-32 (IEEE 802.3, the checksum of zlib, gzip and PNG: reflected polynomial 0xEDB88320,
 * initial value and final XOR 0xFFFFFFFF). Written here rather than taken from node:zlib
 * because zlib.crc32 only exists from Node 20.15 and the package supports every Node 20.
 * A CRC-32 detects every error burst of at most 32 bits, so every single-byte corruption.
 */

let table: Uint32Array | null = null;

function crcTable(): Uint32Array {
  if (table) return table;
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  table = t;
  return t;
}

/**
 * The CRC-32 of `bytes`, continuing from `previous` (the CRC of the bytes before; 0 to start),
 * as an unsigned 32-bit integer: crc32(b) === crc32(b.subarray(k), crc32(b.subarray(0, k))).
 */
export function crc32(bytes: Uint8Array, previous = 0): number {
  const t = crcTable();
  let c = (previous ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
