/**
 * Bad input becomes a QuartetError (or a negative status at the C boundary) with a message that names the
 * argument; never a crash, never silent garbage.
 *
 * Spec map:
 *   contract.md §2 (every argument checked at the boundary; status + message naming the argument)
 *     -> "shapes", "null pointers (raw C ABI)", "names and numbers", "disposed tensors"
 *   numerics.md §0 (quantizers reject a non-finite abs-max), §3.2 -> "non-finite input"
 *   numerics.md §0 / §3.4 / §5.5 (K % 16, K % 32, rotated dim % d, 16x16 rows) -> "shapes"
 */
import { describe, expect, test } from "bun:test";
import {
  absmax, dequantize, formats, gemm, native, nvfp4Gemm, QuantizedTensor, quantize, requantize, rht, rhtSigns, Tensor,
} from "../../src/index.ts";
import { expectQuartetError, f32 } from "../helpers/quartet.ts";
import { gaussian } from "../helpers/random.ts";

const STATUS = { INVALID_ARGUMENT: -1, NULL_POINTER: -2, SHAPE: -3, NON_FINITE: -4 } as const;
const lastError = () => String(native().quartet_last_error());

/** Raw quartet_quantize on host buffers, with overrides for any argument (by name). */
function rawQuantize(over: Record<string, unknown> = {}) {
  const rows = (over.rows as number) ?? 4, cols = (over.cols as number) ?? 32;
  const x = new Float32Array(rows * cols).fill(1);
  const a = {
    backend: 0, format: 0, method: 0, x, x_dtype: 0, rows, cols, transpose: 0, rht_dim: 0, rht_signs: null,
    seed: 0, step: 0, tag: 0, amax_override: null, amax_out: null, scale_layout: 0,
    codes: new Uint8Array(Math.max(1, (rows * cols) / 2)), scales: new Uint8Array(Math.max(1, rows * cols)),
    tensor_scale: new Float32Array(1), trust_mask: null, ...over,
  } as Record<string, any>;
  return native().quartet_quantize(a.backend, a.format, a.method, a.x, a.x_dtype, a.rows, a.cols, a.transpose, a.rht_dim,
    a.rht_signs, a.seed, a.step, a.tag, a.amax_override, a.amax_out, a.scale_layout, a.codes, a.scales, a.tensor_scale,
    a.trust_mask);
}

