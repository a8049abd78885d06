import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main, COMMANDS } from '../../lib/cli/main.js';
import { loadModelFile } from '../../lib/io/files.js';
import { packageRoot } from '../../lib/package-root.js';
import { evaluate, lenet300, loadFashionMnistSync, Tensor, noGrad, saveSpnnSync, manualSeed, prune, type Module } from '../../lib/index.js';

interface Run {
  code: number;
  out: string;
  err: string;
}

async function cli(...argv: string[]): Promise<Run> {
  let out = '';
  let err = '';
  const code = await main(argv, { write: (s: string) => (out += s) }, { write: (s: string) => (err += s) });
  return { code, out, err };
}

async function cliJson<T = Record<string, unknown>>(...argv: string[]): Promise<T> {
  const r = await cli(...argv, '--json');
  expect(r.code, r.err).toBe(0);
  return JSON.parse(r.out) as T;
}

const dir = mkdtempSync(join(tmpdir(), 'sparsenn-cli-'));
/** A LeNet-300-100 pruned to 90% with the input shape recorded, saved as .spnn. */
function savedLenet(): string {
  const file = join(dir, 'lenet-90.spnn');
  if (existsSync(file)) return file;
  manualSeed(1);
  const m = lenet300();
  prune(m, { sparsity: 0.9, scope: 'global', onWarning: () => {} });
  saveSpnnSync(m, file, { metadata: { 'sparsenn.sampleShape': '[1,28,28]' } });
  return file;
}

function forward(m: Module, x: Tensor): Float32Array {
  m.eval();
  return noGrad(() => m.forward(x)).data;
}

describe('sparsenn CLI: help and usage errors', () => {
  it('prints an overview, and every command has --help with its options and examples', async () => {
    const r = await cli('--help');
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.out).toContain(c.spec.name);
    for (const c of COMMANDS) {
      const h = await cli(c.spec.name, '--help');
      expect(h.code).toBe(0);
      expect(h.out).toContain(`Usage: sparsenn ${c.spec.name}`);
      expect(h.out).toContain('--json');
      for (const flag of Object.keys(c.spec.flags)) expect(h.out).toContain(`--${flag}`);
    }
  });

  it('rejects unknown commands and options with exit code 2 and a hint', async () => {
    const a = await cli('frobnicate');
    expect(a.code).toBe(2);
    expect(a.err).toContain("unknown command 'frobnicate'");
    const b = await cli('prune', savedLenet(), '--sparsty', '0.5', '-o', join(dir, 'x.spnn'));
    expect(b.code).toBe(2);
    expect(b.err).toContain('did you mean --sparsity');
    const c = await cli('prune', savedLenet(), '--sparsity', 'lots', '-o', join(dir, 'x.spnn'));
    expect(c.code).toBe(2);
    expect(c.err).toContain('--sparsity needs a number');
    const d = await cli('info');
    expect(d.code).toBe(2);
    expect(d.err).toContain('missing <model>');
    const e = await cli('info', join(dir, 'missing.spnn'), '--json');
    expect(e.code).toBe(2);
    expect(JSON.parse(e.out).error.code).toBe('ERR_USAGE');
  });

  it('reports a corrupt model file as a typed error with exit code 1', async () => {
    const bad = join(dir, 'bad.spnn');
    const bytes = readFileSync(savedLenet());
    bytes[bytes.length - 3] ^= 0xff;
    (await import('node:fs')).writeFileSync(bad, bytes);
    const r = await cli('info', bad, '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).error.code).toBe('ERR_FORMAT');
  });
});

