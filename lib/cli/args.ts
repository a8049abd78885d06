/**
 * Command-line arguments: each command declares its flags (name, type, default, help) and
 * positionals; parsing checks them all and reports the first problem as a UsageError with
 * the command's usage, and a "did you mean" for a misspelt flag.
 */

export type FlagType = 'string' | 'number' | 'integer' | 'boolean' | 'list' | 'numbers';

export interface FlagSpec {
  type: FlagType;
  description: string;
  /** Shown in --help; parse() fills it in when the flag is absent. */
  default?: string | number | boolean | string[] | number[];
  /** Allowed values of a string flag. */
  choices?: readonly string[];
  /** One-letter alias, e.g. 'o' for --output. */
  short?: string;
  /** Name in the help's value slot, e.g. 'FILE'. */
  value?: string;
}

export interface CommandSpec {
  name: string;
  summary: string;
  /** Positional arguments in order; a trailing '?' marks an optional one ('model', 'output?'). */
  positionals: string[];
  flags: Record<string, FlagSpec>;
  examples: string[];
  /** Longer help text after the summary. */
  details?: string;
}

export type FlagValue = string | number | boolean | string[] | number[] | undefined;

export interface ParsedArgs {
  positionals: string[];
  flags: Record<string, FlagValue>;
}

/** Bad command-line usage: the message plus the command's usage line; exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command: string | null,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Flags every command takes. */
export const COMMON_FLAGS: Record<string, FlagSpec> = {
  json: { type: 'boolean', description: 'print the result as JSON on stdout (progress and notes go to stderr)', default: false },
  help: { type: 'boolean', description: 'show this help', short: 'h', default: false },
};

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length]![b.length]!;
}

function suggest(name: string, known: string[]): string {
  const best = known.map((k) => [k, distance(name, k)] as const).sort((x, y) => x[1] - y[1])[0];
  return best && best[1] <= 2 ? ` (did you mean --${best[0]}?)` : '';
}

function convert(cmd: string, name: string, spec: FlagSpec, raw: string): FlagValue {
  const bad = (what: string) => new UsageError(`--${name} needs ${what}, got '${raw}'`, cmd);
  switch (spec.type) {
    case 'string':
      if (spec.choices && !spec.choices.includes(raw)) throw new UsageError(`--${name} must be one of ${spec.choices.join(', ')}; got '${raw}'`, cmd);
      return raw;
    case 'number': {
      const v = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(v)) throw bad('a number');
      return v;
    }
    case 'integer': {
      const v = Number(raw);
      if (!Number.isInteger(v)) throw bad('an integer');
      return v;
    }
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
    case 'numbers': {
      const parts = raw.split(',').map((s) => s.trim());
      const vs = parts.map(Number);
      if (parts.some((s) => s === '') || vs.some((v) => !Number.isFinite(v))) throw bad('comma-separated numbers');
      return vs;
    }
    case 'boolean':
      if (raw === 'true') return true;
      if (raw === 'false') return false;
      throw bad('true or false');
  }
}

export function parseArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const all = { ...COMMON_FLAGS, ...spec.flags };
  const byShort = new Map(Object.entries(all).filter(([, f]) => f.short).map(([n, f]) => [f.short!, n]));
  const flags: Record<string, FlagValue> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      inline = eq < 0 ? undefined : a.slice(eq + 1);
      if (!(name in all) && name.startsWith('no-') && all[name.slice(3)]?.type === 'boolean') {
        flags[name.slice(3)] = false;
        continue;
      }
    } else if (/^-[a-zA-Z]$/.test(a)) {
      name = byShort.get(a.slice(1));
      if (name === undefined) throw new UsageError(`unknown option ${a}`, spec.name);
    }
    if (name === undefined) {
      positionals.push(a);
      continue;
    }
    const f = all[name];
    if (!f) throw new UsageError(`unknown option --${name}${suggest(name, Object.keys(all))}`, spec.name);
    if (f.type === 'boolean' && inline === undefined) {
      flags[name] = true;
      continue;
    }
    const raw = inline ?? argv[++i];
    if (raw === undefined) throw new UsageError(`--${name} needs a value`, spec.name);
    flags[name] = convert(spec.name, name, f, raw);
  }
  if (flags['help']) return { positionals, flags };
  const required = spec.positionals.filter((p) => !p.endsWith('?')).length;
  if (positionals.length < required) throw new UsageError(`missing ${spec.positionals.slice(positionals.length, required).map((p) => `<${p}>`).join(' ')}`, spec.name);
  if (positionals.length > spec.positionals.length) throw new UsageError(`unexpected argument '${positionals[spec.positionals.length]}'`, spec.name);
  for (const [n, f] of Object.entries(all)) if (flags[n] === undefined && f.default !== undefined) flags[n] = f.default;
  return { positionals, flags };
}

export function usageLine(spec: CommandSpec): string {
  const pos = spec.positionals.map((p) => (p.endsWith('?') ? `[${p.slice(0, -1)}]` : `<${p}>`)).join(' ');
  return `sparsenn ${spec.name}${pos ? ` ${pos}` : ''} [options]`;
}

export function helpText(spec: CommandSpec): string {
  const all = { ...spec.flags, ...COMMON_FLAGS };
  const rows = Object.entries(all).map(([n, f]) => {
    const value = f.type === 'boolean' ? '' : ` ${f.value ?? (f.type === 'list' || f.type === 'numbers' ? 'A,B,...' : f.type === 'string' ? 'TEXT' : 'N')}`;
    const left = `  ${f.short ? `-${f.short}, ` : '    '}--${n}${value}`;
    const extra = [f.choices ? `one of: ${f.choices.join(', ')}` : '', f.default !== undefined && f.default !== false ? `default: ${String(f.default)}` : ''].filter(Boolean).join('; ');
    return [left, `${f.description}${extra ? ` (${extra})` : ''}`] as const;
  });
  const w = Math.max(...rows.map((r) => r[0].length)) + 2;
  return [
    `Usage: ${usageLine(spec)}`,
    '',
    spec.summary,
    ...(spec.details ? ['', spec.details] : []),
    '',
    'Options:',
    ...rows.map(([l, r]) => l.padEnd(w) + r),
    ...(spec.examples.length > 0 ? ['', 'Examples:', ...spec.examples.map((e) => `  ${e}`)] : []),
  ].join('\n');
}
