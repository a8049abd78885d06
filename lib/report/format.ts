/**
 * Number formatting for the report. Deliberately locale-independent (no toLocaleString), so a
 * report reads the same wherever it was generated and tests can compare exact strings.
 */

/** Integer with comma thousands separators: 266610 → "266,610". */
export function fmtInt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const r = Math.round(n);
  const digits = Math.abs(r).toString();
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return r < 0 ? `-${grouped}` : grouped;
}

/** Three significant digits without exponent for ordinary magnitudes: 0.01234 → "0.0123", 12.345 → "12.3". */
export function fmtSig(n: number, digits = 3): string {
  if (!Number.isFinite(n)) return String(n);
  if (n === 0) return '0';
  const a = Math.abs(n);
  if (a >= 10 ** digits) return fmtInt(n);
  if (a < 1e-6) return n.toExponential(digits - 1);
  // Number(...) drops trailing zeros of toPrecision ("1.50" → 1.5)
  return String(Number(n.toPrecision(digits)));
}

/** Metric prefix with three significant digits: 1234567 → "1.23 M", 950 → "950". */
export function fmtSi(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  const units: Array<[number, string]> = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [scale, unit] of units) if (a >= scale) return `${fmtSig(n / scale)} ${unit}`;
  return fmtSig(n);
}

/** Bytes in binary units: 1048576 → "1.00 MiB", 512 → "512 B". */
export function fmtBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  if (a < 1024) return `${Math.round(n)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  // keep three significant digits, but never an exponent (1000 KiB stays "1000 KiB")
  const s = Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${s} ${units[i]}`;
}

/** A fraction as a percentage: 0.9 → "90.0%". */
export function fmtPct(fraction: number, decimals = 1): string {
  if (!Number.isFinite(fraction)) return String(fraction);
  return `${(fraction * 100).toFixed(decimals)}%`;
}

/** Milliseconds, three significant digits: 0.04567 → "0.0457 ms". */
export function fmtMs(ms: number): string {
  return `${fmtSig(ms)} ms`;
}

/** A ratio such as a speed-up or compression factor: 3 → "3.00×", 12.34 → "12.3×", 456.2 → "456×". */
export function fmtRatio(x: number): string {
  if (!Number.isFinite(x)) return '—';
  const a = Math.abs(x);
  return `${a >= 100 ? fmtInt(x) : a >= 10 ? x.toFixed(1) : x.toFixed(2)}×`;
}

/** An ISO time as "2026-11-25 10:42 UTC"; a string that is not a valid date comes back unchanged. */
export function fmtDate(iso: string): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return iso;
  const d = new Date(t).toISOString();
  return `${d.slice(0, 10)} ${d.slice(11, 16)} UTC`;
}
