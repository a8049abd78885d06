/**
 * A one-line terminal progress bar (what cli-progress draws, without the dependency): epoch,
 * bar, step count, loss, accuracy, samples/s and ETA, redrawn in place on a TTY at most every
 * 100 ms; on a non-TTY stream it prints one line per epoch instead, so logs stay readable.
 */
export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressState {
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  loss: number;
  accuracy: number;
  samplesPerSecond: number;
  etaSeconds: number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export function formatProgress(st: ProgressState, width = 24): string {
  const frac = st.steps === 0 ? 1 : Math.min(1, st.step / st.steps);
  const filled = Math.round(frac * width);
  const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
  const ep = `epoch ${String(st.epoch + 1).padStart(String(st.epochs).length)}/${st.epochs}`;
  return (
    `${ep} ${bar} ${String(st.step).padStart(String(st.steps).length)}/${st.steps} ` +
    `loss ${st.loss.toFixed(4)} acc ${(st.accuracy * 100).toFixed(2)}% ` +
    `${Math.round(st.samplesPerSecond)} samples/s ETA ${formatDuration(st.etaSeconds)}`
  );
}

export class ProgressBar {
  private lastDraw = 0;
  private drawn = false;

  constructor(private readonly stream: ProgressStream) {}

  update(st: ProgressState, force = false): void {
    if (!this.stream.isTTY) return;
    const now = performance.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    let line = formatProgress(st);
    const cols = this.stream.columns ?? 120;
    if (line.length > cols - 1) line = line.slice(0, cols - 1);
    this.stream.write(`\r${line}\x1b[K`);
    this.drawn = true;
  }

  /** Ends the epoch's line with a summary (printed on TTYs and non-TTYs alike). */
  finishEpoch(st: ProgressState, summary: string): void {
    if (this.stream.isTTY) {
      this.update(st, true);
      this.stream.write(`  ${summary}\n`);
    } else {
      this.stream.write(`${formatProgress(st)}  ${summary}\n`);
    }
    this.drawn = false;
  }

  clear(): void {
    if (this.drawn && this.stream.isTTY) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}
