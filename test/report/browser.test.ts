/**
 * The report in a real browser (headless Chromium through playwright-core): it renders (charts
 * with real size, the title visible, chart text inside its chart), logs no errors, requests
 * nothing but its own file, fits narrow screens, prints, and hostile strings stay inert text.
 *
 * Needs /usr/bin/chromium (or SPARSENN_CHROMIUM=path). Without it the suite FAILS with
 * instructions; set SPARSENN_SKIP_BROWSER=1 to skip it deliberately.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReport } from '../../lib/report/html.js';
import type { ReportData } from '../../lib/report/types.js';
import { lenetReport } from './fixture.js';

/** SPARSENN_CHROMIUM points at another Chromium binary (other distributions install it elsewhere). */
/*
 * The callbacks given to page.evaluate run in the page; the project compiles without the DOM
 * library (it is a Node package), so the little of the DOM they use is declared here, for this
 * module only.
 */
interface DomRect {
  left: number;
  right: number;
  top: number;
  bottom: number;
  width: number;
  height: number;
}
interface DomElement {
  textContent: string | null;
  getBoundingClientRect(): DomRect;
  querySelectorAll(selector: string): ArrayLike<DomElement> & Iterable<DomElement>;
}
declare const document: DomElement & { documentElement: { scrollWidth: number; scrollHeight: number }; scripts: { length: number }; images: { length: number } };
declare const window: { innerWidth: number };

const CHROMIUM = process.env.SPARSENN_CHROMIUM ?? '/usr/bin/chromium';
const SKIP = process.env.SPARSENN_SKIP_BROWSER === '1';
const TIMEOUT = 60_000;

let browser: Browser;
let dir: string;

/** Writes `data` as a page, opens it and records every console error, page error, request and dialog. */
async function open(data: ReportData, viewport = { width: 1100, height: 900 }) {
  const file = join(dir, `report-${Math.random().toString(36).slice(2)}.html`);
  writeFileSync(file, renderReport(data));
  const url = pathToFileURL(file).href;
  const page = await browser.newPage({ viewport });
  const log = { errors: [] as string[], requests: [] as string[], dialogs: [] as string[] };
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') log.errors.push(`console.${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => log.errors.push(`pageerror: ${e.message}`));
  page.on('request', (r) => log.requests.push(r.url()));
  page.on('dialog', (d) => {
    log.dialogs.push(d.message());
    void d.dismiss();
  });
  const res = await page.goto(url, { waitUntil: 'load' });
  expect(res === null || res.ok()).toBe(true);
  return { page, url, log };
}

/** Bounding boxes of each chart and of every text element that lies outside its chart. */
async function chartGeometry(page: Page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('svg.chart')].map((svg) => {
      const b = svg.getBoundingClientRect();
      const outside = [...svg.querySelectorAll('text')]
        .map((t) => ({ t: t.textContent ?? '', r: t.getBoundingClientRect() }))
        .filter(({ r }) => r.left < b.left - 1 || r.right > b.right + 1 || r.top < b.top - 1 || r.bottom > b.bottom + 1)
        .map(({ t }) => t);
      return { width: b.width, height: b.height, texts: svg.querySelectorAll('text').length, outside };
    }),
  );
}

