import { it } from 'vitest';
import { matmulActs } from '../../lib/nn/ops/matmul-acts.js';
import { Tensor } from '../../lib/nn/tensor.js';
it('bench', () => {
  for (const [seq, n] of [[16, 32], [64, 8], [64, 32]]) {
    const a = Tensor.zeros([12, seq, 64, n], true); a.data.forEach((_, i) => (a.data[i] = Math.sin(i)));
    const b = Tensor.zeros([12, 64, seq, n], true); b.data.forEach((_, i) => (b.data[i] = Math.cos(i)));
    for (let r = 0; r < 2; r++) matmulActs(a, b);
    let t = performance.now(); const R = 5;
    for (let r = 0; r < R; r++) matmulActs(a, b);
    const f = (performance.now() - t) / R;
    t = performance.now();
    for (let r = 0; r < R; r++) { const y = matmulActs(a, b); y.backward(new Float32Array(y.size).fill(1)); }
    const fb = (performance.now() - t) / R;
    const flops = 2 * 12 * seq * seq * 64 * n;
    console.log(`seq ${seq} n ${n}: fwd ${f.toFixed(2)} ms (${(flops / f / 1e6).toFixed(2)} GFLOP/s), fwd+bwd ${fb.toFixed(2)} ms`);
  }
});
