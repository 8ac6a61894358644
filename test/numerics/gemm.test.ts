/**
 * GEMMs against a float64 reference with a rounding-error bound derived from K and the unit roundoff.
 *
 * Spec map:
 *   numerics.md §3.6 (block-scaled FP4 GEMM Y = alpha gA gB sum_k deq(A) deq(B), FP32 accumulation,
 *     BF16/F32 output), §3.5 (swizzled scales), §4 (MXFP4, no tensor scale)   -> "FP4 GEMM"
 *   contract.md §3 ("close, with a stated bound") and quartet.h quartet_gemm (BLAS semantics) -> "dense GEMM"
 *
 * Error bounds (Higham, u = 2^-24, gamma_n = n u / (1 - n u)):
 *  - FP4: each decoded operand q * s is exact in float32 and so is each product (<= 12 significant bits), so
 *    an FP32 sum of K products in any order is within gamma_(K-1) * sum_k |a_k b_k| of the exact sum. The
 *    multiplier fl(fl(gA gB) alpha) adds 2 roundings and the final product 1 more:
 *        |Y32 - Y64| <= gamma_(K+2) * |alpha gA gB| * sum_k |a_k b_k|   (=: E32)
 *    with Y64 = alpha gA gB sum_k a_k b_k in float64. We assert E32 + 2^-24 |Y64| for F32 output, and for
 *    BF16 output (one more RNE to 8 significant bits, relative error <= 2^-8): E32 + 2^-8 (|Y64| + E32).
 *    accumulate (Y = C0 + ...): one more rounding, bound gamma_(K+3) (S + |C0|) + 2^-24 |Y64|.
 *  - dense: products are rounded too, so the inner product is within gamma_K sum |a b|; alpha and the
 *    beta C add 2 more roundings: |C - C64| <= gamma_(K+2) (|alpha| sum |a b| + |beta C0|) + u_out |C64|,
 *    u_out = 2^-24 (F32 C) or 2^-8 (BF16 C).
 */
import { describe, expect, test } from "bun:test";
import { fp4Gemm, gemm, nvfp4Gemm, quantize, rhtSigns, Tensor, type Rounding } from "../../src/index.ts";
import { bytesOf, f32 } from "../helpers/quartet.ts";
import { gaussian } from "../helpers/random.ts";
import { decodeOperand, gamma, gemm64, gemmTN64, U32, U_BF16 } from "../helpers/reference.ts";

interface Fp4Case {
  format: "nvfp4" | "mxfp4";
  M: number;
  N: number;
  K: number;
  rounding: Rounding;
  layout: "linear" | "swizzled";
  out: "f32" | "bf16";
  alpha?: number;
  sigmaA?: number;
  sigmaB?: number;
}

const FP4_CASES: Fp4Case[] = [
  { format: "nvfp4", M: 37, N: 53, K: 80, rounding: "rtn", layout: "linear", out: "bf16" },
  { format: "nvfp4", M: 37, N: 53, K: 80, rounding: "rtn", layout: "linear", out: "f32", alpha: 0.3 },
  { format: "nvfp4", M: 1, N: 1, K: 16, rounding: "4/6", layout: "linear", out: "f32" },
  { format: "nvfp4", M: 128, N: 64, K: 256, rounding: "eden-b", layout: "linear", out: "bf16", sigmaA: 1e-3, sigmaB: 50 },
  { format: "nvfp4", M: 150, N: 70, K: 208, rounding: "sr", layout: "swizzled", out: "f32" },
  { format: "nvfp4", M: 129, N: 131, K: 1040, rounding: "rtn", layout: "swizzled", out: "bf16" },
  { format: "mxfp4", M: 37, N: 29, K: 96, rounding: "ocp", layout: "linear", out: "f32" },
  { format: "mxfp4", M: 150, N: 33, K: 160, rounding: "rtn-rm", layout: "swizzled", out: "bf16", alpha: 16 / 9 },
];

