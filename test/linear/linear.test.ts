/** The linear layers of numerics.md §6 on the CPU backend: the forward equals the GEMM of its dequantized
 * operands, the backward's gradient quality orders the recipes as §9 predicts, Quartet II's backward is
 * unbiased (and the detector fires on a biased ablation), and bad configurations are refused. */
import { describe, expect, test } from "bun:test";
import { dequantize, quantize, QuartetLinear, RECIPES, recipeFor, rht, Tensor, type Recipe } from "../../src/index.ts";
import { gaussian } from "../helpers/random.ts";
import { expectQuartetError } from "../helpers/quartet.ts";

const U = 2 ** -24;
const gammaK = (k: number) => (k * U) / (1 - k * U);

/** float64 C[M, N] = A[M, K] B[N, K]^T and the matching sum |a||b| (for the rounding bound). */
function gemmNT(a: Float32Array, b: Float32Array, M: number, N: number, K: number) {
  const c = new Float64Array(M * N), abs = new Float64Array(M * N);
  for (let m = 0; m < M; ++m)
    for (let n = 0; n < N; ++n) {
      let s = 0, t = 0;
      for (let k = 0; k < K; ++k) {
        const p = a[m * K + k]! * b[n * K + k]!;
        s += p;
        t += Math.abs(p);
      }
      c[m * N + n] = s;
      abs[m * N + n] = t;
    }
  return { c, abs };
}
/** float64 C[M, N] = A[K, M]^T B[K, N]. */
function gemmTN(a: Float32Array, b: Float32Array, M: number, N: number, K: number): Float64Array {
  const c = new Float64Array(M * N);
  for (let k = 0; k < K; ++k)
    for (let m = 0; m < M; ++m) {
      const av = a[k * M + m]!;
      if (av === 0) continue;
      for (let n = 0; n < N; ++n) c[m * N + n]! += av * b[k * N + n]!;
    }
  return c;
}
function transpose(x: Float32Array, R: number, C: number): Float32Array {
  const t = new Float32Array(R * C);
  for (let r = 0; r < R; ++r) for (let c = 0; c < C; ++c) t[c * R + r] = x[r * C + c]!;
  return t;
}
function relErr(x: ArrayLike<number>, ref: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; ++i) {
    num += (x[i]! - ref[i]!) ** 2;
    den += ref[i]! ** 2;
  }
  return num / den;
}
/** Heavy-tailed data: a Gaussian scale mixture (log-normal scales, sigma 1.5), rounded to float32. */
function heavyTailed(n: number, seed: number): Float32Array {
  const g = gaussian(n, seed), s = gaussian(n, seed + 1000);
  return g.map((v, i) => v * Math.exp(1.5 * s[i]!));
}

const T = 256, K = 256, N = 256;

function setup(kind: "gaussian" | "heavy", seed: number) {
  const gen = kind === "gaussian" ? (n: number, s: number) => gaussian(n, s) : heavyTailed;
  return {
    x: Tensor.fromFloat32(gen(T * K, seed), [T, K], { dtype: "bf16" }),
    w: Tensor.fromFloat32(gaussian(N * K, seed + 1, 0.02), [N, K]),
    e: Tensor.fromFloat32(gen(T * N, seed + 2), [T, N], { dtype: "bf16" }),
  };
}

/** Relative MSE of dX and dW against the exact gradient of the quantized forward (straight-through):
 * dX* = E deq(Wq), dW* = E^T deq(Xq). */
function gradientError(recipe: Recipe, kind: "gaussian" | "heavy") {
  const { x, w, e } = setup(kind, 7);
  using L = new QuartetLinear({ recipe, inFeatures: K, outFeatures: N, maxTokens: T, layer: 3 });
  L.forward(x, w, { seed: 11, step: 5 }).dispose();
  using dw = Tensor.zeros([N, K]);
  using dx = L.backward(e, w, dw, { seed: 11, step: 5 })!;
  using xq = L.operand("X");
  using wq = L.operand("W");
  using xh = dequantize(xq);
  using wh = dequantize(wq);
  const ef = e.toFloat32Array();
  const dxRef = gemmTN(transpose(ef, T, N), wh.toFloat32Array(), T, K, N);
  const dwRef = gemmTN(ef, xh.toFloat32Array(), N, K, T);
  return { dx: relErr(dx.toFloat32Array(), dxRef), dw: relErr(dw.toFloat32Array(), dwRef) };
}

