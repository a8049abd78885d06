/**
 * The data behind the HTML report. Every section but the header is optional: a section whose
 * data is absent (or empty) is left out of the page. Numbers are raw (bytes, milliseconds,
 * fractions); the renderer formats them.
 */

/** The machine the measurements were taken on. */
export interface ReportMachine {
  /** CPU model string, e.g. "AMD EPYC 9B14". */
  cpu: string;
  /** The kernel ISA path that ran: "avx512", "avx2", "neon" or "scalar". */
  isa: string;
  /** Worker threads the kernels used. */
  threads: number;
  /** Node.js version (process.version). */
  node: string;
  /** sparsenn version. */
  sparsenn: string;
}

/** The model the report is about. */
export interface ReportModel {
  /** Display name, e.g. "LeNet-300-100". */
  name: string;
  /** Parameter count (weights and biases, dense). */
  parameters: number;
  /** Shape of one sample, without the batch axis, e.g. [784] or [1, 28, 28]. */
  sampleShape: number[];
  /** One or two sentences shown under the title. */
  description?: string;
}

/** One point of an accuracy-vs-sparsity curve. */
export interface AccuracyPoint {
  /** Fraction of weights removed, in [0, 1]. */
  sparsity: number;
  /** Test accuracy in percent, in [0, 100]. */
  accuracy: number;
  /** Standard deviation of the accuracy over seeds, in percentage points; drawn as ± error bars. */
  std?: number;
}

/** Accuracy against sparsity, one curve per pruning method. */
export interface ReportAccuracy {
  /** One curve per method (points in any order; they are sorted by sparsity). */
  series: Array<{ method: string; points: AccuracyPoint[] }>;
  /** The dense model's accuracy in percent (std in percentage points), drawn as a horizontal reference line with a ± band. */
  dense?: { accuracy: number; std?: number };
}

/** One prunable layer of the model. */
export interface ReportLayer {
  /** Module name, e.g. "fc1". */
  name: string;
  /** Weight shape, e.g. [300, 784] for a Linear or [16, 6, 5, 5] for a Conv2d. */
  shape: number[];
  /** Kept (non-zero) weights. */
  nnz: number;
  /** All weights (product of shape). */
  size: number;
  /** Fraction of weights removed, in [0, 1]. */
  sparsity: number;
  /** Sparsity structure: "unstructured", "2:4", "block 4x4", "channel" ... */
  structure: string;
  /** FLOPs of the dense layer per sample, a multiply-add counting 2 (null when unknown, e.g. no sample shape). */
  flopsDense: number | null;
  /** FLOPs of the sparse layer per sample, same convention (null when unknown). */
  flopsSparse: number | null;
}

/** Bytes on disk: the dense fp32 weights, the model file and its parts, and the entropy bound. */
export interface ReportSize {
  /** Dense float32 weights: 4 bytes per parameter. */
  denseBytes: number;
  /** Size of the compact model file; normally valuesBytes + indexBytes + otherBytes. */
  fileBytes: number;
  /** Bytes of the file that hold the kept values. */
  valuesBytes: number;
  /** Bytes of the file that hold the sparsity pattern (the masks / indices). */
  indexBytes: number;
  /** Information-theoretic lower bound for values and pattern (e.g. Σ log2 C(N, k) plus value bits). */
  entropyBoundBytes: number;
  /** Everything else in the file: header, architecture JSON, biases, padding. */
  otherBytes: number;
}

/** Median latency of one forward pass at one batch size. */
export interface ReportLatency {
  /** Samples per forward pass. */
  batch: number;
  /** Dense sparsenn model, milliseconds. */
  denseMs: number;
  /** Compiled sparse plan, milliseconds. */
  sparseMs: number;
  /** The same model in onnxruntime-node, milliseconds (absent when not measured). */
  ortMs?: number;
}

/** One product layer of the compiled inference plan (a subset of infer's PlanLayer). */
export interface ReportPlanLayer {
  /** The product's layer (module name). */
  name: string;
  /** Layers folded into the product (batch norm, activation). */
  fused: string[];
  /** Weight matrix per group: rows x cols. */
  rows: number;
  cols: number;
  /** Convolution groups (1 for a Linear). */
  groups: number;
  /** Fraction of weights kept, in [0, 1]. */
  density: number;
  /** Batch size (as a string key) → chosen format. */
  formats: Record<string, string>;
  /** Batch size → format → median milliseconds of that format (empty when the choice was forced). */
  timings: Record<string, Record<string, number>>;
}

/** The compiled inference plan: per-layer format choices and the run order. */
export interface ReportPlan {
  layers: ReportPlanLayer[];
  /** Every step in run order, e.g. "product fc1 (+relu1)". */
  steps: string[];
}

/** Everything the HTML report shows. */
export interface ReportData {
  /** Page title and heading. */
  title: string;
  /** When the report was generated (ISO 8601). */
  generatedAt: string;
  /** Where the numbers were measured. */
  machine: ReportMachine;
  /** What was measured. */
  model: ReportModel;
  /** Headline numbers (dense vs sparse accuracy, size, speed-up), shown as cards at the top. */
  summary?: Array<{ label: string; value: string }>;
  /** Accuracy vs sparsity plot and table. */
  accuracy?: ReportAccuracy;
  /** Per-layer sparsity bars and table. */
  layers?: ReportLayer[];
  /** Size breakdown: dense fp32 vs the file (values / index / other) vs the entropy bound. */
  size?: ReportSize;
  /** Latency dense vs sparse vs onnxruntime-node per batch size. */
  latency?: ReportLatency[];
  /** The chosen inference plan. */
  plan?: ReportPlan;
  /** Free-text remarks shown at the end. */
  notes?: string[];
}
