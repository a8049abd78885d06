/** Model analysis: FLOPs, connectivity and percolation, signal propagation (re-exports only). */
export { flopsReport, formatFlopsReport, type FlopsOptions, type FlopsReport, type LayerFlops } from './flops.js';
export { connectivity, type ConnectivityOptions, type ConnectivityReport, type UnitLayerConnectivity } from './connectivity.js';
export {
  criticalSparsity,
  percolationThreshold,
  type LayerPercolation,
  type PercolationOptions,
  type PercolationReport,
} from './percolation.js';
export { signalPropagation, reluMeanField, type LayerSignal, type SignalReport } from './signal.js';
export type { SampleShape } from '../nn/trace.js';
export { planSparsity, applyPlan, type PlannerOptions, type SparsityPlan, type LayerPlan, type LayerOption, type PlanStructure } from './planner.js';
