/**
 * Type tests for the public pruning API (checked by `tsc --noEmit`; the runtime assertions are
 * no-ops). A change to a public signature shows up here.
 */
import { describe, expectTypeOf, it } from 'vitest';
import {
  blocks,
  channels,
  iterativePruning,
  magnitude,
  nm,
  polynomialDecay,
  prune,
  Pruner,
  RigL,
  shrink,
  sparsityReport,
  unstructured,
  type Callback,
  type Criterion,
  type DynamicSparseTraining,
  type FixedRatioStructure,
  type GroupedStructure,
  type IterativeRoundReport,
  type Module,
  type PruneResult,
  type PruningSchedule,
  type ShrinkResult,
  type SparsityReport,
  type Structure,
} from '../../lib/index.js';

describe('pruning API types', () => {
  it('criteria, structures and the pruner', () => {
    expectTypeOf(magnitude()).toEqualTypeOf<Criterion>();
    expectTypeOf(nm(2, 4)).toEqualTypeOf<FixedRatioStructure>();
    expectTypeOf(unstructured()).toEqualTypeOf<GroupedStructure>();
    expectTypeOf(blocks(4, 1)).toMatchTypeOf<Structure>();
    expectTypeOf(channels()).toMatchTypeOf<Structure>();
    expectTypeOf(prune).returns.toEqualTypeOf<PruneResult>();
    expectTypeOf<Pruner['pruneTo']>().toEqualTypeOf<(sparsity: number) => PruneResult>();
  });
  it('schedules and sparse training are fit() callbacks', () => {
    expectTypeOf(polynomialDecay).returns.toEqualTypeOf<PruningSchedule>();
    expectTypeOf<PruningSchedule>().toMatchTypeOf<Callback>();
    expectTypeOf(RigL).returns.toEqualTypeOf<DynamicSparseTraining>();
    expectTypeOf<DynamicSparseTraining>().toMatchTypeOf<Callback>();
    expectTypeOf(iterativePruning).returns.toEqualTypeOf<Promise<IterativeRoundReport[]>>();
  });
  it('reports and shrinking', () => {
    expectTypeOf(sparsityReport).returns.toEqualTypeOf<SparsityReport>();
    expectTypeOf(shrink).returns.toEqualTypeOf<ShrinkResult>();
    expectTypeOf<ShrinkResult['model']>().toEqualTypeOf<Module>();
  });
});
