/**
 * Property tests: compiled inference sessions (compile / run / runAsync) on random batches, on
 * batches with poisoned samples (NaN, ±Infinity), and on hostile inputs (wrong rank, wrong
 * dims, mismatched batches, missing or unknown names, non-tensors, tensors whose data was
 * replaced or detached after construction). A run either returns every output with the right
 * shape, matching the uncompiled model's forward on every clean sample (finite there), or
 * throws a typed error; an independent oracle says which.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Add,
  BatchNorm1d,
  BatchNorm2d,
  Concat,
  Conv2d,
  Flatten,
  GELU,
  Graph,
  Linear,
  manualSeed,
  MaxPool2d,
  nm,
  noGrad,
  prune,
  ReLU,
  Sequential,
  Tensor,
  compile,
  type InferenceSession,
  type Module,
} from '../../lib/index.js';
import { attempt, attemptAsync, check, checkAsync, detach, expectOutcome, show, type Outcome } from './contract.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const bad = <T = any>(v: unknown): T => v as T;
const quiet = () => {};

/** Batch norms with non-trivial statistics, so that folding them is exercised. */
function randomizeNorms(model: Module): void {
  let s = 1;
  const r = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  for (const [, m] of model.namedModules())
    if (m instanceof BatchNorm1d || m instanceof BatchNorm2d)
      for (let i = 0; i < m.numFeatures; i++) {
        m.runningMean![i] = r() - 0.5;
        m.runningVar![i] = 0.5 + r();
        m.weight!.data[i] = 0.5 + r();
        m.bias!.data[i] = r() - 0.5;
      }
}

interface Subject {
  name: string;
  model: Module;
  /** Per-input sample shapes, in input order. */
  samples: number[][];
  session: InferenceSession;
}

function subjects(): Subject[] {
  manualSeed(21);
  const mlp = new Sequential({ fc1: new Linear(12, 16), bn: new BatchNorm1d(16), relu: new ReLU(), fc2: new Linear(16, 8), gelu: new GELU(), fc3: new Linear(8, 4) });
  randomizeNorms(mlp);
  prune(mlp, { sparsity: 0.5, structure: nm(2, 4), onWarning: quiet });
  const cnn = new Sequential(new Conv2d(2, 4, 3, { padding: 1 }), new BatchNorm2d(4), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(36, 5));
  randomizeNorms(cnn);
  prune(cnn, { sparsity: 0.6, onWarning: quiet });
  const g = new Graph();
  const x = g.input('x');
  const side = g.input('side');
  const h = g.add('fc1', new Linear(12, 12), x);
  const r = g.add('res', new Add(), g.add('act', new GELU(), h), x);
  g.output('logits', g.add('head', new Linear(16, 3), g.add('cat', new Concat(0), r, side)));
  g.output('features', g.add('relu', new ReLU(), r));
  prune(g, { sparsity: 0.5, onWarning: quiet });
  const out: Subject[] = [];
  const add = (name: string, model: Module, samples: number[][], formats: Parameters<typeof compile>[1]['formats']) =>
    out.push({ name: `${name} (${JSON.stringify(formats)})`, model, samples, session: compile(model, { sampleShape: samples.length === 1 ? samples[0]! : samples, formats, batchSizes: [1, 8], timingCache: false }) });
  for (const f of ['dense', 'csr'] as const) add('mlp', mlp, [[12]], f);
  add('mlp', mlp, [[12]], { fc1: '2:4', fc2: '2:4' });
  for (const f of ['dense', 'csr'] as const) add('cnn', cnn, [[2, 6, 6]], f);
  add('graph', g, [[12], [4]], 'csr');
  return out;
}

const SUBJECTS = subjects();
afterAll(() => SUBJECTS.forEach((s) => s.session.dispose()));

/** The uncompiled model's outputs by name (Graph: every output; else 'output'). */
function reference(s: Subject, xs: Tensor[]): Record<string, Float32Array> {
  s.model.eval();
  return noGrad(() => {
    if (s.model instanceof Graph) {
      const o = s.model.run(xs);
      return Object.fromEntries(Object.entries(o).map(([k, t]) => [k, t.data]));
    }
    return { [s.session.outputNames[0]!]: s.model.forward(...xs).data };
  });
}

