/** What a person watching the run sees: on a terminal, one progress bar redrawn in place (step, loss, learning
 * rate, tokens/s, ETA); elsewhere (CI, a pipe, a log file) a plain line every `logEvery` steps. */

export interface ProgressValues {
  step: number;
  loss: number;
  lr: number;
  tokensPerS: number;
  etaS: number;
  valLoss?: number;
}

export interface ProgressOptions {
  total: number;
  tty: boolean;
  logEvery: number;
  write: (text: string) => void;
  columns?: number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : m > 0 ? `${m}m${String(r).padStart(2, "0")}s` : `${r}s`;
}

export function formatRate(tokensPerS: number): string {
  if (!Number.isFinite(tokensPerS)) return "--";
  return tokensPerS >= 1e6 ? `${(tokensPerS / 1e6).toFixed(2)}M` : tokensPerS >= 1e3 ? `${(tokensPerS / 1e3).toFixed(1)}k` : tokensPerS.toFixed(0);
}

export class Progress {
  readonly #o: ProgressOptions;
  #drawn = false;

  constructor(options: ProgressOptions) {
    this.#o = options;
  }

  #fields(v: ProgressValues): string {
    const width = String(this.#o.total).length;
    return (
      `step ${String(v.step).padStart(width)}/${this.#o.total} | loss ${v.loss.toFixed(4)}` +
      (v.valLoss !== undefined ? ` | val ${v.valLoss.toFixed(4)}` : "") +
      ` | lr ${v.lr.toExponential(2)} | ${formatRate(v.tokensPerS)} tok/s | ETA ${formatDuration(v.etaS)}`
    );
  }

  update(v: ProgressValues): void {
    if (!this.#o.tty) {
      if (v.step % this.#o.logEvery === 0 || v.step === this.#o.total || v.valLoss !== undefined) this.#o.write(`${this.#fields(v)}\n`);
      return;
    }
    const text = this.#fields(v);
    if (v.valLoss !== undefined) {
      // evaluation steps stay on screen: the bar is redrawn below them
      this.#o.write(`\r\x1b[2K${text}\n`);
      this.#drawn = false;
      return;
    }
    const columns = this.#o.columns && this.#o.columns >= 40 ? this.#o.columns : 100;
    const barWidth = Math.max(10, Math.min(40, columns - text.length - 4));
    const filled = Math.round((barWidth * v.step) / this.#o.total);
    const bar = `[${"#".repeat(filled)}${".".repeat(barWidth - filled)}]`;
    this.#o.write(`\r\x1b[2K${`${bar} ${text}`.slice(0, columns - 1)}`);
    this.#drawn = true;
  }

  /** A message on its own line (above the bar on a terminal). */
  note(message: string): void {
    if (this.#o.tty && this.#drawn) this.#o.write("\r\x1b[2K");
    this.#o.write(`${message}\n`);
    this.#drawn = false;
  }

  finish(): void {
    if (this.#o.tty && this.#drawn) this.#o.write("\n");
    this.#drawn = false;
  }
}
