/**
 * GPU: the CUDA quantizers produce the CPU backend's bytes (contract §3, numerics.md §9.3 "Cross-backend").
 *
 * Both backends run the same numerics.h block functions, so codes, scales, tensor scale, trust mask and
 * amax_out must be equal byte for byte, for every quantizer, seed, shape, dtype, transpose and scale layout:
 *  - quantize: NVFP4 rtn, 4/6, sr, sr-4/6, eden-a, eden-b, rtn-16x16; MXFP4 ocp, quest, rtn-rm, sr-rm; RHT 0 /
 *    16 / 32 / 128 with random signs; F32 and BF16 input; x and x^T; linear and swizzled scales; shapes 1x16,
 *    1x128, 128x128, 257x4096 (odd rows), 4096x4096 and 16384x4096;
 *  - special data: all zeros (+-0), one huge element, values in the float32 subnormal range, rows scaled
 *    from 2^-30 to 2^30, exact E2M1 grid points, and a rotation that overflows;
 *  - non-finite input (NaN, Inf) fails with NON_FINITE on both backends (CUDA reports it at the next
 *    synchronization: quantize is asynchronous there);
 *  - delayed abs-max (amaxOverride) and amaxOut;
 *  - dequantize (F32 and BF16), rht (every dtype pair, in place too), requantize, absmax.
 * Skipped, with the reason printed, when no CUDA device is usable.
 */
import { describe, expect, test } from "bun:test";
import {
  absmax,
  check,
  dequantize,
  native,
  quantize,
  QuartetError,
  requantize,
  rht,
  rhtSigns,
  synchronize,
  Tensor,
  type QuantizedTensor,
  type QuantizeOptions,
  type Rounding,
  type ScaleLayout,
} from "../../src/index.ts";
import { gpuEnv } from "../helpers/gpu.ts";
import { Rng } from "../helpers/random.ts";

const env = gpuEnv("test/gpu/quantize.test.ts");
const gpuTest = env.ok ? test : test.skip;

// ---- data ---------------------------------------------------------------------------------------------

type Kind = "normal" | "rowscaled" | "zeros" | "huge" | "subnormal" | "grid" | "nan" | "inf" | "overflow";

/** [rows, cols] of float32 test data (seeded, independent of the library's Philox). */
function data(kind: Kind, rows: number, cols: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(rows * cols);
  const grid = [0, 0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5, 6, 0.5, 1, 3];
  for (let r = 0; r < rows; r++) {
    const rowScale = 2 ** ((rng.u32() % 61) - 30);
    for (let c = 0; c < cols; c++) {
      let v: number;
      switch (kind) {
        case "rowscaled": v = rng.normal() * rowScale; break;
        case "zeros": v = rng.u32() & 1 ? 0 : -0; break;
        case "huge": case "overflow": v = rng.normal() * 1e-3; break;
        case "subnormal": v = rng.normal() * 1e-39; break;
        case "grid": v = grid[rng.u32() % grid.length]! * (rng.u32() & 1 ? -1 : 1); break;
        default: v = rng.normal();
      }
      x[r * cols + c] = v;
    }
  }
  const at = rng.u32() % x.length;
  if (kind === "huge") x[at] = 1e30;
  if (kind === "overflow") x.fill(3e38);
  if (kind === "nan") x[at] = NaN;
  if (kind === "inf") x[at] = -Infinity;
  return x;
}

const SIGNS = rhtSigns(2026, 11, 3);

/** Index of the first differing byte, or -1. */
function firstDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

function expectSame(what: string, cpu: Uint8Array, gpu: Uint8Array): void {
  const d = firstDiff(cpu, gpu);
  if (d !== -1) {
    const detail = d === -2 ? `lengths ${cpu.length} vs ${gpu.length}` : `byte ${d}: cpu ${cpu[d]} gpu ${gpu[d]}`;
    throw new Error(`${what}: CUDA bytes differ from the CPU backend (${detail})`);
  }
}