describe("forward = GEMM of the dequantized operands", () => {
  for (const recipe of ["quartet2", "nvidia", "tetrajet2"] as const) {
    test(recipe, () => {
      const { x, w } = setup("gaussian", 1);
      using L = new QuartetLinear({ recipe, inFeatures: K, outFeatures: N, maxTokens: T });
      using y = L.forward(x, w, { seed: 1, step: 0 });
      using xq = L.operand("X");
      using wq = L.operand("W");
      // The forward quantizes X and W exactly as quantize() does (same bytes).
      const method = recipe === "quartet2" ? "4/6" : "rtn";
      using xq2 = quantize(x, { rounding: method, tag: (0 << 8) | 5 });
      expect(Buffer.compare(xq.codes.toBytes(), xq2.codes.toBytes())).toBe(0);
      expect(Buffer.compare(xq.scales.toBytes(), xq2.scales.toBytes())).toBe(0);
      using xh = dequantize(xq);
      using wh = dequantize(wq);
      const { c, abs } = gemmNT(xh.toFloat32Array(), wh.toFloat32Array(), T, N, K);
      const yf = y.toFloat32Array();
      // |y - y64| <= gamma_K sum|a b| (FP32 accumulation; the tensor scales multiply once) + bf16 rounding of y
      const g = gammaK(K);
      for (let i = 0; i < c.length; ++i) {
        const bound = g * abs[i]! * 1.0001 + Math.abs(c[i]!) * 2 ** -8 + 1e-30;
        if (!(Math.abs(yf[i]! - c[i]!) <= bound)) throw new Error(`y[${i}] = ${yf[i]} vs ${c[i]} (bound ${bound})`);
      }
    });
  }

  test("bf16 recipe is the BF16 GEMM", () => {
    const { x, w } = setup("gaussian", 2);
    using L = new QuartetLinear({ recipe: "bf16", inFeatures: K, outFeatures: N, maxTokens: T });
    using y = L.forward(x, w, { seed: 1, step: 0 });
    using wb = Tensor.fromFloat32(w.toFloat32Array(), [N, K], { dtype: "bf16" });
    const { c, abs } = gemmNT(x.toFloat32Array(), wb.toFloat32Array(), T, N, K);
    const yf = y.toFloat32Array();
    for (let i = 0; i < c.length; ++i) expect(Math.abs(yf[i]! - c[i]!)).toBeLessThanOrEqual(gammaK(K) * abs[i]! + Math.abs(c[i]!) * 2 ** -8 + 1e-30);
  });
});

describe("gradient quality (relative MSE vs the exact gradient of the quantized forward)", () => {
  for (const kind of ["gaussian", "heavy"] as const) {
    test(`${kind}: Quartet II < NVIDIA (SR) < TetraJet-v2 (SR on all four operands)`, () => {
      const q2 = gradientError("quartet2", kind);
      const nv = gradientError("nvidia", kind);
      const tj = gradientError("tetrajet2", kind);
      console.log(`[${kind}] dX relMSE quartet2 ${q2.dx.toExponential(3)} nvidia ${nv.dx.toExponential(3)} tetrajet2 ${tj.dx.toExponential(3)}; ` +
        `dW quartet2 ${q2.dw.toExponential(3)} nvidia ${nv.dw.toExponential(3)} tetrajet2 ${tj.dw.toExponential(3)}`);
      // §9.1: one MS-EDEN operand costs ~9.4e-3, one SR operand ~23.5e-3; a GEMM of two independently
      // quantized operands adds their errors. Quartet II (two MS-EDEN operands) must beat both SR recipes.
      expect(q2.dx).toBeLessThan(nv.dx);
      expect(q2.dx).toBeLessThan(tj.dx);
      expect(q2.dw).toBeLessThan(nv.dw);
      expect(q2.dw).toBeLessThan(tj.dw);
      expect(nv.dx).toBeLessThan(tj.dx);
      if (kind === "gaussian") {
        // Gaussian data: two MS-EDEN operands ~ 2 x 9.37e-3 (§9.2 measured 1.78e-2 at the GEMM level)
        expect(q2.dx).toBeGreaterThan(1.78e-2 * 0.7);
        expect(q2.dx).toBeLessThan(1.78e-2 * 1.4);
        // two SR operands ~ 2 x 23.5e-3
        expect(tj.dw).toBeGreaterThan(2 * 23.5e-3 * 0.7);
        expect(tj.dw).toBeLessThan(2 * 23.5e-3 * 1.4);
      }
    });
  }
});

