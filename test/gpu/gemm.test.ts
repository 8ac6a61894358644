/**
 * GPU: the decode-to-16-bit FP4 GEMMs (csrc/cuda/gemm_mma_bf16.cu, gemm_wgmma_sm90.cu), their run-time
 * dispatch (gemm_dispatch.cu) and the built-in dense GEMM (gemm_builtin.cu), forced through
 * quartet_cuda_set_gemm_path or chosen automatically.
 *
 *  - path 1 (mma.sync) runs on every GPU of compute capability 8.0+, for any m, n and k % 16 (NVFP4) /
 *    k % 32 (MXFP4); path 2 (wgmma) only on compute capability 9.0 and for k % 64 (NVFP4) / k % 128
 *    (MXFP4), and a forced path that cannot serve a call fails with UNSUPPORTED (no fallback);
 *  - path 0 picks the wgmma kernel on Hopper when it can serve the shape and falls back to mma.sync;
 *  - the tensor scales are device tensors read by the kernel (alpha = fl(fl(gA gB) alpha) is never copied
 *    to the host); both f32 and bf16 outputs, accumulate, linear and swizzled scales, tiny (subnormal E4M3)
 *    scales, m and n that are not multiples of the 128-wide tiles;
 *  - path 6 (built-in dense) for bf16 and f32 operands, all transposes, beta 0 and 1.
 *
 * Error bound (contract §3): each operand value q * s is exact in 16 bits, so every product is exact in FP32
 * and a dot product has K of them; any FP32 summation order, then the multiply by the effective alpha and
 * the accumulate add, is within gamma(K + 2) * (|mult| S + |old|) of the exact value, S = sum_k |a_k b_k|.
 * A bf16 output adds one rounding, 2^-8 |y|. The CPU GEMM obeys the same bound, so the two agree within
 * twice it.
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
import { fl, gamma, gemm64, gemmTN64, U_BF16 } from "../helpers/reference.ts";

const env = gpuEnv("test/gpu/gemm.test.ts");

const PATH_AUTO = 0, PATH_MMA = 1, PATH_WGMMA = 2, PATH_BUILTIN = 6;
function setPath(p: number): void {
  check(native().quartet_cuda_set_gemm_path(p));
}
function lastPath(): number {
  const out = new Int32Array(1);
  check(native().quartet_cuda_gemm_last_path(out));
  return out[0]!;
}
/** 10 * major + minor of device 0 (build info reports "major.minor", e.g. "9.0" -> 90). */
function computeCapability(): number {
  const [major, minor] = (buildInfo().devices[0]?.compute_capability ?? "0.0").split(".").map(Number);
  return 10 * (major ?? 0) + (minor ?? 0);
}

// ---- operands -----------------------------------------------------------------------------------------


/** Random codes; NVFP4 scales E4M3 0x20..0x50 (or subnormal/tiny 0x01..0x0F), MXFP4 scales E8M0 2^-9..2^9. */
function operand(format: Format, rows: number, k: number, rng: Rng, tiny = false): Operand {
  return randomOperand(format, rows, k, rng, () =>
    format === "nvfp4" ? (tiny ? 1 + (rng.u32() % 15) : 0x20 + (rng.u32() % 0x31)) : 118 + (rng.u32() % 19),
  );
}





// ---- FP4 paths ------------------------------------------------------------------------------------------

interface Fp4Case {
  format: Format;
  m: number;
  n: number;
  k: number;
  layout: ScaleLayout;
  out: "f32" | "bf16";
  accumulate: boolean;
  tensorScales: boolean;
  tiny?: boolean;
}

const FP4_CASES: Fp4Case[] = [
  { format: "nvfp4", m: 272, n: 80, k: 48, layout: "linear", out: "f32", accumulate: false, tensorScales: true },
  { format: "nvfp4", m: 128, n: 256, k: 128, layout: "swizzled", out: "bf16", accumulate: false, tensorScales: true },
  { format: "nvfp4", m: 131, n: 257, k: 320, layout: "linear", out: "bf16", accumulate: false, tensorScales: true },
  { format: "nvfp4", m: 200, n: 384, k: 512, layout: "swizzled", out: "f32", accumulate: true, tensorScales: true },
  { format: "nvfp4", m: 65, n: 130, k: 256, layout: "linear", out: "f32", accumulate: false, tensorScales: false, tiny: true },
  { format: "nvfp4", m: 1, n: 3, k: 64, layout: "swizzled", out: "bf16", accumulate: false, tensorScales: true },
  { format: "mxfp4", m: 96, n: 72, k: 96, layout: "linear", out: "f32", accumulate: false, tensorScales: false },
  { format: "mxfp4", m: 256, n: 384, k: 256, layout: "swizzled", out: "bf16", accumulate: false, tensorScales: false },
  { format: "mxfp4", m: 130, n: 140, k: 384, layout: "linear", out: "f32", accumulate: true, tensorScales: false },
];

/** Can the wgmma path serve this shape (codes from fresh allocations are aligned)? */
function wgmmaServes(c: Fp4Case): boolean {
  return c.k % (c.format === "nvfp4" ? 64 : 128) === 0;
}

