/**
 * The randomized Hadamard transform.
 *
 * Spec map (shared/spec/numerics.md):
 *   §10 TV-7 (RHT-128 on e_0, ones, e_j)              -> "TV-7"
 *   §5.5 steps 1-3 (sign layout of §2, natural order,
 *        float32 FWHT, C_d bit patterns of §1.5)        -> "bit-exact FWHT", "sign layout"
 *   §5.5 "y = x D H_d / sqrt(d)", orthogonality         -> "orthogonality and inverse"
 *   §1.4 (BF16 output is the RNE of the FP32 result)   -> "BF16"
 */
import { describe, expect, test } from "bun:test";
import { rht, rhtSigns, Tensor } from "../../src/index.ts";
import { f32 } from "../helpers/quartet.ts";
import { gaussian } from "../helpers/random.ts";
import { bf16Rne, C128, C32, rhtF32 } from "../helpers/spec_quantizers.ts";
import { bitsF32, f32Bits, fl, gamma, irht64, norm2, rht64, signOf } from "../helpers/reference.ts";

const popcount = (v: number) => {
  let c = 0;
  for (; v; v &= v - 1) ++c;
  return c;
};

describe("TV-7 RHT-128, all signs +1 (§10)", () => {
  test("e_0 -> every output is C128 (0x3DB504F3)", () => {
    const x = new Float32Array(128);
    x[0] = 1;
    const y = rht(f32(x, 1, 128), { dim: 128 }).toFloat32Array();
    expect(Array.from(y, f32Bits).every((b) => b === 0x3db504f3)).toBe(true);
  });

  test("ones -> output 0 is fl(128 * C128) = 11.313708305358887 (0x413504F3), all others exactly 0", () => {
    const y = rht(f32(new Float32Array(128).fill(1), 1, 128), { dim: 128 }).toFloat32Array();
    expect(y[0]).toBe(11.313708305358887);
    expect(f32Bits(y[0]!)).toBe(0x413504f3);
    expect(Array.from(y.subarray(1)).every((v) => Object.is(v, 0))).toBe(true);
  });

  test("e_j -> output i is C128 * (-1)^popcount(i & j), for every j", () => {
    const x = new Float32Array(128 * 128);
    for (let j = 0; j < 128; ++j) x[j * 128 + j] = 1;
    const y = rht(f32(x, 128, 128), { dim: 128 }).toFloat32Array();
    for (let j = 0; j < 128; ++j)
      for (let i = 0; i < 128; ++i) {
        const want = popcount(i & j) % 2 ? -C128 : C128;
        if (y[j * 128 + i] !== want) expect([j, i, y[j * 128 + i]]).toEqual([j, i, want]);
      }
  });

  test("the same vectors for d = 16 and 32 (C16 = 0.25, C32 = 0x3E3504F3)", () => {
    for (const [d, c] of [[16, 0.25], [32, C32]] as const) {
      const e0 = new Float32Array(d);
      e0[0] = 1;
      expect(Array.from(rht(f32(e0, 1, d), { dim: d }).toFloat32Array()).every((v) => v === c)).toBe(true);
      const ones = rht(f32(new Float32Array(d).fill(1), 1, d), { dim: d }).toFloat32Array();
      expect(ones[0]).toBe(fl(d * c));
      expect(Array.from(ones.subarray(1)).every((v) => Object.is(v, 0))).toBe(true);
    }
    expect(f32Bits(C32)).toBe(0x3e3504f3);
  });
});

describe("bit-exact FWHT and sign layout (§5.5, §2)", () => {
  test("d = 16, 32, 128 with random signs: bytes equal the float32 FWHT of the spec", () => {
    const rows = 8, cols = 256;
    const x = gaussian(rows * cols, 51);
    for (const d of [16, 32, 128] as const) {
      const signs = rhtSigns(100 + d, 7, 2);
      const got = rht(f32(x, rows, cols), { dim: d, signs }).toFloat32Array();
      const want = rhtF32(x, rows, cols, d, signs);
      let bad = -1;
      for (let i = 0; i < got.length; ++i) if (f32Bits(got[i]!) !== f32Bits(want[i]!)) { bad = i; break; }
      expect({ d, firstBad: bad }).toEqual({ d, firstBad: -1 });
    }
  });

  test("sign of column j is bit (j & 31) of word (j >> 5): flipping one bit negates exactly that input", () => {
    // rht(x, signs with bit j) == rht(x with x_j negated, no signs), for j in every word; with 16 and 32 only
    // words 0 (and bits below d) are read
    const x = gaussian(128, 52);
    for (const j of [0, 1, 31, 32, 33, 63, 64, 95, 96, 127]) {
      const signs = new Uint32Array(4);
      signs[j >> 5] = (1 << (j & 31)) >>> 0;
      const xf = x.slice();
      xf[j] = -xf[j]!;
      const a = rht(f32(x, 1, 128), { dim: 128, signs }).toFloat32Array();
      const b = rht(f32(xf, 1, 128), { dim: 128 }).toFloat32Array();
      expect(Array.from(a, f32Bits)).toEqual(Array.from(b, f32Bits));
    }
    // d = 32: every chunk uses signs of columns 0..31 (word 0), the same for every chunk of the row
    const signs = Uint32Array.from([0x80000001, 0xffffffff, 0xffffffff, 0xffffffff]);
    const x64 = gaussian(64, 53);
    const flipped = x64.slice();
    for (const j of [0, 31, 32, 63]) flipped[j] = -flipped[j]!;
    expect(Array.from(rht(f32(x64, 1, 64), { dim: 32, signs }).toFloat32Array(), f32Bits)).toEqual(
      Array.from(rht(f32(flipped, 1, 64), { dim: 32 }).toFloat32Array(), f32Bits),
    );
  });
});

