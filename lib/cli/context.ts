/**
 * What a command gets besides its arguments: where to print, whether the user asked for JSON,
 * and progress bars. In JSON mode stdout carries only the final JSON document; tables, notes
 * and progress go to stderr.
 */
import { formatDuration } from '../nn/train/progress.js';

export interface OutStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface CliContext {
  readonly json: boolean;
  readonly stdout: OutStream;
  readonly stderr: OutStream;
  /** Human-readable output: stdout, or stderr in JSON mode. */
  print(text: string): void;
  /** A note or warning on stderr. */
  note(text: string): void;
  /** A progress bar on stderr (drawn only on a TTY; in other cases one line when done). */
  progress(label: string, total: number): TaskProgress;
  /** The stream fit() should draw its training progress on, or false. */
  readonly trainingProgress: OutStream | false;
}

export class TaskProgress {
  private done = 0;
  private last = 0;
  private readonly start = performance.now();
  constructor(
    private readonly stream: OutStream,
    private readonly label: string,
    private readonly total: number,
  ) {}

  tick(step = 1, what = ''): void {
    this.done = Math.min(this.total, this.done + step);
    if (!this.stream.isTTY) return;
    const now = performance.now();
    if (now - this.last < 80 && this.done < this.total) return;
    this.last = now;
    const frac = this.total === 0 ? 1 : this.done / this.total;
    const width = 24;
    const bar = '█'.repeat(Math.round(frac * width)).padEnd(width, '░');
    const elapsed = (now - this.start) / 1000;
    const eta = frac > 0 ? (elapsed / frac) * (1 - frac) : Infinity;
    let line = `${this.label} ${bar} ${this.done}/${this.total} ETA ${formatDuration(eta)} ${what}`;
    const cols = this.stream.columns ?? 120;
    if (line.length > cols - 1) line = line.slice(0, cols - 1);
    this.stream.write(`\r${line}\x1b[K`);
  }

  finish(summary = ''): void {
    const secs = ((performance.now() - this.start) / 1000).toFixed(1);
    if (this.stream.isTTY) this.stream.write('\r\x1b[K');
    this.stream.write(`${this.label}: done in ${secs} s${summary ? ` — ${summary}` : ''}\n`);
  }
}

export function makeContext(json: boolean, stdout: OutStream = process.stdout, stderr: OutStream = process.stderr): CliContext {
  return {
    json,
    stdout,
    stderr,
    print: (text) => (json ? stderr : stdout).write(text.endsWith('\n') ? text : `${text}\n`),
    note: (text) => stderr.write(text.endsWith('\n') ? text : `${text}\n`),
    progress: (label, total) => new TaskProgress(stderr, label, total),
    trainingProgress: stderr.isTTY ? stderr : false,
  };
}
