/** --resume with the real model (src/model/llama.ts, recipe quartet2 on the CPU backend): a run interrupted
 * after a checkpoint and resumed from it reproduces the uninterrupted run's loss trajectory and final weights
 * bit for bit. */
import { expect, test, setDefaultTimeout } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLlama } from "../../src/model/llama.ts";
import { resolveResume } from "../../src/train/checkpoint.ts";
import { resolveConfig } from "../../src/train/config.ts";
import type { StepRecord } from "../../src/train/metrics.ts";
import { train } from "../../src/train/trainer.ts";

// Whole training runs: minutes on a loaded 2-core machine, far past bun's 5 s default.
setDefaultTimeout(300_000);

for (const variant of [{ label: "MS-EDEN B", extra: {} }, { label: "MS-EDEN A with the delayed abs-max (its state rides in the checkpoint)", extra: { edenVariant: "A", amax: "delayed" } }] as const)
test(`Llama + Quartet II (${variant.label}) on the CPU: resume is bit-identical to an uninterrupted run`, async () => {
  const out = mkdtempSync(join(tmpdir(), "quartet-llama-resume-"));
  const cfg = (name: string) =>
    resolveConfig({}, { out, name, device: "cpu", recipe: "quartet2", batch: 1, seq: 128, steps: 6, evalEvery: 3, evalBatches: 1,
      checkpointEvery: 3, sampleTokens: 0, lr: 3e-3, ...variant.extra });
  const hooks = (stopAfterStep?: number) => ({ createModel: createLlama, write: () => {}, tty: false, measureMfu: false, stopAfterStep });
  await train(cfg("full"), null, hooks());
  await train(cfg("split"), null, hooks(4));
  await train(cfg("split"), resolveResume(true, join(out, "split")), hooks());
  const log = (name: string) =>
    readFileSync(join(out, name, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => {
      const r = JSON.parse(l) as StepRecord;
      return [r.step, r.loss, r.lr, r.grad_norm, r.val_loss ?? null];
    });
  const full = log("full");
  expect(full.length).toBe(6);
  expect(log("split")).toEqual(full);
  const weights = (name: string) => readFileSync(join(out, name, "checkpoints", "step-00000006", "model.safetensors"));
  expect(Buffer.compare(weights("full"), weights("split"))).toBe(0);
});
