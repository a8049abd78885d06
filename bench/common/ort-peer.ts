/** The onnxruntime-node peer: one dense MatMul session per (weights, layout, threads). */
import * as ort from 'onnxruntime-node';
import { matmulModel, transpose, type PeerLayout } from './onnx-matmul.js';

export type { PeerLayout } from './onnx-matmul.js';

export interface OrtPeer {
  layout: PeerLayout;
  m: number;
  k: number;
  session: ort.InferenceSession;
}

/**
 * A session computing the product of the M x K weight `w` (row-major, zeros included: the peer
 * is always dense) with a batch, ORT free to prepack the constant and to use `threads` threads.
 */
export async function createOrtPeer(w: Float32Array, m: number, k: number, layout: PeerLayout, threads: number): Promise<OrtPeer> {
  const session = await ort.InferenceSession.create(matmulModel(w, m, k, layout), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  return { layout, m, k, session };
}

/** The peer's input for X (K x n, row-major, sparsenn's layout): X itself, or Xᵀ for 'xtwt'. */
export function ortInput(peer: OrtPeer, x: Float32Array, n: number): ort.Tensor {
  return peer.layout === 'wx' ? new ort.Tensor('float32', x, [peer.k, n]) : new ort.Tensor('float32', transpose(x, peer.k, n), [n, peer.k]);
}

/** One product through the peer, the result returned in sparsenn's layout (M x n): for checks. */
export async function ortProduct(peer: OrtPeer, input: ort.Tensor, n: number): Promise<Float32Array> {
  const out = await peer.session.run({ X: input });
  const y = out.Y.data as Float32Array;
  return peer.layout === 'wx' ? y : transpose(y, n, peer.m);
}

export async function releaseOrtPeer(peer: OrtPeer): Promise<void> {
  await peer.session.release();
}

export const ortVersion: string = ort.env.versions.node ?? ort.env.versions.common;