interface QBytes {
  codes: Uint8Array;
  scales: Uint8Array;
  g: Uint8Array | null;
  mask: Uint8Array | null;
}
function bytesOf(q: QuantizedTensor): QBytes {
  return {
    codes: q.codes.toBytes(),
    scales: q.scales.toBytes(),
    g: q.tensorScale ? q.tensorScale.toBytes() : null,
    mask: q.mask ? q.mask.toBytes() : null,
  };
}
function expectSameQ(what: string, a: QBytes, b: QBytes): void {
  expectSame(`${what} codes`, a.codes, b.codes);
  expectSame(`${what} scales`, a.scales, b.scales);
  if (a.g || b.g) expectSame(`${what} tensor scale`, a.g ?? new Uint8Array(), b.g ?? new Uint8Array());
  if (a.mask || b.mask) expectSame(`${what} trust mask`, a.mask ?? new Uint8Array(), b.mask ?? new Uint8Array());
}

/** Outcome of a call on one backend: bytes, or the QuartetError code it failed with. */
type Outcome<T> = { ok: true; value: T } | { ok: false; code: string };
function attempt<T>(fn: () => T): Outcome<T> {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (e instanceof QuartetError) return { ok: false, code: e.code };
    throw e;
  }
}

interface Case {
  rounding: Rounding;
  R: number;
  K: number;
  dtype: "f32" | "bf16";
  transpose: boolean;
  rht: 0 | 16 | 32 | 128;
  layout: ScaleLayout;
  kind?: Kind;
  override?: number;
  seed?: number;
}
const MX: readonly Rounding[] = ["ocp", "quest", "rtn-rm", "sr-rm"];
const NV: readonly Rounding[] = ["rtn", "4/6", "sr", "sr-4/6", "eden-a", "eden-b", "rtn-16x16"];

function name(c: Case): string {
  return `${c.rounding} ${c.R}x${c.K} ${c.dtype}${c.transpose ? " T" : ""} rht${c.rht} ${c.layout}${c.kind ? " " + c.kind : ""}${
    c.override !== undefined ? " override" : ""}`;
}

/** Quantizes the same input on both backends; returns both outcomes (bytes incl. amaxOut, or error codes). */
function quantizeBoth(c: Case): { cpu: Outcome<QBytes & { amax: Uint8Array }>; gpu: Outcome<QBytes & { amax: Uint8Array }> } {
  const [rows, cols] = c.transpose ? [c.K, c.R] : [c.R, c.K];
  const x = data(c.kind ?? "normal", rows, cols, (c.seed ?? 1) * 7919 + c.R * 31 + c.K);
  const mx = MX.includes(c.rounding);
  const run = (device: "cpu" | "cuda"): Outcome<QBytes & { amax: Uint8Array }> => {
    const xt = Tensor.fromFloat32(x, [rows, cols], { dtype: c.dtype, device });
    const amaxOut = Tensor.zeros([1], { dtype: "f32", device });
    const amaxOverride = c.override !== undefined ? Tensor.fromFloat32([c.override], [1], { device }) : undefined;
    try {
      return attempt(() => {
        const opts: QuantizeOptions = {
          format: mx ? "mxfp4" : "nvfp4",
          rounding: c.rounding,
          seed: c.seed ?? 1234,
          step: 77,
          tag: 0x305,
          transpose: c.transpose,
          rht: { dim: c.rht, signs: c.rounding === "quest" ? undefined : SIGNS },
          scaleLayout: c.layout,
          amaxOut,
          amaxOverride,
        };
        const q = quantize(xt, opts);
        try {
          if (device === "cuda") synchronize();
          return { ...bytesOf(q), amax: amaxOut.toBytes() };
        } finally {
          q.dispose();
        }
      });
    } finally {
      xt.dispose();
      amaxOut.dispose();
      amaxOverride?.dispose();
    }
  };
  return { cpu: run("cpu"), gpu: run("cuda") };
}

