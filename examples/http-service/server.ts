/**
 * Runs the example service:
 *
 *   npx tsx examples/http-service/server.ts --model model.spnn [--port 8080] [--workers 2]
 *       [--max-batch 32] [--window-ms 1] [--max-queue 1024] [--backend sparsenn|onnxruntime]
 *       [--sample-shape 1,28,28]
 *
 * `--backend onnxruntime` serves a .onnx file with onnxruntime-node through the same pool,
 * batching and HTTP code (the peer of `npm run bench:serve`). Prints one JSON line
 * {"listening": port, …} once it serves; SIGINT / SIGTERM shut it down gracefully.
 */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { startService, type ServiceOptions } from './service.js';

function parse(argv: string[]): ServiceOptions {
  const o: ServiceOptions = { model: '', backend: 'sparsenn', batching: {} };
  const batching = o.batching as { maxBatch?: number; windowMs?: number };
  const num = (flag: string, v: string | undefined): number => {
    const x = Number(v);
    if (v === undefined || !Number.isFinite(x)) throw new Error(`${flag} needs a number, got ${v ?? 'nothing'}`);
    return x;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const v = argv[i + 1];
    i++;
    if (flag === '--model') o.model = v ?? '';
    else if (flag === '--port') o.port = num(flag, v);
    else if (flag === '--workers') o.workers = num(flag, v);
    else if (flag === '--threads-per-worker') o.threadsPerWorker = num(flag, v);
    else if (flag === '--max-batch') batching.maxBatch = num(flag, v);
    else if (flag === '--window-ms') batching.windowMs = num(flag, v);
    else if (flag === '--max-queue') o.maxQueue = num(flag, v);
    else if (flag === '--sample-shape') o.sampleShape = (v ?? '').split(',').map(Number);
    else if (flag === '--backend') o.backend = v;
    else throw new Error(`unknown flag ${flag}; see the comment at the top of server.ts`);
  }
  if (!o.model) throw new Error('--model <file> is required (.spnn, .safetensors or .onnx; .onnx for --backend onnxruntime)');
  if (o.backend === 'onnxruntime') {
    o.runner = join(dirname(fileURLToPath(import.meta.url)), 'ort-runner.ts');
    o.runnerOptions = { threads: o.threadsPerWorker ?? 1 };
  } else if (o.backend !== 'sparsenn') throw new Error(`--backend must be sparsenn or onnxruntime, got ${o.backend}`);
  return o;
}

let opts: ServiceOptions;
try {
  opts = parse(process.argv.slice(2));
} catch (e) {
  console.error((e as Error).message);
  process.exit(2);
}
const service = await startService(opts);
console.log(JSON.stringify({ listening: service.port, backend: opts.backend, workers: service.pool.workers, inputs: service.pool.inputs, outputs: service.pool.outputs }));
let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  service.close().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
