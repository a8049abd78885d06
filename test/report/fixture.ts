/**
 * A realistic ReportData for LeNet-300-100 (784-300-100-10, 266,610 parameters) pruned to about
 * 91 % sparsity, shared by the report tests.
 */
import type { ReportData } from '../../lib/report/types.js';

const layer = (name: string, shape: number[], nnz: number, structure = 'unstructured') => {
  const size = shape.reduce((a, b) => a * b, 1);
  return { name, shape, nnz, size, sparsity: 1 - nnz / size, structure, flopsDense: 2 * size, flopsSparse: 2 * nnz };
};

export function lenetReport(): ReportData {
  return {
    title: 'LeNet-300-100 on Fashion-MNIST: 91 % sparse',
    generatedAt: '2026-11-25T10:42:07.123Z',
    machine: { cpu: 'AMD EPYC 9B14 96-Core Processor', isa: 'avx512', threads: 2, node: 'v20.19.0', sparsenn: '0.1.0' },
    model: { name: 'LeNet-300-100', parameters: 266_610, sampleShape: [784], description: 'A 784-300-100-10 perceptron pruned by global magnitude with gradual fine-tuning.' },
    summary: [
      { label: 'accuracy, dense', value: '89.12%' },
      { label: 'accuracy, 91% sparse', value: '88.87%' },
      { label: 'file size vs dense fp32', value: '64.2 KiB (16.2× smaller)' },
      { label: 'speed-up at batch 1', value: '5.96×' },
    ],
    accuracy: {
      dense: { accuracy: 89.12, std: 0.11 },
      series: [
        {
          method: 'magnitude (global, gradual)',
          points: [
            { sparsity: 0.5, accuracy: 89.21, std: 0.09 },
            { sparsity: 0.8, accuracy: 89.15, std: 0.12 },
            { sparsity: 0.9, accuracy: 88.94, std: 0.1 },
            { sparsity: 0.95, accuracy: 88.51, std: 0.16 },
            { sparsity: 0.98, accuracy: 87.02, std: 0.31 },
          ],
        },
        {
          method: 'one-shot magnitude',
          points: [
            { sparsity: 0.5, accuracy: 89.03, std: 0.14 },
            { sparsity: 0.8, accuracy: 88.42, std: 0.17 },
            { sparsity: 0.9, accuracy: 87.11, std: 0.25 },
            { sparsity: 0.95, accuracy: 84.13, std: 0.48 },
            { sparsity: 0.98, accuracy: 78.21, std: 1.12 },
          ],
        },
        {
          method: 'RigL',
          points: [
            { sparsity: 0.9, accuracy: 88.79, std: 0.13 },
            { sparsity: 0.95, accuracy: 88.33, std: 0.19 },
            { sparsity: 0.98, accuracy: 87.41, std: 0.27 },
          ],
        },
      ],
    },
    layers: [layer('fc1', [300, 784], 18_816), layer('fc2', [100, 300], 4_500), layer('fc3', [10, 100], 400)],
    size: { denseBytes: 1_066_440, fileBytes: 65_772, valuesBytes: 47_432, indexBytes: 16_000, entropyBoundBytes: 58_913, otherBytes: 2_340 },
    latency: [
      { batch: 1, denseMs: 0.31, sparseMs: 0.052, ortMs: 0.094 },
      { batch: 8, denseMs: 0.62, sparseMs: 0.19, ortMs: 0.41 },
      { batch: 64, denseMs: 2.9, sparseMs: 0.98, ortMs: 2.1 },
      { batch: 256, denseMs: 10.8, sparseMs: 3.6, ortMs: 7.9 },
    ],
    plan: {
      layers: [
        {
          name: 'fc1',
          fused: ['relu1'],
          rows: 300,
          cols: 784,
          groups: 1,
          density: 0.08,
          formats: { '1': 'csr', '64': 'csr', '256': 'dense' },
          timings: { '1': { csr: 0.021, dense: 0.18, bsr: 0.034 }, '64': { csr: 0.61, dense: 1.9 }, '256': { csr: 2.71, dense: 2.65 } },
        },
        {
          name: 'fc2',
          fused: ['relu2'],
          rows: 100,
          cols: 300,
          groups: 1,
          density: 0.15,
          formats: { '1': 'csr', '64': 'csr', '256': 'csr' },
          timings: { '1': { csr: 0.006, dense: 0.024 }, '64': { csr: 0.22, dense: 0.41 }, '256': { csr: 0.83, dense: 1.2 } },
        },
        { name: 'fc3', fused: [], rows: 10, cols: 100, groups: 1, density: 0.4, formats: { '1': 'dense', '64': 'dense', '256': 'dense' }, timings: {} },
      ],
      steps: ['product fc1 (+relu1)', 'product fc2 (+relu2)', 'product fc3'],
    },
    notes: ['Latency is the median of 200 runs after 20 warm-up runs.', 'Accuracy: mean ± standard deviation over 3 seeds.'],
  };
}
