/**
 * The SVG primitives and number formatting: scales against hand-computed positions and ticks,
 * chart geometry (bar lengths, stacked segment offsets, line-plot marker positions, error bars)
 * read back from the markup, escaping and label truncation.
 */
import { describe, expect, it } from 'vitest';
import { fmtBytes, fmtDate, fmtInt, fmtPct, fmtRatio, fmtSi, fmtSig } from '../../lib/report/format.js';
import { barChart, escapeXml, fitText, groupedBarChart, linePlot, makeScale, niceStep, stackedBarChart } from '../../lib/report/svg.js';
import { checkMarkup } from './markup.js';

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
  tip: string;
}

/** The rects that carry a tooltip (bars and segments; gridlines and frames have none). */
function bars(svg: string): Box[] {
  return [...svg.matchAll(/<rect x="([-\d.]+)" y="([-\d.]+)" width="([\d.]+)" height="([\d.]+)"[^>]*><title>([^<]*)<\/title>/g)].map((m) => ({
    x: Number(m[1]),
    y: Number(m[2]),
    w: Number(m[3]),
    h: Number(m[4]),
    tip: m[5]!,
  }));
}

describe('format', () => {
  it('formats integers, significant digits and metric prefixes', () => {
    expect([0, 999, 1000, 1234.5, -1_234_567, 266_610].map(fmtInt)).toEqual(['0', '999', '1,000', '1,235', '-1,234,567', '266,610']);
    expect([0, 0.012345, 12.345, 1.5, 123_456, 1e-7, -0.5].map((v) => fmtSig(v))).toEqual(['0', '0.0123', '12.3', '1.5', '123,456', '1.00e-7', '-0.5']);
    expect([950, 1234, 1_234_567, 2.5e9].map(fmtSi)).toEqual(['950', '1.23 k', '1.23 M', '2.5 G']);
  });

  it('formats bytes in binary units, percentages, ratios and dates', () => {
    expect([0, 1023, 1024, 1536, 65_772, 1_066_440, 10 * 1024 ** 3].map(fmtBytes)).toEqual(['0 B', '1023 B', '1.00 KiB', '1.50 KiB', '64.2 KiB', '1.02 MiB', '10.0 GiB']);
    expect([fmtPct(0.9), fmtPct(0.91089, 2), fmtPct(1, 0)]).toEqual(['90.0%', '91.09%', '100%']);
    expect([3, 12.34, 456.2, Infinity, NaN].map(fmtRatio)).toEqual(['3.00×', '12.3×', '456×', '—', '—']);
    expect(fmtDate('2026-11-25T10:42:07.123Z')).toBe('2026-11-25 10:42 UTC');
    expect(fmtDate('2026-11-25T11:42:07+01:00')).toBe('2026-11-25 10:42 UTC');
    expect(fmtDate('last tuesday')).toBe('last tuesday');
  });
});

