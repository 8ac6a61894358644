/** The element-wise and row-wise model ops on the CPU backend (numerics.md §7): embedding, RMSNorm, RoPE, SwiGLU,
 * residual add, conversion and the fused cross-entropy, each against a float64 reference, with a gradient check
 * (central differences of the op's own forward against its backward), determinism across thread counts, and
 * the errors bad arguments get. */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { setCpuThreads, Tensor } from "../../src/index.ts";
import { check, native } from "../../src/native/ffi.ts";
import * as ops from "../../src/model/ops.ts";
import { expectQuartetError } from "../helpers/quartet.ts";
import {
  crossEntropyRef, dot, f64, int32Buf, mat, maxElemRelErr, maxRelErr, randn, rmsnormBackwardRef, rmsnormRef, ropeRef, roundBf16,
  swigluBackwardRef, swigluRef, vec,
} from "./reference.ts";

setDefaultTimeout(120_000);

afterAll(() => setCpuThreads(0));

/** Runs fn with 1 thread and with the default pool; returns both results' bytes. */
function underThreadCounts(fn: () => Uint8Array[]): [Uint8Array[], Uint8Array[]] {
  setCpuThreads(1);
  const one = fn();
  setCpuThreads(0);
  const many = fn();
  return [one, many];
}

function sameBytes(a: Uint8Array[], b: Uint8Array[]): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; ++i) expect(Buffer.compare(Buffer.from(a[i]!), Buffer.from(b[i]!))).toBe(0);
}

describe("embedding", () => {
  const V = 37, d = 24, n = 50;
  const table = randn(V * d, 1);
  const ids = Array.from({ length: n }, (_, i) => (i * 7 + (i % 3) * 11) % V);
  ids[5] = ids[9] = ids[31] = 4; // repeated ids: their gradients add up in t order

  test("forward gathers rows (f32 exactly, bf16 rounded to nearest even)", () => {
    for (const dtype of ["f32", "bf16"] as const) {
      const out = Tensor.empty([n, d], { dtype });
      ops.embeddingForward({ tokens: int32Buf(ids), table: mat(table, V, d), out });
      const got = out.toFloat32Array();
      const want = new Float32Array(n * d);
      for (let t = 0; t < n; ++t) want.set(table.subarray(ids[t]! * d, ids[t]! * d + d), t * d);
      expect(got).toEqual(dtype === "f32" ? want : roundBf16(want));
    }
  });

  test("backward adds each token's row in increasing t (float32 sums, bit-exact), independent of threads", () => {
    const dout = randn(n * d, 2);
    const init = randn(V * d, 3, 0.1);
    const run = () => {
      const dtable = mat(init, V, d);
      ops.embeddingBackward({ tokens: int32Buf(ids), dout: mat(dout, n, d), dtable });
      return [dtable.toBytes()];
    };
    const [one, many] = underThreadCounts(run);
    sameBytes(one, many);
    const want = Float32Array.from(init);
    for (let t = 0; t < n; ++t) for (let c = 0; c < d; ++c) want[ids[t]! * d + c] = Math.fround(want[ids[t]! * d + c]! + dout[t * d + c]!);
    expect(new Float32Array(many[0]!.buffer)).toEqual(want);
  });

  test("an id outside [0, vocab) is an INVALID_ARGUMENT naming it", () => {
    const bad = [...ids];
    bad[7] = V;
    expectQuartetError(() => ops.embeddingForward({ tokens: int32Buf(bad), table: mat(table, V, d), out: Tensor.empty([n, d]) }),
      "INVALID_ARGUMENT", ["quartet_embedding_forward", "tokens[7]"]);
    bad[7] = -1;
    expectQuartetError(() => ops.embeddingBackward({ tokens: int32Buf(bad), dout: Tensor.empty([n, d]), dtable: Tensor.empty([V, d]) }),
      "INVALID_ARGUMENT", ["quartet_embedding_backward", "tokens[7]"]);
  });
});

