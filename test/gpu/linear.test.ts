/** The linear layers on the GPU agree with the CPU engine: every quantized operand is the same bytes on both
 * backends (the quantizers are bit-exact), and each output is within the FP32-accumulation bound of the
 * float64 GEMM of those operands. Skips without a CUDA device. */
import { describe, expect, test } from "bun:test";
import { dequantize, QuartetLinear, Tensor, type Recipe } from "../../src/index.ts";
import { gaussian } from "../helpers/random.ts";
import { gpuEnv } from "../helpers/gpu.ts";

const HAVE_CUDA = gpuEnv("test/gpu/linear.test.ts").ok;

const U = 2 ** -24;
const T = 256, K = 384, N = 256;

function gemmNT(a: Float32Array, b: Float32Array, M: number, Nn: number, Kk: number) {
  const c = new Float64Array(M * Nn), abs = new Float64Array(M * Nn);
  for (let m = 0; m < M; ++m)
    for (let n = 0; n < Nn; ++n) {
      let s = 0, t = 0;
      for (let k = 0; k < Kk; ++k) {
        const p = a[m * Kk + k]! * b[n * Kk + k]!;
        s += p;
        t += Math.abs(p);
      }
      c[m * Nn + n] = s;
      abs[m * Nn + n] = t;
    }
  return { c, abs };
}

describe.skipIf(!HAVE_CUDA)("linear: CUDA == CPU", () => {
  for (const recipe of ["quartet2", "nvidia", "tetrajet2", "quartet1", "bf16"] as Recipe[]) {
    test(recipe, () => {
      const xs = gaussian(T * K, 1), ws = gaussian(N * K, 2, 0.02), es = gaussian(T * N, 3);
      const run = (device: "cpu" | "cuda") => {
        const x = Tensor.fromFloat32(xs, [T, K], { dtype: "bf16", device });
        const w = Tensor.fromFloat32(ws, [N, K], { device });
        const e = Tensor.fromFloat32(es, [T, N], { dtype: "bf16", device });
        const L = new QuartetLinear({ recipe, inFeatures: K, outFeatures: N, maxTokens: T, device, layer: 2 });
        const y = L.forward(x, w, { seed: 9, step: 4 });
        const dw = Tensor.zeros([N, K], { device });
        const dx = L.backward(e, w, dw, { seed: 9, step: 4 })!;
        const ops: Record<string, { codes: Uint8Array; scales: Uint8Array; g: number; deq: Float32Array; shape: readonly number[] }> = {};
        if (recipe !== "bf16") {
          for (const which of ["X", "W", "E", "WT", "ET", "XT"] as const) {
            using q = L.operand(which);
            using d = dequantize(q);
            ops[which] = { codes: q.codes.toBytes(), scales: q.scales.toBytes(), g: q.tensorScaleValue(), deq: d.toFloat32Array(), shape: q.shape };
          }
        }
        const out = { y: y.toFloat32Array(), dx: dx.toFloat32Array(), dw: dw.toFloat32Array(), ops };
        for (const t of [x, w, e, y, dw, dx]) t.dispose();
        L.dispose();
        return out;
      };
      const cpu = run("cpu"), gpu = run("cuda");
      for (const which of Object.keys(cpu.ops)) {
        const a = cpu.ops[which]!, b = gpu.ops[which]!;
        expect(Buffer.compare(Buffer.from(a.codes), Buffer.from(b.codes))).toBe(0);
        expect(Buffer.compare(Buffer.from(a.scales), Buffer.from(b.scales))).toBe(0);
        expect(b.g).toBe(a.g);
      }
      if (recipe === "bf16" || recipe === "quartet1") {
        // dense BF16 GEMMs (or the masked inverse Hadamard): the two backends differ only in summation order
        for (const [name, bound] of [["y", 2 ** -7], ["dx", 2 ** -6], ["dw", 1e-4]] as const) {
          const a = cpu[name], b = gpu[name];
          let num = 0, den = 0;
          for (let i = 0; i < a.length; ++i) { num += (a[i]! - b[i]!) ** 2; den += a[i]! ** 2; }
          expect(Math.sqrt(num / den)).toBeLessThan(bound);
        }
        return;
      }
      // y = X W^T from the (identical) operands: within gamma_K sum|ab| + bf16 rounding of the GPU output
      const { c, abs } = gemmNT(gpu.ops.X!.deq, gpu.ops.W!.deq, T, N, K);
      const g = (K * U) / (1 - K * U);
      for (let i = 0; i < c.length; ++i) {
        const bound = g * abs[i]! * 1.001 + Math.abs(c[i]!) * 2 ** -8 + 1e-30;
        if (!(Math.abs(gpu.y[i]! - c[i]!) <= bound)) throw new Error(`${recipe}: y[${i}] = ${gpu.y[i]} vs ${c[i]}`);
      }
      // dW = E'' X''^T (NVIDIA and others: alpha 1)
      const dw = gemmNT(gpu.ops.ET!.deq, gpu.ops.XT!.deq, N, K, T);
      const gT = (T * U) / (1 - T * U);
      for (let i = 0; i < dw.c.length; ++i) {
        const bound = gT * dw.abs[i]! * 1.001 + 1e-30;
        if (!(Math.abs(gpu.dw[i]! - dw.c[i]!) <= bound)) throw new Error(`${recipe}: dw[${i}] = ${gpu.dw[i]} vs ${dw.c[i]}`);
      }
    });
  }
});