describe("unbiasedness of the backward (B independent backward calls)", () => {
  const t = 128, k = 128, n = 128;
  function ratio(opts: { rtnBackward?: boolean }, B: number) {
    const x = Tensor.fromFloat32(gaussian(t * k, 21), [t, k], { dtype: "bf16" });
    const w = Tensor.fromFloat32(gaussian(n * k, 22, 0.05), [n, k]);
    const e = Tensor.fromFloat32(gaussian(t * n, 23), [t, n], { dtype: "bf16" });
    using L = new QuartetLinear({ recipe: "quartet2", inFeatures: k, outFeatures: n, maxTokens: t, ...opts });
    L.forward(x, w, { seed: 3, step: 0 }).dispose();
    using xq = L.operand("X");
    using xh = dequantize(xq);
    const ref = gemmTN(e.toFloat32Array(), xh.toFloat32Array(), n, k, t);
    const mean = new Float64Array(n * k);
    using dw = Tensor.zeros([n, k]);
    let t1 = 0;
    for (let b = 0; b < B; ++b) {
      // a new step draws new RHT signs and new SR draws (numerics.md §2)
      L.backward(e, w, dw, { seed: 3, step: 1000 + b, dx: false });
      const d = dw.toFloat32Array();
      t1 += relErr(d, ref);
      for (let i = 0; i < d.length; ++i) mean[i]! += d[i]! / B;
    }
    t1 /= B;
    const tB = relErr(mean, ref);
    return { ratio: (B * tB) / t1, t1, tB };
  }
  // For an unbiased estimator E[T_B] = T_1 / B. The ratio's spread is ~sqrt(2 / 16384) plus the spread of T_1,
  // far inside [0.8, 1.25] (numerics.md §9.3).
  test("Quartet II (MS-EDEN B): B * T_B / T_1 in [0.8, 1.25] at B = 256", () => {
    const r = ratio({}, 256);
    console.log(`quartet2 B=256: T_1 ${r.t1.toExponential(3)} T_B ${r.tB.toExponential(3)} ratio ${r.ratio.toFixed(3)}`);
    expect(r.ratio).toBeGreaterThan(0.8);
    expect(r.ratio).toBeLessThan(1.25);
  });
  test("detector fires: RTN after the RHT (no EDEN correction) is biased", () => {
    const r = ratio({ rtnBackward: true }, 256);
    console.log(`quartet2 + RTN backward B=256: ratio ${r.ratio.toFixed(2)}`);
    expect(r.ratio).toBeGreaterThan(1.25);
  });
});

describe("Quartet (v1) forward: QuEST as coded", () => {
  test("forward MSE on N(0,1) (numerics.md §9.1 discrepancy)", () => {
    const x = Tensor.fromFloat32(gaussian(512 * 512, 31), [512, 512]);
    using q = quantize(x, { format: "mxfp4", rounding: "quest" });
    using xh = dequantize(q);
    using hx = rht(x, { dim: 32 }); // the fixed Hadamard-32 of QuEST (all signs +1)
    const err = relErr(xh.toFloat32Array(), hx.toFloat32Array());
    console.log(`QuEST (floor-pow2 scale, as coded in the reference and qutlass) relMSE = ${err.toExponential(3)}; paper: 13.2e-3`);
    // We implement the floor rule as coded: 27.0e-3 [M], not the paper's 13.2e-3.
    expect(err).toBeGreaterThan(27.0e-3 * 0.97);
    expect(err).toBeLessThan(27.0e-3 * 1.03);
  });
});