describe("orthogonality and inverse (§5.5)", () => {
  // Error model: each of the log2(d) butterfly stages is sqrt(2) times an orthogonal map and rounds every
  // output once (relative error <= u per element, so <= u in the 2-norm); the final scaling by C_d rounds
  // once more and C_d itself is within u of 1/sqrt(d). Hence ||y - y_exact|| <= gamma_{log2(d) + 2} ||x||.
  for (const d of [16, 32, 128] as const) {
    test(`d = ${d}: ||rht(x) - rht64(x)|| <= gamma_(log2 d + 2) ||x|| per row, norms preserved`, () => {
      const rows = 16, cols = 512;
      const x = gaussian(rows * cols, 60 + d);
      const signs = rhtSigns(d, 1, 1);
      const y = rht(f32(x, rows, cols), { dim: d, signs }).toFloat32Array();
      const y64 = rht64(x, rows, cols, d, signs);
      const bound = gamma(Math.log2(d) + 2);
      for (let r = 0; r < rows; ++r) {
        const s = r * cols, e = s + cols;
        const nx = norm2(x, s, e);
        let err = 0;
        for (let i = s; i < e; ++i) err += (y[i]! - y64[i]!) ** 2;
        expect(Math.sqrt(err)).toBeLessThanOrEqual(bound * nx);
        expect(Math.abs(norm2(y, s, e) - nx)).toBeLessThanOrEqual(bound * nx);
      }
    });
  }

  test("inverse: rht without signs is an involution up to 128 * C128^2; x = rht(rht(x, signs)) * D", () => {
    const rows = 4, cols = 256;
    const x = gaussian(rows * cols, 70);
    const signs = rhtSigns(70, 70, 70);
    // two float32 transforms: 2 gamma_9 from the rounding, plus |128 C128^2 - 1| from the constant
    const bound = 2 * gamma(9) + Math.abs(128 * C128 * C128 - 1);
    const twice = rht(rht(f32(x, rows, cols), { dim: 128 }), { dim: 128 }).toFloat32Array();
    const y = rht(f32(x, rows, cols), { dim: 128, signs });
    const back = rht(y, { dim: 128 }).toFloat32Array();
    for (let i = 0; i < back.length; ++i) back[i] = back[i]! * signOf(signs, i % 128);
    const back64 = irht64(y.toFloat32Array(), rows, cols, 128, signs);
    for (let r = 0; r < rows; ++r) {
      const s = r * cols, e = s + cols;
      const nx = norm2(x, s, e);
      let e1 = 0, e2 = 0, e3 = 0;
      for (let i = s; i < e; ++i) {
        e1 += (twice[i]! - x[i]!) ** 2;
        e2 += (back[i]! - x[i]!) ** 2;
        e3 += (back64[i]! - x[i]!) ** 2;
      }
      expect(Math.sqrt(e1)).toBeLessThanOrEqual(bound * nx);
      expect(Math.sqrt(e2)).toBeLessThanOrEqual(bound * nx);
      expect(Math.sqrt(e3)).toBeLessThanOrEqual(gamma(9) * nx); // one float32 transform, inverted exactly
    }
    // and with the signs applied twice the result is NOT x (the signs do not cancel that way)
    const wrong = rht(y, { dim: 128, signs }).toFloat32Array();
    let ew = 0;
    for (let i = 0; i < x.length; ++i) ew += (wrong[i]! - x[i]!) ** 2;
    expect(Math.sqrt(ew)).toBeGreaterThan(0.1 * norm2(x));
  });
});

describe("BF16 (§1.4)", () => {
  test("bf16 output is the RNE of the f32 output; bf16 input widens exactly", () => {
    const rows = 8, cols = 128;
    const x = gaussian(rows * cols, 80);
    const signs = rhtSigns(8, 0, 8);
    const y32 = rht(f32(x, rows, cols), { dim: 128, signs }).toFloat32Array();
    const yb = rht(f32(x, rows, cols), { dim: 128, signs, dtype: "bf16" });
    expect(yb.dtype).toBe("bf16");
    expect(Array.from(yb.toFloat32Array(), f32Bits)).toEqual(Array.from(y32, (v) => f32Bits(bf16Rne(v))));
    const xb = Tensor.fromFloat32(x, [rows, cols], { dtype: "bf16" });
    const fromB = rht(xb, { dim: 128, signs, dtype: "f32" }).toFloat32Array();
    const fromW = rht(f32(xb.toFloat32Array(), rows, cols), { dim: 128, signs }).toFloat32Array();
    expect(Array.from(fromB, f32Bits)).toEqual(Array.from(fromW, f32Bits));
    // default output dtype follows the input
    expect(rht(xb, { dim: 128 }).dtype).toBe("bf16");
    expect(bitsF32(0x3db504f3)).toBe(C128);
  });
});