describe("RMSNorm", () => {
  const rows = 300, d = 200, eps = 1e-5; // 300 rows: three 128-row partials of the weight gradient, the last partial
  const x = randn(rows * d, 10, 1.7);
  const w = randn(d, 11, 0.3).map((v) => 1 + v);
  const dy = randn(rows * d, 12);

  function forward(xv: Float32Array, wv: Float32Array): { y: Float32Array; rstd: Float32Array } {
    const y = Tensor.empty([rows, d]), rstd = Tensor.empty([rows]);
    ops.rmsnormForward({ x: mat(xv, rows, d), weight: vec(wv), y, rstd, eps });
    return { y: y.toFloat32Array(), rstd: rstd.toFloat32Array() };
  }
  function backward(xv: Float32Array, wv: Float32Array, dyv: Float32Array, dxInit?: Float32Array) {
    const { rstd } = forward(xv, wv);
    const dx = dxInit ? mat(dxInit, rows, d) : Tensor.empty([rows, d]);
    const dweight = Tensor.zeros([d]);
    const scratch = Tensor.empty([ops.rmsnormScratchElems(rows, d)]);
    ops.rmsnormBackward({ x: mat(xv, rows, d), weight: vec(wv), rstd: vec(rstd), dy: mat(dyv, rows, d), dx, dweight, scratch,
      accumulate: !!dxInit });
    return { dx: dx.toFloat32Array(), dw: dweight.toFloat32Array() };
  }

  test("forward matches float64 (y, rstd) to a few float32 ulps", () => {
    const { y, rstd } = forward(x, w);
    const ref = rmsnormRef(x, rows, d, w, eps);
    expect(maxElemRelErr(rstd, ref.rstd, 0)).toBeLessThan(4e-7);
    expect(maxElemRelErr(y, ref.y, 1e-30)).toBeLessThan(6e-7);
  });

  test("backward matches float64 (dx, dweight)", () => {
    const { dx, dw } = backward(x, w, dy);
    const ref = rmsnormBackwardRef(x, rows, d, w, eps, dy);
    expect(maxRelErr(dx, ref.dx)).toBeLessThan(2e-6);
    expect(maxRelErr(dw, ref.dw)).toBeLessThan(2e-6);
  });

  test("gradient check: <dL/dx, u> and <dL/dw, u_w> equal central differences of L = <y, dy>", () => {
    const { dx, dw } = backward(x, w, dy);
    const u = randn(rows * d, 13), uw = randn(d, 14);
    const L = (xv: Float32Array, wv: Float32Array) => dot(forward(xv, wv).y, dy);
    const h = 1e-2;
    const shift = (a: Float32Array, b: Float32Array, s: number) => a.map((v, i) => v + s * b[i]!);
    const fdX = (L(shift(x, u, h), w) - L(shift(x, u, -h), w)) / (2 * h);
    const fdW = (L(x, shift(w, uw, h)) - L(x, shift(w, uw, -h))) / (2 * h);
    expect(Math.abs(fdX - dot(dx, u)) / Math.abs(fdX)).toBeLessThan(2e-3);
    expect(Math.abs(fdW - dot(dw, uw)) / Math.abs(fdW)).toBeLessThan(2e-3);
  });

  test("accumulate adds into dx; dweight accumulates; bf16 inputs and outputs work", () => {
    const base = randn(rows * d, 15);
    const { dx } = backward(x, w, dy);
    const acc = backward(x, w, dy, base).dx;
    for (let i = 0; i < acc.length; i += 97) expect(acc[i]).toBe(Math.fround(base[i]! + dx[i]!));
    const xb = roundBf16(x), dyb = roundBf16(dy);
    const y = Tensor.empty([rows, d], { dtype: "bf16" }), rstd = Tensor.empty([rows]);
    ops.rmsnormForward({ x: mat(xb, rows, d, "bf16"), weight: vec(w), y, rstd, eps });
    expect(maxElemRelErr(y.toFloat32Array(), rmsnormRef(xb, rows, d, w, eps).y, 1e-30)).toBeLessThan(2 ** -8);
    const dxb = Tensor.empty([rows, d], { dtype: "bf16" }), dwt = Tensor.zeros([d]);
    ops.rmsnormBackward({ x: mat(xb, rows, d, "bf16"), weight: vec(w), rstd, dy: mat(dyb, rows, d, "bf16"), dx: dxb, dweight: dwt,
      scratch: Tensor.empty([ops.rmsnormScratchElems(rows, d)]) });
    const ref = rmsnormBackwardRef(xb, rows, d, w, eps, dyb);
    expect(maxRelErr(dxb.toFloat32Array(), ref.dx)).toBeLessThan(2 ** -8);
    expect(maxRelErr(dwt.toFloat32Array(), ref.dw)).toBeLessThan(1e-5);
  });

  test("bytes do not depend on the thread count", () => {
    const [one, many] = underThreadCounts(() => {
      const f = forward(x, w), b = backward(x, w, dy);
      return [f.y, f.rstd, b.dx, b.dw].map((a) => new Uint8Array(a.buffer.slice(0)));
    });
    sameBytes(one, many);
  });

  test("bad arguments", () => {
    expectQuartetError(() => ops.rmsnormForward({ x: mat(x, rows, d), weight: vec(w), y: Tensor.empty([rows, d]), eps: 0 }),
      "INVALID_ARGUMENT", ["quartet_rmsnorm_forward", "eps"]);
    expectQuartetError(() => ops.rmsnormForward({ x: mat(x, rows, d), weight: vec(w.subarray(1)), y: Tensor.empty([rows, d]) }),
      "INVALID_ARGUMENT", ["rmsnormForward", "x"]);
    const s = ops.rmsnormScratchElems(rows, d);
    expect(s).toBe(3 * d);
    expectQuartetError(() => check(native().quartet_rmsnorm_backward(0, mat(x, rows, d).handle, 0, rows, d, vec(w).handle,
      Tensor.empty([rows]).handle, mat(dy, rows, d).handle, 0, Tensor.empty([rows, d], { dtype: "bf16" }).handle, 1, 1,
      Tensor.empty([d]).handle, Tensor.empty([s]).handle)), "INVALID_ARGUMENT", ["quartet_rmsnorm_backward", "accumulate_dx"]);
    expectQuartetError(() => check(native().quartet_rmsnorm_backward(0, mat(x, rows, d).handle, 0, rows, d, vec(w).handle,
      Tensor.empty([rows]).handle, mat(dy, rows, d).handle, 0, Tensor.empty([rows, d]).handle, 0, 0, Tensor.empty([d]).handle, null)),
      "NULL_POINTER", ["scratch"]);
  });
});

