/**
 * One fuzzing campaign (runs in a worker thread of fuzz.ts): load the instrumented library,
 * replay the corpus, then mutate corpus inputs until the time or run budget is spent, keeping
 * every input that reaches new coverage. Before each execution the input is copied into shared
 * memory, so the parent can save it if the execution never returns (a hang).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { CoverageMap, loadInstrumented } from './coverage.js';
import { mutate, rng } from './mutate.js';
import { TARGETS } from './targets.js';

export interface CampaignData {
  root: string;
  target: string;
  seconds: number;
  runs: number;
  seed: number;
  corpusDir: string;
  findingsDir: string;
  /** Int32 [executions, input length], then the input bytes. */
  shared: SharedArrayBuffer;
}

export type CampaignMessage =
  | { type: 'progress'; execs: number; corpus: number; covered: number; total: number }
  | { type: 'finding'; file: string; error: string }
  | { type: 'done'; execs: number; corpus: number; covered: number; total: number; seconds: number; findings: number };

const d = workerData as CampaignData;
const post = (m: CampaignMessage): void => parentPort!.postMessage(m);
const target = TARGETS.find((t) => t.name === d.target)!;
const lib = loadInstrumented(d.root);
const counters = new Int32Array(d.shared, 0, 2);
const current = new Uint8Array(d.shared, 8);
const r = rng(d.seed);
const sha = (b: Uint8Array): string => createHash('sha1').update(b).digest('hex');

mkdirSync(d.corpusDir, { recursive: true });
const corpus: Uint8Array[] = readdirSync(d.corpusDir).map((f) => new Uint8Array(readFileSync(join(d.corpusDir, f))));
if (corpus.length === 0)
  for (const s of target.seeds(lib, d.root)) {
    corpus.push(s);
    writeFileSync(join(d.corpusDir, sha(s)), s);
  }
const dict = target.dict.map((t) => new TextEncoder().encode(t));
const cov = new CoverageMap();
let findings = 0;
const seen = new Set<string>();

function execute(input: Uint8Array): void {
  const len = Math.min(input.length, current.length);
  current.set(input.subarray(0, len));
  Atomics.store(counters, 1, len);
  Atomics.add(counters, 0, 1);
  try {
    target.run(lib, input);
  } catch (e) {
    const err = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e);
    const key = err.split('\n').slice(0, 3).join('|');
    if (seen.has(key)) return;
    seen.add(key);
    findings++;
    mkdirSync(d.findingsDir, { recursive: true });
    const file = join(d.findingsDir, `crash-${sha(input)}`);
    writeFileSync(file, input);
    post({ type: 'finding', file, error: err.split('\n').slice(0, 6).join('\n') });
  }
}

const start = performance.now();
for (const c of corpus) execute(c);
cov.update();
let execs = corpus.length;
const deadline = start + d.seconds * 1000;
let timeLeft = d.seconds > 0;
for (;;) {
  if ((execs & 255) === 0) timeLeft = performance.now() < deadline;
  if (execs >= d.runs && !timeLeft) break;
  // Favour recent (usually deeper) corpus entries.
  const parent = corpus[corpus.length - 1 - Math.floor(corpus.length * r() * r())]!;
  let input = mutate(parent, r, target.maxLen, dict, corpus);
  if (target.fixup) input = target.fixup(input, r);
  execute(input);
  execs++;
  if (cov.update() > 0) {
    corpus.push(input);
    const name = join(d.corpusDir, sha(input));
    if (!existsSync(name)) writeFileSync(name, input);
  }
  if (execs % 50_000 === 0) post({ type: 'progress', execs, corpus: corpus.length, covered: cov.covered, total: cov.total });
}
post({ type: 'done', execs, corpus: corpus.length, covered: cov.covered, total: cov.total, seconds: (performance.now() - start) / 1000, findings });