/** Deterministic sample values in [-2, 2]; columns in `poisoned` hold NaN / ±Infinity somewhere. */
function batch(shape: number[], n: number, seed: number, poisoned: ReadonlySet<number>): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size * n);
  for (let i = 0; i < data.length; i++) data[i] = Math.fround(2 * Math.sin(seed * 0.37 + i * 1.13));
  for (const j of poisoned) data[((seed + j) % size) * n + j] = [NaN, Infinity, -Infinity][(seed + j) % 3]!;
  return new Tensor(data, [...shape, n]);
}

/**
 * Every output has the declared shape with batch n, and on every clean sample matches the
 * reference within 1e-4 relative to the output's scale and is finite.
 */
function expectMatches(s: Subject, got: Record<string, Tensor>, want: Record<string, Float32Array>, n: number, poisoned: ReadonlySet<number>, label: string): void {
  expect(Object.keys(got).sort(), `${label}: output names`).toEqual([...s.session.outputNames].sort());
  for (const spec of s.session.outputs) {
    const t = got[spec.name]!;
    expect(t, `${label}: output ${spec.name}`).toBeInstanceOf(Tensor);
    expect(t.shape, `${label}: output ${spec.name} shape`).toEqual([...spec.shape, n]);
    const w = want[spec.name]!;
    expect(t.data.length, `${label}: output ${spec.name} size`).toBe(w.length);
    let scale = 1;
    for (let i = 0; i < w.length; i++) if (!poisoned.has(i % n)) scale = Math.max(scale, Math.abs(w[i]!));
    for (let i = 0; i < w.length; i++) {
      if (poisoned.has(i % n)) continue;
      const g = t.data[i]!;
      if (!Number.isFinite(g)) expect.fail(`${label}: output ${spec.name}[${i}] (sample ${i % n}) is ${g} on a clean sample`);
      if (!(Math.abs(g - w[i]!) <= 1e-4 * scale)) expect.fail(`${label}: output ${spec.name}[${i}] (sample ${i % n}): got ${g}, uncompiled ${w[i]}`);
    }
  }
}

/** A subject by index (a counterexample then prints the index, not the model). */
const subjectArb = fc.integer({ min: 0, max: SUBJECTS.length - 1 });
const poisonArb = (n: number) => fc.subarray(Array.from({ length: n }, (_, j) => j)).map((js) => new Set(js));
const runCaseArb = fc
  .record({ s: subjectArb, n: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.constantFrom(16, 33)), seed: fc.nat({ max: 1000 }), form: fc.constantFrom('tensor', 'array', 'record') })
  .chain((c) => fc.record({ c: fc.constant(c), poisoned: fc.oneof(fc.constant(new Set<number>()), poisonArb(c.n)) }));

/** The inputs in the form `form` (a single tensor only for one-input models). */
function present(s: Subject, xs: Tensor[], form: string): unknown {
  if (form === 'record') return Object.fromEntries(s.session.inputNames.map((name, i) => [name, xs[i]]));
  if (form === 'tensor' && xs.length === 1) return xs[0];
  return xs;
}

