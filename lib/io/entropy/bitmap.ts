/**
 * Lossless coding of 0/1 bitmaps (pruning masks, zero patterns) with the binary range coder,
 * close to or below their entropy bound N·H(p) bits (H the binary entropy, p the fraction of
 * ones). Two models; the encoder tries the candidates and keeps the shortest stream:
 *
 * - `count` (enumerative): the number of ones `k` is known to the decoder (the file stores
 *   it anyway, as the count of kept values), and each bit is coded with probability
 *   (zeros left) / (bits left) of being 0. This is the exact conditional distribution of a
 *   uniformly random bitmap with k ones, so the stream costs log2 C(N, k) bits plus the
 *   coder's 4 flush bytes: never more than N·H(k/N) + 32 bits. Once only zeros or only ones
 *   remain nothing more is coded, and all-zero and all-one bitmaps are an empty stream.
 *
 * - `context` with period P (1..16): the bitmap is seen as rows x cols (a weight's output
 *   rows); each bit is coded with an adaptive Krichevsky–Trofimov estimate
 *   (zeros + 1/2) / (seen + 1) of the context (position in its group of P columns, ones so
 *   far in that group, bit to the left, bit above). Groups restart at every row start. With
 *   P = 1 the context is (left, above): runs, whole pruned rows/columns (channel pruning) and
 *   blocks cost a small fraction of N·H(p). With P = M an N:M mask costs log2 C(M, N) bits
 *   per group, the entropy of the structure, because P(1 | position j, c ones so far) =
 *   (N - c) / (M - j) is exactly a function of the context; with P = W, blocks W columns wide
 *   cost about one bit per block instead of W·H(p) per block row. The learning cost is about
 *   ½·log2(N) bits per context.
 *
 * Every model decodes in O(N) time whatever the input bytes; the decoder reports how many
 * bytes it consumed, so callers can reject streams that are too short or too long.
 */

import { ShapeError } from '../../errors.js';
import { RangeDecoder, RangeEncoder } from './range-coder.js';

/** Which model coded a bitmap: `count` or `context` with a group period. */
export type BitmapModel = { kind: 'count' } | { kind: 'context'; period: number };

/** Largest context period (the largest N:M group sparsenn's pruning makes is 16). */
export const MAX_PERIOD = 16;

/** A coded bitmap. */
export interface CodedBitmap {
  model: BitmapModel;
  bytes: Uint8Array;
}

function popcount(bits: Uint8Array): number {
  let k = 0;
  for (let i = 0; i < bits.length; i++) k += bits[i]!;
  return k;
}

function encodeCount(bits: Uint8Array, ones: number): Uint8Array {
  if (ones === 0 || ones === bits.length) return new Uint8Array(0); // nothing to code
  const enc = new RangeEncoder(estimateBytes(bits.length, ones));
  let zeros = bits.length - ones;
  for (let i = 0; i < bits.length && zeros > 0 && ones > 0; i++) {
    const left = bits.length - i;
    const bit = bits[i]!;
    enc.encode(bit, zeros, left);
    if (bit === 0) zeros--;
    else ones--;
  }
  return enc.finish();
}

function decodeCount(bytes: Uint8Array, n: number, ones: number): Decoded {
  const out = new Uint8Array(n);
  if (ones === 0 || ones === n) return { bits: out.fill(ones === 0 ? 0 : 1), consumed: 0, clean: true };
  const dec = new RangeDecoder(bytes);
  let zeros = n - ones;
  let i = 0;
  for (; i < n && zeros > 0 && ones > 0; i++) {
    if (dec.decode(zeros, n - i) === 0) zeros--;
    else {
      out[i] = 1;
      ones--;
    }
  }
  if (ones > 0) out.fill(1, i); // only ones remain
  return { bits: out, consumed: dec.consumed, clean: dec.finishedOk };
}

interface Decoded {
  bits: Uint8Array;
  /** Bytes the decoding read (reads past the end included). */
  consumed: number;
  /** The range decoder ended in the state an intact stream ends in. */
  clean: boolean;
}

/** The context of bit (r, c) for period P, an index in [0, 4·P·P). */
function contextCount(period: number): number {
  return 4 * period * period;
}

function codeContext(
  n: number,
  cols: number,
  period: number,
  code: (ctx: number, counts: Uint32Array, i: number) => number,
): void {
  if (n > 0 && !(cols >= 1 && n % cols === 0)) throw new ShapeError('ERR_SHAPE', `a bitmap of ${n} bits cannot have ${cols} columns`);
  if (!Number.isInteger(period) || period < 1 || period > MAX_PERIOD)
    throw new ShapeError('ERR_SHAPE', `context period must be an integer in [1, ${MAX_PERIOD}], got ${period}`);
  const counts = new Uint32Array(2 * contextCount(period)); // [zeros, total] per context
  const row = new Uint8Array(cols); // the previous row, then the current one as it is filled
  let i = 0;
  while (i < n) {
    let groupOnes = 0;
    let leftBit = 0;
    for (let c = 0; c < cols; c++, i++) {
      const phase = c % period;
      if (phase === 0) groupOnes = 0;
      const up = row[c]!; // still the previous row's bit at this column (0 for the first row)
      const ctx = (((phase * period + groupOnes) * 2 + leftBit) * 2 + up) * 2;
      const bit = code(ctx, counts, i);
      counts[ctx + 1]!++;
      if (bit === 0) counts[ctx]!++;
      row[c] = bit;
      leftBit = bit;
      groupOnes += bit;
    }
  }
}

