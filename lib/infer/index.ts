/** Compiled inference plans (re-exports only). */
export { compile, type CompileOptions } from './compile.js';
export { InferenceSession } from './session.js';
export { parseSessionInputs, type SessionInputs, type ValueSpec } from './inputs.js';
export { formatPlan, type PlanReport, type PlanLayer } from './plan-report.js';
export { defaultCachePath, type TimingCache } from './timing.js';
export type { FormatName } from './formats.js';
