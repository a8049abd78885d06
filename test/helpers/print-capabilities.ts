/**
 * Prints capabilities() and listKernels() as JSON, for tests that need a fresh process (the ISA
 * is chosen once per process from SPARSENN_ISA). Run: node --import tsx test/helpers/print-capabilities.ts
 */
import { capabilities, CsrMatrix, listKernels, matmul } from '../../lib/index.js';

// Also run one product, so the chosen kernel table is really used.
const y = matmul(CsrMatrix.fromDense(new Float32Array([1, 0, 2, 3]), 2, 2), new Float32Array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1]), 5);
process.stdout.write(JSON.stringify({ capabilities: capabilities(), kernels: listKernels(), y: Array.from(y) }) + '\n');
