/**
 * GPU: the sm_120a block-scaled FP4 GEMM data path and the cuBLASLt path (csrc/cuda/gemm_sm120.cu,
 * csrc/cuda/gemm_cublaslt.cu), forced through quartet_cuda_set_gemm_path.
 *
 *  - path 4 runs the sm_120a kernel (same loads, fragments, scale selection and epilogue) with a software
 *    stand-in for the block-scaled mma.sync, on any GPU. It is checked against an independent float64
 *    reference and against the CPU GEMM: NVFP4 and MXFP4, linear and swizzled scales, f32/bf16 output,
 *    accumulate, tensor scales read from device memory, m/n not multiples of the tile, k % 64 == 32.
 *  - path 5 (cuBLASLt): the block-scaled FP4 GEMM needs compute capability 10.0+ (and cuBLASLt >= 12.8), so
 *    on Hopper it must fail with UNSUPPORTED (a forced path never falls back); the dense BF16/F32 GEMM must
 *    run wherever cuBLASLt is found, and fail with UNSUPPORTED where it is not.
 *
 * Error bound (contract §3): every product q_a s_a q_b s_b is exact in FP32 and a dot product has K of them,
 * so any FP32 summation order is within gamma(K + 2) * (|mult| S + |old|) of the exact value, with
 * S = sum_k |a_k b_k| (K additions, the multiply by mult = fl(fl(gA gB) alpha), the accumulate add); a bf16
 * output adds one rounding, 2^-8 |y|. Two results that both satisfy it differ by at most twice the bound.
 */
import { afterAll, describe, expect, test } from "bun:test";
import {
  buildInfo,
  check,
  fp4Gemm,
  gemm,
  native,
  Tensor,
  type Format,
  type ScaleLayout,
} from "../../src/index.ts";
import { expectQuartetError } from "../helpers/quartet.ts";
import { gpuEnv } from "../helpers/gpu.ts";
import { Rng } from "../helpers/random.ts";
import { expectWithin, fp4Reference as reference, onDevice, randomOperand, type Operand } from "../helpers/fp4_operands.ts";
import { fl, gamma, gemm64, U_BF16 } from "../helpers/reference.ts";

// ---- environment -------------------------------------------------------------------------------------

const env = gpuEnv("test/gpu/gemm_sm120.test.ts");

const PATH_AUTO = 0, PATH_SM120_EMULATED = 4, PATH_CUBLASLT = 5;
function setPath(p: number): void {
  check(native().quartet_cuda_set_gemm_path(p));
}
function lastPath(): number {
  const out = new Int32Array(1);
  check(native().quartet_cuda_gemm_last_path(out));
  return out[0]!;
}
function deviceInfo(): { cc: number; cublasLt: boolean } {
  const info = buildInfo();
  return { cc: Number(info.devices[0]?.compute_capability ?? "0"), cublasLt: info.optional?.cublasLt?.found === true };
}

// ---- operands: random codes and scales, decoded by the independent reference -------------------------


function operand(format: Format, rows: number, k: number, rng: Rng): Operand {
  // NVFP4: E4M3 codes 0x18..0x5F (2^-4 .. 240) and a few zero scales; MXFP4: E8M0 2^-11 .. 2^10
  return randomOperand(format, rows, k, rng, () =>
    format === "nvfp4" ? (rng.uniform() < 0.03 ? 0 : 0x18 + (rng.u32() % 0x48)) : 116 + (rng.u32() % 22),
  );
}





/** The values rounded to `dtype` (bf16 through the library's CPU conversion), as float32. */
function representable(x: Float32Array, dtype: "f32" | "bf16"): Float32Array {
  return dtype === "f32" ? x : Tensor.fromFloat32(x, [x.length], { dtype: "bf16" }).toFloat32Array();
}

// ---- tests --------------------------------------------------------------------------------------------

interface Fp4Case {
  format: Format;
  m: number;
  n: number;
  k: number;
  layout: ScaleLayout;
  out: "f32" | "bf16";
  accumulate: boolean;
  tensorScales: boolean;
}

const FP4_CASES: Fp4Case[] = [
  { format: "nvfp4", m: 128, n: 128, k: 64, layout: "linear", out: "f32", accumulate: false, tensorScales: true },
  { format: "nvfp4", m: 128, n: 128, k: 64, layout: "swizzled", out: "bf16", accumulate: false, tensorScales: true },
  { format: "nvfp4", m: 256, n: 384, k: 512, layout: "swizzled", out: "bf16", accumulate: false, tensorScales: true },
  { format: "nvfp4", m: 130, n: 72, k: 128, layout: "linear", out: "f32", accumulate: true, tensorScales: true },
  { format: "nvfp4", m: 130, n: 72, k: 96, layout: "swizzled", out: "f32", accumulate: false, tensorScales: false },
  { format: "mxfp4", m: 128, n: 128, k: 64, layout: "linear", out: "f32", accumulate: false, tensorScales: false },
  { format: "mxfp4", m: 256, n: 384, k: 512, layout: "swizzled", out: "bf16", accumulate: false, tensorScales: false },
  { format: "mxfp4", m: 65, n: 33, k: 160, layout: "swizzled", out: "f32", accumulate: true, tensorScales: false },
];