describe("RoPE", () => {
  const seq = 12, B = 3, heads = 2, hd = 16, ld = 3 * heads * hd; // a fused QKV buffer: q, k rotated, v untouched
  const rows = B * seq;
  const x = randn(rows * ld, 20);
  const { cos, sin } = ops.ropeTable(seq, hd);
  const run = (xv: Float32Array, inverse: boolean, dtype: "f32" | "bf16" = "f32") => {
    const t = mat(xv, rows, ld, dtype);
    (inverse ? ops.ropeBackward : ops.ropeForward)({ x: t, heads: 2 * heads, headDim: hd, seqLen: seq, cos: vec(cos), sin: vec(sin) });
    return t.toFloat32Array();
  };

  test("table: cos/sin(p * 10000^(-2j/hd)) rounded once", () => {
    for (const [p, j] of [[0, 0], [5, 3], [11, 7]] as const) {
      const a = p * Math.pow(10000, (-2 * j) / hd);
      expect(cos[p * (hd / 2) + j]).toBe(Math.fround(Math.cos(a)));
      expect(sin[p * (hd / 2) + j]).toBe(Math.fround(Math.sin(a)));
    }
  });

  test("forward matches float64 rotate-half on q and k, leaves v alone", () => {
    const y = run(x, false);
    const ref = ropeRef(x, rows, ld, 2 * heads, hd, seq);
    expect(maxRelErr(y, ref)).toBeLessThan(1e-6);
    for (let t = 0; t < rows; ++t) for (let c = 2 * heads * hd; c < ld; ++c) expect(y[t * ld + c]).toBe(x[t * ld + c]!);
  });

  test("backward is the adjoint (<R x, v> = <x, R^T v>) and the inverse (R^T R x = x)", () => {
    const v = randn(rows * ld, 21);
    expect(Math.abs(dot(run(x, false), v) - dot(x, run(v, true))) / Math.abs(dot(x, run(v, true)))).toBeLessThan(1e-5);
    expect(maxRelErr(run(run(x, false), true), f64(x))).toBeLessThan(1e-6);
  });

  test("bf16 in place rounds the rotated values", () => {
    const xb = roundBf16(x);
    const y = run(xb, false, "bf16");
    expect(maxElemRelErr(y, ropeRef(xb, rows, ld, 2 * heads, hd, seq), 1e-3)).toBeLessThan(2 ** -8);
  });

  test("bad arguments", () => {
    expectQuartetError(() => check(native().quartet_rope_forward(0, mat(x, rows, ld).handle, 0, rows, ld, 2, 15, seq, vec(cos).handle, vec(sin).handle)),
      "SHAPE", ["quartet_rope_forward", "head_dim"]);
    expectQuartetError(() => check(native().quartet_rope_forward(0, mat(x, rows, ld).handle, 0, rows, ld, 7, hd, seq, vec(cos).handle, vec(sin).handle)),
      "SHAPE", ["quartet_rope_forward", "ld"]);
    expectQuartetError(() => check(native().quartet_rope_table(4, 8, 0.5, new Float32Array(16), new Float32Array(16))), "INVALID_ARGUMENT", ["theta"]);
  });
});

