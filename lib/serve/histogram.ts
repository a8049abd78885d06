/**
 * A fixed-bucket histogram (Prometheus style: each bucket counts observations ≤ its upper
 * bound). Constant memory however many observations; quantiles are read off the buckets, so
 * they are upper bounds with the buckets' resolution.
 */
export class Histogram {
  readonly bounds: readonly number[];
  readonly #counts: number[];
  #count = 0;
  #sum = 0;
  #max = -Infinity;

  /** `bounds`: increasing upper bounds; observations above the last go to a +Inf bucket. */
  constructor(bounds: readonly number[]) {
    if (bounds.length === 0 || bounds.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= bounds[i - 1]!)))
      throw new RangeError(`histogram bounds must be finite and increasing, got [${bounds.join(', ')}]`);
    this.bounds = [...bounds];
    this.#counts = new Array<number>(bounds.length + 1).fill(0);
  }

  /** Buckets growing by 2^(1/steps) from `first` until one reaches `last`. */
  static exponential(first: number, last: number, steps = 4): Histogram {
    const bounds: number[] = [];
    for (let k = 0; bounds.length === 0 || bounds[bounds.length - 1]! < last; k++) {
      const b = Number((first * 2 ** (k / steps)).toPrecision(6));
      if (bounds.length === 0 || b > bounds[bounds.length - 1]!) bounds.push(b);
    }
    return new Histogram(bounds);
  }

  observe(value: number): void {
    let lo = 0;
    let hi = this.bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (value <= this.bounds[mid]!) hi = mid;
      else lo = mid + 1;
    }
    this.#counts[lo]!++;
    this.#count++;
    this.#sum += value;
    if (value > this.#max) this.#max = value;
  }

  get count(): number {
    return this.#count;
  }

  get sum(): number {
    return this.#sum;
  }

  /** The largest observation (NaN when empty). */
  get max(): number {
    return this.#count === 0 ? NaN : this.#max;
  }

  /** The upper bound of the bucket holding quantile q (the observed maximum for the +Inf bucket); NaN when empty. */
  quantile(q: number): number {
    if (this.#count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return i < this.bounds.length ? Math.min(this.bounds[i]!, this.#max) : this.#max;
    }
    return this.#max;
  }

  /** Per bucket: upper bound (Infinity last) and cumulative count. */
  buckets(): { le: number; count: number }[] {
    let seen = 0;
    return this.#counts.map((c, i) => ({ le: i < this.bounds.length ? this.bounds[i]! : Infinity, count: (seen += c) }));
  }

  /** Prometheus text exposition lines for this histogram. */
  prometheus(name: string, help: string): string {
    const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
    for (const b of this.buckets()) lines.push(`${name}_bucket{le="${b.le === Infinity ? '+Inf' : b.le}"} ${b.count}`);
    lines.push(`${name}_sum ${this.#sum}`, `${name}_count ${this.#count}`);
    return lines.join('\n');
  }

  /** A plain snapshot (for JSON). */
  summary(): { count: number; sum: number; max: number; p50: number; p90: number; p99: number } {
    return { count: this.#count, sum: this.#sum, max: this.max, p50: this.quantile(0.5), p90: this.quantile(0.9), p99: this.quantile(0.99) };
  }
}
