/**
 * renderReport(): the page is well-formed (checked by a strict tag/attribute/entity checker),
 * each section appears exactly when its data does, hostile strings come out escaped everywhere,
 * numbers are formatted from independently computed values, nothing references the network,
 * and malformed data gives typed errors naming the offending field.
 */
import { describe, expect, it } from 'vitest';
import { IndexRangeError, SparsennTypeError } from '../../lib/errors.js';
import { renderReport } from '../../lib/report/html.js';
import type { ReportData } from '../../lib/report/types.js';
import { lenetReport } from './fixture.js';
import { checkMarkup, textOf } from './markup.js';

const SECTIONS = ['summary', 'accuracy', 'layers', 'size', 'latency', 'plan', 'notes'] as const;
type Optional = (typeof SECTIONS)[number];

function minimal(): ReportData {
  const { title, generatedAt, machine, model } = lenetReport();
  const { description: _d, ...bare } = model;
  return { title, generatedAt, machine, model: bare };
}

function sectionIds(html: string): string[] {
  return [...html.matchAll(/<section id="([^"]+)"/g)].map((m) => m[1]!);
}

/** The markup of one section (from its opening tag to the next section or the end of main). */
function section(html: string, id: string): string {
  const start = html.indexOf(`<section id="${id}"`);
  expect(start).toBeGreaterThanOrEqual(0);
  const end = html.indexOf('</section>', start);
  return html.slice(start, end);
}

