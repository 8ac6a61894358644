/**
 * GPU: the model ops of csrc/cuda/model_ops.cu and csrc/cuda/attention_flash.cu against the CPU backend, and
 * LlamaModel on the GPU against the same model on the CPU. Skipped without a CUDA device.
 *
 * Bounds:
 *  - embedding, RMSNorm, RoPE, SwiGLU, add, convert, cross-entropy: identical bytes. Both backends run the
 *    arithmetic of model_numerics.h (exp and log from + * / only; no FMA) in the same reduction orders.
 *  - attention (BF16): the GPU rounds P (forward) and P, dS (backward) to BF16 before the tensor-core products
 *    and uses exp2; the CPU keeps them in FP32. out: within 2^-7 of max|out| (about two BF16 ulps); lse:
 *    within 1e-4 absolute; dq, dk, dv: within 3% of each one's max magnitude. Run-to-run identical.
 *  - the model (bf16 recipe, tiny preset): losses within 1e-2, every gradient within 5% (L2) of the CPU's.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { deviceMemoryInUse, synchronize, Tensor } from "../../src/index.ts";
import { check, native } from "../../src/native/ffi.ts";
import { LlamaModel } from "../../src/model/llama.ts";
import * as ops from "../../src/model/ops.ts";
import { modelConfig } from "../../src/model/presets.ts";
import { gaussian } from "../helpers/random.ts";
import { gpuEnv } from "../helpers/gpu.ts";

setDefaultTimeout(120_000);

const gpu = gpuEnv("test/gpu/model_ops.test.ts").ok;
const gpuTest = gpu ? test : test.skip;

type Dev = "cpu" | "cuda";
const f = (v: Float32Array, shape: number[], device: Dev, dtype: "f32" | "bf16" = "f32") => Tensor.fromFloat32(v, shape, { dtype, device });
const ints = (v: Int32Array, device: Dev) => ops.int32Tensor(v, device);
const bytesEqual = (a: Tensor, b: Tensor) => expect(Buffer.compare(Buffer.from(a.toBytes()), Buffer.from(b.toBytes()))).toBe(0);

/** Runs `fn` on both devices; returns the tensors it names, per device. */
function both(fn: (d: Dev) => Record<string, Tensor>): { cpu: Record<string, Tensor>; cuda: Record<string, Tensor> } {
  return { cpu: fn("cpu"), cuda: fn("cuda") };
}

