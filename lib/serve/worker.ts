/**
 * A serving worker thread: builds its runner from the shared model bytes, says 'ready' with
 * the model's inputs and outputs, then runs one batch per 'run' message and posts the outputs
 * back (their buffers transferred, not copied). Errors travel as {code, message} and become
 * the same typed errors on the pool's side.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { relayout } from './batch-layout.js';
import type { CreateRunner, Runner } from './runner.js';
import type { FromPool, ToPool, WireError } from './messages.js';

interface WorkerData {
  readonly bytes: SharedArrayBuffer;
  readonly runner: string | null;
  readonly options: unknown;
}

function wire(e: unknown): WireError {
  if (e instanceof Error) {
    const code = (e as Error & { code?: unknown }).code;
    return { code: typeof code === 'string' ? code : 'ERR_WORKER', message: e.message, name: e.name };
  }
  return { code: 'ERR_WORKER', message: String(e), name: 'Error' };
}

const port = parentPort!;
const data = workerData as WorkerData;
const post = (m: ToPool, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

let runner: Runner | undefined;
try {
  const spec = data.runner === null ? './sparsenn-runner.js' : /^[a-z]+:/i.test(data.runner) ? data.runner : pathToFileURL(data.runner).href;
  const mod = (await import(spec)) as { createRunner?: CreateRunner };
  if (typeof mod.createRunner !== 'function') throw Object.assign(new Error(`the runner module '${data.runner}' exports no createRunner function`), { code: 'ERR_TYPE' });
  runner = await mod.createRunner({ bytes: new Uint8Array(data.bytes), options: data.options });
  post({ type: 'ready', inputs: runner.inputs.map((v) => ({ name: v.name, shape: [...v.shape] })), outputs: runner.outputs.map((v) => ({ name: v.name, shape: [...v.shape] })), layout: runner.layout });
} catch (e) {
  // Reported to the pool, which ends this worker; nothing is rethrown (the pool no longer listens).
  post({ type: 'init-failed', error: wire(e) });
  port.close();
}

port.on('message', (m: FromPool) => {
  if (!runner) return;
  if (m.type === 'close') {
    void Promise.resolve(runner.close?.()).finally(() => port.close());
    return;
  }
  void (async () => {
    try {
      const r = runner!;
      const size = (v: { shape: readonly number[] }): number => v.shape.reduce((a, b) => a * b, 1);
      const inputs = relayout(m.arrays, r.inputs.map(size), m.n, m.layout, r.layout);
      const outputs = relayout(await r.run(inputs, m.n), r.outputs.map(size), m.n, r.layout, m.layout);
      const buffers = [...new Set(outputs.map((o) => o.buffer))].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
      post({ type: 'result', id: m.id, outputs }, buffers);
    } catch (e) {
      post({ type: 'failed', id: m.id, error: wire(e) });
    }
  })();
});
