/** LlamaModel on the CPU backend (numerics.md §7): presets and parameter counts, initialization, the loss and
 * every gradient against a float64 implementation of the same network (itself checked by central
 * differences), the quantized recipes' gradients against it, training progress, determinism, and misuse. */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { setCpuThreads } from "../../src/index.ts";
import { check, native } from "../../src/native/ffi.ts";
import { LlamaModel } from "../../src/model/llama.ts";
import { mlpHiddenFor, modelConfig, nonEmbeddingParamsOf, PRESETS } from "../../src/model/presets.ts";
import type { ModelConfig, Parameter } from "../../src/model/types.ts";
import type { Recipe } from "../../src/linear.ts";
import { expectQuartetError } from "../helpers/quartet.ts";
import { referenceStep } from "./reference_model.ts";

afterAll(() => setCpuThreads(0));
// float64 references of a whole network and several training steps: slow on a shared 2-core machine
setDefaultTimeout(120_000);

/** A small configuration every recipe accepts (all linear dimensions and T multiples of 128), head dim 64. */
function smallConfig(recipe: Recipe, initSeed = 5): ModelConfig {
  return { vocabSize: 64, dModel: 128, nLayers: 2, nHeads: 2, mlpHidden: 256, seqLen: 64, batchSize: 2, recipe, device: "cpu", initSeed };
}

function batch(T: number, V: number, salt = 0): { tokens: Int32Array; targets: Int32Array } {
  const tokens = new Int32Array(T), targets = new Int32Array(T);
  for (let i = 0; i < T; ++i) {
    tokens[i] = (i * 7 + (i >> 3) + salt) % V;
    targets[i] = (i * 5 + 3 + salt) % V;
  }
  targets[10] = -1; // ignored position
  return { tokens, targets };
}

function params64(m: LlamaModel): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  for (const p of m.parameters()) out[p.name] = Float64Array.from(p.data.toFloat32Array());
  return out;
}

function setData(p: Parameter, v: Float32Array): void {
  check(native().quartet_memcpy(p.data.backend, p.data.handle, 0, new Uint8Array(v.buffer, v.byteOffset, v.byteLength), v.byteLength));
}

function sgd(m: LlamaModel, lr: number): void {
  for (const p of m.parameters()) {
    const w = p.data.toFloat32Array(), g = p.grad.toFloat32Array();
    setData(p, w.map((x, i) => x - lr * g[i]!));
  }
}

function compare(a: ArrayLike<number>, r: ArrayLike<number>): { rel: number; cos: number } {
  let e = 0, n = 0, ab = 0, aa = 0;
  for (let i = 0; i < r.length; ++i) {
    e += (a[i]! - r[i]!) ** 2;
    n += r[i]! ** 2;
    ab += a[i]! * r[i]!;
    aa += a[i]! ** 2;
  }
  return { rel: Math.sqrt(e / n), cos: ab / Math.sqrt(n * aa) };
}

describe("presets and parameter counts", () => {
  test("non-embedding parameters match numerics.md §7", () => {
    expect(nonEmbeddingParamsOf(PRESETS["30M"])).toBe(30_482_560);
    expect(nonEmbeddingParamsOf(PRESETS["50M"])).toBe(49_556_736);
    expect(nonEmbeddingParamsOf(PRESETS["100M"])).toBe(102_777_856);
    expect(nonEmbeddingParamsOf(PRESETS["200M"])).toBe(203_188_480);
    expect([640, 768, 1024, 1280].map(mlpHiddenFor)).toEqual([1792, 2048, 2816, 3584]);
    for (const name of ["30M", "50M", "100M", "200M"] as const) {
      const p = PRESETS[name];
      expect([p.vocabSize, p.seqLen, p.dModel / p.nHeads]).toEqual([32000, 512, 128]);
    }
  });

  test("the model's parameters: names, shapes, decay only on block linears, count = §7 convention", () => {
    using m = new LlamaModel(modelConfig("tiny", { recipe: "bf16" }));
    const ps = m.parameters();
    const byName = Object.fromEntries(ps.map((p) => [p.name, p]));
    expect(ps.map((p) => p.name)).toEqual([
      "embed",
      ...[0, 1].flatMap((l) => ["norm1", "qkv", "attn_out", "norm2", "up_gate", "down"].map((s) => `block${l}.${s}`)),
      "final_norm",
      "lm_head",
    ]);
    expect(byName["block0.qkv"]!.data.shape).toEqual([384, 128]);
    expect(byName["block1.up_gate"]!.data.shape).toEqual([768, 128]);
    expect(byName["block1.down"]!.data.shape).toEqual([128, 384]);
    expect(byName.lm_head!.data.shape).toEqual([256, 128]);
    for (const p of ps) expect(p.decay).toBe(/^block\d+\.(qkv|attn_out|up_gate|down)$/.test(p.name));
    const counted = ps.filter((p) => p.name !== "embed" && p.name !== "lm_head").reduce((a, p) => a + p.data.numel, 0);
    expect(m.nonEmbeddingParams()).toBe(counted);
  });
});

