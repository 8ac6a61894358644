/** Learning-rate schedules: the papers' OneCycle (LR/100 -> cosine warm-up over 10% -> cosine to LR/10) and
 * the plain warm-up + cosine. */
import { describe, expect, test } from "bun:test";
import { learningRate, warmupSteps, type ScheduleOptions } from "../../src/train/schedule.ts";

const base: ScheduleOptions = { name: "onecycle", lr: 1.2e-3, steps: 1000, warmup: 0.1, minRatio: 0.1, startRatio: 0.01 };

describe("schedules", () => {
  test("onecycle: starts at LR/100, peaks at the end of warm-up, ends at LR/10, cosine in between", () => {
    const lr = (s: number) => learningRate(base, s);
    expect(warmupSteps(base)).toBe(100);
    expect(lr(0)).toBeCloseTo(1.2e-5, 15);
    expect(lr(50)).toBeCloseTo((1.2e-5 + 1.2e-3) / 2, 12);
    expect(lr(100)).toBeCloseTo(1.2e-3, 15);
    expect(lr(999)).toBeCloseTo(1.2e-4, 15);
    const mid = 100 + (999 - 100) / 2;
    expect(lr(mid)).toBeCloseTo((1.2e-3 + 1.2e-4) / 2, 12);
    for (let s = 1; s <= 100; ++s) expect(lr(s)).toBeGreaterThan(lr(s - 1));
    for (let s = 101; s < 1000; ++s) expect(lr(s)).toBeLessThan(lr(s - 1));
  });

  test("cosine: linear warm-up from 0, then cosine to minRatio", () => {
    const o: ScheduleOptions = { ...base, name: "cosine" };
    expect(learningRate(o, 0)).toBeCloseTo(1.2e-3 / 100, 15);
    expect(learningRate(o, 99)).toBeCloseTo(1.2e-3, 15);
    expect(learningRate(o, 999)).toBeCloseTo(1.2e-4, 15);
  });

  test("constant and no warm-up; tiny step counts stay finite", () => {
    expect(learningRate({ ...base, name: "constant", warmup: 0 }, 0)).toBe(1.2e-3);
    expect(learningRate({ ...base, name: "constant" }, 500)).toBe(1.2e-3);
    for (const steps of [1, 2, 3]) for (let s = 0; s < steps; ++s) expect(Number.isFinite(learningRate({ ...base, steps }, s))).toBe(true);
  });
});