function checkCase(c: Case): void {
  const { cpu, gpu } = quantizeBoth(c);
  const what = name(c);
  if (!cpu.ok || !gpu.ok) {
    expect(`${what}: ${gpu.ok ? "ok" : gpu.code}`).toBe(`${what}: ${cpu.ok ? "ok" : cpu.code}`);
    return;
  }
  expectSameQ(what, cpu.value, gpu.value);
  expectSame(`${what} amaxOut`, cpu.value.amax, gpu.value.amax);
}

// ---- quantize: every quantizer, shape, dtype, transpose, layout, rotation -----------------------------------

describe("quantize: CUDA bytes == CPU bytes", () => {
  const small: [number, number][] = [[1, 16], [1, 128], [128, 128], [257, 4096]];
  for (const [R, K] of small)
    for (const rounding of [...NV, ...MX])
      gpuTest(`${rounding} ${R}x${K}: every rotation, dtype, transpose and scale layout`, () => {
        let cases = 0;
        for (const rht of [0, 16, 32, 128] as const)
          for (const dtype of ["f32", "bf16"] as const)
            for (const transpose of [false, true])
              for (const layout of ["linear", "swizzled"] as const) {
                const c: Case = { rounding, R, K, dtype, transpose, rht, layout, seed: 1000 + rht };
                // shapes this quantizer cannot take must fail the same way on both backends
                checkCase(c);
                cases++;
              }
        expect(cases).toBe(4 * 2 * 2 * 2);
      }, 120_000);

  for (const [R, K] of [[4096, 4096], [16384, 4096]] as [number, number][])
    for (const rounding of ["rtn", "4/6", "sr", "eden-a", "eden-b"] as const)
      gpuTest(`${rounding} ${R}x${K} bf16 (RHT-128 for MS-EDEN), x and x^T`, () => {
        for (const transpose of [false, true]) {
          const rot = rounding.startsWith("eden") ? 128 : 0;
          checkCase({ rounding, R, K, dtype: "bf16", transpose, rht: rot, layout: transpose ? "swizzled" : "linear", seed: 42 });
        }
      }, 300_000);

  gpuTest("MXFP4 4096x4096: ocp, quest (trust mask), rtn-rm with RHT-32", () => {
    for (const rounding of ["ocp", "quest", "rtn-rm"] as const)
      checkCase({ rounding, R: 4096, K: 4096, dtype: "bf16", transpose: rounding === "rtn-rm", rht: 32, layout: "swizzled", seed: 4 });
  }, 300_000);

  gpuTest("the Philox key reaches the kernels: other seeds, steps and tags agree too (SR, SR-4/6, EDEN, MX SR)", () => {
    for (const rounding of ["sr", "sr-4/6", "eden-a", "eden-b", "sr-rm"] as const)
      for (const seed of [0, 1, 0xffffffff])
        checkCase({ rounding, R: 128, K: 256, dtype: "bf16", transpose: false, rht: rounding === "sr-rm" ? 32 : 128, layout: "linear", seed });
  }, 120_000);
});

