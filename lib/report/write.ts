/**
 * Writes the rendered report to disk atomically (temporary file in the same folder, then
 * rename), so a reader never sees a half-written page and a failed write leaves any previous
 * report in place.
 */
import { writeFileAtomic, writeFileAtomicSync } from '../io/atomic-file.js';
import { SparsennTypeError } from '../errors.js';
import { renderReport } from './html.js';
import type { ReportData } from './types.js';

function checkPath(path: unknown): asserts path is string {
  if (typeof path !== 'string' || path.length === 0) throw new SparsennTypeError('ERR_TYPE', `report path must be a non-empty string, got ${path === '' ? 'an empty string' : typeof path}`);
}

/** Renders `data` (see renderReport) and writes the HTML to `path` atomically. */
export async function writeReport(data: ReportData, path: string): Promise<void> {
  checkPath(path);
  const html = renderReport(data);
  await writeFileAtomic(path, new TextEncoder().encode(html));
}

/** Synchronous writeReport. */
export function writeReportSync(data: ReportData, path: string): void {
  checkPath(path);
  writeFileAtomicSync(path, new TextEncoder().encode(renderReport(data)));
}