describe.skipIf(!env.ok)(`CUDA FP4 GEMM paths 0 (auto), 1 (mma.sync), 2 (wgmma)${env.ok ? "" : ` [skipped: ${env.reason}]`}`, () => {
  afterAll(() => setPath(PATH_AUTO));

  for (const c of FP4_CASES) {
    const name =
      `${c.format} ${c.m}x${c.n}x${c.k} ${c.layout} scales -> ${c.out}` +
      `${c.accumulate ? " (accumulate)" : ""}${c.tensorScales ? " with device tensor scales" : ""}${c.tiny ? " (tiny scales)" : ""}`;
    test(name, () => {
      const cc = computeCapability();
      const rng = new Rng(c.m * 7919 + c.n * 104729 + c.k * 31 + (c.format === "mxfp4" ? 1 : 0));
      const a = operand(c.format, c.m, c.k, rng, c.tiny), b = operand(c.format, c.n, c.k, rng, c.tiny);
      const ga = c.tensorScales ? 0.8125 : null, gb = c.tensorScales ? 0.02734375 : null, alpha = 1.25;
      const mult = fl(fl(fl(ga ?? 1) * fl(gb ?? 1)) * alpha);
      const old = c.accumulate ? new Float32Array(c.m * c.n).map(() => fl((rng.uniform() - 0.5) * 8)) : null;
      const { ref, bound } = reference(a, b, c.m, c.n, c.k, mult, old, c.out === "bf16");
      const qa = onDevice(c.format, a, c.m, c.k, c.layout, ga), qb = onDevice(c.format, b, c.n, c.k, c.layout, gb);
      const ca = qa.to("cpu"), cb = qb.to("cpu");
      const run = (path: number) => {
        const acc = old ? Tensor.fromFloat32(old, [c.m, c.n], { device: "cuda" }) : undefined;
        setPath(path);
        try {
          const y = fp4Gemm(qa, qb, { alpha, outDtype: c.out, accumulateInto: acc });
          const got = y.toFloat32Array();
          y.dispose();
          return { got, used: lastPath() };
        } finally {
          setPath(PATH_AUTO);
          acc?.dispose();
        }
      };
      try {
        const mma = run(PATH_MMA);
        expect(mma.used).toBe(PATH_MMA);
        expectWithin(mma.got, ref, bound, 1, "path 1 vs float64");

        if (cc === 90 && wgmmaServes(c)) {
          const wg = run(PATH_WGMMA);
          expect(wg.used).toBe(PATH_WGMMA);
          expectWithin(wg.got, ref, bound, 1, "path 2 vs float64");
        } else {
          const why = cc === 90 ? `k % ${c.format === "nvfp4" ? 64 : 128} == 0` : "compute capability 9.0";
          expectQuartetError(() => run(PATH_WGMMA), "UNSUPPORTED", [why]);
        }

        const auto = run(PATH_AUTO);
        expectWithin(auto.got, ref, bound, 1, "path 0 vs float64");
        if (cc === 90) expect(auto.used).toBe(wgmmaServes(c) ? PATH_WGMMA : PATH_MMA);
        if (cc === 80 || cc === 86 || cc === 89) expect(auto.used).toBe(PATH_MMA);

        // the CPU GEMM on the same operands: both within the bound, so within twice it of each other
        const cacc = old ? Tensor.fromFloat32(old, [c.m, c.n]) : undefined;
        const yc = fp4Gemm(ca, cb, { alpha, outDtype: c.out, accumulateInto: cacc }).toFloat32Array();
        expectWithin(auto.got, yc, bound, 2, "path 0 vs the CPU GEMM");
      } finally {
        for (const t of [qa, qb, ca, cb]) t.dispose();
      }
    });
  }

  test("forced paths never fall back: path 6 refuses FP4 GEMMs, FP4 paths refuse dense GEMMs", () => {
    const rng = new Rng(17);
    const a = operand("nvfp4", 16, 64, rng), b = operand("nvfp4", 16, 64, rng);
    const qa = onDevice("nvfp4", a, 16, 64, "linear", null), qb = onDevice("nvfp4", b, 16, 64, "linear", null);
    const x = Tensor.fromFloat32(new Float32Array(16 * 16).fill(1), [16, 16], { dtype: "bf16", device: "cuda" });
    try {
      setPath(PATH_BUILTIN);
      expectQuartetError(() => fp4Gemm(qa, qb, { outDtype: "f32" }).dispose(), "UNSUPPORTED", ["built-in dense (6)"]);
      setPath(PATH_MMA);
      expectQuartetError(() => gemm(x, x).dispose(), "UNSUPPORTED", ["mma.sync"]);
    } finally {
      setPath(PATH_AUTO);
      for (const t of [qa, qb, x]) t.dispose();
    }
  });

  test("a larger NVFP4 GEMM (1024 x 768 x 2048) agrees across paths 1, 2 and the float64 reference on sampled rows", () => {
    const cc = computeCapability();
    const m = 1024, n = 768, k = 2048;
    const rng = new Rng(4242);
    const a = operand("nvfp4", m, k, rng), b = operand("nvfp4", n, k, rng);
    const qa = onDevice("nvfp4", a, m, k, "swizzled", 0.375), qb = onDevice("nvfp4", b, n, k, "swizzled", 1.5);
    const mult = fl(fl(0.375 * 1.5) * 0.5);
    try {
      const outs: Float32Array[] = [];
      for (const path of cc === 90 ? [PATH_MMA, PATH_WGMMA] : [PATH_MMA]) {
        setPath(path);
        const y = fp4Gemm(qa, qb, { alpha: 0.5, outDtype: "f32" });
        expect(lastPath()).toBe(path);
        outs.push(y.toFloat32Array());
        y.dispose();
      }
      setPath(PATH_AUTO);
      const rows = [0, 1, 127, 128, 511, 640, 1023];
      for (const i of rows) {
        const { y, s } = gemmTN64(a.values.subarray(i * k, (i + 1) * k), b.values, 1, n, k);
        for (const out of outs)
          expectWithin(out.subarray(i * n, (i + 1) * n), y.map((v) => mult * v), s.map((v) => gamma(k + 1) * mult * v), 1, `row ${i}`);
      }
    } finally {
      setPath(PATH_AUTO);
      qa.dispose();
      qb.dispose();
    }
  });
});

