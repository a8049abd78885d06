/**
 * Load benchmark of the example HTTP service (examples/http-service): sparsenn serving the
 * transformer-sized MLP block (768 → 3072 → 768, GELU) pruned to 90%, against the same service
 * (same pool, micro-batching and HTTP code) running the same pruned model exported as a dense
 * ONNX file on onnxruntime-node. Each side runs in its own server process on loopback and is
 * driven by autocannon for a fixed time per concurrency level; throughput and p50/p99 latency
 * are autocannon's, the mean batch size is read from the server's /metrics.
 *
 *   npm run bench:serve [-- --samples 1 --duration 5 --concurrency 1,8,32,64 --workers 1 --window-ms 0 --max-batch 32 --quick]
 *
 * --samples n sends n samples per request (each still its own pool request on the server, so
 * batches mix clients): on a small machine the HTTP stack and the load generator, not the
 * model, bound single-sample throughput; several samples per request make the model's cost
 * dominate.
 *
 * Writes a markdown table and bench/results/serve-<time>.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { capabilities, manualSeed, mlpBlock, prune, saveModelFile } from '../lib/index.js';
import { args } from './common/args.js';

interface Options {
  /** Samples per HTTP request (1: single requests, batched by the server). */
  samples: number;
  duration: number;
  concurrency: number[];
  workers: number;
  windowMs: number;
  maxBatch: number;
}

function options(argv: readonly string[]): Options {
  const o: Options = { samples: 1, duration: 5, concurrency: [1, 8, 32, 64], workers: 1, windowMs: 0, maxBatch: 32 };
  for (const a of args(argv)) {
    if (a.name === '--quick') {
      o.duration = 2;
      o.concurrency = [1, 32];
    } else if (a.name === '--duration') o.duration = a.int();
    else if (a.name === '--concurrency') o.concurrency = a.value().split(',').map(Number);
    else if (a.name === '--workers') o.workers = a.int();
    else if (a.name === '--window-ms') o.windowMs = Number(a.value());
    else if (a.name === '--max-batch') o.maxBatch = a.int();
    else if (a.name === '--samples') o.samples = a.int();
    else throw new Error(`unknown option ${a.name}`);
  }
  return o;
}

interface Server {
  child: ChildProcess;
  port: number;
}

const here = dirname(fileURLToPath(import.meta.url));
const serverScript = join(here, '..', 'examples', 'http-service', 'server.ts');

async function startServer(flags: string[]): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', serverScript, ...flags], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the server exited (code ${code}) before it listened`)));
    lines.once('line', (line) => resolve((JSON.parse(line) as { listening: number }).listening));
  });
  return { child, port };
}

async function stopServer(s: Server): Promise<void> {
  const exited = new Promise<void>((resolve) => s.child.once('exit', () => resolve()));
  s.child.kill('SIGTERM');
  await exited;
}

async function predict(port: number, sample: Float32Array): Promise<Float32Array> {
  const res = await fetch(`http://127.0.0.1:${port}/predict`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from(sample.buffer) });
  if (!res.ok) throw new Error(`predict: HTTP ${res.status}: ${await res.text()}`);
  return new Float32Array(await res.arrayBuffer());
}

async function batchStats(port: number): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const read = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { sum: read('sparsenn_batch_size_sum'), count: read('sparsenn_batch_size_count') };
}

interface Row {
  backend: string;
  concurrency: number;
  requestsPerSec: number;
  p50ms: number;
  p99ms: number;
  meanBatch: number;
  non2xx: number;
  errors: number;
}

async function load(port: number, body: Buffer, connections: number, duration: number): Promise<autocannon.Result> {
  return autocannon({
    url: `http://127.0.0.1:${port}/predict`,
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body,
    connections,
    duration,
  });
}

