// Builds the CommonJS entry (dist/cjs/index.cjs) from the ESM build in dist/, so that
// `require('sparsenn')` works on every Node >= 20 (not only where require(esm) is enabled).
// import.meta.url, used by lib/native.ts to find the package root, becomes this file's URL.
import { build } from 'esbuild';
import { writeFileSync, mkdirSync } from 'node:fs';

mkdirSync('dist/cjs', { recursive: true });
await build({
  entryPoints: ['dist/index.js'],
  outfile: 'dist/cjs/index.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['node-gyp-build'],
  define: { 'import.meta.url': '__sparsennModuleUrl' },
  banner: { js: "const __sparsennModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
// Type declarations for require() users point at the ESM ones.
writeFileSync('dist/cjs/index.d.cts', "export * from '../index.js';\n");