describe('compiled sessions on valid batches: the uncompiled model\'s outputs on every clean sample', () => {
  it('property: run() with random batch sizes (0 included), any input form, and samples poisoned with NaN / Infinity', () => {
    check(
      fc.property(runCaseArb, ({ c: { s: si, n, seed, form }, poisoned }) => {
        const s = SUBJECTS[si]!;
        const xs = s.samples.map((shape, i) => batch(shape, n, seed + i, poisoned));
        const label = `${s.name} n ${n} seed ${seed} ${form} poisoned [${[...poisoned]}]`;
        const r = attempt(() => s.session.run(bad(present(s, xs, form))), label);
        expectOutcome(r, true, null, label);
        if (!r.ok) return;
        if (n === 0) {
          for (const spec of s.session.outputs) expect(r.value[spec.name]!.shape).toEqual([...spec.shape, 0]);
          return;
        }
        expectMatches(s, r.value, reference(s, xs), n, poisoned, label);
      }),
      300,
    );
  });

  it('property: runAsync() agrees, and inputs detached or changed during the run change nothing', async () => {
    await checkAsync(
      fc.asyncProperty(runCaseArb, fc.constantFrom('keep', 'detach', 'overwrite'), async ({ c: { s: si, n, seed, form }, poisoned }, meanwhile) => {
        const s = SUBJECTS[si]!;
        const xs = s.samples.map((shape, i) => batch(shape, n, seed + i, poisoned));
        const want = n === 0 ? {} : reference(s, xs);
        const label = `${s.name} async n ${n} seed ${seed} ${form} poisoned [${[...poisoned]}] ${meanwhile}`;
        const p = s.session.runAsync(bad(present(s, xs, form)));
        if (meanwhile === 'detach') xs.forEach((x) => detach(x.data));
        if (meanwhile === 'overwrite') xs.forEach((x) => x.data.fill(NaN));
        const r = await attemptAsync(() => p, label);
        expectOutcome(r, true, null, label);
        if (r.ok && n > 0) expectMatches(s, r.value, want, n, poisoned, label);
      }),
      100,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Hostile inputs

type InputMut =
  | 'none'
  | 'dropDim'
  | 'addDim'
  | 'dimOff'
  | 'batchMismatch'
  | 'missingName'
  | 'unknownName'
  | 'extraTensor'
  | 'fewerTensors'
  | 'notTensor'
  | 'notInputs'
  | 'dataReplaced'
  | 'dataDetached'
  | 'dataWrongType';

const INPUT_MUTS: readonly InputMut[] = ['none', 'dropDim', 'addDim', 'dimOff', 'batchMismatch', 'missingName', 'unknownName', 'extraTensor', 'fewerTensors', 'notTensor', 'notInputs', 'dataReplaced', 'dataDetached', 'dataWrongType'];

interface Hostile {
  inputs: unknown;
  /** What the oracle expects: a result, a typed error, or either (a result must then be right). */
  valid: boolean | 'either';
  /** Samples per tensor when valid. */
  n: number;
  xs: Tensor[];
}

/** One mutation of a valid call; `valid` is decided here from the documented input rules. */
function hostile(s: Subject, n: number, seed: number, mut: InputMut, k: number): Hostile {
  const xs = s.samples.map((shape, i) => batch(shape, n, seed + i, new Set()));
  const which = k % xs.length;
  const shape = [...s.samples[which]!, n];
  const names = s.session.inputNames;
  const h: Hostile = { inputs: xs, valid: true, n, xs };
  const replace = (t: unknown) => {
    const copy: unknown[] = [...xs];
    copy[which] = t;
    h.inputs = copy;
  };
  switch (mut) {
    case 'none':
      h.inputs = present(s, xs, ['tensor', 'array', 'record'][k % 3]!);
      break;
    case 'dropDim':
      // A rank-1 [size * n] tensor: the right element count, the wrong rank.
      replace(Tensor.zeros([shape.reduce((a, b) => a * b, 1)]));
      h.valid = false;
      break;
    case 'addDim':
      replace(new Tensor(xs[which]!.data, [...shape, 1]));
      h.valid = false;
      break;
    case 'dimOff': {
      const d = k % (shape.length - 1);
      const dims = [...shape];
      dims[d] = dims[d]! + (k % 2 ? 1 : -1);
      replace(Tensor.zeros(dims));
      h.valid = false;
      break;
    }
    case 'batchMismatch':
      if (xs.length < 2) {
        h.valid = true;
        break;
      }
      replace(batch(s.samples[which]!, n + 1, seed, new Set()));
      h.valid = false;
      break;
    case 'missingName':
      h.inputs = Object.fromEntries(names.filter((_, i) => i !== which).map((nm, i) => [nm, xs[i >= which ? i + 1 : i]]));
      h.valid = false;
      break;
    case 'unknownName':
      // (A computed '__proto__' key is an own property, so it is an unknown name too.)
      h.inputs = { ...Object.fromEntries(names.map((nm, i) => [nm, xs[i]])), [['input', 'X', '__proto__', 'constructor', ''].filter((nm) => !names.includes(nm))[k % 4]!]: xs[0] };
      h.valid = false;
      break;
    case 'extraTensor':
      h.inputs = [...xs, xs[0]];
      h.valid = false;
      break;
    case 'fewerTensors':
      h.inputs = xs.slice(0, -1);
      h.valid = false;
      break;
    case 'notTensor':
      replace([null, undefined, 3, 'x', xs[which]!.data, { data: xs[which]!.data, shape }, [xs[which]]][k % 7]);
      h.valid = false;
      break;
    case 'notInputs':
      h.inputs = [null, undefined, 7, 'input', xs[0]!.data, true, Symbol('in')][k % 7];
      h.valid = false;
      break;
    case 'dataReplaced': {
      // The tensor was valid when made; its public `data` was swapped afterwards.
      const t = batch(s.samples[which]!, n, seed, new Set());
      t.data = new Float32Array(Math.max(0, t.data.length + (k % 2 ? 3 : -3)));
      replace(t);
      h.valid = false;
      break;
    }
    case 'dataDetached': {
      const t = batch(s.samples[which]!, n, seed, new Set());
      detach(t.data);
      replace(t);
      h.valid = n === 0;
      break;
    }
    case 'dataWrongType': {
      // The same values as xs[which] (whole numbers, so Int32Array holds them too): a result
      // must match the reference.
      xs[which]!.data.forEach((v, i, a) => (a[i] = Math.round(v)));
      const t = new Tensor(xs[which]!.data.slice(), shape);
      t.data = bad([Float64Array.from(t.data), Array.from(t.data), Int32Array.from(t.data)][k % 3]);
      replace(t);
      // Computing with the replacement's values would be right too.
      h.valid = 'either';
      break;
    }
  }
  return h;
}

describe('compiled sessions on hostile inputs: the right outputs or a typed error', () => {
  it('property: run() refuses malformed inputs with a typed error and runs valid ones correctly', () => {
    check(
      fc.property(subjectArb, fc.integer({ min: 0, max: 6 }), fc.nat({ max: 1000 }), fc.constantFrom(...INPUT_MUTS), fc.nat(), (si, n, seed, mut, k) => {
        const s = SUBJECTS[si]!;
        const h = hostile(s, n, seed, mut, k);
        const label = `${s.name} n ${n} ${mut}(${k}) inputs ${show(h.inputs)}`;
        const r = attempt(() => s.session.run(bad(h.inputs)), label);
        checkHostile(s, h, r, label);
      }),
      1000,
    );
  });

  it('property: runAsync() on the same inputs behaves the same way', async () => {
    await checkAsync(
      fc.asyncProperty(subjectArb, fc.integer({ min: 0, max: 6 }), fc.nat({ max: 1000 }), fc.constantFrom(...INPUT_MUTS), fc.nat(), async (si, n, seed, mut, k) => {
        const s = SUBJECTS[si]!;
        const h = hostile(s, n, seed, mut, k);
        const label = `${s.name} async n ${n} ${mut}(${k}) inputs ${show(h.inputs)}`;
        const r = await attemptAsync(() => s.session.runAsync(bad(h.inputs)), label);
        checkHostile(s, h, r, label);
      }),
      150,
    );
  });

  it('a disposed session refuses to run with ERR_DISPOSED', async () => {
    const s = SUBJECTS[0]!;
    const session = compile(s.model, { sampleShape: s.samples[0]!, formats: 'csr', batchSizes: [1], timingCache: false });
    const x = batch(s.samples[0]!, 2, 1, new Set());
    session.dispose();
    expectOutcome(attempt(() => session.run(x)), false, ['ERR_DISPOSED']);
    expectOutcome(await attemptAsync(() => session.runAsync(x)), false, ['ERR_DISPOSED']);
  });
});

function checkHostile(s: Subject, h: Hostile, r: Outcome<Record<string, Tensor>>, label: string): void {
  // Data replaced after construction with a zero batch: nothing is read, either outcome is fine.
  const either = h.valid === 'either' || (h.n === 0 && r.ok);
  if (!either) expectOutcome(r, h.valid === true, ['ERR_TYPE', 'ERR_SHAPE'], label);
  if (!r.ok || h.n === 0) return;
  expectMatches(s, r.value, reference(s, h.xs), h.n, new Set(), label);
}

// ---------------------------------------------------------------------------------------------
// Bugs these properties found, fixed since; their minimal cases stay as regression tests.

describe('regressions found by these properties: a tensor whose data no longer matches its shape is not refused', () => {
  /** A graph whose second input feeds Concat / Add directly. */
  function graphSession(kind: 'concat' | 'add'): InferenceSession {
    const g = new Graph();
    const x = g.input('x');
    const side = g.input('side');
    g.output('y', kind === 'concat' ? g.add('cat', new Concat(0), x, side) : g.add('sum', new Add(), x, side));
    return compile(g, { sampleShape: [[2], kind === 'concat' ? [1] : [2]], batchSizes: [1], timingCache: false });
  }

  it('run(): Concat of an input whose data was replaced by a longer array: a typed error (was a plain RangeError)', () => {
    const s = graphSession('concat');
    const side = new Tensor(Float32Array.of(0), [1, 1]);
    side.data = new Float32Array(3);
    attempt(() => s.run([new Tensor(Float32Array.of(1, 2), [2, 1]), side]), 'run');
  });

  it('run(): Concat of an input whose data buffer was transferred: a typed error (was a plain TypeError)', () => {
    const s = graphSession('concat');
    const side = new Tensor(Float32Array.of(0), [1, 1]);
    detach(side.data);
    attempt(() => s.run([new Tensor(Float32Array.of(1, 2), [2, 1]), side]), 'run');
  });

  it('run(): Add of an input whose data was replaced by a shorter array: a typed error (returned NaN before)', () => {
    const s = graphSession('add');
    const side = new Tensor(Float32Array.of(0, 0), [2, 1]);
    side.data = new Float32Array(1);
    const r = attempt(() => s.run([new Tensor(Float32Array.of(1, 2), [2, 1]), side]), 'run');
    expectOutcome(r, false, ['ERR_SHAPE', 'ERR_TYPE'], 'Add with data shorter than the shape');
  });
});

describe('regressions found by these properties: runAsync validates its inputs less than run', () => {
  function session(): { s: InferenceSession; x: () => Tensor } {
    manualSeed(3);
    const model = new Sequential(new Linear(4, 2));
    const s = compile(model, { sampleShape: [4], formats: 'dense', batchSizes: [1], timingCache: false });
    return { s, x: () => new Tensor(Float32Array.of(1, 2, 3, 4), [4, 1]) };
  }

  it('runAsync on a tensor whose data buffer was transferred: ERR_SHAPE like run() (was a plain TypeError)', async () => {
    const { s, x } = session();
    const t = x();
    detach(t.data);
    expectOutcome(attempt(() => s.run(t)), false, ['ERR_SHAPE']);
    expectOutcome(await attemptAsync(() => s.runAsync(t), 'runAsync'), false, ['ERR_SHAPE', 'ERR_TYPE']);
    s.dispose();
  });

  it('runAsync on a tensor whose data was replaced by a plain Array: ERR_TYPE like run() (was a plain TypeError)', async () => {
    const { s, x } = session();
    const t = x();
    t.data = bad([1, 2, 3, 4]);
    expectOutcome(attempt(() => s.run(t)), false, ['ERR_TYPE']);
    await attemptAsync(() => s.runAsync(t), 'runAsync');
    s.dispose();
  });

  it('runAsync on a tensor whose data is longer than its shape: ERR_SHAPE like run() (was accepted)', async () => {
    const { s, x } = session();
    const t = x();
    t.data = Float32Array.of(1, 2, 3, 4, 5, 6, 7);
    expectOutcome(attempt(() => s.run(t)), false, ['ERR_SHAPE']);
    expectOutcome(await attemptAsync(() => s.runAsync(t), 'runAsync'), false, ['ERR_SHAPE', 'ERR_TYPE']);
    s.dispose();
  });
});