function maxAbs(a: Float32Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}
function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; ++i) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe("model ops: CUDA equals the CPU bytes", () => {
  gpuTest("embedding forward and backward (repeated ids, deterministic sums)", () => {
    const V = 1000, d = 320, n = 4096;
    const table = gaussian(V * d, 1), dout = gaussian(n * d, 2), init = gaussian(V * d, 3, 0.1);
    const ids = new Int32Array(n).map((_, i) => (i * i * 31 + 7) % (i % 5 === 0 ? 13 : V));
    const r = both((dev) => {
      const out = Tensor.empty([n, d], { dtype: "bf16", device: dev }), out32 = Tensor.empty([n, d], { device: dev });
      ops.embeddingForward({ tokens: ints(ids, dev), table: f(table, [V, d], dev), out });
      ops.embeddingForward({ tokens: ints(ids, dev), table: f(table, [V, d], dev), out: out32 });
      const dtable = f(init, [V, d], dev);
      ops.embeddingBackward({ tokens: ints(ids, dev), dout: f(dout, [n, d], dev, "bf16"), dtable });
      return { out, out32, dtable };
    });
    for (const k of ["out", "out32", "dtable"]) bytesEqual(r.cpu[k]!, r.cuda[k]!);
  });

  gpuTest("RMSNorm forward (y, rstd) and backward (dx written and accumulated, dweight)", () => {
    for (const [rows, d] of [[1000, 640], [257, 100]] as const) {
      const x = gaussian(rows * d, 10, 2), w = gaussian(d, 11, 0.2).map((v) => 1 + v), dy = gaussian(rows * d, 12), acc = gaussian(rows * d, 13);
      const r = both((dev) => {
        const y = Tensor.empty([rows, d], { dtype: "bf16", device: dev }), rstd = Tensor.empty([rows], { device: dev });
        const xt = f(x, [rows, d], dev), wt = f(w, [d], dev);
        ops.rmsnormForward({ x: xt, weight: wt, y, rstd });
        const dx = f(acc, [rows, d], dev), dxb = Tensor.empty([rows, d], { dtype: "bf16", device: dev });
        const dweight = f(w, [d], dev), scratch = Tensor.empty([ops.rmsnormScratchElems(rows, d)], { device: dev });
        ops.rmsnormBackward({ x: xt, weight: wt, rstd, dy: f(dy, [rows, d], dev, "bf16"), dx, accumulate: true, dweight, scratch });
        ops.rmsnormBackward({ x: xt, weight: wt, rstd, dy: f(dy, [rows, d], dev), dx: dxb, dweight, scratch });
        return { y, rstd, dx, dxb, dweight };
      });
      for (const k of ["y", "rstd", "dx", "dxb", "dweight"]) bytesEqual(r.cpu[k]!, r.cuda[k]!);
    }
  });

  gpuTest("RoPE on a fused QKV buffer, SwiGLU, add, convert", () => {
    const S = 96, B = 3, H = 5, hd = 128, D = H * hd, T = B * S, Hm = 1792;
    const qkv = gaussian(T * 3 * D, 20), gu = gaussian(T * 2 * Hm, 21, 3), dh = gaussian(T * Hm, 22);
    const { cos, sin } = ops.ropeTable(S, hd);
    const r = both((dev) => {
      const x = f(qkv, [T, 3 * D], dev, "bf16");
      const rope = { heads: 2 * H, headDim: hd, seqLen: S, cos: f(cos, [cos.length], dev), sin: f(sin, [sin.length], dev) };
      ops.ropeForward({ x, ...rope });
      const xb = f(qkv, [T, 3 * D], dev);
      ops.ropeBackward({ x: xb, ...rope });
      const g = f(gu, [T, 2 * Hm], dev, "bf16"), h = Tensor.empty([T, Hm], { dtype: "bf16", device: dev });
      ops.swigluForward({ gu: g, h });
      const dgu = Tensor.empty([T, 2 * Hm], { dtype: "bf16", device: dev });
      ops.swigluBackward({ gu: g, dh: f(dh, [T, Hm], dev, "bf16"), dgu });
      const y = f(dh, [T, Hm], dev);
      ops.addInto(y, h);
      const c = Tensor.empty([T, Hm], { dtype: "bf16", device: dev });
      ops.convertInto(c, y);
      return { x, xb, h, dgu, y, c };
    });
    for (const k of ["x", "xb", "h", "dgu", "y", "c"]) bytesEqual(r.cpu[k]!, r.cuda[k]!);
  });

  gpuTest("cross-entropy (bf16 and f32 logits, ignored rows)", () => {
    const rows = 300, V = 32000;
    const z = gaussian(rows * V, 30, 3);
    const t = new Int32Array(rows).map((_, i) => (i % 17 === 0 ? -1 : (i * 7919) % V));
    for (const dtype of ["f32", "bf16"] as const) {
      const r = both((dev) => {
        const logits = f(z, [rows, V], dev, dtype), losses = Tensor.empty([rows], { device: dev });
        ops.crossEntropy({ logits, targets: ints(t, dev), losses, gradScale: 1 / 283, computeGrad: true });
        return { logits, losses };
      });
      bytesEqual(r.cpu.losses!, r.cuda.losses!);
      bytesEqual(r.cpu.logits!, r.cuda.logits!);
    }
  });

  gpuTest("bad token ids and targets are reported by the next synchronizing call", () => {
    const ids = new Int32Array(64).fill(3);
    ids[9] = 1000;
    const out = Tensor.empty([64, 64], { device: "cuda" });
    ops.embeddingForward({ tokens: ints(ids, "cuda"), table: Tensor.zeros([100, 64], { device: "cuda" }), out });
    expect(() => synchronize("cuda")).toThrow();
    synchronize("cuda");
    const t = new Int32Array(8).fill(200);
    ops.crossEntropy({ logits: Tensor.zeros([8, 100], { device: "cuda" }), targets: ints(t, "cuda"), losses: Tensor.empty([8], { device: "cuda" }) });
    expect(() => synchronize("cuda")).toThrow();
    synchronize("cuda");
  });
});