describe("configuration errors", () => {
  test("bad options name the option", () => {
    expectQuartetError(() => new QuartetLinear({ recipe: "fp8" as Recipe, inFeatures: 128, outFeatures: 128, maxTokens: 128 }), "INVALID_ARGUMENT", ["recipe"]);
    expectQuartetError(() => new QuartetLinear({ inFeatures: 0, outFeatures: 128, maxTokens: 128 }), "INVALID_ARGUMENT", ["inFeatures"]);
    expectQuartetError(() => new QuartetLinear({ inFeatures: 128, outFeatures: 128, maxTokens: 128, delayedAmax: true }), "INVALID_ARGUMENT", ["delayedAmax"]);
  });
  test("shapes the Hadamard cannot rotate are refused in C", () => {
    expectQuartetError(() => new QuartetLinear({ recipe: "quartet2", inFeatures: 128, outFeatures: 96, maxTokens: 128 }), "SHAPE", ["out_features", "128"]);
    expectQuartetError(() => new QuartetLinear({ recipe: "quartet2", inFeatures: 128, outFeatures: 128, maxTokens: 100 }), "SHAPE", ["max_tokens"]);
  });
  test("use after dispose and backward before forward", () => {
    const L = new QuartetLinear({ inFeatures: 128, outFeatures: 128, maxTokens: 128 });
    using w = Tensor.zeros([128, 128]);
    using e = Tensor.zeros([128, 128], { dtype: "bf16" });
    using dw = Tensor.zeros([128, 128]);
    expectQuartetError(() => L.backward(e, w, dw, { seed: 0, step: 0 }), "INVALID_ARGUMENT", ["forward"]);
    L.dispose();
    expectQuartetError(() => L.savedBytes, "DISPOSED", ["dispose"]);
  });
  test("saved bytes: Quartet II keeps 4.5 bits per element of X and W", () => {
    using L = new QuartetLinear({ inFeatures: 1024, outFeatures: 512, maxTokens: 2048 });
    const expected = ((2048 * 1024 + 512 * 1024) * 4.5) / 8;
    expect(Math.abs(L.savedBytes - expected)).toBeLessThanOrEqual(16); // + the two 4-byte tensor scales
    using B = new QuartetLinear({ recipe: "bf16", inFeatures: 1024, outFeatures: 512, maxTokens: 2048 });
    expect(B.savedBytes).toBe((2048 * 1024 + 512 * 1024) * 2);
  });
  test("precision policy keeps the first and last block in BF16", () => {
    const p = { recipe: "quartet2" as const, bf16Blocks: [0, -1], overrides: { "block2.down": "nvidia" as const } };
    expect(recipeFor(p, 0, 6, "block0.qkv")).toBe("bf16");
    expect(recipeFor(p, 5, 6, "block5.up")).toBe("bf16");
    expect(recipeFor(p, 2, 6, "block2.down")).toBe("nvidia");
    expect(recipeFor(p, 3, 6, "block3.o")).toBe("quartet2");
  });
});

test("every recipe runs forward and backward", () => {
  for (const recipe of RECIPES) {
    const { x, w, e } = setup("gaussian", 9);
    using L = new QuartetLinear({ recipe, inFeatures: K, outFeatures: N, maxTokens: T });
    using y = L.forward(x, w, { seed: 1, step: 1 });
    using dw = Tensor.zeros([N, K]);
    using dx = L.backward(e, w, dw, { seed: 1, step: 1 })!;
    for (const v of dx.toFloat32Array()) if (!Number.isFinite(v)) throw new Error(`${recipe}: non-finite dX`);
    expect(y.shape).toEqual([T, N]);
  }
});

describe("delayed abs-max state (MS-EDEN A, §5.11) survives a checkpoint", () => {
  test("restoring the state gives the same backward bytes as an uninterrupted layer", () => {
    const t = 128, k = 128, n = 128;
    const x = Tensor.fromFloat32(gaussian(t * k, 41), [t, k], { dtype: "bf16" });
    const w = Tensor.fromFloat32(gaussian(n * k, 42, 0.05), [n, k]);
    const e = (s: number) => Tensor.fromFloat32(gaussian(t * n, 43 + s, 1 + s), [t, n], { dtype: "bf16" });
    const opts = { recipe: "quartet2" as const, inFeatures: k, outFeatures: n, maxTokens: t, edenVariant: "A" as const, delayedAmax: true };
    using a = new QuartetLinear(opts);
    expect(a.amaxState().valid).toBe(false);
    using dw = Tensor.zeros([n, k]);
    for (let s = 0; s < 2; ++s) {
      a.forward(x, w, { seed: 5, step: s }).dispose();
      a.backward(e(s), w, dw, { seed: 5, step: s })!.dispose();
    }
    const state = a.amaxState();
    expect(state.valid).toBe(true);
    expect(state.e).toBeGreaterThan(0);
    // a fresh layer without the state uses the current abs-max and so differs; with it, the bytes agree
    using b = new QuartetLinear(opts);
    b.setAmaxState(state);
    expect(b.amaxState()).toEqual(state);
    const step = (L: QuartetLinear) => {
      L.forward(x, w, { seed: 5, step: 2 }).dispose();
      using d = Tensor.zeros([n, k]);
      L.backward(e(2), w, d, { seed: 5, step: 2 })!.dispose();
      return d.toBytes();
    };
    using c = new QuartetLinear(opts);
    const fresh = step(c), restored = step(b), uninterrupted = step(a);
    expect(Buffer.compare(Buffer.from(restored), Buffer.from(uninterrupted))).toBe(0);
    expect(Buffer.compare(Buffer.from(fresh), Buffer.from(uninterrupted))).not.toBe(0);
    expectQuartetError(() => b.setAmaxState({ valid: true, e: Number.NaN, et: 1 }), "INVALID_ARGUMENT", ["values2"]);
  });
});
