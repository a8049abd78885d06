/**
 * writeReport / writeReportSync: the file holds exactly renderReport's output, replaces an older
 * report, leaves no temporary file behind, and on failure (invalid data, a directory in the way)
 * leaves the previous file untouched.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SparsennTypeError } from '../../lib/errors.js';
import { renderReport } from '../../lib/report/html.js';
import { writeReport, writeReportSync } from '../../lib/report/write.js';
import { lenetReport } from './fixture.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sparsenn-report-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('writeReport', () => {
  it.each([
    ['async', (d: ReturnType<typeof lenetReport>, p: string) => writeReport(d, p)],
    ['sync', async (d: ReturnType<typeof lenetReport>, p: string) => writeReportSync(d, p)],
  ])('%s: writes the rendered page, replacing an older file, with no temp file left', async (_k, write) => {
    const path = join(dir, 'report.html');
    writeFileSync(path, 'old');
    const d = lenetReport();
    await write(d, path);
    expect(readFileSync(path, 'utf8')).toBe(renderReport(d));
    expect(readdirSync(dir)).toEqual(['report.html']);
  });

  it('keeps the previous file when the data is invalid or the write fails', async () => {
    const path = join(dir, 'report.html');
    writeFileSync(path, 'previous');
    const bad = lenetReport();
    bad.latency![0]!.denseMs = Number.NaN;
    await expect(writeReport(bad, path)).rejects.toThrow(SparsennTypeError);
    expect(() => writeReportSync(bad, path)).toThrow(/report\.latency\[0\]\.denseMs/);
    expect(readFileSync(path, 'utf8')).toBe('previous');
    // a directory where the file should go: rename fails, the temp file is cleaned up
    const blocked = join(dir, 'blocked.html');
    mkdirSync(blocked);
    await expect(writeReport(lenetReport(), blocked)).rejects.toThrow();
    expect(() => writeReportSync(lenetReport(), blocked)).toThrow();
    expect(readdirSync(dir).sort()).toEqual(['blocked.html', 'report.html']);
    expect(() => writeReportSync(lenetReport(), '')).toThrow(/non-empty string/);
  });
});