// ---- built-in dense GEMM ----------------------------------------------------------------------------------

const DENSE: { m: number; n: number; k: number; dtype: "f32" | "bf16"; out: "f32" | "bf16"; transA: boolean; transB: boolean; beta: number }[] = [
  { m: 131, n: 70, k: 200, dtype: "bf16", out: "f32", transA: false, transB: false, beta: 0 },
  { m: 256, n: 128, k: 256, dtype: "bf16", out: "bf16", transA: false, transB: true, beta: 0 },
  { m: 64, n: 48, k: 96, dtype: "bf16", out: "f32", transA: true, transB: false, beta: 1 },
  { m: 40, n: 24, k: 72, dtype: "bf16", out: "bf16", transA: true, transB: true, beta: 1 },
  { m: 33, n: 17, k: 65, dtype: "f32", out: "f32", transA: false, transB: false, beta: 0.5 },
  { m: 70, n: 90, k: 130, dtype: "f32", out: "bf16", transA: true, transB: true, beta: 0 },
];

describe.skipIf(!env.ok)(`CUDA dense GEMM path 6 (built-in)${env.ok ? "" : ` [skipped: ${env.reason}]`}`, () => {
  afterAll(() => setPath(PATH_AUTO));
  for (const c of DENSE) {
    test(`${c.dtype} -> ${c.out} ${c.m}x${c.n}x${c.k} transA=${c.transA} transB=${c.transB} beta=${c.beta}`, () => {
      const rng = new Rng(c.m + 31 * c.n + 977 * c.k);
      const gauss = () => rng.normal();
      const representable = (x: Float32Array, dt: "f32" | "bf16") =>
        dt === "f32" ? x : Tensor.fromFloat32(x, [x.length], { dtype: "bf16" }).toFloat32Array();
      const A = representable(new Float32Array(c.m * c.k).map(gauss), c.dtype);
      const B = representable(new Float32Array(c.k * c.n).map(gauss), c.dtype);
      const C0 = representable(new Float32Array(c.m * c.n).map(gauss), c.out);
      const alpha = 1.5;
      const ta = Tensor.fromFloat32(A, c.transA ? [c.k, c.m] : [c.m, c.k], { dtype: c.dtype, device: "cuda" });
      const tb = Tensor.fromFloat32(B, c.transB ? [c.n, c.k] : [c.k, c.n], { dtype: c.dtype, device: "cuda" });
      const tc = Tensor.fromFloat32(c.beta === 0 ? new Float32Array(c.m * c.n).fill(NaN) : C0, [c.m, c.n], { dtype: c.out, device: "cuda" });
      try {
        setPath(PATH_BUILTIN);
        gemm(ta, tb, { transA: c.transA, transB: c.transB, alpha, beta: c.beta, into: tc });
        expect(lastPath()).toBe(PATH_BUILTIN);
        const got = tc.toFloat32Array();
        const { y, s } = gemm64(A, B, c.m, c.n, c.k, c.transA, c.transB);
        const ref = new Float64Array(c.m * c.n), bound = new Float64Array(c.m * c.n);
        for (let i = 0; i < c.m * c.n; i++) {
          const cv = c.beta === 0 ? 0 : C0[i]!; // beta == 0: C (NaN here) is never read
          ref[i] = alpha * y[i]! + c.beta * cv;
          bound[i] = gamma(c.k + 3) * (Math.abs(alpha) * s[i]! + Math.abs(c.beta * cv)) + (c.out === "bf16" ? U_BF16 * Math.abs(ref[i]!) : 0);
        }
        expectWithin(got, ref, bound, 1, "built-in dense vs float64");
      } finally {
        setPath(PATH_AUTO);
        for (const t of [ta, tb, tc]) t.dispose();
      }
    });
  }
});