describe('renderReport: structure', () => {
  it('is one well-formed, self-contained document with every section of the full fixture', () => {
    const html = renderReport(lenetReport());
    expect(html.startsWith('<!DOCTYPE html>\n<html lang="en">')).toBe(true);
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
    const tags = checkMarkup(html);
    const names = tags.map((t) => t.name);
    for (const once of ['html', 'head', 'body', 'style', 'main', 'header', 'footer', 'h1'])
      expect(names.filter((n) => n === once), once).toHaveLength(1);
    const head = /<head>([\s\S]*)<\/head>/.exec(html)![1]!;
    expect(head.match(/<title>/g)).toHaveLength(1); // the others are SVG tooltips
    expect(tags.find((t) => t.name === 'meta' && 'charset' in t.attrs)?.attrs.charset).toBe('utf-8');
    expect(tags.some((t) => t.name === 'meta' && t.attrs.name === 'viewport')).toBe(true);
    expect(sectionIds(html)).toEqual([...SECTIONS]);
    // one h2 per section, one figure (with a numbered caption) per chart
    expect(names.filter((n) => n === 'h2')).toHaveLength(SECTIONS.length);
    expect(names.filter((n) => n === 'svg')).toHaveLength(4);
    expect(names.filter((n) => n === 'figure')).toHaveLength(4);
    expect([...html.matchAll(/Figure (\d+)\./g)].map((m) => Number(m[1]))).toEqual([1, 2, 3, 4]);
    // each chart sits in the section of its data, followed by its table
    for (const id of ['accuracy', 'layers', 'size', 'latency']) {
      const s = section(html, id);
      expect(s.indexOf('<svg')).toBeGreaterThan(0);
      expect(s.indexOf('<table>')).toBeGreaterThan(s.indexOf('</svg>'));
    }
    // the navigation links to exactly the sections present
    const nav = /<nav[^>]*>([\s\S]*?)<\/nav>/.exec(html)![1]!;
    expect([...nav.matchAll(/href="#([^"]+)"/g)].map((m) => m[1])).toEqual([...SECTIONS]);
    // inline SVG needs no namespace declaration in HTML; ids are not reused
    const ids = tags.filter((t) => 'id' in t.attrs).map((t) => t.attrs.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('shows the model and machine in the header', () => {
    const d = lenetReport();
    const html = renderReport(d);
    const header = textOf(/<header[\s\S]*?<\/header>/.exec(html)![0]);
    for (const s of [d.title, d.model.name, d.model.description!, d.machine.cpu, 'avx512, 2 threads', d.machine.node, '266,610', '784', '2026-11-25 10:42 UTC'])
      expect(header).toContain(s);
    expect(html).toContain(`<title>${d.title}</title>`);
    expect(html).toContain('<time datetime="2026-11-25T10:42:07.123Z">');
  });

  it('leaves out every optional section when only the required fields are given', () => {
    const html = renderReport(minimal());
    checkMarkup(html);
    expect(sectionIds(html)).toEqual([]);
    expect(html).not.toContain('<svg');
    expect(html).not.toContain('<table');
    expect(html).not.toContain('<nav');
    expect(html).not.toContain('class="lede"');
    expect(textOf(html)).toContain('LeNet-300-100');
  });

  it.each(SECTIONS)('drops only the %s section when its data is absent or empty', (key: Optional) => {
    for (const blank of [undefined, 'empty'] as const) {
      const d = lenetReport() as unknown as Record<string, unknown>;
      if (blank === undefined) delete d[key];
      else if (key === 'size') continue; // no "empty" form: an object of byte counts
      else if (key === 'accuracy') d[key] = { series: [{ method: 'x', points: [] }] };
      else if (key === 'plan') d[key] = { layers: [], steps: [] };
      else d[key] = [];
      const html = renderReport(d as unknown as ReportData);
      checkMarkup(html);
      expect(sectionIds(html)).toEqual(SECTIONS.filter((s) => s !== key));
    }
  });

  it('renders a lone section without a navigation bar, and the accuracy section with only a dense reference', () => {
    const html = renderReport({ ...minimal(), accuracy: { series: [], dense: { accuracy: 90 } } });
    checkMarkup(html);
    expect(sectionIds(html)).toEqual(['accuracy']);
    expect(html).not.toContain('<nav');
    expect(textOf(html)).toContain('dense 90.00%');
    expect(html).not.toContain('<table'); // no sparsities, no table
  });

  it('puts measured sparsities that differ by less than 0.01 % in one table column', () => {
    const d = lenetReport();
    d.accuracy!.series.push({ method: 'measured', points: [{ sparsity: 0.899_996, accuracy: 88.5 }] });
    const html = renderReport(d);
    const head = /<thead>([\s\S]*?)<\/thead>/.exec(section(html, 'accuracy'))![1]!;
    expect(textOf(head).match(/\d+%/g)).toEqual(['50%', '80%', '90%', '95%', '98%']);
    const row = /<tr><th scope="row">measured<\/th>([\s\S]*?)<\/tr>/.exec(html)![1]!;
    expect(textOf(row).match(/—|\d+\.\d+%/g)).toEqual(['—', '—', '88.50%', '—', '—']);
  });

  it('handles unknown FLOPs, missing onnxruntime timings and forced plan layers', () => {
    const d = lenetReport();
    d.layers = d.layers!.map((l, i) => (i === 1 ? { ...l, flopsDense: null, flopsSparse: null } : l));
    d.latency = d.latency!.map(({ ortMs: _ort, ...r }) => r);
    const html = renderReport(d);
    checkMarkup(html);
    const layers = textOf(section(html, 'layers'));
    expect(layers).toMatch(/fc2[\s\S]*—[\s\S]*fc3/);
    const lat = section(html, 'latency');
    expect(textOf(lat)).not.toContain('onnxruntime');
    expect(lat.match(/<rect [^>]*><title>/g)).toHaveLength(2 * d.latency.length); // two bars per batch
    expect(textOf(section(html, 'plan'))).toContain('(forced)');
  });
});

describe('renderReport: escaping', () => {
  const evil = `<script>alert("x")</script>"'><img src=x onerror=alert(1)>&amp;`;

  function hostile(): ReportData {
    const d = lenetReport();
    d.title = evil;
    d.machine = { ...d.machine, cpu: evil, isa: evil, node: evil, sparsenn: evil };
    d.model = { ...d.model, name: evil, description: evil };
    d.summary = [{ label: evil, value: evil }];
    d.accuracy!.series[0]!.method = evil;
    d.layers![0]!.name = evil;
    d.layers![1]!.structure = evil;
    d.plan!.layers[0]!.name = evil;
    d.plan!.layers[0]!.fused = [evil];
    d.plan!.layers[1]!.formats = { '1': evil, '64': 'csr', [evil]: 'csr' };
    d.plan!.layers[1]!.timings = { '1': { [evil]: 0.5, dense: 0.7 } };
    d.plan!.steps = [evil];
    d.notes = [evil];
    return d;
  }

  it('escapes hostile strings from every field, in HTML text, attributes and SVG', () => {
    const html = renderReport(hostile());
    const tags = checkMarkup(html); // would throw on an injected tag or a broken attribute
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<img/i);
    expect(tags.some((t) => Object.keys(t.attrs).some((a) => a.startsWith('on')))).toBe(false);
    expect(tags.every((t) => ['html', 'head', 'meta', 'title', 'style', 'body', 'div', 'header', 'p', 'h1', 'dl', 'dt', 'dd', 'time', 'nav', 'a', 'main', 'section', 'h2', 'h3', 'figure', 'figcaption', 'strong', 'table', 'thead', 'tbody', 'tfoot', 'tr', 'th', 'td', 'span', 'ol', 'ul', 'li', 'code', 'footer', 'svg', 'title', 'g', 'line', 'rect', 'text', 'polyline', 'path', 'circle'].includes(t.name))).toBe(true);
    const escaped = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&quot;&#39;&gt;&lt;img src=x onerror=alert(1)&gt;&amp;amp;';
    // the full string, escaped, in the page title, the h1, the layer table, the chart labels/tooltips
    expect(html).toContain(`<title>${escaped}</title>`);
    expect(html).toContain(`<h1>${escaped}</h1>`);
    expect(section(html, 'layers')).toContain(`<th scope="row">${escaped}</th>`);
    expect(section(html, 'accuracy')).toMatch(new RegExp(`<svg[\\s\\S]*${escaped.replace(/[()&;]/g, '\\$&')}[\\s\\S]*</svg>`));
    expect(html).toContain(`content="sparsenn ${escaped}"`);
    // decoding the text gives back the original string wherever it was shown in full
    expect(textOf(html).split(evil).length - 1).toBeGreaterThanOrEqual(12);
  });
});

describe('renderReport: numbers', () => {
  it('formats counts, percentages, bytes, times and ratios computed from the data', () => {
    const d = lenetReport();
    const html = renderReport(d);
    const text = textOf(html);
    const layers = textOf(section(html, 'layers'));
    // LeNet-300-100: 784*300 + 300*100 + 100*10 weights
    const weights = 784 * 300 + 300 * 100 + 100 * 10;
    expect(weights).toBe(266_200);
    expect(layers).toContain('266,200');
    expect(layers).toContain('235,200');
    expect(layers).toContain('18,816');
    expect(layers).toContain(`${((1 - 18_816 / 235_200) * 100).toFixed(2)}%`); // 92.00%
    expect(layers).toContain(`${((1 - 23_716 / weights) * 100).toFixed(2)}%`); // 91.09%
    expect(layers).toContain('470 k'); // 2 * 235,200 FLOPs
    expect(layers).toContain(`${(weights / 23_716).toFixed(1)}×`); // total FLOP reduction 11.2×
    const size = textOf(section(html, 'size'));
    expect(size).toContain('1,066,440');
    expect(size).toContain(`${(1_066_440 / 1024 / 1024).toFixed(2)} MiB`);
    expect(size).toContain(`${(65_772 / 1024).toFixed(1)} KiB`);
    expect(size).toContain(`${(1_066_440 / 65_772).toFixed(1)}×`); // 16.2×
    expect(size).toContain(`${((47_432 / 65_772) * 100).toFixed(1)}%`); // share of the values
    const lat = textOf(section(html, 'latency'));
    expect(lat).toContain('0.052 ms');
    expect(lat).toContain(`${(0.31 / 0.052).toFixed(2)}×`); // 5.96×
    expect(lat).toContain(`${(10.8 / 3.6).toFixed(2)}×`); // 3.00×
    expect(lat).toContain(`${(0.094 / 0.052).toFixed(2)}×`); // vs onnxruntime
    expect(lat).toContain(`${((256 / 3.6) * 1000 / 1000).toFixed(1)} k`); // samples/s at batch 256
    const acc = textOf(section(html, 'accuracy'));
    expect(acc).toContain('89.21% ± 0.09');
    expect(acc).toContain(`−${(89.12 - 87.02).toFixed(2)} vs dense`);
    expect(acc).toContain(`+${(89.21 - 89.12).toFixed(2)} vs dense`);
    expect(acc).toContain('Dense model: 89.12% ± 0.11');
    const plan = textOf(section(html, 'plan'));
    expect(plan).toContain('300 × 784');
    expect(plan).toContain('8.0%');
    expect(plan).toMatch(/dense\s+2\.65 ms/);
    // batch columns in numeric order, not string order ("256" < "64" as strings)
    expect(plan.indexOf('batch 64')).toBeLessThan(plan.indexOf('batch 256'));
    expect(text).not.toMatch(/NaN|undefined|Infinity|\[object/);
  });
});

describe('renderReport: self-contained', () => {
  it('references nothing outside the page', () => {
    const html = renderReport(lenetReport());
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/\/\/[a-z0-9.-]+\.[a-z]{2,}/i); // protocol-relative URLs
    expect(html).not.toMatch(/<(script|link|img|iframe|object|embed|image|use)\b/i);
    expect(html).not.toMatch(/\b(src|srcset|xlink:href)=/i);
    expect(html).not.toMatch(/url\(|@import|@font-face/i);
    for (const m of html.matchAll(/href="([^"]*)"/g)) expect(m[1]).toMatch(/^#[a-z]+$/);
    // and a Content-Security-Policy that forbids loading or running anything, should that ever change
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`);
  });
});

describe('renderReport: validation', () => {
  const cases: Array<[string, (d: ReportData) => void, new (...a: never[]) => Error, RegExp]> = [
    ['accuracy above 100 %', (d) => (d.accuracy!.dense!.accuracy = 891.2), IndexRangeError, /report\.accuracy\.dense\.accuracy must be in \[0, 100\] \(in percent\), got 891\.2/],
    ['sparsity given as a percentage', (d) => (d.layers![1]!.sparsity = 85), IndexRangeError, /report\.layers\[1\]\.sparsity must be in \[0, 1\] \(a fraction, not a percentage\), got 85/],
    ['sparsity above 1', (d) => (d.accuracy!.series[1]!.points[2]!.sparsity = 1.5), IndexRangeError, /report\.accuracy\.series\[1\]\.points\[2\]\.sparsity/],
    ['NaN latency', (d) => (d.latency![2]!.sparseMs = Number.NaN), SparsennTypeError, /report\.latency\[2\]\.sparseMs must be a finite number, got NaN/],
    ['nnz above size', (d) => (d.layers![0]!.nnz = 235_201), IndexRangeError, /report\.layers\[0\]\.nnz .*at most size/],
    ['layer name not a string', (d) => ((d.layers![2] as unknown as { name: number }).name = 3), SparsennTypeError, /report\.layers\[2\]\.name must be a string, got number/],
    ['batch 0', (d) => (d.latency![0]!.batch = 0), IndexRangeError, /report\.latency\[0\]\.batch must be >= 1/],
    ['negative bytes', (d) => (d.size!.indexBytes = -1), IndexRangeError, /report\.size\.indexBytes/],
    ['timing not a number', (d) => ((d.plan!.layers[0]!.timings['1'] as Record<string, unknown>).csr = '0.1'), SparsennTypeError, /report\.plan\.layers\[0\]\.timings\["1"\]\["csr"\]/],
    ['missing machine', (d) => delete (d as Partial<ReportData>).machine, SparsennTypeError, /report\.machine must be an object, got undefined/],
    ['notes not an array', (d) => ((d as unknown as { notes: string }).notes = 'hi'), SparsennTypeError, /report\.notes must be an array, got string/],
  ];
  it.each(cases)('rejects %s with a typed error naming the field', (_name, mutate, cls, msg) => {
    const d = lenetReport();
    mutate(d);
    expect(() => renderReport(d)).toThrow(cls);
    expect(() => renderReport(d)).toThrow(msg);
  });

  it('accepts the boundary values 0 and 1', () => {
    const d = lenetReport();
    d.accuracy!.series[0]!.points.push({ sparsity: 1, accuracy: 10 }, { sparsity: 0, accuracy: 100 });
    d.layers!.push({ name: 'empty', shape: [0, 5], nnz: 0, size: 0, sparsity: 0, structure: 'dense', flopsDense: 0, flopsSparse: 0 });
    const html = renderReport(d);
    checkMarkup(html);
    expect(textOf(section(html, 'accuracy'))).toContain('100%');
    expect(textOf(html)).not.toMatch(/NaN|Infinity/);
  });
});
