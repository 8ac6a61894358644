/** The trainer end to end with a small real model (test/train/bigram_model.ts): it learns (validation loss well
 * below the unigram entropy), writes the metrics log, the plot, the summary and checkpoints (keeping the newest
 * N), resumes bit-identically, and guards against non-finite and outlier steps. */
import { describe, expect, test, setDefaultTimeout } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveRun, main } from "../../src/train/cli.ts";
import { listCheckpoints, loadCheckpoint, resolveResume } from "../../src/train/checkpoint.ts";
import { resolveConfig, type TrainConfig } from "../../src/train/config.ts";
import { TrainingError } from "../../src/train/guards.ts";
import type { StepRecord } from "../../src/train/metrics.ts";
import { train, type TrainSummary } from "../../src/train/trainer.ts";
import { BigramModel, type BigramFaults } from "./bigram_model.ts";

// Whole training runs: minutes on a loaded 2-core machine, far past bun's 5 s default.
setDefaultTimeout(300_000);

function tempRuns(): string {
  return mkdtempSync(join(tmpdir(), "quartet-runs-"));
}

function config(out: string, over: Record<string, unknown> = {}): TrainConfig {
  return resolveConfig({}, {
    out, name: "run", recipe: "bf16", device: "cpu", seq: 32, batch: 4, steps: 40, lr: 0.05, evalEvery: 10, evalBatches: 2,
    checkpointEvery: 10, keep: 2, sampleTokens: 0, logEvery: 10, ...over,
  });
}

async function run(c: TrainConfig, opts: { resume?: string | null; faults?: BigramFaults; stopAfterStep?: number; tty?: boolean } = {}) {
  let text = "";
  const summary = await train(c, opts.resume ?? null, {
    createModel: (mc) => new BigramModel(mc, 16, opts.faults ?? {}),
    write: (t) => void (text += t),
    tty: opts.tty ?? false,
    measureMfu: false,
    stopAfterStep: opts.stopAfterStep,
  });
  return { summary, text };
}