function encodeContext(bits: Uint8Array, cols: number, period: number): Uint8Array {
  const enc = new RangeEncoder(estimateBytes(bits.length, popcount(bits)));
  codeContext(bits.length, cols, period, (ctx, counts, i) => {
    const bit = bits[i]!;
    enc.encode(bit, 2 * counts[ctx]! + 1, 2 * counts[ctx + 1]! + 2);
    return bit;
  });
  return enc.finish();
}

function decodeContext(bytes: Uint8Array, n: number, cols: number, period: number): Decoded {
  const out = new Uint8Array(n);
  const dec = new RangeDecoder(bytes);
  codeContext(n, cols, period, (ctx, counts, i) => {
    const bit = dec.decode(2 * counts[ctx]! + 1, 2 * counts[ctx + 1]! + 2);
    out[i] = bit;
    return bit;
  });
  return { bits: out, consumed: dec.consumed, clean: dec.finishedOk };
}

function estimateBytes(n: number, ones: number): number {
  return Math.ceil((n * binaryEntropy(n === 0 ? 0 : ones / n)) / 8) + 16;
}

/**
 * The smallest M in [2, 16] such that every full group of M columns of every row holds the
 * same number of ones, strictly between 0 and M (an N:M pattern), or 0 when there is none.
 */
export function detectGroupPeriod(bits: Uint8Array, rows: number, cols: number): number {
  for (let m = 2; m <= MAX_PERIOD && m <= cols; m++) {
    const groups = Math.floor(cols / m);
    let expected = -1;
    let ok = true;
    for (let r = 0; r < rows && ok; r++)
      for (let g = 0; g < groups; g++) {
        const base = r * cols + g * m;
        let k = 0;
        for (let j = 0; j < m; j++) k += bits[base + j]!;
        if (expected < 0) expected = k;
        if (k !== expected) {
          ok = false;
          break;
        }
      }
    if (ok && expected > 0 && expected < m) return m;
  }
  return 0;
}

/**
 * The largest M in [2, 16] such that every full group of M columns of every row is all zeros
 * or all ones (a block or channel pattern M wide), or 0 when there is none.
 */
export function detectBlockWidth(bits: Uint8Array, rows: number, cols: number): number {
  for (let m = Math.min(MAX_PERIOD, cols); m >= 2; m--) {
    const groups = Math.floor(cols / m);
    let ok = true;
    for (let r = 0; r < rows && ok; r++)
      for (let g = 0; g < groups; g++) {
        const base = r * cols + g * m;
        const first = bits[base]!;
        for (let j = 1; j < m; j++)
          if (bits[base + j] !== first) {
            ok = false;
            break;
          }
        if (!ok) break;
      }
    if (ok) return m;
  }
  return 0;
}

/** Binary entropy H(p) in bits (0 at p = 0 and p = 1). */
export function binaryEntropy(p: number): number {
  if (p <= 0 || p >= 1) return 0;
  return -(p * Math.log2(p) + (1 - p) * Math.log2(1 - p));
}

/**
 * Codes a 0/1 bitmap seen as rows x cols (rows * cols = bits.length) with the model that gives
 * the shortest stream among `count`, `context` P = 1, `context` P = M when the bitmap is an
 * N:M pattern, and `context` P = W when it is made of blocks W columns wide (ties go to the
 * earlier). `models` restricts the candidates (tests use it).
 */
export function encodeBitmap(bits: Uint8Array, rows: number, cols: number, models?: readonly BitmapModel[]): CodedBitmap {
  const ones = popcount(bits);
  let candidates: BitmapModel[];
  if (models) candidates = [...models];
  else {
    candidates = [{ kind: 'count' }];
    // a constant bitmap costs nothing under `count`; context models cannot beat that
    if (ones > 0 && ones < bits.length) {
      candidates.push({ kind: 'context', period: 1 });
      const m = detectGroupPeriod(bits, rows, cols);
      if (m > 0) candidates.push({ kind: 'context', period: m });
      const w = detectBlockWidth(bits, rows, cols);
      if (w > 0 && w !== m) candidates.push({ kind: 'context', period: w });
    }
  }
  let best: CodedBitmap | null = null;
  for (const model of candidates) {
    const bytes = model.kind === 'count' ? encodeCount(bits, ones) : encodeContext(bits, cols, model.period);
    if (!best || bytes.length < best.bytes.length) best = { model, bytes };
  }
  return best!;
}

/** A decoded bitmap and how the decoding went. */
export interface DecodedBitmap {
  bits: Uint8Array;
  /** Bytes the decoding read (reads past the end included). */
  consumed: number;
  /** Popcount of `bits`. */
  ones: number;
  /** The stream was consumed exactly and the range decoder ended cleanly. */
  intact: boolean;
}

/**
 * Decodes a bitmap of `n` = rows * cols bits. `ones` is the number of ones the caller expects
 * (required by the `count` model, which produces exactly that many). Returns the bits, their
 * popcount, and `intact`: the stream was consumed exactly and the range decoder ended cleanly
 * (a corrupted stream, or one decoded with the wrong count, fails this with probability about
 * 1 - 2^-32). The caller also checks the popcount.
 */
export function decodeBitmap(bytes: Uint8Array, n: number, cols: number, model: BitmapModel, ones: number): DecodedBitmap {
  const r = model.kind === 'count' ? decodeCount(bytes, n, ones) : decodeContext(bytes, n, cols, model.period);
  return { bits: r.bits, consumed: r.consumed, ones: popcount(r.bits), intact: r.clean && r.consumed === bytes.length };
}