describe("flash attention: CUDA against the CPU reference", () => {
  for (const [B, S, H, hd] of [[2, 200, 3, 64], [2, 512, 5, 128], [1, 64, 1, 128], [3, 70, 2, 128]] as const) {
    gpuTest(`B=${B} S=${S} H=${H} hd=${hd}: out, lse, dq, dk, dv within the stated bounds; deterministic`, () => {
      const T = B * S, D = H * hd;
      const qkv = gaussian(T * 3 * D, 40 + S, 1.5), dout = gaussian(T * D, 41 + S);
      const shape = { batch: B, seq: S, heads: H, headDim: hd };
      const run = (dev: Dev) => {
        const q = f(qkv, [T, 3 * D], dev, "bf16"), out = Tensor.empty([T, D], { dtype: "bf16", device: dev });
        const lse = Tensor.empty([B * H * S], { device: dev }), dqkv = Tensor.empty([T, 3 * D], { dtype: "bf16", device: dev });
        ops.attentionForward({ qkv: q, out, lse, ...shape });
        ops.attentionBackward({ qkv: q, out, dout: f(dout, [T, D], dev, "bf16"), lse, dqkv, delta: Tensor.empty([B * H * S], { device: dev }), ...shape });
        return { out: out.toFloat32Array(), lse: lse.toFloat32Array(), dqkv: dqkv.toFloat32Array(), bytes: [out.toBytes(), dqkv.toBytes()] };
      };
      const c = run("cpu"), g = run("cuda"), g2 = run("cuda");
      expect(maxDiff(g.out, c.out)).toBeLessThan(2 ** -7 * maxAbs(c.out));
      expect(maxDiff(g.lse, c.lse)).toBeLessThan(1e-4 * Math.max(1, maxAbs(c.lse)));
      for (let part = 0; part < 3; ++part) {
        const pick = (x: Float32Array) => {
          const o = new Float32Array(T * D);
          for (let t = 0; t < T; ++t) o.set(x.subarray(t * 3 * D + part * D, t * 3 * D + part * D + D), t * D);
          return o;
        };
        const cp = pick(c.dqkv), gp = pick(g.dqkv);
        expect({ part, err: maxDiff(gp, cp) / maxAbs(cp) < 0.03 }).toEqual({ part, err: true });
      }
      for (let i = 0; i < 2; ++i) expect(Buffer.compare(Buffer.from(g.bytes[i]!), Buffer.from(g2.bytes[i]!))).toBe(0);
    });
  }
});

describe("LlamaModel on the GPU", () => {
  gpuTest("tiny preset, recipe bf16: loss and gradients match the CPU model; no device memory grows per step", () => {
    const text = new TextEncoder().encode("the quick brown fox jumps over the lazy dog. ".repeat(30));
    const cfg = modelConfig("tiny", { recipe: "bf16", batchSize: 2, initSeed: 4 });
    const T = cfg.batchSize * cfg.seqLen;
    const tokens = Int32Array.from(text.subarray(0, T)), targets = Int32Array.from(text.subarray(1, T + 1));
    const cpu = new LlamaModel(cfg), cuda = new LlamaModel({ ...cfg, device: "cuda" });
    const lc = cpu.trainStep(tokens, targets, { seed: 1, step: 0 }).loss;
    const lg = cuda.trainStep(tokens, targets, { seed: 1, step: 0 }).loss;
    expect(Math.abs(lc - lg)).toBeLessThan(1e-2);
    const pc = cpu.parameters(), pg = cuda.parameters();
    for (let i = 0; i < pc.length; ++i) {
      const a = pc[i]!.grad.toFloat32Array(), b = pg[i]!.grad.toFloat32Array();
      let e = 0, n = 0;
      for (let k = 0; k < a.length; ++k) {
        e += (a[k]! - b[k]!) ** 2;
        n += a[k]! ** 2;
      }
      expect({ name: pc[i]!.name, ok: Math.sqrt(e / n) < 0.05 }).toEqual({ name: pc[i]!.name, ok: true });
    }
    const before = deviceMemoryInUse();
    for (let s = 1; s < 4; ++s) cuda.trainStep(tokens, targets, { seed: 1, step: s });
    const after = deviceMemoryInUse();
    // QuartetLinear.forward may hold a few bytes per call until GC; the model's own buffers must not grow
    expect(after.bytes - before.bytes).toBeLessThan(4 * 1024);
    // inference paths: evalLoss and the last position's logits (strided rows of the LM head input)
    for (const p of pg) check(native().quartet_memcpy(1, p.data.handle, 0, pc[pg.indexOf(p)]!.data.toBytes(), p.data.byteLength));
    expect(Math.abs(cuda.evalLoss(tokens, targets) - cpu.evalLoss(tokens, targets))).toBeLessThan(1e-2);
    const zc = cpu.lastLogits(tokens), zg = cuda.lastLogits(tokens);
    expect(zg.length).toBe(cfg.batchSize * cfg.vocabSize);
    expect(maxDiff(zg, zc)).toBeLessThan(3e-2 * Math.max(1, maxAbs(zc)));
    cpu.dispose();
    cuda.dispose();
    check(native().quartet_sync(1));
  });
});
