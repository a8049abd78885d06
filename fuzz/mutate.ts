/**
 * Mutations for the fuzzer (the usual libFuzzer/AFL set): bit flips, random and interesting
 * bytes, interesting 16/32-bit little-endian integers, inserted, erased, duplicated and
 * overwritten ranges, tokens from a dictionary (the formats' keywords), truncation, and
 * crossover with another corpus input. Deterministic given the random source.
 */
export { mulberry32 as rng, type Rng } from '../test/helpers/random.js';
import type { Rng } from '../test/helpers/random.js';

const INTERESTING8 = [0, 1, 0x7f, 0x80, 0xff, 0x20, 0x22, 0x2c, 0x3a, 0x5b, 0x5d, 0x7b, 0x7d, 0x30, 0x39];
const INTERESTING32 = [0, 1, -1, 2, 4, 8, 16, 255, 256, 1024, 4096, 65535, 65536, 0x7fffffff, -0x80000000, 0x40000000, 100_000_000];

const pick = <T>(r: Rng, a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
const int = (r: Rng, n: number): number => Math.floor(r() * n);

/** One to several stacked mutations of `input` (never longer than maxLen). */
export function mutate(input: Uint8Array, r: Rng, maxLen: number, dict: readonly Uint8Array[], corpus: readonly Uint8Array[]): Uint8Array {
  let b: Uint8Array = input.slice();
  const rounds = 1 + int(r, 4);
  for (let k = 0; k < rounds; k++) b = mutateOnce(b, r, dict, corpus);
  return b.length > maxLen ? b.subarray(0, maxLen) : b;
}

function mutateOnce(b: Uint8Array, r: Rng, dict: readonly Uint8Array[], corpus: readonly Uint8Array[]): Uint8Array {
  const n = b.length;
  switch (int(r, 12)) {
    case 0: // flip a bit
      if (n > 0) b[int(r, n)]! ^= 1 << int(r, 8);
      return b;
    case 1: // random byte
      if (n > 0) b[int(r, n)] = int(r, 256);
      return b;
    case 2: // interesting byte
      if (n > 0) b[int(r, n)] = pick(r, INTERESTING8);
      return b;
    case 3: // interesting 16/32-bit integer, little-endian
      if (n >= 4) {
        const at = int(r, n - 3);
        const v = pick(r, INTERESTING32) + (r() < 0.3 ? int(r, 5) - 2 : 0);
        const dv = new DataView(b.buffer, b.byteOffset, n);
        if (r() < 0.5) dv.setInt32(at, v, true);
        else dv.setUint16(at, v & 0xffff, true);
      }
      return b;
    case 4: // add to a byte
      if (n > 0) {
        const at = int(r, n);
        b[at] = (b[at]! + int(r, 70) - 35) & 0xff;
      }
      return b;
    case 5: // erase a range
      if (n > 1) {
        const at = int(r, n);
        const len = 1 + int(r, Math.min(n - at, 16));
        return concat(b.subarray(0, at), b.subarray(at + len));
      }
      return b;
    case 6: // insert random bytes
    {
      const at = int(r, n + 1);
      const ins = Uint8Array.from({ length: 1 + int(r, 8) }, () => int(r, 256));
      return concat(b.subarray(0, at), ins, b.subarray(at));
    }
    case 7: // duplicate a range
      if (n > 0) {
        const from = int(r, n);
        const len = 1 + int(r, Math.min(n - from, 64));
        const at = int(r, n + 1);
        return concat(b.subarray(0, at), b.slice(from, from + len), b.subarray(at));
      }
      return b;
    case 8: // overwrite with a dictionary token
    case 9: // insert a dictionary token
      if (dict.length > 0) {
        const tok = pick(r, dict);
        const at = int(r, n + 1);
        if (int(r, 2) === 0 && at + tok.length <= n) {
          b.set(tok, at);
          return b;
        }
        return concat(b.subarray(0, at), tok, b.subarray(at));
      }
      return b;
    case 10: // truncate
      return n > 0 ? b.subarray(0, int(r, n)) : b;
    default: // crossover: a prefix of this input, a suffix of another
    {
      if (corpus.length === 0) return b;
      const other = pick(r, corpus);
      return concat(b.subarray(0, int(r, n + 1)), other.subarray(int(r, other.length + 1)));
    }
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