describe.skipIf(SKIP)('report in headless Chromium', () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(
        `${CHROMIUM} not found: the browser test needs Chromium (e.g. apt-get install chromium, or SPARSENN_CHROMIUM=/path/to/chromium). Set SPARSENN_SKIP_BROWSER=1 to skip it on purpose.`,
      );
    dir = mkdtempSync(join(tmpdir(), 'sparsenn-report-browser-'));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, TIMEOUT);

  afterAll(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, TIMEOUT);

  it(
    'renders the full report: visible title, sized charts, no errors, no requests but the file, a real screenshot',
    async () => {
      const data = lenetReport();
      const { page, url, log } = await open(data);
      const h1 = page.locator('h1');
      await expect(h1.isVisible()).resolves.toBe(true);
      expect(await h1.textContent()).toBe(data.title);
      expect(await page.title()).toBe(data.title);

      const charts = await chartGeometry(page);
      expect(charts).toHaveLength(4);
      for (const c of charts) {
        expect(c.width).toBeGreaterThan(300);
        expect(c.height).toBeGreaterThan(80);
        expect(c.texts).toBeGreaterThan(5);
        expect(c.outside).toEqual([]);
      }
      // every section heading and table is laid out
      const boxes = await page.evaluate(() => [...document.querySelectorAll('section h2, table')].map((e) => e.getBoundingClientRect().height));
      expect(boxes.length).toBeGreaterThanOrEqual(7 + 5);
      expect(boxes.every((v) => v > 10)).toBe(true);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);

      const shot = join(dir, 'full.png');
      await page.screenshot({ path: shot, fullPage: true });
      const png = readFileSync(shot);
      expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      expect(png.subarray(12, 16).toString('latin1')).toBe('IHDR');
      const height = await page.evaluate(() => document.documentElement.scrollHeight);
      expect(png.readUInt32BE(16)).toBe(1100);
      expect(png.readUInt32BE(20)).toBe(height);
      expect(height).toBeGreaterThan(2000); // seven sections, four charts
      expect(statSync(shot).size).toBeGreaterThan(60 * 1024);

      expect(log.errors).toEqual([]);
      expect(log.dialogs).toEqual([]);
      expect(log.requests).toEqual([url]);
      await page.close();
    },
    TIMEOUT,
  );

  it(
    'fits a phone-width screen (charts and tables scroll inside their boxes) and prints without navigation',
    async () => {
      const { page, log } = await open(lenetReport(), { width: 380, height: 800 });
      expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
      expect(await page.locator('h1').isVisible()).toBe(true);
      // on screen a chart keeps a legible minimum width and scrolls inside its wrapper
      for (const c of await chartGeometry(page)) {
        expect(c.width).toBeGreaterThanOrEqual(600);
        expect(c.outside).toEqual([]);
      }
      await page.emulateMedia({ media: 'print' });
      expect(await page.locator('nav').isVisible()).toBe(false);
      // on paper it shrinks to the column instead (nothing can scroll), keeping its aspect ratio
      for (const c of await chartGeometry(page)) {
        expect(c.width).toBeGreaterThan(300);
        expect(c.width).toBeLessThanOrEqual(380);
        expect(c.height).toBeGreaterThan(30);
        expect(c.outside).toEqual([]);
      }
      const pdf = await page.pdf({ format: 'A4' });
      expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
      expect(pdf.length).toBeGreaterThan(20 * 1024);
      expect(log.errors).toEqual([]);
      await page.close();
    },
    TIMEOUT,
  );

  it(
    'shows hostile strings as inert text: no script, no dialog, no request, the exact string in the DOM',
    async () => {
      const evil = `<script>alert("x")</script><img src="https://example.invalid/x.png" onerror="alert(2)"><style>body{display:none}</style>`;
      const data = lenetReport();
      data.title = evil;
      data.layers![0]!.name = evil;
      data.accuracy!.series[0]!.method = evil;
      data.notes = [evil];
      const { page, url, log } = await open(data);
      expect(await page.locator('h1').textContent()).toBe(evil);
      expect(await page.locator('h1').isVisible()).toBe(true);
      const counts = await page.evaluate(() => ({ scripts: document.scripts.length, imgs: document.images.length, styles: document.querySelectorAll('style').length }));
      expect(counts).toEqual({ scripts: 0, imgs: 0, styles: 1 });
      // the layer name reaches the chart as text, not markup
      const svgText = await page.evaluate(() => [...document.querySelectorAll('#layers svg text')].map((t) => t.textContent).join('\n'));
      expect(svgText).toContain('<script>');
      expect(log.dialogs).toEqual([]);
      expect(log.errors).toEqual([]);
      expect(log.requests).toEqual([url]);
      await page.close();
    },
    TIMEOUT,
  );
});