describe.skipIf(!env.ok)(`CUDA GEMM paths 4 (sm_120 data path, emulated MMA) and 5 (cuBLASLt)${env.ok ? "" : ` [skipped: ${env.reason}]`}`, () => {
  afterAll(() => setPath(PATH_AUTO));

  for (const c of FP4_CASES) {
    const name =
      `path 4: ${c.format} ${c.m}x${c.n}x${c.k} ${c.layout} scales -> ${c.out}` +
      `${c.accumulate ? " (accumulate)" : ""}${c.tensorScales ? " with tensor scales" : ""}`;
    test(name, () => {
      const rng = new Rng(c.m * 7919 + c.n * 104729 + c.k + (c.format === "mxfp4" ? 1 : 0));
      const a = operand(c.format, c.m, c.k, rng), b = operand(c.format, c.n, c.k, rng);
      const ga = c.tensorScales ? 0.8125 : null, gb = c.tensorScales ? 0.02734375 : null, alpha = 1.25;
      const mult = fl(fl(fl(ga ?? 1) * fl(gb ?? 1)) * alpha);
      const old = c.accumulate ? new Float32Array(c.m * c.n).map(() => fl((rng.uniform() - 0.5) * 8)) : null;
      const { ref, bound } = reference(a, b, c.m, c.n, c.k, mult, old, c.out === "bf16");
      const qa = onDevice(c.format, a, c.m, c.k, c.layout, ga), qb = onDevice(c.format, b, c.n, c.k, c.layout, gb);
      const acc = old ? Tensor.fromFloat32(old, [c.m, c.n], { device: "cuda" }) : undefined;
      const ca = qa.to("cpu"), cb = qb.to("cpu");
      try {
        setPath(PATH_SM120_EMULATED);
        const y = fp4Gemm(qa, qb, { alpha, outDtype: c.out, accumulateInto: acc });
        expect(lastPath()).toBe(PATH_SM120_EMULATED);
        const got = y.toFloat32Array();
        y.dispose();
        expectWithin(got, ref, bound, 1, "cuda path 4 vs float64");

        // the CPU GEMM on the same operands: both within the bound, so within twice it of each other
        const cacc = old ? Tensor.fromFloat32(old, [c.m, c.n]) : undefined;
        const yc = fp4Gemm(ca, cb, { alpha, outDtype: c.out, accumulateInto: cacc }).toFloat32Array();
        expectWithin(got, yc, bound, 2, "cuda path 4 vs the CPU GEMM");
      } finally {
        setPath(PATH_AUTO);
        for (const t of [qa, qb, ca, cb]) t.dispose();
        acc?.dispose();
      }
    });
  }

  test("path 4 refuses NVFP4 with k % 32 == 16 (UNSUPPORTED, no fallback when forced)", () => {
    const rng = new Rng(5);
    const a = operand("nvfp4", 16, 48, rng), b = operand("nvfp4", 16, 48, rng);
    const qa = onDevice("nvfp4", a, 16, 48, "linear", null), qb = onDevice("nvfp4", b, 16, 48, "linear", null);
    try {
      setPath(PATH_SM120_EMULATED);
      expectQuartetError(() => fp4Gemm(qa, qb, { outDtype: "f32" }).dispose(), "UNSUPPORTED", ["k % 32 == 0"]);
    } finally {
      setPath(PATH_AUTO);
      qa.dispose();
      qb.dispose();
    }
  });

  test("path 5: block-scaled FP4 through cuBLASLt runs on Blackwell, is UNSUPPORTED elsewhere", () => {
    const { cc, cublasLt } = deviceInfo();
    const rng = new Rng(11);
    const m = 128, n = 128, k = 128;
    const a = operand("nvfp4", m, k, rng), b = operand("nvfp4", n, k, rng);
    const qa = onDevice("nvfp4", a, m, k, "swizzled", 0.5), qb = onDevice("nvfp4", b, n, k, "swizzled", 0.25);
    try {
      setPath(PATH_CUBLASLT);
      if (cc >= 10 && cublasLt) {
        // Blackwell: cuBLASLt may still refuse a configuration, but then it must say UNSUPPORTED
        let y: Tensor | null = null;
        try {
          y = fp4Gemm(qa, qb, { outDtype: "f32", alpha: 2 });
        } catch (e) {
          expect((e as { code?: string }).code).toBe("UNSUPPORTED");
        }
        if (y) {
          const { ref, bound } = reference(a, b, m, n, k, 0.25, null, false);
          expectWithin(y.toFloat32Array(), ref, bound, 1, "cuBLASLt NVFP4 vs float64");
          y.dispose();
        }
      } else {
        const why = cublasLt ? "compute capability" : "cuBLASLt is not available";
        const e = expectQuartetError(() => fp4Gemm(qa, qb, { outDtype: "f32", alpha: 2 }).dispose(), "UNSUPPORTED", [why]);
        console.log(`  cuBLASLt FP4 on compute capability ${cc}: ${e.message}`);
      }
    } finally {
      setPath(PATH_AUTO);
      qa.dispose();
      qb.dispose();
    }
  });

  const DENSE: { m: number; n: number; k: number; dtype: "f32" | "bf16"; out: "f32" | "bf16"; transA: boolean; transB: boolean; beta: number }[] = [
    { m: 96, n: 80, k: 72, dtype: "bf16", out: "f32", transA: false, transB: false, beta: 0 },
    { m: 128, n: 64, k: 256, dtype: "bf16", out: "bf16", transA: false, transB: true, beta: 0 },
    { m: 64, n: 48, k: 96, dtype: "bf16", out: "f32", transA: true, transB: false, beta: 1 },
    { m: 40, n: 24, k: 64, dtype: "bf16", out: "bf16", transA: true, transB: true, beta: 1 },
    { m: 33, n: 17, k: 65, dtype: "f32", out: "f32", transA: false, transB: false, beta: 0.5 },
  ];
  for (const c of DENSE) {
    test(`path 5: dense ${c.dtype} -> ${c.out} ${c.m}x${c.n}x${c.k} transA=${c.transA} transB=${c.transB} beta=${c.beta}`, () => {
      const { cublasLt } = deviceInfo();
      const rng = new Rng(c.m + 31 * c.n + 977 * c.k);
      const gauss = () => rng.normal();
      // values exactly representable in the operand / output dtype, so the reference sees what the GPU sees
      const A = representable(new Float32Array(c.m * c.k).map(gauss), c.dtype);
      const B = representable(new Float32Array(c.k * c.n).map(gauss), c.dtype);
      const C0 = representable(new Float32Array(c.m * c.n).map(gauss), c.out);
      const alpha = 1.5;
      const ta = Tensor.fromFloat32(A, c.transA ? [c.k, c.m] : [c.m, c.k], { dtype: c.dtype, device: "cuda" });
      const tb = Tensor.fromFloat32(B, c.transB ? [c.n, c.k] : [c.k, c.n], { dtype: c.dtype, device: "cuda" });
      const tc = Tensor.fromFloat32(C0, [c.m, c.n], { dtype: c.out, device: "cuda" });
      const run = () => gemm(ta, tb, { transA: c.transA, transB: c.transB, alpha, beta: c.beta, into: tc });
      try {
        setPath(PATH_CUBLASLT);
        if (!cublasLt) {
          expectQuartetError(run, "UNSUPPORTED", ["cuBLASLt"]);
          return;
        }
        run();
        expect(lastPath()).toBe(PATH_CUBLASLT);
        const got = tc.toFloat32Array();
        const { y, s } = gemm64(A, B, c.m, c.n, c.k, c.transA, c.transB);
        const ref = new Float64Array(c.m * c.n), bound = new Float64Array(c.m * c.n);
        for (let i = 0; i < c.m * c.n; i++) {
          const ab = alpha * y[i]!, cv = C0[i]!;
          ref[i] = ab + c.beta * cv;
          // FP32 compute: K-dependent bound. A bf16 C is rounded at the end, and when beta != 0 cuBLASLt's
          // epilogue may also round alpha*AB to bf16 before adding beta*C (seen on H100 with cuBLASLt 13.1).
          const bf16Rounding = c.out === "bf16" ? U_BF16 * (Math.abs(ref[i]!) + (c.beta !== 0 ? Math.abs(ab) : 0)) : 0;
          bound[i] = gamma(c.k + 3) * (Math.abs(alpha) * s[i]! + Math.abs(c.beta * cv)) + bf16Rounding;
        }
        expectWithin(got, ref, bound, 1, "cuBLASLt dense vs float64");
      } finally {
        setPath(PATH_AUTO);
        ta.dispose();
        tb.dispose();
        tc.dispose();
      }
    });
  }
});
