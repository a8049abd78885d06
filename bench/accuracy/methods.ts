/**
 * The pruning methods the accuracy benchmark compares, each a recipe on the library's public
 * API (what a user would write), run on one model at one sparsity with one seed.
 */
import {
  Adam,
  cosineLr,
  evaluate,
  fit,
  manualSeed,
  nm,
  channels,
  iterativePruning,
  polynomialDecay,
  prune,
  Pruner,
  reinitialize,
  RigL,
  SET,
  snip,
  sparseInit,
  sparsityReport,
  type Callback,
  type Dataset,
  type Module,
} from '../../lib/index.js';
import { l1Regularizer } from '../../lib/prune/regularize.js';
import { shrink } from '../../lib/prune/shrink.js';

export interface Setup {
  name: string;
  build: () => Module;
  train: Dataset;
  test: Dataset;
  sampleShape: number[];
  /** Epochs of a full training run, and of a fine-tuning run. */
  epochs: number;
  fineTuneEpochs: number;
  batch: number;
  lr: number;
  threads: number;
}

export interface Cell {
  method: string;
  model: string;
  sparsity: number;
  seed: number;
  accuracy: number;
  /** Sparsity actually reached (weights of the pruned layers). */
  reached: number;
  flopsDense?: number;
  flopsSparse?: number;
  seconds: number;
}

const quiet = () => {};

/** Trains with Adam and a cosine-decayed rate over the run; returns nothing (the model changes). */
export async function train(s: Setup, model: Module, epochs: number, seed: number, callbacks: Callback[] = [], lr = s.lr): Promise<void> {
  const steps = Math.ceil(s.train.length / s.batch) * epochs;
  await fit(model, s.train, {
    optimizer: new Adam(model.parameters(), { lr }),
    epochs,
    batchSize: s.batch,
    schedule: cosineLr(steps),
    seed,
    callbacks,
    progress: false,
    threads: s.threads,
  });
}

function cell(s: Setup, method: string, model: Module, sparsity: number, seed: number, t0: number, extra: Partial<Cell> = {}): Cell {
  return {
    method,
    model: s.name,
    sparsity,
    seed,
    accuracy: evaluate(model, s.test).accuracy,
    reached: sparsityReport(model).sparsity,
    seconds: (performance.now() - t0) / 1000,
    ...extra,
  };
}

function fresh(s: Setup, seed: number): Module {
  manualSeed(seed);
  return s.build();
}

/** A new model with the same weights and masks. */
function copyOf(s: Setup, model: Module): Module {
  const m = s.build();
  m.loadStateDict(model.stateDict(), { masks: model.masks() });
  return m;
}

/** Dense training; the trained model is the start of the post-training methods. */
export async function dense(s: Setup, seed: number): Promise<{ cell: Cell; model: Module }> {
  const t0 = performance.now();
  const model = fresh(s, seed);
  await train(s, model, s.epochs, seed);
  return { cell: cell(s, 'dense', model, 0, seed, t0), model };
}

/** One-shot global magnitude pruning of the trained model, without and with fine-tuning. */
export async function oneShot(s: Setup, trained: Module, sparsity: number, seed: number): Promise<Cell[]> {
  const t0 = performance.now();
  const model = copyOf(s, trained);
  prune(model, { sparsity, scope: 'global', onWarning: quiet });
  const noFt = cell(s, 'one-shot magnitude', model, sparsity, seed, t0);
  await train(s, model, s.fineTuneEpochs, seed, [], s.lr / 2);
  return [noFt, cell(s, 'one-shot magnitude + fine-tune', model, sparsity, seed, t0)];
}

/** Zhu & Gupta: global magnitude, cubic schedule from 10% to 60% of training, every 100 steps. */
export async function gradual(s: Setup, sparsity: number, seed: number): Promise<Cell> {
  const t0 = performance.now();
  const model = fresh(s, seed);
  const steps = Math.ceil(s.train.length / s.batch) * s.epochs;
  const frequency = 100;
  const begin = Math.round((0.1 * steps) / frequency) * frequency;
  const end = begin + Math.max(1, Math.round((0.5 * steps) / frequency)) * frequency;
  const schedule = polynomialDecay(new Pruner(model, { scope: 'global', onWarning: quiet }), { finalSparsity: sparsity, beginStep: begin, endStep: end, frequency });
  await train(s, model, s.epochs, seed, [schedule]);
  return cell(s, 'gradual magnitude', model, sparsity, seed, t0);
}