describe("SwiGLU", () => {
  const rows = 40, H = 96;
  const gu = randn(rows * 2 * H, 30, 3);
  const dh = randn(rows * H, 31);
  const fwd = (g: Float32Array) => {
    const h = Tensor.empty([rows, H]);
    ops.swigluForward({ gu: mat(g, rows, 2 * H), h });
    return h.toFloat32Array();
  };
  const bwd = (g: Float32Array) => {
    const dgu = Tensor.empty([rows, 2 * H]);
    ops.swigluBackward({ gu: mat(g, rows, 2 * H), dh: mat(dh, rows, H), dgu });
    return dgu.toFloat32Array();
  };

  test("forward matches float64 element-wise (exp and sigmoid to a few ulps over gates in [-100, 100])", () => {
    expect(maxElemRelErr(fwd(gu), swigluRef(gu, rows, H), 1e-37)).toBeLessThan(1e-6);
    const wide = new Float32Array(rows * 2 * H);
    for (let r = 0; r < rows; ++r)
      for (let j = 0; j < H; ++j) {
        wide[r * 2 * H + j] = -100 + (200 * (r * H + j)) / (rows * H);
        wide[r * 2 * H + H + j] = 1;
      }
    // results below ~1e-36 are subnormal (or 0) in float32: relative accuracy there is bounded by 2^-149 absolute
    expect(maxElemRelErr(fwd(wide), swigluRef(wide, rows, H), 1e-36)).toBeLessThan(1e-6);
  });

  test("backward matches float64 and central differences", () => {
    const dgu = bwd(gu);
    expect(maxRelErr(dgu, swigluBackwardRef(gu, dh, rows, H))).toBeLessThan(2e-6);
    const u = randn(rows * 2 * H, 32);
    const L = (g: Float32Array) => dot(fwd(g), dh);
    const e = 1e-3;
    const fd = (L(gu.map((v, i) => v + e * u[i]!)) - L(gu.map((v, i) => v - e * u[i]!))) / (2 * e);
    expect(Math.abs(fd - dot(dgu, u)) / Math.abs(fd)).toBeLessThan(1e-3);
  });

  test("dgu may overwrite gu in place; bytes do not depend on the thread count", () => {
    const t = mat(gu, rows, 2 * H);
    ops.swigluBackward({ gu: t, dh: mat(dh, rows, H), dgu: t });
    expect(t.toFloat32Array()).toEqual(bwd(gu));
    const [one, many] = underThreadCounts(() => [new Uint8Array(fwd(gu).buffer), new Uint8Array(bwd(gu).buffer)]);
    sameBytes(one, many);
  });
});

