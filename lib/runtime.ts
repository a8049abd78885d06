/** Runtime settings and facts: threads, CPU capabilities, the kernel list. */
import { checkCount } from './checks.js';
import { native, type Capabilities, type KernelInfo } from './native.js';

/**
 * Threads a product may use, the calling thread included (default: the number of cores, or
 * SPARSENN_THREADS). Applies to every later product in the process.
 */
export function setThreads(n: number): void {
  native.setThreads(checkCount(n, 'threads', 1, 1024));
}

export function getThreads(): number {
  return native.getThreads();
}

/**
 * The CPU's features and the kernel path in use. The path is chosen once per process from
 * CPUID (the widest the CPU supports) unless SPARSENN_ISA=scalar|avx2|avx512|neon forces one.
 */
export function capabilities(): Capabilities {
  return native.capabilities();
}

/** Every kernel in this build, with its tile, ISA, and whether it is available and selected. */
export function listKernels(): KernelInfo[] {
  return native.listKernels();
}
