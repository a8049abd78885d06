/**
 * The optimizer base: walks each parameter's kept entries only. A masked parameter's pruned
 * weights are never read or written, and its per-weight state (momentum, Adam moments) is
 * compact, one entry per kept weight in the mask's order. When the mask changes the state is
 * carried over for weights kept in both masks; a weight that is pruned loses its state and a
 * regrown one starts from zero. The step count (Adam's bias correction, SGD's first step) is
 * per parameter, as in PyTorch: a regrown weight continues at its tensor's step with zero
 * moments. So a pruned weight stays exactly zero, and the update of a 90%-sparse layer costs a
 * tenth of the dense one.
 */
import { IndexRangeError, SparsennTypeError } from '../../errors.js';
import { Parameter } from '../parameter.js';

export interface ParamState {
  /** Per-weight state arrays (momentum, moments): full size, or one entry per kept weight. */
  buffers: Float32Array[];
  /** The kept indices the buffers follow (null: every entry). */
  indices: Int32Array | null;
  /** Steps taken for this parameter. */
  step: number;
  maskVersion: number;
}

export abstract class Optimizer {
  readonly params: Parameter[];
  /** The learning rate used by the next step (LR schedules set it). */
  lr: number;
  protected readonly state = new Map<Parameter, ParamState>();

  constructor(params: Iterable<Parameter>, lr: number) {
    this.params = [...params];
    for (const p of this.params) if (!(p instanceof Parameter)) throw new SparsennTypeError('ERR_TYPE', 'optimizers take Parameters (model.parameters())');
    if (new Set(this.params).size !== this.params.length) throw new SparsennTypeError('ERR_TYPE', 'a parameter was given to the optimizer twice');
    this.lr = checkRate(lr, 'lr');
  }

  /** Number of state arrays per parameter. */
  protected abstract readonly stateBuffers: number;

  /**
   * Updates p.data at `indices` (null = every entry) from `grad`: dense (indexed like p.data)
   * or, when `compact`, one value per index.
   */
  protected abstract update(p: Parameter, grad: Float32Array, compact: boolean, state: ParamState, indices: Int32Array | null): void;

  /** One update of every parameter that has a gradient. */
  step(): void {
    for (const p of this.params) {
      if (!p.hasGrad()) continue;
      const st = this.stateOf(p);
      const g = p.gradFor(st.indices)!;
      st.step++;
      try {
        this.update(p, g.values, g.compact, st, st.indices);
      } catch (e) {
        st.step--; // a rejected step did not happen
        throw e;
      }
    }
  }

  /** Clears every gradient. */
  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  /**
   * Zeroes the per-weight state (momentum, moments) of the entries `indices` (flat indices into
   * p) that p's mask keeps: for weights that restart, such as connections regrown by dynamic
   * sparse training that were also kept before (a mask change alone keeps their state).
   */
  resetEntries(p: Parameter, indices: Iterable<number>): void {
    if (!this.state.has(p)) return;
    const st = this.stateOf(p);
    const kept = st.indices;
    for (const i of indices) {
      let pos = i;
      if (kept) {
        // binary search in the sorted kept indices
        let lo = 0;
        let hi = kept.length - 1;
        pos = -1;
        while (lo <= hi) {
          const mid = (lo + hi) >>> 1;
          if (kept[mid]! < i) lo = mid + 1;
          else if (kept[mid]! > i) hi = mid - 1;
          else {
            pos = mid;
            break;
          }
        }
      }
      if (pos >= 0 && pos < (kept ? kept.length : p.size)) for (const b of st.buffers) b[pos] = 0;
    }
  }

  /** Forgets all state (momentum, moments, step counts). */
  reset(): void {
    this.state.clear();
  }

  protected stateOf(p: Parameter): ParamState {
    const indices = p.mask ? p.maskPattern().active : null;
    let st = this.state.get(p);
    if (!st) {
      const len = indices ? indices.length : p.size;
      st = { buffers: Array.from({ length: this.stateBuffers }, () => new Float32Array(len)), indices, step: 0, maskVersion: p.maskVersion };
      this.state.set(p, st);
    } else if (st.maskVersion !== p.maskVersion) {
      st.buffers = st.buffers.map((b) => remapState(b, st!.indices, indices, p.size));
      st.indices = indices;
      st.maskVersion = p.maskVersion;
    }
    return st;
  }
}

/** State for the `to` entries taken from `from` where an index is in both (zero elsewhere). */
function remapState(buf: Float32Array, from: Int32Array | null, to: Int32Array | null, size: number): Float32Array {
  const out = new Float32Array(to ? to.length : size);
  if (!from && !to) out.set(buf);
  else if (!from) for (let k = 0; k < to!.length; k++) out[k] = buf[to![k]!]!;
  else if (!to) for (let k = 0; k < from.length; k++) out[from[k]!] = buf[k]!;
  else {
    // both sorted: merge
    let i = 0;
    for (let k = 0; k < to.length; k++) {
      const want = to[k]!;
      while (i < from.length && from[i]! < want) i++;
      if (i < from.length && from[i] === want) out[k] = buf[i]!;
    }
  }
  return out;
}

export function checkRate(v: number, name: string, max = Number.MAX_VALUE): number {
  if (typeof v !== 'number' || !(v >= 0 && v <= max)) throw new IndexRangeError('ERR_RANGE', `${name} must be a number in [0, ${max}], got ${String(v)}`);
  return v;
}