describe.skipIf(!HAVE_CUDA)("linear: delayed abs-max state on CUDA", () => {
  test("CUDA and CPU keep the same state, and a restored CUDA layer continues like the CPU one", () => {
    const t = 128, k = 128, n = 128;
    const xs = gaussian(t * k, 61), ws = gaussian(n * k, 62, 0.05);
    const es = [0, 1, 2].map((s) => gaussian(t * n, 63 + s, 1 + s));
    const opts = { recipe: "quartet2" as const, inFeatures: k, outFeatures: n, maxTokens: t, edenVariant: "A" as const, delayedAmax: true };
    const make = (device: "cpu" | "cuda") => ({
      x: Tensor.fromFloat32(xs, [t, k], { dtype: "bf16", device }),
      w: Tensor.fromFloat32(ws, [n, k], { device }),
      e: es.map((v) => Tensor.fromFloat32(v, [t, n], { dtype: "bf16", device })),
      dw: Tensor.zeros([n, k], { device }),
      L: new QuartetLinear({ ...opts, device }),
    });
    const cpu = make("cpu"), gpu = make("cuda");
    for (const side of [cpu, gpu])
      for (let s = 0; s < 2; ++s) {
        side.L.forward(side.x, side.w, { seed: 7, step: s }).dispose();
        side.L.backward(side.e[s]!, side.w, side.dw, { seed: 7, step: s })!.dispose();
      }
    const state = gpu.L.amaxState();
    expect(state).toEqual(cpu.L.amaxState());
    const restored = new QuartetLinear({ ...opts, device: "cuda" });
    restored.setAmaxState(state);
    expect(restored.amaxState()).toEqual(state);
    const et = (L: QuartetLinear, side: ReturnType<typeof make>) => {
      L.forward(side.x, side.w, { seed: 7, step: 2 }).dispose();
      L.backward(side.e[2]!, side.w, side.dw, { seed: 7, step: 2 })!.dispose();
      using q = L.operand("ET");
      return q.codes.toBytes();
    };
    expect(Buffer.compare(Buffer.from(et(restored, gpu)), Buffer.from(et(cpu.L, cpu)))).toBe(0);
    for (const side of [cpu, gpu]) {
      side.L.dispose();
      for (const x of [side.x, side.w, side.dw, ...side.e]) x.dispose();
    }
    restored.dispose();
  });
});