describe("quantize: special inputs", () => {
  for (const kind of ["rowscaled", "zeros", "huge", "subnormal", "grid", "overflow"] as const)
    gpuTest(`${kind}: every quantizer, with and without RHT-128, x and x^T`, () => {
      for (const rounding of [...NV, ...MX])
        for (const rht of [0, 128] as const)
          for (const transpose of [false, true])
            checkCase({ rounding, R: 256, K: 512, dtype: kind === "subnormal" ? "f32" : "bf16", transpose, rht, layout: "swizzled", kind, seed: 99 });
    }, 120_000);

  gpuTest("NaN and Inf fail with NON_FINITE on both backends (CUDA: at the next synchronization)", () => {
    for (const kind of ["nan", "inf"] as const)
      for (const rounding of [...NV, ...MX])
        for (const override of [undefined, 3.5]) {
          if (override !== undefined && (rounding === "eden-b" || MX.includes(rounding))) continue;
          const { cpu, gpu } = quantizeBoth({ rounding, R: 128, K: 256, dtype: "f32", transpose: false, rht: 0, layout: "linear", kind, override });
          expect(cpu.ok ? "ok" : cpu.code).toBe("NON_FINITE");
          expect(gpu.ok ? "ok" : gpu.code).toBe("NON_FINITE");
        }
    // the device is usable afterwards: the status word was cleared by the report
    checkCase({ rounding: "rtn", R: 128, K: 256, dtype: "f32", transpose: false, rht: 0, layout: "linear" });
  }, 120_000);

  gpuTest("delayed abs-max (amaxOverride) and amaxOut agree, in one pass and with RHT", () => {
    for (const rounding of ["rtn", "4/6", "sr", "sr-4/6", "eden-a", "rtn-16x16"] as const)
      for (const transpose of [false, true])
        for (const override of [0.37, 0, 1e6])
          checkCase({ rounding, R: 256, K: 512, dtype: "bf16", transpose, rht: 128, layout: "linear", override });
    const bad = quantizeBoth({ rounding: "rtn", R: 16, K: 16, dtype: "f32", transpose: false, rht: 0, layout: "linear", override: -1 });
    expect(bad.cpu.ok ? "ok" : bad.cpu.code).toBe("INVALID_ARGUMENT");
    expect(bad.gpu.ok ? "ok" : bad.gpu.code).toBe("INVALID_ARGUMENT");
  }, 120_000);
});

// ---- dequantize, rht, requantize, absmax -------------------------------------------------------------