describe("initialization", () => {
  test("N(0, 0.02) linears and embedding, N(0, 0.02/sqrt(2L)) output projections, unit norms; seeded", () => {
    using m = new LlamaModel(modelConfig("tiny", { recipe: "bf16", initSeed: 7 }));
    const std = (a: Float32Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
    const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
    for (const p of m.parameters()) {
      const v = p.data.toFloat32Array();
      if (p.name.includes("norm")) expect(v.every((x) => x === 1)).toBe(true);
      else {
        const want = /attn_out|down/.test(p.name) ? 0.02 / Math.sqrt(4) : 0.02;
        expect(Math.abs(std(v) / want - 1)).toBeLessThan(6 / Math.sqrt(v.length)); // ~ 4 standard errors
        expect(Math.abs(mean(v))).toBeLessThan((6 * want) / Math.sqrt(v.length));
      }
      expect(p.grad.toFloat32Array().every((x) => x === 0)).toBe(true);
    }
    using same = new LlamaModel(modelConfig("tiny", { recipe: "bf16", initSeed: 7 }));
    using other = new LlamaModel(modelConfig("tiny", { recipe: "bf16", initSeed: 8 }));
    expect(same.parameters()[1 + 1]!.data.toBytes()).toEqual(m.parameters()[2]!.data.toBytes());
    expect(other.parameters()[2]!.data.toBytes()).not.toEqual(m.parameters()[2]!.data.toBytes());
  });
});

describe("loss and gradients against float64", () => {
  const cfg = smallConfig("bf16");
  const ref = { ...cfg, batch: cfg.batchSize };
  const T = cfg.batchSize * cfg.seqLen;
  const { tokens, targets } = batch(T, cfg.vocabSize);

  test("the float64 reference passes central differences (so it is a valid yardstick)", () => {
    using m = new LlamaModel(cfg);
    const P = params64(m);
    const { grads } = referenceStep(ref, P, tokens, targets, true);
    for (const name of ["embed", "block0.qkv", "block1.norm2", "lm_head"]) {
      const g = grads![name]!;
      const u = g.map((_, i) => Math.sin(1 + i * 0.7)); // a fixed dense direction
      const e = 1e-5;
      const at = (s: number) => referenceStep(ref, { ...P, [name]: P[name]!.map((v, i) => v + s * e * u[i]!) }, tokens, targets, false).loss;
      const fd = (at(1) - at(-1)) / (2 * e);
      let an = 0;
      for (let i = 0; i < g.length; ++i) an += g[i]! * u[i]!;
      expect(Math.abs(fd - an) / Math.abs(an)).toBeLessThan(1e-5);
    }
  });

  test("recipe bf16: loss within 1e-3 and every gradient within 3% (L2) of float64", () => {
    using m = new LlamaModel(cfg);
    const st = m.trainStep(tokens, targets, { seed: 1, step: 0 });
    const r = referenceStep(ref, params64(m), tokens, targets, true);
    expect(Math.abs(st.loss - r.loss)).toBeLessThan(1e-3);
    expect(Math.abs(st.loss - Math.log(cfg.vocabSize))).toBeLessThan(0.05); // at init: uniform predictions
    for (const p of m.parameters()) {
      const c = compare(p.grad.toFloat32Array(), r.grads![p.name]!);
      expect({ name: p.name, ok: c.rel < 0.03 }).toEqual({ name: p.name, ok: true });
    }
    // gradients accumulate over calls until zeroGrad
    const g1 = m.parameters()[2]!.grad.toFloat32Array();
    m.trainStep(tokens, targets, { seed: 1, step: 0 });
    const g2 = m.parameters()[2]!.grad.toFloat32Array();
    for (let i = 0; i < g1.length; i += 101) expect(g2[i]).toBe(Math.fround(g1[i]! + g1[i]!));
    m.zeroGrad();
    expect(m.parameters()[2]!.grad.toFloat32Array().every((x) => x === 0)).toBe(true);
  });

  test("quantized recipes: gradients stay aligned with float64 (cosine > 0.75 for every parameter)", () => {
    for (const recipe of ["quartet2", "nvidia"] as const) {
      using m = new LlamaModel(smallConfig(recipe));
      m.trainStep(tokens, targets, { seed: 3, step: 0 });
      const r = referenceStep(ref, params64(m), tokens, targets, true);
      for (const p of m.parameters()) {
        const c = compare(p.grad.toFloat32Array(), r.grads![p.name]!);
        expect({ recipe, name: p.name, ok: c.cos > 0.75 }).toEqual({ recipe, name: p.name, ok: true });
      }
    }
  });
});

describe("training and inference", () => {
  const text = new TextEncoder().encode("the quick brown fox jumps over the lazy dog. ".repeat(12));
  const cfg = modelConfig("tiny", { batchSize: 1, initSeed: 11 });
  const T = cfg.seqLen;
  const tokens = Int32Array.from(text.subarray(0, T)), targets = Int32Array.from(text.subarray(1, T + 1));

  for (const recipe of ["bf16", "quartet2"] as const) {
    test(`${recipe}: the loss falls over a few SGD steps on a repeated sentence`, () => {
      using m = new LlamaModel({ ...cfg, recipe });
      const losses: number[] = [];
      for (let s = 0; s < 16; ++s) {
        m.zeroGrad();
        losses.push(m.trainStep(tokens, targets, { seed: 2, step: s }).loss);
        sgd(m, 0.03);
      }
      expect(losses[0]!).toBeGreaterThan(5.4);
      expect(losses.at(-1)!).toBeLessThan(losses[0]! - 1.5);
      expect(m.evalLoss(tokens, targets)).toBeLessThan(losses[0]! - 1.5);
    });
  }

  test("evalLoss equals the training loss; lastLogits agrees with the loss at the last position", () => {
    using m = new LlamaModel({ ...cfg, recipe: "bf16" });
    const loss = m.trainStep(tokens, targets, { seed: 0, step: 0 }).loss;
    expect(m.evalLoss(tokens, targets)).toBe(loss);
    const z = m.lastLogits(tokens);
    expect(z.length).toBe(cfg.vocabSize);
    const mx = Math.max(...z);
    const lse = mx + Math.log(z.reduce((s, v) => s + Math.exp(v - mx), 0));
    const lastOnly = new Int32Array(T).fill(-1);
    lastOnly[T - 1] = targets[T - 1]!;
    expect(Math.abs(lse - z[targets[T - 1]!]! - m.evalLoss(tokens, lastOnly))).toBeLessThan(2e-2); // bf16 vs f32 logits
  });

  test("deterministic: same seed and key give identical losses and gradient bytes, at any thread count", () => {
    const run = (threads: number) => {
      setCpuThreads(threads);
      using m = new LlamaModel({ ...cfg, recipe: "quartet2" });
      const l = m.trainStep(tokens, targets, { seed: 9, step: 4 }).loss;
      return { l, g: m.parameters().map((p) => p.grad.toBytes()) };
    };
    const a = run(1), b = run(0);
    expect(b.l).toBe(a.l);
    for (let i = 0; i < a.g.length; ++i) expect(Buffer.compare(Buffer.from(a.g[i]!), Buffer.from(b.g[i]!))).toBe(0);
  });

  test("misuse is refused with clear errors", () => {
    expectQuartetError(() => new LlamaModel({ ...cfg, recipe: "bf16", nHeads: 3 }), "INVALID_ARGUMENT", ["nHeads", "divisor"]);
    expectQuartetError(() => new LlamaModel({ ...cfg, recipe: "bf16", device: "cuda", nHeads: 4 }), "INVALID_ARGUMENT", ["64 or 128"]);
    expectQuartetError(() => new LlamaModel({ ...cfg, recipe: "quartet2", seqLen: 48 }), "SHAPE", ["quartet_linear_create"]);
    const m = new LlamaModel({ ...cfg, recipe: "bf16" });
    expectQuartetError(() => m.trainStep(tokens.subarray(1), targets.subarray(1), { seed: 0, step: 0 }), "INVALID_ARGUMENT", ["tokens.length"]);
    const bad = Int32Array.from(tokens);
    bad[3] = 256;
    expectQuartetError(() => m.trainStep(bad, targets, { seed: 0, step: 0 }), "INVALID_ARGUMENT", ["tokens[3]"]);
    expectQuartetError(() => m.evalLoss(tokens, targets.subarray(1)), "INVALID_ARGUMENT", ["targets"]);
    m.dispose();
    m.dispose();
    expectQuartetError(() => m.trainStep(tokens, targets, { seed: 0, step: 0 }), "DISPOSED", ["dispose"]);
  });
});
