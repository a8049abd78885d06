/**
 * An HTTP inference service over an InferencePool (node:http, no framework):
 *
 *   POST /predict   one or more samples → the model's outputs
 *                   JSON: {"input": [f, …]} or {"inputs": [[f, …], …]} → {"outputs": {name: [[f, …], …]}}
 *                   binary: Content-Type application/octet-stream, k samples of little-endian
 *                   float32 one after another → the outputs the same way (sample by sample,
 *                   outputs in order). A request is one pool request; concurrent requests
 *                   share batches.
 *   GET  /health    200 {"status":"ok", …} while serving, 503 while shutting down
 *   GET  /metrics   Prometheus text: requests by status, latency and batch-size histograms,
 *                   queue depth, worker restarts
 *
 * Errors map to status codes: bad input 400, body too large 413, queue full 429 (with
 * Retry-After), timeout 504, shutting down 503, anything else 500; the body says what was wrong.
 * A client that disconnects cancels its request (AbortSignal).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Histogram, InferencePool, SparsennError, type PoolOptions } from '../../lib/index.js';

export interface ServiceOptions extends PoolOptions {
  /** Port to listen on (0: any free port). */
  port?: number;
  host?: string;
  /** Most samples in one HTTP request (default 64); the body limit follows from it. */
  maxSamplesPerRequest?: number;
  /** Per-request time limit in ms (default 10 000). */
  requestTimeoutMs?: number;
  /** A label for /health and /metrics (e.g. 'sparsenn' or 'onnxruntime'). */
  backend?: string;
}