describe("shapes (§0, §3.4, §5.5)", () => {
  test("K not a multiple of 16 (NVFP4) / 32 (MXFP4)", () => {
    expectQuartetError(() => quantize(f32(new Float32Array(4 * 24), 4, 24)), "INVALID_ARGUMENT", ["K", "16"]);
    expectQuartetError(() => quantize(f32(new Float32Array(4 * 48), 4, 48), { format: "mxfp4" }), "INVALID_ARGUMENT", ["K", "32"]);
    expectQuartetError(() => quantize(f32(new Float32Array(24 * 4), 24, 4), { transpose: true }), "INVALID_ARGUMENT", ["K of x^T", "16"]);
    expect(rawQuantize({ cols: 24 })).toBe(STATUS.SHAPE);
    expect(lastError()).toContain("cols (K)");
    expect(rawQuantize({ rows: 24, cols: 4, transpose: 1 })).toBe(STATUS.SHAPE);
    expect(lastError()).toContain("rows (K of the transposed matrix)");
  });

  test("RHT dimension that does not divide K, or is not 16/32/128", () => {
    const x = f32(new Float32Array(4 * 64).fill(1), 4, 64);
    expectQuartetError(() => quantize(x, { rounding: "eden-b", rht: { dim: 128 } }), "INVALID_ARGUMENT", ["rht.dim", "64"]);
    expectQuartetError(() => quantize(x, { rht: { dim: 64 as 128 } }), "INVALID_ARGUMENT", ["rht.dim"]);
    expectQuartetError(() => rht(f32(new Float32Array(2 * 48), 2, 48), { dim: 32 }), "INVALID_ARGUMENT", ["rht.dim", "48"]);
    expect(rawQuantize({ cols: 64, rht_dim: 128 })).toBe(STATUS.SHAPE);
    expect(lastError()).toContain("rotated dimension");
    expect(rawQuantize({ rht_dim: 64 })).toBe(STATUS.INVALID_ARGUMENT);
    expect(lastError()).toContain("rht_dim");
  });

  test("rtn-16x16 needs rows % 16 == 0", () => {
    expectQuartetError(() => quantize(f32(new Float32Array(24 * 32), 24, 32), { rounding: "rtn-16x16" }), "INVALID_ARGUMENT", ["rows", "16"]);
    expect(rawQuantize({ rows: 24, method: 6 })).toBe(STATUS.SHAPE);
    expect(lastError()).toContain("R (rows of the quantized matrix)");
  });

  test("GEMM operand mismatches", () => {
    const a = quantize(f32(gaussian(4 * 32, 1), 4, 32));
    const b = quantize(f32(gaussian(4 * 48, 2), 4, 48));
    expectQuartetError(() => nvfp4Gemm(a, b), "INVALID_ARGUMENT", ["b.shape[1]", "32"]);
    const m = quantize(f32(gaussian(4 * 32, 3), 4, 32), { format: "mxfp4" });
    expectQuartetError(() => nvfp4Gemm(a, m), "INVALID_ARGUMENT", ["b.format"]);
    const s = quantize(f32(gaussian(4 * 32, 3), 4, 32), { scaleLayout: "swizzled" });
    expectQuartetError(() => nvfp4Gemm(a, s), "INVALID_ARGUMENT", ["b.scaleLayout"]);
    expectQuartetError(() => gemm(f32([1, 2, 3, 4, 5, 6], 2, 3), f32([1, 2, 3, 4], 2, 2)), "INVALID_ARGUMENT", ["inner dimension"]);
  });
});

describe("null pointers (raw C ABI, contract §2)", () => {
  test("quartet_quantize: NULL codes / scales / x / tensor_scale -> status -2 naming the argument", () => {
    for (const name of ["codes", "scales", "x", "tensor_scale"]) {
      expect({ name, status: rawQuantize({ [name]: null }) }).toEqual({ name, status: STATUS.NULL_POINTER });
      expect(lastError()).toContain(name);
      expect(lastError()).toContain("quartet_quantize");
    }
  });

  test("other entry points", () => {
    const buf = new Uint8Array(64), f = new Float32Array(64);
    expect(native().quartet_dequantize(0, 0, buf, null, null, 4, 16, 0, f, 0)).toBe(STATUS.NULL_POINTER);
    expect(lastError()).toContain("scales");
    expect(native().quartet_gemm_fp4(0, 0, buf, buf, null, buf, null, null, 2, 2, 16, 0, 1, 0, f, 0)).toBe(STATUS.NULL_POINTER);
    expect(lastError()).toContain("b_scales");
    expect(native().quartet_rht(0, f, 0, 1, 64, 32, null, null, 0)).toBe(STATUS.NULL_POINTER);
    expect(lastError()).toContain("out");
    expect(native().quartet_philox4x32(null, new Uint32Array(2), new Uint32Array(4))).toBe(STATUS.NULL_POINTER);
    expect(lastError()).toContain("ctr");
  });
});

