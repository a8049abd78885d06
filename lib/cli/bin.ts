#!/usr/bin/env node
/** The `sparsenn` executable (package.json bin). */
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`sparsenn: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\nPlease report it.\n`);
    process.exitCode = 70;
  },
);