describe('sparsenn CLI: commands', () => {
  it('info reports sparsity, FLOPs and sizes of a saved model', async () => {
    const j = await cliJson<{ parameters: number; sampleShape: number[]; sparsity: { sparsity: number } }>('info', savedLenet());
    expect(j.parameters).toBe(784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10);
    expect(j.sampleShape).toEqual([1, 28, 28]);
    expect(j.sparsity.sparsity).toBeCloseTo(0.9, 3);
  });

  it('prune one-shot writes a model with exactly the target sparsity; 2:4 gives N:M groups', async () => {
    const out = join(dir, 'lenet-50.safetensors');
    const j = await cliJson<{ sparsity: number }>('prune', 'zoo:lenet300', '--sparsity', '0.5', '--scope', 'layer', '-o', out);
    expect(j.sparsity).toBeCloseTo(0.5, 6);
    const loaded = loadModelFile(out);
    expect(loaded.sampleShape).toEqual([1, 28, 28]);
    for (const [name, p] of loaded.model.namedParameters()) if (name.endsWith('weight')) expect(p.density()).toBeCloseTo(0.5, 6);
    const nmOut = join(dir, 'lenet-24.spnn');
    await cliJson('prune', 'zoo:lenet300', '--structure', '2:4', '-o', nmOut);
    const w = loadModelFile(nmOut).model.namedParameters().find(([n]) => n === 'fc1.weight')![1];
    for (let g = 0; g < w.size; g += 4) expect(w.mask!.subarray(g, g + 4).reduce((a, b) => a + b, 0)).toBe(2);
  });

  it('prune with a data-driven criterion (Wanda) and fine-tuning keeps a trained model accurate', async () => {
    const out = join(dir, 'lenet-wanda.spnn');
    const checkpoint = join(packageRoot(), 'data/checkpoints/lenet300-fashion-mnist.spnn');
    const j = await cliJson<{ accuracyBefore: number; accuracyAfter: number; sparsity: number }>('prune', checkpoint, '--criterion', 'wanda', '--sparsity', '0.8', '--scope', 'layer', '--epochs', '1', '--data', 'subset', '-o', out);
    expect(j.sparsity).toBeCloseTo(0.8, 3);
    const test = loadFashionMnistSync({ subset: true, split: 'test' });
    const dense = evaluate(loadModelFile(checkpoint).model, test).accuracy;
    expect(j.accuracyBefore).toBeCloseTo(dense, 6);
    const acc = evaluate(loadModelFile(out).model, test).accuracy;
    expect(acc).toBeCloseTo(j.accuracyAfter, 6);
    // 80% of every layer removed by |W|·‖X‖ and one epoch on 2,000 images: within 5 points of dense.
    expect(acc).toBeGreaterThan(dense - 0.05);
  });

  it('compile --json shows the plan for the expected batch sizes', async () => {
    const j = await cliJson<{ plan: { layers: Array<{ name: string; formats: Record<string, string> }>; batchSizes: number[] } }>('compile', savedLenet(), '--batch', '1,16');
    expect(j.plan.batchSizes).toEqual([1, 16]);
    expect(j.plan.layers.map((l) => l.name)).toEqual(['fc1', 'fc2', 'fc3']);
    for (const l of j.plan.layers) expect(Object.keys(l.formats)).toEqual(['1', '16']);
  });

  it('export converts between formats without changing the outputs', async () => {
    const src = savedLenet();
    const x = new Tensor(Float32Array.from({ length: 784 * 3 }, (_, i) => Math.sin(i)), [1, 28, 28, 3]);
    const want = forward(loadModelFile(src).model, x);
    for (const ext of ['safetensors', 'onnx', 'spnn']) {
      const out = join(dir, `exported.${ext}`);
      const r = await cliJson<{ bytes: number }>('export', src, '-o', out);
      expect(r.bytes).toBe(statSync(out).size);
      const got = forward(loadModelFile(out).model, x);
      got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 4));
    }
  });

  it('analyze reports connectivity, percolation and signal propagation', async () => {
    const j = await cliJson<{ connectivity: { disconnected: boolean }; percolation: { layers: unknown[] }; signal: { layers: unknown[] }; flops: unknown }>('analyze', savedLenet(), '--samples', '32');
    expect(j.connectivity.disconnected).toBe(false);
    expect(j.percolation.layers).toHaveLength(3);
    expect(j.signal.layers).toHaveLength(3);
    const planned = await cliJson<{ plan: { feasible: boolean; bytes: number } }>('analyze', 'zoo:lenet300', '--samples', '8', '--budget-kb', '200');
    expect(planned.plan.feasible).toBe(true);
    expect(planned.plan.bytes).toBeLessThanOrEqual(200 * 1024);
  });

  it('bench measures sparse, dense and onnxruntime-node, whose outputs agree', async () => {
    const j = await cliJson<{ rows: Array<{ batch: number; sparseMs: number; denseMs: number; ortMs: number; maxRelDiffVsOrt: number }> }>('bench', savedLenet(), '--batch', '1,4', '--threads', '1', '--quick');
    expect(j.rows.map((r) => r.batch)).toEqual([1, 4]);
    for (const r of j.rows) {
      expect(r.sparseMs).toBeGreaterThan(0);
      expect(r.denseMs).toBeGreaterThan(0);
      expect(r.ortMs).toBeGreaterThan(0);
      expect(r.maxRelDiffVsOrt).toBeLessThan(1e-4);
    }
  });
});