describe("non-finite input (§0)", () => {
  const base = () => gaussian(16 * 256, 700);
  for (const [what, v] of [["NaN", NaN], ["+Inf", Infinity], ["-Inf", -Infinity]] as const) {
    test(`${what} -> NON_FINITE naming x and the position, for every method`, () => {
      const x = base();
      x[3 * 256 + 17] = v;
      for (const [format, rounding] of [
        ["nvfp4", "rtn"], ["nvfp4", "4/6"], ["nvfp4", "sr"], ["nvfp4", "sr-4/6"], ["nvfp4", "eden-a"], ["nvfp4", "eden-b"],
        ["nvfp4", "rtn-16x16"], ["mxfp4", "ocp"], ["mxfp4", "quest"], ["mxfp4", "rtn-rm"], ["mxfp4", "sr-rm"],
      ] as const) {
        const e = expectQuartetError(() => quantize(f32(x, 16, 256), { format, rounding }), "NON_FINITE", ["x"]);
        expect(e.status).toBe(STATUS.NON_FINITE);
        if (rounding === "rtn") expect(e.message).toContain(what);
      }
      expectQuartetError(() => quantize(f32(x, 16, 256), { rounding: "eden-b", rht: { dim: 128, signs: rhtSigns(1, 1, 1) } }), "NON_FINITE", ["x"]);
      expectQuartetError(() => quantize(Tensor.fromFloat32(x, [16, 256], { dtype: "bf16" })), "NON_FINITE", ["x"]);
      expectQuartetError(() => absmax(f32(x, 16, 256)), "NON_FINITE", []);
    });
  }

  test("a finite input whose rotation overflows float32 is rejected too", () => {
    const x = new Float32Array(128).fill(3e38);
    expectQuartetError(() => quantize(f32(x, 1, 128), { rounding: "eden-b", rht: { dim: 128 } }), "NON_FINITE", ["RHT"]);
  });

  test("a saved tensor whose scale byte is the E4M3 NaN (0x7F) cannot be re-quantized silently", () => {
    const q = quantize(f32(gaussian(32 * 32, 701), 32, 32));
    const scales = q.scales.toBytes();
    scales[5] = 0x7f;
    const bad = new QuantizedTensor("nvfp4", [32, 32], "linear", q.codes, Tensor.fromBytes(scales, [scales.length]), q.tensorScale, null);
    expectQuartetError(() => requantize(bad, { rounding: "rtn" }), "NON_FINITE", []);
  });
});

describe("names and numbers (contract §2)", () => {
  const x = f32(gaussian(4 * 32, 5), 4, 32);
  test("wrong rounding / format names", () => {
    expectQuartetError(() => quantize(x, { rounding: "rne" as "rtn" }), "INVALID_ARGUMENT", ["rounding", '"rne"']);
    expectQuartetError(() => quantize(x, { rounding: "ocp" }), "INVALID_ARGUMENT", ["rounding", "nvfp4"]);
    expectQuartetError(() => quantize(x, { format: "mxfp4", rounding: "eden-b" }), "INVALID_ARGUMENT", ["rounding", "mxfp4"]);
    expectQuartetError(() => quantize(x, { format: "fp8" as "nvfp4" }), "INVALID_ARGUMENT", ["format"]);
    expectQuartetError(() => quantize(x, { scaleLayout: "tiled" as "linear" }), "INVALID_ARGUMENT", ["scaleLayout"]);
    expectQuartetError(() => dequantize(quantize(x), { dtype: "u8" as "f32" }), "INVALID_ARGUMENT", ["dtype"]);
    expect(rawQuantize({ method: 11 })).toBe(STATUS.INVALID_ARGUMENT);
    expect(lastError()).toContain("method");
    expect(rawQuantize({ format: 1, method: 0 })).toBe(STATUS.INVALID_ARGUMENT);
    expect(lastError()).toContain("method");
  });

  test("bad seeds, steps and tags", () => {
    for (const bad of [-1, 2 ** 32, 1.5, NaN, "1" as unknown as number]) {
      expectQuartetError(() => quantize(x, { rounding: "sr", seed: bad }), "INVALID_ARGUMENT", ["seed"]);
      expectQuartetError(() => quantize(x, { rounding: "sr", step: bad }), "INVALID_ARGUMENT", ["step"]);
      expectQuartetError(() => quantize(x, { rounding: "sr", tag: bad }), "INVALID_ARGUMENT", ["tag"]);
      expectQuartetError(() => rhtSigns(bad, 0, 0), "INVALID_ARGUMENT", ["seed"]);
    }
    expectQuartetError(() => rhtSigns(0, 0, 2 ** 24), "INVALID_ARGUMENT", ["layer"]);
    // the extremes are valid
    expect(() => quantize(x, { rounding: "sr", seed: 2 ** 32 - 1, step: 2 ** 32 - 1, tag: 2 ** 32 - 1 })).not.toThrow();
  });

  test("scalar helpers: out-of-range uniforms, negative scales, wrong lengths", () => {
    expectQuartetError(() => formats.srE2M1(Float32Array.of(1), Uint32Array.of(2 ** 24)), "INVALID_ARGUMENT", ["u24"]);
    expectQuartetError(() => formats.srE4M3(Float32Array.of(-1), Uint32Array.of(0)), "INVALID_ARGUMENT", ["x[0]"]);
    expectQuartetError(() => formats.encodeE4M3(Float32Array.of(1, -2)), "INVALID_ARGUMENT", ["x[1]"]);
    expectQuartetError(() => formats.edenBlock(new Float32Array(15), 6, 1, 0), "INVALID_ARGUMENT", ["y16.length"]);
    expectQuartetError(() => formats.edenBlock(new Float32Array(16), 6, 0, 0), "INVALID_ARGUMENT", ["g"]);
    expectQuartetError(() => formats.srE2M1(Float32Array.of(1, 2), Uint32Array.of(0)), "INVALID_ARGUMENT", ["u24.length"]);
  });
});

