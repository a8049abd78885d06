/** The per-layer and overall sparsity every pruning step reports (PruneResult). */
import type { LayerPruneResult, PruneResult, PruneTarget } from './types.js';

/** The result entry of one target after its mask changed (or not). */
export function layerResult(t: PruneTarget): LayerPruneResult {
  const size = t.param.size;
  const kept = Math.round(t.param.density() * size);
  return { name: t.name, size, kept, sparsity: size === 0 ? 0 : 1 - kept / size };
}

/** Overall result from the per-layer results; warns about layers left with no weight. */
export function pruneResult(layers: LayerPruneResult[], onWarning?: (m: string) => void): PruneResult {
  const warnings: string[] = [];
  let size = 0;
  let kept = 0;
  for (const l of layers) {
    size += l.size;
    kept += l.kept;
    if (l.size > 0 && l.kept === 0) warnings.push(`${l.name}: every weight is pruned; the layer's output no longer depends on its input`);
  }
  for (const w of warnings) onWarning?.(w);
  return { layers, sparsity: size === 0 ? 0 : 1 - kept / size, warnings };
}

