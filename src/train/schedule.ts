/** Learning-rate schedules, as pure functions of the step (0-based index of the optimizer step).
 *
 * - "onecycle": the papers' (numerics.md §7; PyTorch OneCycleLR with cosine annealing): start at
 *   LR * startRatio (1/100), cosine warm-up over the first `warmup` fraction of the steps to LR, then cosine
 *   decay to LR * minRatio (1/10) at the last step.
 * - "cosine": linear warm-up from 0 to LR, then cosine decay to LR * minRatio.
 * - "constant": linear warm-up, then LR. */
import type { ScheduleName } from "./config.ts";

export interface ScheduleOptions {
  name: ScheduleName;
  lr: number;
  steps: number;
  /** fraction of the steps spent warming up, in [0, 1) */
  warmup: number;
  minRatio: number;
  startRatio: number;
}

/** Steps of warm-up (at least 1 when warmup > 0, always less than the total). */
export function warmupSteps(o: ScheduleOptions): number {
  if (o.warmup <= 0) return 0;
  return Math.min(Math.max(1, Math.round(o.warmup * o.steps)), Math.max(0, o.steps - 1));
}

/** Cosine interpolation from a (at p = 0) to b (at p = 1). */
function cosineBetween(a: number, b: number, p: number): number {
  return b + ((a - b) * (1 + Math.cos(Math.PI * p))) / 2;
}

export function learningRate(o: ScheduleOptions, step: number): number {
  const warm = warmupSteps(o);
  const peak = o.lr;
  const floor = o.lr * o.minRatio;
  if (step < warm) {
    if (o.name === "onecycle") return cosineBetween(peak * o.startRatio, peak, step / warm);
    return (peak * (step + 1)) / warm;
  }
  if (o.name === "constant") return peak;
  const span = o.steps - 1 - warm;
  if (span <= 0) return peak;
  return cosineBetween(peak, floor, Math.min(1, (step - warm) / span));
}
