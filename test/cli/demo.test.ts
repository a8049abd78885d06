import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../lib/cli/main.js';
import { loadModelFile } from '../../lib/io/files.js';
import { evaluate, loadFashionMnistSync } from '../../lib/index.js';

describe('sparsenn demo (the main job), on the shipped subset', () => {
  it('prunes the shipped checkpoint to 90%, compares with onnxruntime-node and writes the report', async () => {
    const out = mkdtempSync(join(tmpdir(), 'sparsenn-demo-'));
    let stdout = '';
    let stderr = '';
    const code = await main(['demo', '--data', 'subset', '--batch', '1,8', '--threads', '1', '--quick', '--out', out, '--json'], { write: (s: string) => (stdout += s) }, { write: (s: string) => (stderr += s) });
    expect(code, stderr).toBe(0);
    const r = JSON.parse(stdout) as {
      checkpoint: string | null;
      dense: { accuracy: number; bytes: number };
      sparse: { accuracy: number; sparsity: number; bytes: number; file: string };
      latency: { rows: Array<{ batch: number; maxRelDiffVsOrt: number | null }> };
      report: string;
    };
    expect(r.checkpoint).toBe('data/checkpoints/lenet300-fashion-mnist.spnn');
    expect(r.sparse.sparsity).toBeCloseTo(0.9, 3);
    // The saved model is the one measured: same sparsity and same test accuracy.
    const test = loadFashionMnistSync({ subset: true, split: 'test' });
    const saved = loadModelFile(r.sparse.file).model;
    expect(evaluate(saved, test).accuracy).toBeCloseTo(r.sparse.accuracy, 6);
    // The checkpoint is a real trained model, and 90% pruning with a little fine-tuning keeps most of it.
    expect(r.dense.accuracy).toBeGreaterThan(0.8);
    expect(r.sparse.accuracy).toBeGreaterThan(r.dense.accuracy - 0.04);
    expect(r.sparse.bytes).toBeLessThan(0.15 * r.dense.bytes);
    expect(r.latency.rows.map((x) => x.batch)).toEqual([1, 8]);
    for (const row of r.latency.rows) expect(row.maxRelDiffVsOrt).toBeLessThan(1e-4);
    expect(existsSync(r.report)).toBe(true);
    const html = readFileSync(r.report, 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('LeNet-300-100');
  }, 120_000);
});