async function measure(backend: string, server: Server, body: Buffer, o: Options): Promise<Row[]> {
  await load(server.port, body, 8, 1); // warm-up: JIT, buffers, caches
  const rows: Row[] = [];
  for (const c of o.concurrency) {
    const before = await batchStats(server.port);
    const r = await load(server.port, body, c, o.duration);
    const after = await batchStats(server.port);
    rows.push({
      backend,
      concurrency: c,
      requestsPerSec: r.requests.average,
      p50ms: r.latency.p50,
      p99ms: r.latency.p99,
      meanBatch: (after.sum - before.sum) / Math.max(1, after.count - before.count),
      non2xx: r.non2xx,
      errors: r.errors,
    });
    console.error(`${backend} c=${c}: ${r.requests.average.toFixed(0)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms`);
  }
  return rows;
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'sparsenn-bench-serve-'));
  try {
    manualSeed(0);
    const model = mlpBlock(768, 'gelu');
    prune(model, { sparsity: 0.9, scope: 'layer', onWarning: () => {} });
    const spnn = join(dir, 'mlp-block-90.spnn');
    const onnx = join(dir, 'mlp-block-90-dense.onnx');
    await saveModelFile(model, spnn, { sampleShape: [768] });
    await saveModelFile(model, onnx, { sampleShape: [768] });
    const common = ['--workers', String(o.workers), '--max-batch', String(o.maxBatch), '--window-ms', String(o.windowMs)];
    const sample = Float32Array.from({ length: 768 }, (_, i) => Math.sin(i * 0.37));
    const samples = new Float32Array(768 * o.samples);
    for (let k = 0; k < o.samples; k++) samples.set(sample.map((v) => v * (1 + k / 16)), k * 768);
    const body = Buffer.from(samples.buffer);

    const rows: Row[] = [];
    let maxDiff = 0;
    let reference: Float32Array | undefined;
    for (const [backend, flags] of [
      ['sparsenn', ['--model', spnn]],
      ['onnxruntime', ['--model', onnx, '--backend', 'onnxruntime']],
    ] as const) {
      const server = await startServer([...flags, ...common]);
      try {
        const y = await predict(server.port, samples);
        if (reference) for (let i = 0; i < y.length; i++) maxDiff = Math.max(maxDiff, Math.abs(y[i]! - reference[i]!));
        else reference = y;
        rows.push(...(await measure(backend, server, body, o)));
      } finally {
        await stopServer(server);
      }
    }

    const caps = capabilities();
    const lines = [
      `MLP block 768→3072→768 (GELU) at 90% unstructured; ${o.samples} sample(s) per request (binary, 768 float32 each); ${o.workers} worker(s) per server, 1 thread each; micro-batching maxBatch ${o.maxBatch}, window ${o.windowMs} ms; ${o.duration} s per level.`,
      `Machine: ${caps.isa}, ${caps.hardwareThreads} hardware threads; Node ${process.version}. Outputs sparsenn vs onnxruntime: max |diff| ${maxDiff.toExponential(2)}.`,
      '',
      '| concurrency | sparsenn req/s | p50 ms | p99 ms | mean batch | onnxruntime req/s | p50 ms | p99 ms | mean batch | throughput ratio | target (≥ 2.5×, p99 ≤ peer) |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ];
    const verdicts: { concurrency: number; ratio: number; holds: boolean }[] = [];
    for (const c of o.concurrency) {
      const s = rows.find((r) => r.backend === 'sparsenn' && r.concurrency === c)!;
      const p = rows.find((r) => r.backend === 'onnxruntime' && r.concurrency === c)!;
      const ratio = s.requestsPerSec / p.requestsPerSec;
      const holds = ratio >= 2.5 && s.p99ms <= p.p99ms;
      verdicts.push({ concurrency: c, ratio, holds });
      lines.push(
        `| ${c} | ${s.requestsPerSec.toFixed(0)} | ${s.p50ms} | ${s.p99ms} | ${s.meanBatch.toFixed(1)} | ${p.requestsPerSec.toFixed(0)} | ${p.p50ms} | ${p.p99ms} | ${p.meanBatch.toFixed(1)} | ${ratio.toFixed(2)}× | ${holds ? 'yes' : 'no'} |`,
      );
    }
    const failures = rows.filter((r) => r.non2xx > 0 || r.errors > 0);
    if (failures.length > 0) lines.push('', `Failed requests: ${failures.map((r) => `${r.backend} c=${r.concurrency}: ${r.non2xx} non-2xx, ${r.errors} errors`).join('; ')}`);
    console.log(lines.join('\n'));
    if (maxDiff > 1e-3) throw new Error(`the two services disagree: max |diff| ${maxDiff}`);

    const out = join(here, 'results', `serve-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}.json`);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify({ options: o, machine: caps, node: process.version, maxDiff, rows, verdicts }, null, 2));
    console.log(`\nwrote ${out}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