describe("disposed tensors", () => {
  test("a disposed input, quantized tensor or GEMM operand -> DISPOSED", () => {
    const x = f32(gaussian(4 * 32, 6), 4, 32);
    const q = quantize(x);
    const q2 = quantize(x);
    x.dispose();
    expect(x.disposed).toBe(true);
    expectQuartetError(() => quantize(x), "DISPOSED", ["x"]);
    expectQuartetError(() => x.toFloat32Array(), "DISPOSED", ["dispose"]);
    expectQuartetError(() => rht(x, { dim: 32 }), "DISPOSED", ["x"]);
    q.dispose();
    expectQuartetError(() => dequantize(q), "DISPOSED", ["q"]);
    expectQuartetError(() => requantize(q), "DISPOSED", ["q"]);
    expectQuartetError(() => nvfp4Gemm(q2, q), "DISPOSED", ["b"]);
    q.dispose(); // idempotent
  });
});

describe("hand-built quantized tensors are checked before any native call", () => {
  test("wrong code, scale or tensor-scale sizes name the field", () => {
    const codes = Tensor.empty([4, 16], { dtype: "u8" }); // [4, 32] NVFP4 needs 64 code bytes: ok
    const scales = Tensor.empty([8], { dtype: "u8" }); // 4 * 32/16 = 8: ok
    const g = Tensor.fromFloat32([1], [1]);
    expect(() => new QuantizedTensor("nvfp4", [4, 32], "linear", codes, scales, g, null)).not.toThrow();
    expectQuartetError(() => new QuantizedTensor("nvfp4", [8, 32], "linear", codes, scales, g, null), "INVALID_ARGUMENT", ["codes", "128 bytes"]);
    expectQuartetError(() => new QuantizedTensor("nvfp4", [4, 32], "swizzled", codes, scales, g, null), "INVALID_ARGUMENT", ["scales", "512 bytes"]);
    expect(() => new QuantizedTensor("nvfp4", [4, 32], "linear", codes, scales, null, null)).not.toThrow(); // g = 1
    expectQuartetError(() => new QuantizedTensor("nvfp4", [4, 32], "linear", codes, scales, Tensor.fromFloat32([1, 2], [2]), null), "INVALID_ARGUMENT", ["tensorScale"]);
    expectQuartetError(() => new QuantizedTensor("mxfp4", [4, 32], "linear", codes, Tensor.empty([4], { dtype: "u8" }), g, null), "INVALID_ARGUMENT", ["tensorScale", "mxfp4"]);
  });
});