describe("FP4 GEMM vs float64 (§3.6)", () => {
  for (const c of FP4_CASES) {
    test(`${c.format} ${c.rounding} M=${c.M} N=${c.N} K=${c.K} ${c.layout} -> ${c.out}${c.alpha ? ` alpha=${c.alpha.toFixed(4)}` : ""}`, () => {
      const rhtOpt = c.rounding === "rtn-rm" ? { dim: 32 as const, signs: rhtSigns(1, 2, 3) } : undefined;
      const qo = { format: c.format, rounding: c.rounding, scaleLayout: c.layout, rht: rhtOpt, seed: 8, step: 8 };
      const qa = quantize(f32(gaussian(c.M * c.K, 100 + c.M, c.sigmaA ?? 1), c.M, c.K), qo);
      const qb = quantize(f32(gaussian(c.N * c.K, 200 + c.N, c.sigmaB ?? 2), c.N, c.K), qo);
      const alpha = c.alpha ?? 1;
      const y = (c.format === "nvfp4" ? nvfp4Gemm : fp4Gemm)(qa, qb, { outDtype: c.out, alpha });
      expect(y.shape).toEqual([c.M, c.N]);
      expect(y.dtype).toBe(c.out);
      const got = y.toFloat32Array();
      const ba = bytesOf(qa), bb = bytesOf(qb);
      const ref = gemmTN64(decodeOperand(ba, c.format), decodeOperand(bb, c.format), c.M, c.N, c.K);
      const a64 = Math.fround(alpha) * ba.g * bb.g; // the float32 alpha the library receives, times gA gB exactly
      const uOut = c.out === "f32" ? U32 : U_BF16;
      let worst = 0;
      for (let i = 0; i < c.M * c.N; ++i) {
        const y64 = a64 * ref.y[i]!;
        const e32 = gamma(c.K + 2) * Math.abs(a64) * ref.s[i]!;
        const bound = c.out === "f32" ? e32 + U32 * Math.abs(y64) : e32 + uOut * (Math.abs(y64) + e32);
        const err = Math.abs(got[i]! - y64);
        if (!(err <= bound)) expect({ i, got: got[i], y64, err, bound }).toEqual({ i, got: y64, y64, err: 0, bound });
        worst = Math.max(worst, err / bound);
      }
      expect(worst).toBeLessThanOrEqual(1);
    });
  }

  test("accumulateInto: Y = C0 + alpha gA gB A B^T (F32)", () => {
    const M = 40, N = 24, K = 64;
    const qa = quantize(f32(gaussian(M * K, 300), M, K), { rounding: "rtn" });
    const qb = quantize(f32(gaussian(N * K, 301), N, K), { rounding: "rtn" });
    const c0 = gaussian(M * N, 302, 10);
    const acc = f32(c0, M, N);
    const out = nvfp4Gemm(qa, qb, { accumulateInto: acc, alpha: 2 });
    expect(out).toBe(acc);
    const got = acc.toFloat32Array();
    const ba = bytesOf(qa), bb = bytesOf(qb);
    const ref = gemmTN64(decodeOperand(ba, "nvfp4"), decodeOperand(bb, "nvfp4"), M, N, K);
    const a64 = 2 * ba.g * bb.g;
    for (let i = 0; i < M * N; ++i) {
      const y64 = c0[i]! + a64 * ref.y[i]!;
      const bound = gamma(K + 3) * (Math.abs(a64) * ref.s[i]! + Math.abs(c0[i]!)) + U32 * Math.abs(y64);
      expect(Math.abs(got[i]! - y64)).toBeLessThanOrEqual(bound);
    }
  });

  test("the GEMM does not read scales as the other layout: swizzled and linear give the same Y", () => {
    const M = 130, N = 20, K = 96;
    const xa = gaussian(M * K, 310), xb = gaussian(N * K, 311);
    const lin = nvfp4Gemm(quantize(f32(xa, M, K)), quantize(f32(xb, N, K)), { outDtype: "f32" }).toFloat32Array();
    const sw = nvfp4Gemm(quantize(f32(xa, M, K), { scaleLayout: "swizzled" }), quantize(f32(xb, N, K), { scaleLayout: "swizzled" }), {
      outDtype: "f32",
    }).toFloat32Array();
    // same exact operands: both within the bound of the same reference; here simply equal up to 2 E32
    const qa = bytesOf(quantize(f32(xa, M, K))), qb = bytesOf(quantize(f32(xb, N, K)));
    const ref = gemmTN64(decodeOperand(qa, "nvfp4"), decodeOperand(qb, "nvfp4"), M, N, K);
    for (let i = 0; i < M * N; ++i) {
      const e32 = gamma(K + 2) * qa.g * qb.g * ref.s[i]!;
      expect(Math.abs(lin[i]! - sw[i]!)).toBeLessThanOrEqual(2 * e32 + U32 * Math.abs(lin[i]!));
    }
  });
});

describe("dense GEMM vs float64 (contract §3, quartet_gemm)", () => {
  const M = 33, N = 45, K = 70;
  for (const dtype of ["f32", "bf16"] as const)
    for (const transA of [false, true])
      for (const transB of [false, true]) {
        test(`${dtype} transA=${transA} transB=${transB}, alpha 0.75, beta 0 and 1, F32 and BF16 C`, () => {
          const a = Tensor.fromFloat32(gaussian(M * K, 400), transA ? [K, M] : [M, K], { dtype });
          const b = Tensor.fromFloat32(gaussian(K * N, 401), transB ? [N, K] : [K, N], { dtype });
          const av = a.toFloat32Array(), bv = b.toFloat32Array(); // the exact (possibly bf16-rounded) inputs
          const ref = gemm64(av, bv, M, N, K, transA, transB);
          const alpha = 0.75;
          for (const outDtype of ["f32", "bf16"] as const)
            for (const beta of [0, 1]) {
              const c0 = Tensor.fromFloat32(gaussian(M * N, 402, 3), [M, N], { dtype: outDtype });
              const c0v = c0.toFloat32Array();
              const c = gemm(a, b, { transA, transB, alpha, beta, into: beta ? c0 : undefined, outDtype });
              expect(c.shape).toEqual([M, N]);
              const got = c.toFloat32Array();
              const uOut = outDtype === "f32" ? U32 : U_BF16;
              for (let i = 0; i < M * N; ++i) {
                const y64 = alpha * ref.y[i]! + beta * c0v[i]!;
                const e32 = gamma(K + 2) * (alpha * ref.s[i]! + beta * Math.abs(c0v[i]!));
                const bound = e32 + uOut * (Math.abs(y64) + e32);
                const err = Math.abs(got[i]! - y64);
                if (!(err <= bound)) expect({ outDtype, beta, i, got: got[i], y64, bound }).toEqual({ outDtype, beta, i, got: y64, y64, bound });
              }
            }
        });
      }
});