/**
 * Lottery tickets: iterative global magnitude pruning through `sparsities`, rewinding to the
 * initialisation, each round a full training run; and, per round, the same mask with the
 * weights re-drawn at random, trained the same way.
 */
export async function lotteryTickets(s: Setup, sparsities: number[], seed: number): Promise<Cell[]> {
  const t0 = performance.now();
  const model = fresh(s, seed);
  const cells: Cell[] = [];
  await iterativePruning(model, {
    sparsities,
    rewind: 'init',
    pruner: { onWarning: quiet },
    train: (round) => train(s, model, s.epochs, seed, round.callbacks),
    afterRound: async (round) => {
      if (round.round === 0) return;
      cells.push(cell(s, 'IMP, rewound to init', model, round.sparsity, seed, t0));
      const control = copyOf(s, model);
      reinitialize(control, { seed: seed + 1000 });
      await train(s, control, s.epochs, seed);
      cells.push(cell(s, 'IMP masks, random re-init', control, round.sparsity, seed, t0));
    },
  });
  return cells;
}

/** SNIP at initialisation (global, on 8 batches of 64), then training with the mask fixed. */
export async function snipAtInit(s: Setup, sparsity: number, seed: number): Promise<Cell> {
  const t0 = performance.now();
  const model = fresh(s, seed);
  prune(model, { sparsity, scope: 'global', criterion: snip(), calibration: { data: s.train, batches: 8, batchSize: 64 }, onWarning: quiet });
  await train(s, model, s.epochs, seed);
  return cell(s, 'SNIP at init', model, sparsity, seed, t0);
}

/** SET or RigL from an ERK sparse init: α = 0.3, ΔT = 100, updates until 75% of training. */
export async function dynamic(s: Setup, method: 'SET' | 'RigL', sparsity: number, seed: number): Promise<Cell> {
  const t0 = performance.now();
  const model = fresh(s, seed);
  sparseInit(model, { sparsity, distribution: 'erk', seed });
  const steps = Math.ceil(s.train.length / s.batch) * s.epochs;
  const opts = { endStep: Math.floor(0.75 * steps), updateEvery: 100, dropFraction: 0.3, seed };
  await train(s, model, s.epochs, seed, [method === 'SET' ? SET(model, opts) : RigL(model, opts)]);
  return cell(s, method, model, sparsity, seed, t0);
}

/** L1-regularised training (λ = 1e-5 per weight), then global magnitude pruning and fine-tuning. */
export async function l1Trained(s: Setup, seed: number): Promise<Module> {
  const model = fresh(s, seed);
  await train(s, model, s.epochs, seed, [l1Regularizer({ lambda: 1e-5 })]);
  return model;
}

export async function l1Prune(s: Setup, l1Model: Module, sparsity: number, seed: number): Promise<Cell> {
  const t0 = performance.now();
  const model = copyOf(s, l1Model);
  prune(model, { sparsity, scope: 'global', onWarning: quiet });
  await train(s, model, s.fineTuneEpochs, seed, [], s.lr / 2);
  return cell(s, 'L1 + prune + fine-tune', model, sparsity, seed, t0);
}

/** 2:4 on every layer by magnitude, then fine-tuning. */
export async function twoFour(s: Setup, trained: Module, seed: number): Promise<Cell> {
  const t0 = performance.now();
  const model = copyOf(s, trained);
  prune(model, { sparsity: 0.5, structure: nm(2, 4) });
  await train(s, model, s.fineTuneEpochs, seed, [], s.lr / 2);
  return cell(s, '2:4 + fine-tune', model, 0.5, seed, t0);
}

/**
 * Channel pruning: a fraction of the hidden layers' units removed (by mean |w| of their
 * weights), fine-tuned, then physically removed; reports the real FLOPs of the smaller model.
 */
export async function channelPrune(s: Setup, trained: Module, fraction: number, seed: number): Promise<Cell> {
  const t0 = performance.now();
  const model = copyOf(s, trained);
  prune(model, { sparsity: fraction, structure: channels(), sampleShape: s.sampleShape, onWarning: quiet });
  await train(s, model, s.fineTuneEpochs, seed, [], s.lr / 2);
  const before = sparsityReport(model, { sampleShape: s.sampleShape });
  const small = shrink(model, s.sampleShape).model;
  const after = sparsityReport(small, { sampleShape: s.sampleShape });
  return cell(s, 'channel pruning + fine-tune', small, fraction, seed, t0, { reached: 1 - after.size / before.size, flopsDense: before.flopsDense ?? undefined, flopsSparse: after.flopsDense ?? undefined });
}
