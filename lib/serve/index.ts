export { InferencePool, type PoolOptions, type PoolStats } from './pool.js';
export { MicroBatcher, type BatcherOptions, type BatcherStats, type BatchingOptions, type BatchRun, type RequestOptions } from './batcher.js';
export { gatherBatch, scatterBatch, relayout, type BatchLayout, type BatchPart } from './batch-layout.js';
export { Histogram } from './histogram.js';
export type { Runner, RunnerInit, CreateRunner } from './runner.js';
export type { SparsennRunnerOptions } from './sparsenn-runner.js';
