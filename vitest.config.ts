import { defineConfig } from 'vitest/config';

// Kernel conformance (test/kernels/) runs once per forced ISA, each in its own worker process
// (the addon picks its kernel table once per process from SPARSENN_ISA); the suite skips an ISA
// the CPU lacks. Everything else runs once on the best ISA.
const isaProject = (isa: string) => ({
  extends: true as const,
  test: {
    name: `isa-${isa}`,
    include: ['test/kernels/**/*.test.ts'],
    env: { SPARSENN_ISA: isa },
  },
});

export default defineConfig({
  test: {
    pool: 'forks',
    isolate: true,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: ['test/kernels/**'] } },
      isaProject('scalar'),
      isaProject('avx2'),
      isaProject('avx512'),
    ],
  },
});