export interface Service {
  readonly server: Server;
  readonly pool: InferencePool;
  readonly port: number;
  /** Stops taking requests, finishes those in flight, stops the workers. */
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const STATUS: Record<string, number> = { ERR_QUEUE_FULL: 429, ERR_TIMEOUT: 504, ERR_CLOSED: 503, ERR_ABORTED: 499, ERR_SHAPE: 400, ERR_TYPE: 400, ERR_RANGE: 400 };

export async function startService(opts: ServiceOptions): Promise<Service> {
  const pool = await InferencePool.create({ timeoutMs: opts.requestTimeoutMs ?? 10_000, ...opts });
  if (pool.inputs.length !== 1) {
    await pool.close();
    throw new Error(`this example serves single-input models; the model has ${pool.inputs.length} inputs`);
  }
  const input = pool.inputs[0]!;
  const inSize = input.shape.reduce((a, b) => a * b, 1);
  const maxSamples = opts.maxSamplesPerRequest ?? 64;
  const maxBody = Math.max(inSize * 4 * maxSamples, 1 << 16) * 3; // JSON is ~3x the binary size
  const latency = Histogram.exponential(0.05, 60_000, 4);
  const byStatus = new Map<number, number>();
  let closing = false;

  const tooLarge = (): HttpError => new HttpError(413, `the body is over ${maxBody} bytes (at most ${maxSamples} samples per request)`);
  const readBody = (req: IncomingMessage): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      // With a Content-Length the body goes straight into one buffer of that size (no chunk
      // list and concatenation: a busy server's garbage is mostly request bodies).
      const declared = Number(req.headers['content-length']);
      if (Number.isSafeInteger(declared) && declared > maxBody) {
        reject(tooLarge());
        req.resume();
        return;
      }
      const whole = Number.isSafeInteger(declared) && declared >= 0 ? Buffer.allocUnsafe(declared) : null;
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        if (size + c.length > (whole ? whole.length : maxBody)) {
          reject(whole ? new HttpError(400, `the body is longer than its Content-Length (${declared})`) : tooLarge());
          req.destroy();
          return;
        }
        if (whole) c.copy(whole, size);
        else chunks.push(c);
        size += c.length;
      });
      req.on('end', () => {
        if (whole && size !== whole.length) reject(new HttpError(400, `the body has ${size} bytes, its Content-Length says ${declared}`));
        else resolve(whole ?? Buffer.concat(chunks));
      });
      req.on('error', reject);
    });

  /** The body's samples one after another (k × inSize floats). */
  const parseSamples = (body: Buffer, binary: boolean): { flat: Float32Array; k: number } => {
    if (binary) {
      if (body.length === 0 || body.length % (inSize * 4) !== 0) throw new HttpError(400, `a binary body must hold whole samples of ${inSize} float32 values (${inSize * 4} bytes each); got ${body.length} bytes`);
      // A body in a buffer of its own (see readBody) is viewed in place; one at an odd offset is copied.
      const flat =
        body.byteOffset % 4 === 0 && body.byteLength === body.buffer.byteLength
          ? new Float32Array(body.buffer, body.byteOffset, body.length / 4)
          : new Float32Array(new Uint8Array(body).buffer);
      return { flat, k: flat.length / inSize };
    }
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch (e) {
      throw new HttpError(400, `the body is not valid JSON: ${(e as Error).message}`);
    }
    const rec = json as { input?: unknown; inputs?: unknown };
    const rows = rec && Array.isArray(rec.inputs) ? rec.inputs : rec && Array.isArray(rec.input) ? [rec.input] : null;
    if (!rows) throw new HttpError(400, `expected {"input": [${inSize} numbers]} or {"inputs": [[${inSize} numbers], …]}`);
    const flat = new Float32Array(rows.length * inSize);
    rows.forEach((r: unknown, j) => {
      if (!Array.isArray(r) || r.length !== inSize || r.some((v) => typeof v !== 'number' || !Number.isFinite(v)))
        throw new HttpError(400, `sample ${j} must be an array of ${inSize} finite numbers (shape [${input.shape.join(', ')}] flattened)`);
      flat.set(r as number[], j * inSize);
    });
    return { flat, k: rows.length };
  };

  const predict = async (req: IncomingMessage, res: ServerResponse): Promise<number> => {
    const binary = (req.headers['content-type'] ?? '').startsWith('application/octet-stream');
    const { flat, k } = parseSamples(await readBody(req), binary);
    if (k > maxSamples) throw new HttpError(413, `at most ${maxSamples} samples per request, got ${k}`);
    const ac = new AbortController();
    const onClose = (): void => {
      if (!res.writableFinished) ac.abort(new Error('the client disconnected'));
    };
    res.on('close', onClose);
    // One pool request per HTTP request, its k samples one after another as they arrived
    // (runSamples: no transposition on this thread); the pool still gathers it with other
    // clients' requests into shared batches.
    const result = await pool.runSamples(flat, k, { signal: ac.signal });
    res.off('close', onClose);
    const outSizes = pool.outputs.map((o) => o.shape.reduce((a, b) => a * b, 1));
    if (binary) {
      // Sample by sample, each sample's outputs in order (a single output already is).
      let out: Float32Array;
      if (pool.outputs.length === 1) out = result[pool.outputs[0]!.name]!;
      else {
        out = new Float32Array(k * outSizes.reduce((a, b) => a + b, 0));
        for (let j = 0, at = 0; j < k; j++)
          pool.outputs.forEach((o, i) => {
            out.set(result[o.name]!.subarray(j * outSizes[i]!, (j + 1) * outSizes[i]!), at);
            at += outSizes[i]!;
          });
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': out.byteLength });
      res.end(new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
    } else {
      const outputs = Object.fromEntries(
        pool.outputs.map((o, i) => [o.name, Array.from({ length: k }, (_, j) => Array.from(result[o.name]!.subarray(j * outSizes[i]!, (j + 1) * outSizes[i]!)))]),
      );
      send(res, 200, { outputs });
    }
    return 200;
  };

  const metrics = (): string => {
    const s = pool.stats();
    const lines = [
      '# HELP sparsenn_http_requests_total HTTP requests by status code.',
      '# TYPE sparsenn_http_requests_total counter',
      ...[...byStatus].map(([code, n]) => `sparsenn_http_requests_total{code="${code}"} ${n}`),
      latency.prometheus('sparsenn_http_request_duration_ms', 'Time from request to response, ms.'),
      s.batchSize.prometheus('sparsenn_batch_size', 'Samples per batch run by the workers.'),
      s.latencyMs.prometheus('sparsenn_inference_duration_ms', 'Pool queue + inference time per sample request, ms.'),
      '# HELP sparsenn_queue_depth Requests waiting for a worker.',
      '# TYPE sparsenn_queue_depth gauge',
      `sparsenn_queue_depth ${s.queued}`,
      '# HELP sparsenn_requests_rejected_total Pool requests refused (queue full or closed), timed out or aborted.',
      '# TYPE sparsenn_requests_rejected_total counter',
      `sparsenn_requests_rejected_total{reason="queue_full_or_closed"} ${s.rejected}`,
      `sparsenn_requests_rejected_total{reason="timeout"} ${s.timedOut}`,
      `sparsenn_requests_rejected_total{reason="aborted"} ${s.aborted}`,
      '# HELP sparsenn_worker_restarts_total Workers replaced after they died.',
      '# TYPE sparsenn_worker_restarts_total counter',
      `sparsenn_worker_restarts_total ${s.restarts}`,
      '# HELP sparsenn_workers Worker threads serving.',
      '# TYPE sparsenn_workers gauge',
      `sparsenn_workers{backend="${opts.backend ?? 'sparsenn'}"} ${s.workers}`,
    ];
    return lines.join('\n') + '\n';
  };

  const server = createServer((req, res) => {
    const t0 = performance.now();
    const done = (status: number): void => {
      byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
      latency.observe(performance.now() - t0);
    };
    const route = `${req.method} ${(req.url ?? '').split('?')[0]}`;
    if (route === 'GET /health') {
      const status = closing ? 503 : 200;
      send(res, status, { status: closing ? 'closing' : 'ok', backend: opts.backend ?? 'sparsenn', workers: pool.workers, inputs: pool.inputs, outputs: pool.outputs });
      return;
    }
    if (route === 'GET /metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(metrics());
      return;
    }
    if (route !== 'POST /predict') {
      send(res, 404, { error: `no route ${route}; try POST /predict, GET /health, GET /metrics` });
      return;
    }
    if (closing) {
      done(503);
      send(res, 503, { error: 'the service is shutting down' });
      return;
    }
    predict(req, res).then(done, (e: unknown) => {
      const status = e instanceof HttpError ? e.status : e instanceof SparsennError ? (STATUS[e.code] ?? 500) : 500;
      const code = e instanceof SparsennError ? e.code : undefined;
      done(status);
      if (res.headersSent || res.destroyed) return;
      const headers: Record<string, string> = status === 429 ? { 'retry-after': '1' } : {};
      send(res, status, { error: (e as Error).message, ...(code ? { code } : {}) }, headers);
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    pool,
    port,
    async close() {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await pool.close();
      await stopped;
    },
  };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
