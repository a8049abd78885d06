/**
 * A binary range coder (the carry-less-with-cache design of LZMA's rc, Subbotin/Schindler
 * style): 32-bit range, bytes out most significant first. The caller gives, for every bit,
 * the probability of a 0 as a ratio `a / b` of positive integers; the coder splits the range
 * at `bound = floor(range * a / b)` evaluated in IEEE-754 binary64 (multiply, then divide, then
 * floor; what JavaScript numbers do and what a C `double` does), clamped to [1, range - 1].
 * Encoder and decoder evaluate the same expression, so they agree bit for bit.
 *
 * Cost: a bit coded with probability q costs -log2(q) bits, plus at most ~2^-24 relative
 * error from the integer split, plus 4 bytes per stream for the final flush. The LZMA coder
 * always emits a leading 0 byte first; this one drops it, so a stream of S range
 * renormalisations is exactly S + 4 bytes long and the decoder consumes exactly that many,
 * which lets it reject streams with missing or trailing bytes.
 */

const TOP = 2 ** 24;
const TWO32 = 2 ** 32;

function split(range: number, a: number, b: number): number {
  const bound = Math.floor((range * a) / b);
  if (bound < 1) return 1;
  if (bound >= range) return range - 1;
  return bound;
}

/** Encodes bits into a growing byte buffer. */
export class RangeEncoder {
  private low = 0; // < 2^33: 32 bits of code plus a pending carry
  private range = TWO32 - 1;
  private cache = 0;
  private cacheSize = 1;
  private skipFirst = true;
  private buf: Uint8Array;
  private n = 0;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(Math.max(16, capacity));
  }

  /** Codes `bit` (0 or 1) where a 0 has probability a / b (0 < a < b). */
  encode(bit: number, a: number, b: number): void {
    const bound = split(this.range, a, b);
    if (bit === 0) this.range = bound;
    else {
      this.low += bound;
      this.range -= bound;
    }
    while (this.range < TOP) {
      this.range *= 256;
      this.shiftLow();
    }
  }

  /** Flushes the coder and returns the bytes (the encoder must not be used afterwards). */
  finish(): Uint8Array {
    for (let i = 0; i < 5; i++) this.shiftLow();
    return this.buf.slice(0, this.n);
  }

  private shiftLow(): void {
    if (this.low < 0xff000000 || this.low >= TWO32) {
      const carry = this.low >= TWO32 ? 1 : 0;
      let temp = this.cache;
      do {
        this.emit((temp + carry) & 0xff);
        temp = 0xff;
      } while (--this.cacheSize !== 0);
      this.cache = Math.floor(this.low / TOP) & 0xff;
    }
    this.cacheSize++;
    this.low = (this.low % TOP) * 256;
  }

  private emit(byte: number): void {
    // the first byte is always the initial cache, 0, and can take no carry: the code interval
    // never leaves [0, 2^32) of its first window
    if (this.skipFirst) {
      this.skipFirst = false;
      return;
    }
    if (this.n === this.buf.length) {
      const grown = new Uint8Array(this.buf.length * 2);
      grown.set(this.buf);
      this.buf = grown;
    }
    this.buf[this.n++] = byte;
  }
}

/**
 * Decodes what RangeEncoder wrote. Reading past the end of the stream yields zero bytes (so a
 * truncated or hostile stream cannot make it read out of bounds); `consumed` tells how many
 * bytes the decoding needed, which for an intact stream equals its length.
 */
export class RangeDecoder {
  private range = TWO32 - 1;
  private code = 0;
  private pos = 0;

  constructor(private readonly bytes: Uint8Array) {
    for (let i = 0; i < 4; i++) this.code = this.code * 256 + this.next();
  }

  /** Decodes one bit coded with probability a / b for a 0 (same a, b as the encoder used). */
  decode(a: number, b: number): number {
    const bound = split(this.range, a, b);
    let bit: number;
    if (this.code < bound) {
      this.range = bound;
      bit = 0;
    } else {
      this.code -= bound;
      this.range -= bound;
      bit = 1;
    }
    while (this.range < TOP) {
      this.range *= 256;
      this.code = (this.code % TOP) * 256 + this.next();
    }
    return bit;
  }

  /**
   * Whether the stream ended cleanly: the encoder's flush writes its final `low`, so after
   * the last bit of an intact stream the decoder's code is exactly 0 (LZMA's end check). A
   * stream decoded with other probabilities than it was coded with (a wrong bit count, a
   * damaged byte) passes this with probability about 2^-32.
   */
  get finishedOk(): boolean {
    return this.code === 0;
  }

  /** Bytes read so far, counting reads past the end. */
  get consumed(): number {
    return this.pos;
  }

  private next(): number {
    const p = this.pos++;
    return p < this.bytes.length ? this.bytes[p]! : 0;
  }
}
