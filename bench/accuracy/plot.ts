/** A self-contained SVG line chart of accuracy against sparsity, one line per method. */

export interface Series {
  label: string;
  /** (sparsity, mean accuracy, std) points. */
  points: Array<{ sparsity: number; mean: number; std: number }>;
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#000000'];

/** x position of a sparsity: -log10(1 - s), so 50/80/90/95/98% spread out evenly-ish. */
const xOf = (s: number) => -Math.log10(Math.max(1 - s, 0.005));

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function accuracyPlot(title: string, series: Series[], ticks: number[]): string {
  const W = 760;
  const H = 420;
  const m = { l: 60, r: 230, t: 40, b: 50 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const all = series.flatMap((s) => s.points);
  const lo = Math.floor(Math.min(...all.map((p) => p.mean - p.std)) * 100) / 100;
  const hi = Math.ceil(Math.max(...all.map((p) => p.mean + p.std)) * 100) / 100;
  const xMax = xOf(Math.max(...ticks));
  const X = (s: number) => m.l + (xOf(s) / xMax) * pw;
  const Y = (a: number) => m.t + (1 - (a - lo) / Math.max(hi - lo, 1e-6)) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${m.l}" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`);
  for (const t of ticks) {
    out.push(`<line x1="${X(t)}" y1="${m.t}" x2="${X(t)}" y2="${m.t + ph}" stroke="#eee"/>`);
    out.push(`<text x="${X(t)}" y="${m.t + ph + 18}" text-anchor="middle">${Math.round(t * 100)}%</text>`);
  }
  const steps = 5;
  for (let i = 0; i <= steps; i++) {
    const a = lo + ((hi - lo) * i) / steps;
    out.push(`<line x1="${m.l}" y1="${Y(a)}" x2="${m.l + pw}" y2="${Y(a)}" stroke="#eee"/>`);
    out.push(`<text x="${m.l - 6}" y="${Y(a) + 4}" text-anchor="end">${(a * 100).toFixed(1)}</text>`);
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${m.l + pw / 2}" y="${H - 10}" text-anchor="middle">sparsity (log scale of kept fraction)</text>`);
  out.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">test accuracy (%)</text>`);
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length]!;
    const pts = [...s.points].sort((a, b) => a.sparsity - b.sparsity);
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map((p) => `${X(p.sparsity).toFixed(1)},${Y(p.mean).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) {
      out.push(`<circle cx="${X(p.sparsity).toFixed(1)}" cy="${Y(p.mean).toFixed(1)}" r="3.5" fill="${c}"/>`);
      if (p.std > 0) out.push(`<line x1="${X(p.sparsity).toFixed(1)}" y1="${Y(p.mean - p.std).toFixed(1)}" x2="${X(p.sparsity).toFixed(1)}" y2="${Y(p.mean + p.std).toFixed(1)}" stroke="${c}"/>`);
    }
    const ly = m.t + 8 + i * 18;
    out.push(`<line x1="${m.l + pw + 12}" y1="${ly}" x2="${m.l + pw + 32}" y2="${ly}" stroke="${c}" stroke-width="2"/>`);
    out.push(`<text x="${m.l + pw + 38}" y="${ly + 4}">${esc(s.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
