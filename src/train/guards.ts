/** Training guards: a step whose loss or gradient norm is not finite is reported with the parameters where the
 * NaN/Inf appeared and not applied; a step whose loss or gradient norm is an outlier (z-score against the
 * recent applied steps above a threshold) is skipped and logged. The outlier statistics are part of the
 * checkpoint, so a resumed run makes the same decisions. */

export interface OutlierOptions {
  /** z-score above which a step is skipped (0 = never) */
  threshold: number;
  /** applied steps kept in the statistics */
  window: number;
  /** applied steps needed before any step can be called an outlier */
  minHistory: number;
}

export interface OutlierVerdict {
  /** skip this step */
  outlier: boolean;
  zLoss: number;
  zNorm: number;
  /** the z-scores are above the threshold but the step is applied: too many outliers in a row look like a
   * new regime (e.g. a learning-rate change), not a spike */
  acceptedAsRegimeChange: boolean;
}

export interface OutlierState {
  losses: number[];
  norms: number[];
  /** outliers skipped in a row */
  consecutive: number;
}

/** Outliers skipped in a row after which the next one is applied anyway. */
export const MAX_CONSECUTIVE_OUTLIERS = 3;

function zScore(history: readonly number[], x: number): number {
  const n = history.length;
  let mean = 0;
  for (const h of history) mean += h;
  mean /= n;
  let variance = 0;
  for (const h of history) variance += (h - mean) * (h - mean);
  const std = Math.sqrt(variance / Math.max(1, n - 1));
  // A flat history (std ~ 0) would make any change infinite: measure against 1% of the mean at least.
  const scale = Math.max(std, Math.abs(mean) * 0.01, 1e-12);
  return (x - mean) / scale;
}

export class OutlierDetector {
  readonly options: OutlierOptions;
  #losses: number[] = [];
  #norms: number[] = [];
  #consecutive = 0;

  constructor(options: OutlierOptions) {
    this.options = options;
  }

  /** Judges a step before it is applied (only upward spikes count). */
  check(loss: number, gradNorm: number): OutlierVerdict {
    const o = this.options;
    if (o.threshold <= 0 || this.#losses.length < o.minHistory) return { outlier: false, zLoss: 0, zNorm: 0, acceptedAsRegimeChange: false };
    const zLoss = zScore(this.#losses, loss);
    const zNorm = zScore(this.#norms, gradNorm);
    const above = zLoss > o.threshold || zNorm > o.threshold;
    if (!above) return { outlier: false, zLoss, zNorm, acceptedAsRegimeChange: false };
    if (this.#consecutive >= MAX_CONSECUTIVE_OUTLIERS) return { outlier: false, zLoss, zNorm, acceptedAsRegimeChange: true };
    this.#consecutive += 1;
    return { outlier: true, zLoss, zNorm, acceptedAsRegimeChange: false };
  }

  /** Records an applied step. */
  accept(loss: number, gradNorm: number): void {
    this.#consecutive = 0;
    this.#losses.push(loss);
    this.#norms.push(gradNorm);
    if (this.#losses.length > this.options.window) {
      this.#losses.shift();
      this.#norms.shift();
    }
  }

  state(): OutlierState {
    return { losses: [...this.#losses], norms: [...this.#norms], consecutive: this.#consecutive };
  }

  load(s: OutlierState): void {
    if (!Array.isArray(s?.losses) || !Array.isArray(s?.norms) || s.losses.length !== s.norms.length)
      throw new Error("OutlierDetector.load: a state of equal-length losses and norms arrays is expected");
    this.#losses = s.losses.slice(-this.options.window);
    this.#norms = s.norms.slice(-this.options.window);
    this.#consecutive = Number.isInteger(s.consecutive) ? s.consecutive : 0;
  }
}

/** Names of the entries whose value is not finite. */
export function nonFiniteNames(names: readonly string[], values: ArrayLike<number>): string[] {
  const out: string[] = [];
  for (let i = 0; i < names.length; ++i) if (!Number.isFinite(values[i]!)) out.push(names[i]!);
  return out;
}

/** Thrown when a run cannot go on (e.g. too many consecutive non-finite steps). */
export class TrainingError extends Error {
  readonly step: number;
  constructor(step: number, message: string) {
    super(message);
    this.name = "TrainingError";
    this.step = step;
  }
}