function records(c: TrainConfig): StepRecord[] {
  return readFileSync(join(c.out, c.name, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as StepRecord);
}

/** The parts of a record that make up the trajectory (timings excluded). */
const trajectory = (r: StepRecord) => ({ step: r.step, loss: r.loss, lr: r.lr, grad_norm: r.grad_norm, val_loss: r.val_loss, skipped: r.skipped });

describe("training", () => {
  test("learns, and writes the log, plot, summary and the newest checkpoints", async () => {
    const c = config(tempRuns(), { steps: 150, checkpointEvery: 50, keep: 2, evalEvery: 50, sampleTokens: 20 });
    const { summary, text } = await run(c);
    expect(summary.finalValLoss!).toBeLessThan(summary.unigramEntropy - 0.3);
    const rs = records(c);
    expect(rs.length).toBe(150);
    expect(rs.map((r) => r.step)).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
    for (const r of rs) {
      expect(Object.keys(r)).toEqual(expect.arrayContaining(["step", "loss", "lr", "tokens_per_s"]));
      expect(r.val_loss !== undefined).toBe(r.step % 50 === 0);
    }
    const dir = join(c.out, c.name);
    const svg = readFileSync(join(dir, "loss.svg"), "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.match(/<circle /g)!.length).toBe(3);
    const saved = JSON.parse(readFileSync(join(dir, "summary.json"), "utf8")) as TrainSummary;
    expect(saved.finalValLoss).toBe(summary.finalValLoss);
    expect(listCheckpoints(join(dir, "checkpoints")).map((x) => x.step)).toEqual([100, 150]);
    expect(readdirSync(join(dir, "checkpoints")).sort()).toEqual(["step-00000100", "step-00000150"]);
    expect(readdirSync(join(dir, "checkpoints", "step-00000150")).sort()).toEqual(["model.safetensors", "optimizer.safetensors", "state.json"]);
    const ck = loadCheckpoint(join(dir, "checkpoints", "step-00000150"));
    expect(ck.state).toMatchObject({ step: 150, seed: 0, dataCursor: 600, optimizer: { t: 150 } });
    expect(ck.state.modelState).toEqual({ prevAmax: [expect.any(Number)] });
    expect([...ck.weights.keys()]).toEqual(["embed", "proj"]);
    expect(text).toContain("final validation loss");
    expect(text).toContain("greedy sample");
    // non-TTY progress: a line every logEvery steps, no carriage returns
    expect(text).not.toContain("\r");
    expect(text.split("\n").filter((l) => l.startsWith("step ")).length).toBe(15);
  });

  test("a resumed run continues the loss trajectory bit for bit", async () => {
    const out = tempRuns();
    const full = config(out, { name: "full" });
    await run(full);
    const split = config(out, { name: "split" });
    // Interrupted after step 25: checkpoint 20 is the newest, and the log holds 5 steps past it.
    const first = await run(split, { stopAfterStep: 25 });
    expect(first.summary.stoppedEarly).toBe(true);
    expect(records(split).length).toBe(25);
    const dir = resolveResume(true, join(out, "split"));
    expect(dir.endsWith("step-00000020")).toBe(true);
    const second = await run(split, { resume: dir });
    expect(second.text).toContain("resumed from");
    expect(records(split).map(trajectory)).toEqual(records(full).map(trajectory));
    const a = readFileSync(join(out, "full", "checkpoints", "step-00000040", "model.safetensors"));
    const b = readFileSync(join(out, "split", "checkpoints", "step-00000040", "model.safetensors"));
    expect(Buffer.compare(a, b)).toBe(0);
  });

  test("a fresh run under an existing name replaces the earlier run's checkpoints and log", async () => {
    const out = tempRuns();
    await run(config(out, { steps: 30 }));
    const { text } = await run(config(out, { steps: 10 }));
    expect(text).toContain("held 2 checkpoint(s) of an earlier run");
    expect(listCheckpoints(join(out, "run", "checkpoints")).map((x) => x.step)).toEqual([10]);
    expect(records(config(out)).length).toBe(10);
  });

  test("bun run train --resume takes the run's config from its checkpoint; fixed fields cannot change", async () => {
    const out = tempRuns();
    const argv = ["--out", out, "--name", "cli", "--recipe", "bf16", "--device", "cpu", "--seq", "32", "--batch", "4", "--steps", "20",
      "--lr", "0.05", "--checkpoint-every", "10", "--eval-every", "10", "--eval-batches", "2", "--sample-tokens", "0"];
    const code = await main(argv, (mc) => new BigramModel(mc), { write: () => {}, tty: false, measureMfu: false, stopAfterStep: 10 });
    expect(code).toBe(0);
    const r = resolveRun(["--resume", join(out, "cli"), "--steps", "30"]);
    if (r === "help") throw new Error("unexpected");
    expect(r.config).toMatchObject({ name: "cli", out, seq: 32, batch: 4, lr: 0.05, steps: 30 });
    expect(r.notes[0]).toContain("steps 20 -> 30");
    expect(() => resolveRun(["--resume", join(out, "cli"), "--seq", "64"])).toThrow("seq was 32 in the checkpoint and cannot change");
    expect(() => resolveRun(["--resume", join(out, "nothing")])).toThrow("no such folder");
  });
});

describe("guards", () => {
  test("a non-finite loss is reported with its step and skipped; training goes on", async () => {
    const c = config(tempRuns(), { steps: 12, evalEvery: 0, checkpointEvery: 0 });
    const { text } = await run(c, { faults: { nanLossAt: [4] } });
    const rs = records(c);
    expect(rs[4]!.skipped).toContain("non-finite loss (NaN)");
    expect(rs.filter((r) => r.skipped).length).toBe(1);
    expect(text).toContain("step 5: non-finite loss (NaN)");
    const ck = loadCheckpoint(resolveResume(true, join(c.out, c.name)));
    expect(ck.state.optimizer.t).toBe(11);
  });

  test("a non-finite gradient names the parameter where it appeared", async () => {
    const c = config(tempRuns(), { steps: 8, evalEvery: 0, checkpointEvery: 0 });
    const { text } = await run(c, { faults: { infGradAt: [2] } });
    expect(records(c)[2]!.skipped).toBe("non-finite gradient norm (Infinity); non-finite gradients in: proj; non-finite weights in: none");
    expect(text).toContain("step 3: non-finite gradient norm (Infinity); non-finite gradients in: proj");
  });

  test("an outlier step (gradient spike) is skipped and logged, not applied", async () => {
    const c = config(tempRuns(), { steps: 40, evalEvery: 0, checkpointEvery: 0, outlierZ: 6, outlierWindow: 20 });
    const { text } = await run(c, { faults: { spikeAt: [30] } });
    const rs = records(c);
    expect(rs[30]!.skipped).toContain("outlier");
    expect(rs.filter((r) => r.skipped).length).toBe(1);
    expect(text).toMatch(/step 31: loss [0-9.]+, gradient norm [0-9.e+]+: outlier/);
    // the same spike with the guard off is applied (and not logged as skipped)
    const off = config(tempRuns(), { steps: 40, evalEvery: 0, checkpointEvery: 0, outlierZ: 0 });
    await run(off, { faults: { spikeAt: [30] } });
    expect(records(off).filter((r) => r.skipped).length).toBe(0);
  });

  test("too many consecutive non-finite steps stop the run with a TrainingError", async () => {
    const c = config(tempRuns(), { steps: 20, evalEvery: 0, checkpointEvery: 0, maxBadSteps: 3 });
    const p = run(c, { faults: { nanLossAt: [5, 6, 7, 8] } });
    await expect(p).rejects.toBeInstanceOf(TrainingError);
    await expect(p).rejects.toThrow("step 8: 3 consecutive non-finite steps (--max-bad-steps 3)");
    expect(existsSync(join(c.out, c.name, "metrics.jsonl"))).toBe(true);
    expect(records(c).length).toBe(8);
  });
});

describe("progress", () => {
  test("on a terminal the bar is redrawn in place", async () => {
    const c = config(tempRuns(), { steps: 5, evalEvery: 0, checkpointEvery: 0 });
    const { text } = await run(c, { tty: true });
    expect(text).toContain("\r\x1b[2K[");
    expect(text).toMatch(/step 4\/5 \| loss [0-9.]+ \| lr [0-9.e+-]+ \| [0-9.k]+ tok\/s \| ETA/);
  });
});

describe("outlier detector", () => {
  test("spikes are skipped, but a lasting shift is accepted after a few skips; its state round-trips", async () => {
    const { OutlierDetector, MAX_CONSECUTIVE_OUTLIERS } = await import("../../src/train/guards.ts");
    const d = new OutlierDetector({ threshold: 6, window: 20, minHistory: 10 });
    for (let i = 0; i < 20; ++i) d.accept(2 + 0.01 * (i % 3), 1 + 0.05 * (i % 2));
    expect(d.check(2.01, 1.02).outlier).toBe(false);
    const verdicts = Array.from({ length: MAX_CONSECUTIVE_OUTLIERS + 1 }, () => d.check(2.0, 10));
    expect(verdicts.map((v) => v.outlier)).toEqual([true, true, true, false]);
    expect(verdicts[MAX_CONSECUTIVE_OUTLIERS]!.acceptedAsRegimeChange).toBe(true);
    const e = new OutlierDetector(d.options);
    e.load(d.state());
    expect(e.state()).toEqual(d.state());
    expect(() => e.load({ losses: [1], norms: [] } as never)).toThrow("equal-length");
  });
});
