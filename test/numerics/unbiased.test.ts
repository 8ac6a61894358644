/**
 * Unbiasedness of the stochastic quantizers, the bias detector, and the finite-d EDEN witness.
 *
 * Spec map (shared/spec/numerics.md):
 *   §9.2, §9.3 "Unbiasedness" recipe (SR, MS-EDEN A and B)  -> "B * T_B / T_1 stays ~1"
 *   §9.3 "Bias detector must fire" (SR + 4/6)               -> "detector"
 *   §9.2, §9.3 "Witness test (variant A)", §5.6, §5.5        -> "witness"
 *
 * Recipe: a fixed X (32 x 1024, N(0,1)); draw b uses step b, so SR draws and (for EDEN) the RHT signs
 * rhtSigns(seed, b, layer) are new in every draw. EDEN output lives in the rotated domain and is brought back
 * with the inverse rotation: x = rht(y, no signs) * D (H symmetric, H H / d = I). T_B = ||mean_B - X||^2 / ||X||^2.
 * For an unbiased estimator E[T_B] = E[T_1] / B, so B * T_B / T_1 ~ 1; its relative spread is about
 * sqrt(2 / 32768) ~ 0.8% plus the spread of T_1 (here the mean of the B single-draw errors, ~0.03%), so
 * [0.8, 1.25] is ~25 standard deviations wide and only a bias of relMSE >~ 0.2 T_1 / B can leave it
 * (SR + 4/6 gives ratio ~42 at B = 1024).
 */
import { describe, expect, test } from "bun:test";
import { dequantize, formats, quantize, rht, rhtSigns, type Rounding } from "../../src/index.ts";
import { f32 } from "../helpers/quartet.ts";
import { gaussian } from "../helpers/random.ts";
import { E2M1_VALUES, f32Bits, fl, signOf, unpackCodes } from "../helpers/reference.ts";
import { K_ED, V_ED } from "../helpers/spec_quantizers.ts";

const R = 32, K = 1024, N = R * K;
const x = gaussian(N, 777);
const X = f32(x, R, K);
let xx = 0;
for (const v of x) xx += v * v;
const SEED = 99, LAYER = 5;

/** One draw of the quantizer at `step`, dequantized and brought back to the original domain. */
function draw(rounding: Rounding, step: number): Float32Array {
  const tag = (LAYER << 8) | 1;
  if (rounding === "eden-a" || rounding === "eden-b") {
    const signs = rhtSigns(SEED, step, LAYER);
    const q = quantize(X, { rounding, rht: { dim: 128, signs }, seed: SEED, step, tag });
    const back = rht(dequantize(q), { dim: 128 }).toFloat32Array(); // y H / sqrt(d)
    for (let i = 0; i < N; ++i) back[i] = back[i]! * signOf(signs, i & 127); // * D
    q.dispose();
    return back;
  }
  const q = quantize(X, { rounding, seed: SEED, step, tag });
  const out = dequantize(q).toFloat32Array();
  q.dispose();
  return out;
}

/** Runs B draws; returns T_1 (mean single-draw relative error) and T_B at each checkpoint. */
function meanErrors(rounding: Rounding, checkpoints: number[]) {
  const sum = new Float64Array(N);
  let t1 = 0;
  const tB: Record<number, number> = {};
  const last = checkpoints[checkpoints.length - 1]!;
  for (let b = 1; b <= last; ++b) {
    const d = draw(rounding, b);
    let e = 0;
    for (let i = 0; i < N; ++i) {
      sum[i]! += d[i]!;
      e += (d[i]! - x[i]!) ** 2;
    }
    t1 += e / xx;
    if (checkpoints.includes(b)) {
      let eb = 0;
      for (let i = 0; i < N; ++i) eb += (sum[i]! / b - x[i]!) ** 2;
      tB[b] = eb / xx;
    }
  }
  return { t1: t1 / last, tB };
}

describe("unbiasedness (§9.2, §9.3)", () => {
  for (const [rounding, t1Range] of [
    ["sr", [0.021, 0.026]], // §9.2: B * relMSE stays 2.34e-2..2.42e-2
    ["eden-a", [0.0085, 0.0105]], // §9.2: 9.3e-3..9.6e-3
    ["eden-b", [0.0085, 0.0105]],
  ] as const) {
    test(`${rounding}: B * T_B / T_1 in [0.8, 1.25] at B = 256 and 1024`, () => {
      const { t1, tB } = meanErrors(rounding, [256, 1024]);
      expect(t1).toBeGreaterThan(t1Range[0]);
      expect(t1).toBeLessThan(t1Range[1]);
      for (const B of [256, 1024]) {
        const ratio = (B * tB[B]!) / t1;
        expect({ B, ratio, ok: ratio >= 0.8 && ratio <= 1.25 }).toMatchObject({ B, ok: true });
      }
    }, 60_000);
  }

  test("detector: SR + 4/6 (biased) gives T_1024 > 5e-4 and a ratio far above 1.25", () => {
    const { t1, tB } = meanErrors("sr-4/6", [1024]);
    expect(tB[1024]!).toBeGreaterThan(5e-4);
    expect((1024 * tB[1024]!) / t1).toBeGreaterThan(1.25);
  }, 60_000);
});

describe("witness: finite-d bias of MS-EDEN variant A (§9.2)", () => {
  test("x = e_0 + 0.1 e_1: exact mean of coordinate 0 over signs and SR is 101/102 (to 1e-6)", () => {
    const x0 = new Float32Array(128);
    x0[0] = 1;
    x0[1] = fl(0.1);
    let mean = 0;
    for (let p = 0; p < 4; ++p) {
      // only the signs of coordinates 0 and 1 matter (x is zero elsewhere)
      const signs = Uint32Array.from([p, 0, 0, 0]);
      const y = rht(f32(x0, 1, 128), { dim: 128, signs }).toFloat32Array();
      let A = 0;
      for (const v of y) A = Math.max(A, Math.abs(v));
      const g = fl(A / K_ED);
      // expected dequantization: SR of the scale replaced by its mean, the corrected scale c_b
      const yhat = new Float64Array(128);
      for (let b = 0; b < 8; ++b) {
        const blk = formats.edenBlock(y.subarray(16 * b, 16 * b + 16), V_ED, g, 0);
        const codes = unpackCodes(blk.codes);
        for (let i = 0; i < 16; ++i) yhat[16 * b + i] = E2M1_VALUES[codes[i]!]! * blk.corrected * g;
      }
      // inverse rotation, coordinate 0: x_0 = sigma_0 * sum_i H[0][i] yhat_i / sqrt(128) = sigma_0 * sum yhat / sqrt(128)
      let s = 0;
      for (const v of yhat) s += v;
      mean += (signOf(signs, 0) * s) / Math.sqrt(128) / 4;
    }
    expect(f32Bits(V_ED)).toBe(0x40c24eb2);
    expect(Math.abs(mean - 101 / 102)).toBeLessThan(1e-6);
    // and it is visibly not 1: the bias is real at d = 128
    expect(1 - mean).toBeGreaterThan(0.009);
  });
});
