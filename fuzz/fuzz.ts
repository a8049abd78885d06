/**
 * Coverage-guided fuzzing of the model-file loaders (.spnn, safetensors, ONNX), each in its own
 * worker thread (see worker.ts). New-coverage inputs are added to fuzz/corpus/<target>/ (kept
 * in the repository); findings (an error that is not a SparsennError, or a hang) go to
 * fuzz/findings/<target>/ and make the run fail.
 *
 *   npm run fuzz -- [--targets spnn,safetensors,onnx] [--seconds 60] [--runs 1000000] [--seed 1]
 *
 * A campaign stops when both budgets are spent: at least --runs executions and --seconds
 * seconds (so `--runs 1000000 --seconds 0` runs exactly a million). Needs `npm run build:ts`
 * (the instrumented library is dist/cjs/index.cjs). The native kernels are fuzzed separately
 * by scripts/fuzz-native.sh (libFuzzer).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { TARGETS } from './targets.js';
import type { CampaignData, CampaignMessage } from './worker.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const HANG_SECONDS = 20;

function options(argv: string[]): { targets: string[]; seconds: number; runs: number; seed: number } {
  const o = { targets: TARGETS.map((t) => t.name), seconds: 60, runs: 0, seed: 1 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === '--targets') o.targets = (v ?? '').split(',');
    else if (argv[i] === '--seconds') o.seconds = Number(v);
    else if (argv[i] === '--runs') o.runs = Number(v);
    else if (argv[i] === '--seed') o.seed = Number(v);
    else throw new Error(`unknown option ${argv[i]}`);
    i++;
  }
  for (const t of o.targets) if (!TARGETS.some((x) => x.name === t)) throw new Error(`unknown target ${t}; targets: ${TARGETS.map((x) => x.name).join(', ')}`);
  return o;
}

function campaign(target: string, o: ReturnType<typeof options>): Promise<{ execs: number; findings: number; line: string }> {
  const maxLen = TARGETS.find((t) => t.name === target)!.maxLen;
  const shared = new SharedArrayBuffer(8 + maxLen);
  const data: CampaignData = {
    root,
    target,
    seconds: o.seconds,
    runs: o.runs,
    seed: o.seed,
    corpusDir: join(here, 'corpus', target),
    findingsDir: join(here, 'findings', target),
    shared,
  };
  const entry = pathToFileURL(join(here, 'worker.ts')).href;
  const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  const worker = new Worker(boot, { eval: true, workerData: data });
  const counters = new Int32Array(shared, 0, 2);
  return new Promise((resolve, reject) => {
    let findings = 0;
    let last = -1;
    let still = 0;
    const watch = setInterval(() => {
      const now = Atomics.load(counters, 0);
      still = now === last ? still + 1 : 0;
      last = now;
      if (still < HANG_SECONDS) return;
      // One execution has not returned for HANG_SECONDS: save it and stop the campaign.
      const input = new Uint8Array(shared, 8, Atomics.load(counters, 1)).slice();
      const file = join(data.findingsDir, `hang-${Date.now()}`);
      mkdirSync(data.findingsDir, { recursive: true });
      writeFileSync(file, input);
      console.log(`[${target}] HANG: an input ran for over ${HANG_SECONDS} s; saved ${file}`);
      findings++;
      clearInterval(watch);
      void worker.terminate();
      resolve({ execs: now, findings, line: `| ${target} | ${now} | hang | | |` });
    }, 1000);
    worker.on('message', (m: CampaignMessage) => {
      if (m.type === 'progress') console.log(`[${target}] ${m.execs} execs, corpus ${m.corpus}, coverage ${m.covered}/${m.total}`);
      else if (m.type === 'finding') {
        findings++;
        console.log(`[${target}] FINDING (${m.file}):\n${m.error}`);
      } else {
        clearInterval(watch);
        const rate = Math.round(m.execs / m.seconds);
        console.log(`[${target}] done: ${m.execs} execs in ${m.seconds.toFixed(1)} s (${rate}/s), corpus ${m.corpus}, coverage ${m.covered}/${m.total}, findings ${m.findings}`);
        resolve({ execs: m.execs, findings, line: `| ${target} | ${m.execs} | ${m.seconds.toFixed(0)} s (${rate}/s) | ${m.corpus} | ${m.findings} |` });
      }
    });
    worker.on('error', (e) => {
      clearInterval(watch);
      reject(e);
    });
  });
}

const o = options(process.argv.slice(2));
const rows: string[] = [];
let findings = 0;
for (const t of o.targets) {
  const r = await campaign(t, o);
  rows.push(r.line);
  findings += r.findings;
}
console.log(['', '| target | executions | time | corpus | findings |', '|---|---:|---:|---:|---:|', ...rows].join('\n'));
if (findings > 0) {
  console.log(`\n${findings} finding(s): see fuzz/findings/`);
  process.exit(1);
}