describe('escaping and text fitting', () => {
  it('escapes the five XML specials', () => {
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
  it('shortens long labels with an ellipsis, whole code points only', () => {
    expect(fitText('fc1', 100)).toBe('fc1');
    const s = fitText('a'.repeat(100), 72); // 72 px at 7.2 px per glyph: 9 glyphs + "…"
    expect(s).toBe(`${'a'.repeat(9)}…`);
    expect(fitText('😀'.repeat(50), 50)).toBe(`${'😀'.repeat(5)}…`);
  });
});

describe('makeScale', () => {
  it('linear: nice domain and ticks, exact mapping', () => {
    expect(niceStep(9.4, 5)).toBe(2);
    expect(niceStep(0.9, 4)).toBe(0.25);
    const s = makeScale({ label: '' }, [0.3, 9.7], 0, 100);
    expect(s.domain).toEqual([0, 10]);
    expect(s.ticks).toEqual([0, 2, 4, 6, 8, 10]);
    expect(s.map(5)).toBeCloseTo(50, 12);
    expect(s.label(4)).toBe('4');
    const z = makeScale({ label: '' }, [3, 7], 0, 80, 5, true);
    expect(z.domain).toEqual([0, 8]);
    const f = makeScale({ label: '' }, [0.1, 1], 100, 0, 4);
    expect(f.ticks).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(f.label(0.25)).toBe('0.25');
    expect(f.map(0.75)).toBeCloseTo(25, 12); // y axis: r0 = bottom
  });

  it('linear: one distinct value or no values still gives a finite scale', () => {
    for (const vals of [[5, 5], [0, 0], []]) {
      const s = makeScale({ label: '' }, vals, 0, 100);
      expect(s.domain[1]).toBeGreaterThan(s.domain[0]);
      expect(Number.isFinite(s.map(vals[0] ?? 0))).toBe(true);
    }
    expect(makeScale({ label: '' }, [0], 0, 100, 5, true).domain).toEqual([0, 1]);
  });

  it('log: snaps to 1-2-5 bounds (to a power of ten for bars) and maps by log10', () => {
    const s = makeScale({ label: '', scale: 'log' }, [0.052, 10.8], 0, 100);
    expect(s.domain).toEqual([0.05, 20]);
    expect(s.ticks).toEqual([0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20]);
    expect(s.map(1)).toBeCloseTo((100 * Math.log10(1 / 0.05)) / Math.log10(400), 10);
    const b = makeScale({ label: '', scale: 'log' }, [0.052, 10.8], 0, 100, 5, true);
    expect(b.domain).toEqual([0.01, 20]);
    const wide = makeScale({ label: '', scale: 'log' }, [0.003, 4000], 0, 100);
    expect(wide.ticks).toEqual([0.01, 0.1, 1, 10, 100, 1000]); // more than 3 decades: powers of ten only
    expect(wide.label(1000)).toBe('1k');
  });

  it('sparsity: -log10(1 - s), so 0, 90 % and 99 % are evenly spaced', () => {
    const s = makeScale({ label: '', scale: 'sparsity' }, [0.5, 0.99], 0, 200);
    expect(s.map(0)).toBeCloseTo(0, 12);
    expect(s.map(0.9)).toBeCloseTo(100, 10);
    expect(s.map(0.99)).toBeCloseTo(200, 10);
    expect(s.ticks).toEqual([0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99]);
    expect(s.label(0.95)).toBe('95%');
    const t = makeScale({ label: '', scale: 'sparsity', ticks: [0, 0.5, 0.99, 2], format: (v) => `s=${v}` }, [0.5, 0.99], 0, 200);
    expect(t.ticks).toEqual([0, 0.5, 0.99]);
    expect(t.label(0.5)).toBe('s=0.5');
  });
});

describe('charts', () => {
  it('barChart (horizontal): bar lengths proportional to the values, long labels shortened', () => {
    const long = `layer-${'x'.repeat(300)}`;
    const svg = barChart({ title: 'T', width: 600, axis: { label: 'v', min: 0, max: 100 }, bars: [{ label: 'a', value: 25 }, { label: 'b', value: 50 }, { label: long, value: 100 }] });
    checkMarkup(svg);
    const b = bars(svg);
    expect(b).toHaveLength(3);
    expect(b[1]!.w / b[0]!.w).toBeCloseTo(2, 1);
    expect(b[2]!.w / b[0]!.w).toBeCloseTo(4, 1);
    expect(new Set(b.map((r) => r.x)).size).toBe(1); // common baseline
    expect(svg).toContain(`<title>${long}</title>`); // full label as tooltip
    expect(svg).toMatch(/>layer-x+…</);
    const vb = /viewBox="0 0 ([\d.]+) ([\d.]+)"/.exec(svg)!;
    expect(Number(vb[1])).toBe(600);
    expect(Math.max(...b.map((r) => r.x + r.w))).toBeLessThanOrEqual(600);
  });

  it('barChart (vertical): heights proportional, bars standing on the baseline', () => {
    const svg = barChart({ title: 'T', orientation: 'vertical', axis: { label: 'v' }, bars: [{ label: 'a', value: 1 }, { label: 'b', value: 3 }] });
    checkMarkup(svg);
    const [a, b] = bars(svg);
    expect(b!.h / a!.h).toBeCloseTo(3, 1);
    expect(a!.y + a!.h).toBeCloseTo(b!.y + b!.h, 1);
  });

  it('stackedBarChart: segments in key order, contiguous, widths proportional, zero segments dropped', () => {
    const svg = stackedBarChart({
      title: 'S',
      keys: [{ key: 'v', label: 'values' }, { key: 'i', label: 'index' }, { key: 'o', label: 'other' }],
      axis: { label: 'bytes', min: 0, max: 100 },
      bars: [
        { label: 'file', segments: [{ key: 'o', value: 10 }, { key: 'v', value: 60 }, { key: 'i', value: 30 }] },
        { label: 'bound', segments: [{ key: 'v', value: 50 }, { key: 'i', value: 0 }] },
      ],
    });
    checkMarkup(svg);
    const b = bars(svg);
    expect(b.map((r) => r.tip)).toEqual(['file — values: 60', 'file — index: 30', 'file — other: 10', 'bound — values: 50']);
    expect(b[1]!.x).toBeCloseTo(b[0]!.x + b[0]!.w, 0);
    expect(b[2]!.x).toBeCloseTo(b[1]!.x + b[1]!.w, 0);
    expect(b[0]!.w / b[2]!.w).toBeCloseTo(6, 1);
    expect(b[3]!.w / b[2]!.w).toBeCloseTo(5, 1);
    expect(svg).toContain('>other<'); // legend
  });

  it('groupedBarChart: one bar per measured value, log heights, value labels', () => {
    const svg = groupedBarChart({
      title: 'G',
      series: [{ label: 'dense' }, { label: 'sparse' }, { label: 'ort' }],
      groups: [
        { label: 'batch 1', values: [10, 1, null] },
        { label: 'batch 8', values: [100, 10, 50] },
      ],
      axis: { label: 'ms', scale: 'log', min: 0.1, max: 1000 },
    });
    checkMarkup(svg);
    const b = bars(svg);
    expect(b).toHaveLength(5);
    // on log10 from 0.1 to 1000 (4 decades) a bar of v reaches log10(v / 0.1) / 4 of the height
    const unit = b[0]!.h / 2; // 10 ms: 2 decades
    expect(b[1]!.h / unit).toBeCloseTo(1, 1); // 1 ms
    expect(b[2]!.h / unit).toBeCloseTo(3, 1); // 100 ms
    expect(b[4]!.h / unit).toBeCloseTo(1 + Math.log10(50), 1);
    expect(b.map((r) => r.tip)).toContain('batch 8 — ort: 50');
    expect(svg).toContain('>batch 8<');
  });

  it('linePlot: markers at the mapped positions, error bars of ± err, dashed reference line, legend', () => {
    const svg = linePlot({
      title: 'L',
      width: 500,
      height: 300,
      x: { label: 'x', min: 0, max: 1 },
      y: { label: 'y', min: 0, max: 100 },
      series: [{ label: 'A', points: [{ x: 1, y: 80 }, { x: 0, y: 20, err: 10 }, { x: 0.5, y: 50 }] }],
      refLines: [{ y: 60, label: 'dense', band: 5 }],
    });
    checkMarkup(svg);
    const pts = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"[^>]*><title>/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
    expect(pts).toHaveLength(3);
    // sorted by x; positions linear in x and y
    expect(pts[0]![0]).toBeLessThan(pts[1]![0]);
    const dx = (pts[2]![0] - pts[0]![0]) / 1;
    expect(pts[1]![0] - pts[0]![0]).toBeCloseTo(dx / 2, 0);
    const pxPerY = (pts[0]![1] - pts[2]![1]) / 60; // y 20 -> 80
    expect(pts[0]![1] - pts[1]![1]).toBeCloseTo(30 * pxPerY, 0);
    // the error bar spans 20 ± 10
    const eb = /<path d="M([\d.]+) ([\d.]+)V([\d.]+)/.exec(svg)!;
    expect(Number(eb[3]) - Number(eb[2])).toBeCloseTo(20 * pxPerY, 0);
    expect(Number(eb[1])).toBeCloseTo(pts[0]![0], 1);
    // the reference line sits at y = 60, dashed
    const ref = /<line x1="[\d.]+" y1="([\d.]+)" x2="[\d.]+" y2="[\d.]+" stroke="#444" stroke-width="1.5" stroke-dasharray/.exec(svg)!;
    expect(pts[0]![1] - Number(ref[1])).toBeCloseTo(40 * pxPerY, 0);
    expect(svg).toContain('>dense<');
    expect(svg).toContain('<polyline');
  });
});
