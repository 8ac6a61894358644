/** Causal multi-head attention on the CPU backend (the reference of the CUDA flash kernel): forward and
 * backward against float64, a central-difference gradient check, causality, BF16 data, determinism across
 * thread counts, and bad arguments. */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { cudaAvailable, setCpuThreads, Tensor } from "../../src/index.ts";
import { check, native } from "../../src/native/ffi.ts";
import * as ops from "../../src/model/ops.ts";
import { expectQuartetError } from "../helpers/quartet.ts";
import { attentionBackwardRef, attentionRef, dot, mat, maxRelErr, randn, roundBf16, type AttnShape } from "./reference.ts";

setDefaultTimeout(120_000);

afterAll(() => setCpuThreads(0));

const shape: AttnShape = { B: 2, S: 9, H: 2, hd: 8 };
const { B, S, H, hd } = shape;
const T = B * S, D = H * hd;
const qkv = randn(T * 3 * D, 60, 1.5);
const dout = randn(T * D, 61);

function forward(x: Float32Array, dtype: "f32" | "bf16" = "f32") {
  const out = Tensor.empty([T, D], { dtype }), lse = Tensor.empty([B * H * S]);
  const q = mat(x, T, 3 * D, dtype);
  ops.attentionForward({ qkv: q, out, lse, batch: B, seq: S, heads: H, headDim: hd });
  return { q, out, lse, o: out.toFloat32Array(), l: lse.toFloat32Array() };
}

function backward(x: Float32Array, dy: Float32Array, dtype: "f32" | "bf16" = "f32") {
  const f = forward(x, dtype);
  const dqkv = Tensor.empty([T, 3 * D], { dtype }), delta = Tensor.empty([B * H * S]);
  ops.attentionBackward({ qkv: f.q, out: f.out, dout: mat(dy, T, D, dtype), lse: f.lse, dqkv, delta, batch: B, seq: S, heads: H, headDim: hd });
  return dqkv.toFloat32Array();
}

describe("attention (CPU reference)", () => {
  test("forward matches float64 softmax attention (out, lse)", () => {
    const f = forward(qkv);
    const ref = attentionRef(qkv, shape);
    expect(maxRelErr(f.o, ref.out)).toBeLessThan(2e-6);
    expect(maxRelErr(f.l, ref.lse)).toBeLessThan(2e-6);
  });

  test("backward matches float64 (dq, dk, dv)", () => {
    expect(maxRelErr(backward(qkv, dout), attentionBackwardRef(qkv, dout, shape).dqkv)).toBeLessThan(5e-6);
  });

  test("gradient check: <dqkv, u> equals central differences of L = <out, dout>", () => {
    const g = backward(qkv, dout);
    const u = randn(qkv.length, 62);
    const L = (x: Float32Array) => dot(forward(x).o, dout);
    const e = 1e-2;
    const fd = (L(qkv.map((v, i) => v + e * u[i]!)) - L(qkv.map((v, i) => v - e * u[i]!))) / (2 * e);
    expect(Math.abs(fd - dot(g, u)) / Math.abs(fd)).toBeLessThan(2e-3);
  });

  test("causal: changing tokens after position i leaves outputs up to i unchanged", () => {
    const a = forward(qkv).o;
    const changed = Float32Array.from(qkv);
    for (let b = 0; b < B; ++b) for (let c = 0; c < 3 * D; ++c) changed[(b * S + 6) * 3 * D + c] = 5;
    const o = forward(changed).o;
    for (let b = 0; b < B; ++b)
      for (let i = 0; i < S; ++i)
        for (let c = 0; c < D; ++c) {
          const k = (b * S + i) * D + c;
          if (i < 6) expect(o[k]).toBe(a[k]!);
        }
  });

  test("bf16 data: float32 math on the bf16 values, outputs rounded once", () => {
    const xb = roundBf16(qkv), db = roundBf16(dout);
    const f = forward(xb, "bf16");
    const ref = attentionRef(xb, shape);
    expect(maxRelErr(f.o, ref.out)).toBeLessThan(2 ** -8);
    expect(maxRelErr(f.l, ref.lse)).toBeLessThan(2e-6);
    expect(maxRelErr(backward(xb, db, "bf16"), attentionBackwardRef(xb, db, shape).dqkv)).toBeLessThan(2 ** -7);
  });

  test("bytes do not depend on the thread count", () => {
    setCpuThreads(1);
    const one = [forward(qkv).o, forward(qkv).l, backward(qkv, dout)];
    setCpuThreads(0);
    const many = [forward(qkv).o, forward(qkv).l, backward(qkv, dout)];
    for (let i = 0; i < 3; ++i) expect(many[i]).toEqual(one[i]!);
  });

  test("bad arguments", () => {
    const f = forward(qkv);
    const lse = Tensor.empty([B * H * S]);
    expectQuartetError(() => check(native().quartet_attention_forward(0, f.q.handle, 0, B, S, H, hd, f.q.handle, lse.handle)),
      "INVALID_ARGUMENT", ["quartet_attention_forward", "alias"]);
    expectQuartetError(() => check(native().quartet_attention_forward(0, f.q.handle, 2, B, S, H, hd, f.out.handle, lse.handle)),
      "INVALID_ARGUMENT", ["dtype"]);
    expectQuartetError(() => check(native().quartet_attention_backward(0, f.q.handle, f.out.handle, f.out.handle, lse.handle, 0, B, S, H, hd,
      Tensor.empty([T, 3 * D]).handle, null)), "NULL_POINTER", ["delta"]);
    expectQuartetError(() => ops.attentionForward({ qkv: f.q, out: Tensor.empty([T, D + 1]), lse, batch: B, seq: S, heads: H, headDim: hd }),
      "INVALID_ARGUMENT", ["attentionForward", "out"]);
    if (!cudaAvailable())
      expectQuartetError(() => check(native().quartet_attention_forward(1, f.q.handle, 1, B, S, H, hd, f.out.handle, lse.handle)),
        "UNSUPPORTED", ["quartet_attention_forward"]);
  });
});
