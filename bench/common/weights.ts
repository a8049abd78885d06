/**
 * Seeded benchmark data: dense random-normal matrices and random unstructured CSR patterns with
 * an exact nonzero count.
 */

/** A seeded uniform generator in [0, 1) (mulberry32: small, fast, plenty for benchmark data). */
export class Rng {
  private state: number;
  private spare: number | null = null;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A seed derived from several integers, so each (shape, format) gets its own stream. */
  static seedFrom(...parts: number[]): number {
    let h = 0x811c9dc5;
    for (const p of parts) h = Math.imul(h ^ (p >>> 0), 0x01000193) >>> 0;
    return h;
  }

  uniform(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal (Box-Muller, both values of each pair used). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const u1 = 1 - this.uniform(); // (0, 1]
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  normalArray(length: number): Float32Array {
    const out = new Float32Array(length);
    for (let i = 0; i < length; i++) out[i] = this.normal();
    return out;
  }
}

export interface CsrArrays {
  rows: number;
  cols: number;
  rowPtr: Int32Array;
  colIdx: Int32Array;
  values: Float32Array;
}

/**
 * A rows x cols CSR matrix keeping exactly round(density * rows * cols) entries at uniformly
 * random positions (selection sampling, Knuth's Algorithm S: one pass, every k-subset equally
 * likely, entries come out in row-major order), with standard-normal values. Random
 * unstructured sparsity: no row or block structure beyond what chance gives.
 */
export function randomCsr(rows: number, cols: number, density: number, rng: Rng): CsrArrays {
  const size = rows * cols;
  const keep = Math.round(density * size);
  const rowPtr = new Int32Array(rows + 1);
  const colIdx = new Int32Array(keep);
  const values = new Float32Array(keep);
  let chosen = 0;
  let seen = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++, seen++) {
      if ((size - seen) * rng.uniform() < keep - chosen) {
        colIdx[chosen] = c;
        values[chosen] = rng.normal();
        chosen++;
      }
    }
    rowPtr[r + 1] = chosen;
  }
  if (chosen !== keep) throw new Error(`randomCsr: selected ${chosen} entries, expected ${keep}`);
  return { rows, cols, rowPtr, colIdx, values };
}

/** The dense row-major array of CSR arrays (zeros where nothing is stored). */
export function csrToDense({ rows, cols, rowPtr, colIdx, values }: CsrArrays): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let p = rowPtr[r]; p < rowPtr[r + 1]; p++) out[r * cols + colIdx[p]] = values[p];
  }
  return out;
}