describe("dequantize, rht, requantize, absmax: CUDA bytes == CPU bytes", () => {
  gpuTest("dequantize NVFP4 / MXFP4, linear / swizzled, to F32 and BF16", () => {
    for (const [format, rounding] of [["nvfp4", "rtn"], ["nvfp4", "4/6"], ["mxfp4", "ocp"], ["mxfp4", "rtn-rm"]] as const)
      for (const scaleLayout of ["linear", "swizzled"] as const)
        for (const [R, K] of [[257, 256], [1, 32], [128, 4096]] as [number, number][]) {
          const q = quantize(Tensor.fromFloat32(data("rowscaled", R, K, R + K), [R, K]), { format, rounding, scaleLayout });
          const qg = q.to("cuda");
          for (const dtype of ["f32", "bf16"] as const) {
            const a = dequantize(q, { dtype }), b = dequantize(qg, { dtype });
            expectSame(`dequantize ${format} ${rounding} ${R}x${K} ${scaleLayout} -> ${dtype}`, a.toBytes(), b.toBytes());
            a.dispose();
            b.dispose();
          }
          q.dispose();
          qg.dispose();
        }
  }, 120_000);

  gpuTest("rht 16 / 32 / 128, every dtype pair, with and without signs, and in place", () => {
    for (const dim of [16, 32, 128] as const)
      for (const inDt of ["f32", "bf16"] as const)
        for (const outDt of ["f32", "bf16"] as const)
          for (const signs of [SIGNS, undefined]) {
            const x = Tensor.fromFloat32(data("rowscaled", 257, 256, dim), [257, 256], { dtype: inDt });
            const xg = x.to("cuda");
            const a = rht(x, { dim, signs, dtype: outDt }), b = rht(xg, { dim, signs, dtype: outDt });
            expectSame(`rht${dim} ${inDt}->${outDt}${signs ? " signs" : ""}`, a.toBytes(), b.toBytes());
            for (const t of [x, xg, a, b]) t.dispose();
          }
    // in place through the C ABI (out == x), against the CPU's out-of-place result
    const x = Tensor.fromFloat32(data("normal", 64, 512, 5), [64, 512], { dtype: "bf16" });
    const ref = rht(x, { dim: 128, signs: SIGNS });
    const xg = x.to("cuda");
    check(native().quartet_rht(1, xg.handle, 1, 64, 512, 128, SIGNS, xg.handle, 1));
    expectSame("rht128 in place", ref.toBytes(), xg.toBytes());
    for (const t of [x, ref, xg]) t.dispose();
  }, 120_000);

  gpuTest("requantize (dequantize, transpose, RHT, quantize in one kernel pair) for every method", () => {
    const cases: { src: QuantizeOptions; re: Parameters<typeof requantize>[1]; R: number; K: number }[] = [];
    for (const [R, K] of [[256, 384], [512, 128], [128, 4096]] as [number, number][])
      for (const rounding of ["eden-b", "eden-a", "sr", "rtn", "4/6", "rtn-16x16"] as const)
        for (const scaleLayout of ["linear", "swizzled"] as const)
          cases.push({ src: { rounding: "4/6" }, re: { rounding, rht: { dim: 128, signs: SIGNS }, scaleLayout, seed: 3, step: 4, tag: 0x104 }, R, K });
    cases.push({ src: { rounding: "rtn" }, re: { rounding: "sr", rht: { dim: 32, signs: SIGNS } }, R: 96, K: 80 });
    cases.push({ src: { rounding: "rtn" }, re: { rounding: "eden-b", rht: { dim: 16, signs: SIGNS } }, R: 32, K: 48 });
    cases.push({ src: { format: "mxfp4", rounding: "quest" }, re: { format: "mxfp4", rounding: "rtn-rm", rht: { dim: 32, signs: SIGNS } }, R: 256, K: 256 });
    cases.push({ src: { format: "mxfp4", rounding: "ocp" }, re: { format: "mxfp4", rounding: "sr-rm", rht: { dim: 32, signs: SIGNS } }, R: 128, K: 256 });
    cases.push({ src: { format: "mxfp4", rounding: "rtn-rm" }, re: { rounding: "eden-b", rht: { dim: 128, signs: SIGNS } }, R: 256, K: 128 });
    for (const c of cases) {
      const q = quantize(Tensor.fromFloat32(data("normal", c.R, c.K, c.R * 3 + c.K), [c.R, c.K]), c.src);
      const qg = q.to("cuda");
      const a = requantize(q, c.re), b = requantize(qg, c.re);
      expectSameQ(`requantize ${c.src.format ?? "nvfp4"} ${c.src.rounding} ${c.R}x${c.K} -> ${c.re?.rounding} ${c.re?.scaleLayout ?? "linear"}`,
        bytesOf(a), bytesOf(b));
      for (const t of [q, qg, a, b]) t.dispose();
    }
  }, 120_000);

  gpuTest("requantize equals quantize(dequantize(q), transpose) on the GPU alone (no FP32 round trip in memory)", () => {
    const q = quantize(Tensor.fromFloat32(data("normal", 512, 256, 8), [512, 256], { device: "cuda" }), { rounding: "4/6" });
    const re = { rounding: "eden-b" as const, rht: { dim: 128 as const, signs: SIGNS }, seed: 9, step: 10, tag: 0x402 };
    const a = requantize(q, re);
    const d = dequantize(q);
    const b = quantize(d, { ...re, transpose: true });
    expectSameQ("requantize vs quantize(dequantize^T) on CUDA", bytesOf(a), bytesOf(b));
    for (const t of [q, a, d, b]) t.dispose();
  }, 60_000);

  gpuTest("absmax: exact on both backends; NaN / Inf fail with NON_FINITE", () => {
    for (const kind of ["normal", "zeros", "subnormal", "huge"] as const)
      for (const n of [1, 7, 1000, 1 << 20, (1 << 20) + 3])
        for (const dtype of ["f32", "bf16"] as const) {
          const x = Tensor.fromFloat32(data(kind, 1, n, n), [1, n], { dtype });
          const xg = x.to("cuda");
          expect(absmax(xg)).toBe(absmax(x));
          x.dispose();
          xg.dispose();
        }
    for (const kind of ["nan", "inf"] as const) {
      const x = Tensor.fromFloat32(data(kind, 1, 4099, 3), [1, 4099]);
      const xg = x.to("cuda");
      const a = attempt(() => absmax(x)), b = attempt(() => absmax(xg));
      expect(a.ok ? "ok" : a.code).toBe("NON_FINITE");
      expect(b.ok ? "ok" : b.code).toBe("NON_FINITE");
      x.dispose();
      xg.dispose();
    }
  }, 120_000);
});