describe("residual add and conversion", () => {
  test("add: y = fl(y + x) with mixed dtypes; convert: RNE into bf16, exact widening", () => {
    const a = randn(1000, 40), b = randn(1000, 41);
    const y = vec(a);
    ops.addInto(y, vec(b, "bf16"));
    const bb = roundBf16(b);
    expect(y.toFloat32Array()).toEqual(a.map((v, i) => Math.fround(v + bb[i]!)));
    const yb = vec(a, "bf16");
    ops.addInto(yb, vec(b));
    expect(yb.toFloat32Array()).toEqual(roundBf16(roundBf16(a).map((v, i) => Math.fround(v + b[i]!))));
    const c = Tensor.empty([1000], { dtype: "bf16" });
    ops.convertInto(c, vec(a));
    expect(c.toFloat32Array()).toEqual(roundBf16(a));
    const w = Tensor.empty([1000]);
    ops.convertInto(w, c);
    expect(w.toFloat32Array()).toEqual(roundBf16(a));
    expectQuartetError(() => check(native().quartet_convert(0, c.handle, 1, c.handle, 0, 10)), "INVALID_ARGUMENT", ["alias"]);
  });
});

describe("cross-entropy", () => {
  const rows = 24, V = 1000;
  const z = randn(rows * V, 50, 4);
  const targets = Array.from({ length: rows }, (_, r) => (r * 131) % V);
  targets[3] = -1; // ignored
  const scale = 1 / 23;
  const run = (zv: Float32Array, grad: boolean, dtype: "f32" | "bf16" = "f32") => {
    const logits = mat(zv, rows, V, dtype), losses = Tensor.empty([rows]);
    ops.crossEntropy({ logits, targets: int32Buf(targets), losses, gradScale: scale, computeGrad: grad });
    return { losses: losses.toFloat32Array(), logits: logits.toFloat32Array() };
  };

  test("losses and gradient match float64; ignored rows get 0", () => {
    const { losses, logits } = run(z, true);
    const ref = crossEntropyRef(z, rows, V, targets, scale);
    expect(maxElemRelErr(losses, ref.losses, 1e-6)).toBeLessThan(1e-6);
    expect(maxRelErr(logits, ref.grad)).toBeLessThan(2e-6);
    expect(losses[3]).toBe(0);
    for (let v = 0; v < V; ++v) expect(logits[3 * V + v]).toBe(0);
  });

  test("gradient check: <grad, u> equals central differences of scale * sum(losses)", () => {
    const { logits } = run(z, true);
    const u = randn(rows * V, 51);
    const L = (zv: Float32Array) => scale * run(zv, false).losses.reduce((a, b) => a + b, 0);
    const e = 1e-2;
    const fd = (L(z.map((v, i) => v + e * u[i]!)) - L(z.map((v, i) => v - e * u[i]!))) / (2 * e);
    expect(Math.abs(fd - dot(logits, u)) / Math.abs(fd)).toBeLessThan(2e-3);
  });

  test("without compute_grad the logits are untouched; bf16 logits; large logits do not overflow", () => {
    expect(run(z, false).logits).toEqual(z);
    const zb = roundBf16(z);
    const b = run(zb, true, "bf16");
    const ref = crossEntropyRef(zb, rows, V, targets, scale);
    expect(maxElemRelErr(b.losses, ref.losses, 1e-6)).toBeLessThan(1e-6);
    expect(maxRelErr(b.logits, ref.grad)).toBeLessThan(2 ** -8);
    const big = z.map((v) => v * 1000);
    const r = run(big, false);
    expect(maxElemRelErr(r.losses, crossEntropyRef(big, rows, V, targets, scale).losses, 1e-3)).toBeLessThan(1e-6);
  });

  test("bytes do not depend on the thread count; a target >= vocab is refused before anything is written", () => {
    const [one, many] = underThreadCounts(() => {
      const r = run(z, true);
      return [new Uint8Array(r.losses.buffer), new Uint8Array(r.logits.buffer)];
    });
    sameBytes(one, many);
    const bad = [...targets];
    bad[10] = V;
    const logits = mat(z, rows, V);
    expectQuartetError(() => ops.crossEntropy({ logits, targets: int32Buf(bad), losses: Tensor.empty([rows]), computeGrad: true }),
      "INVALID_ARGUMENT", ["quartet_cross_entropy", "targets[10]"]);
    expect(logits.toFloat32Array()).toEqual(z);
  });
});

