/**
 * Relative MSE of every quantizer on a large N(0,1) tensor.
 *
 * Spec map (shared/spec/numerics.md):
 *   §9.1 table ([M] values) and §9.3 "MSE tests" recipe   -> "NVFP4 relative MSE", "ordering"
 *   §9.1 MXFP4 with Hadamard-32 (QuEST as coded, range-matched RTN) -> "MXFP4 relative MSE"
 *
 * Bound (§9.3): 2^22 iid elements give a sampling standard error of ~0.1% on a relative MSE; the +/-3% band
 * leaves room for the RNG and the tensor shape, not for a wrong algorithm (the nearest wrong variant, EDEN's
 * S per 128, is 4% off; RTN vs 4/6 differ by 16%).
 */
import { describe, expect, test } from "bun:test";
import { dequantize, quantize, rht, rhtSigns, type Rounding } from "../../src/index.ts";
import { f32 } from "../helpers/quartet.ts";
import { gaussian } from "../helpers/random.ts";
import { relMse } from "../helpers/reference.ts";

const ROWS = 2048, COLS = 2048; // 2^22 elements
const x = gaussian(ROWS * COLS, 2026);
const X = f32(x, ROWS, COLS);
const TOL = 0.03;

// §9.1 [M] values (x 1e-3)
const EXPECTED: Record<string, number> = {
  rtn: 9.046,
  "4/6": 7.563,
  "rtn-16x16": 12.398,
  sr: 23.521,
  "sr-4/6": 17.483,
  "eden-a": 9.316,
  "eden-b": 9.37,
};

const measured: Record<string, number> = {};
const SEED = 1234, STEP = 56, LAYER = 7;

function nvfp4RelMse(rounding: Rounding): number {
  if (rounding === "eden-a" || rounding === "eden-b") {
    // EDEN quantizes the rotated tensor; the rotation is orthogonal, so compare against rht(x) directly
    const signs = rhtSigns(SEED, STEP, LAYER);
    const q = quantize(X, { rounding, rht: { dim: 128, signs }, seed: SEED, step: STEP, tag: (LAYER << 8) | 1 });
    return relMse(rht(X, { dim: 128, signs }).toFloat32Array(), dequantize(q).toFloat32Array());
  }
  const q = quantize(X, { rounding, seed: SEED, step: STEP, tag: 1 });
  return relMse(x, dequantize(q).toFloat32Array());
}

describe("NVFP4 relative MSE on N(0,1), 2048 x 2048 (§9.1)", () => {
  for (const [rounding, want] of Object.entries(EXPECTED)) {
    test(`${rounding}: within 3% of ${want}e-3`, () => {
      const m = nvfp4RelMse(rounding as Rounding);
      measured[rounding] = m;
      expect(m * 1e3).toBeGreaterThan(want * (1 - TOL));
      expect(m * 1e3).toBeLessThan(want * (1 + TOL));
    });
  }

  test("ordering 4/6 < RTN < MS-EDEN (A, B) < SR+4/6 < SR", () => {
    const m = (r: string) => measured[r] ?? nvfp4RelMse(r as Rounding);
    expect(m("4/6")).toBeLessThan(m("rtn"));
    expect(m("rtn")).toBeLessThan(m("eden-a"));
    expect(m("rtn")).toBeLessThan(m("eden-b"));
    expect(m("eden-a")).toBeLessThan(m("sr-4/6"));
    expect(m("eden-b")).toBeLessThan(m("sr-4/6"));
    expect(m("sr-4/6")).toBeLessThan(m("sr"));
  });
});

describe("MXFP4 relative MSE on N(0,1) with Hadamard-32 (§9.1)", () => {
  test("QuEST exactly as coded (floor-pow2 scale): 27.0e-3 +/- 3% against rht(x, 32, no signs)", () => {
    // We get the floor-rule value (26.9e-3 measured with this tensor, [M] 27.0e-3; about 7% of the elements
    // clipped), NOT the 13.2e-3 that the Quartet paper reports for QuEST: this is the unresolved discrepancy
    // of §9.1 / §11, and the library follows the code (Triton reference and qutlass), as [C] says.
    const q = quantize(X, { format: "mxfp4", rounding: "quest" });
    const m = relMse(rht(X, { dim: 32 }).toFloat32Array(), dequantize(q).toFloat32Array());
    expect(m * 1e3).toBeGreaterThan(27.0 * (1 - TOL));
    expect(m * 1e3).toBeLessThan(27.0 * (1 + TOL));
    // trust mask: the fraction of unclipped elements is ~92.7% (7.3% clipped); bound: +/- 1 point
    let kept = 0;
    for (const b of q.mask!.toBytes()) for (let i = 0; i < 8; ++i) kept += (b >> i) & 1;
    expect(Math.abs(1 - kept / (ROWS * COLS) - 0.073)).toBeLessThan(0.01);
  });

  test("range-matched RTN (x 3/4): dequant * 4/3 is within 3% of 13.86e-3 against rht(x, 32, signs)", () => {
    const signs = rhtSigns(SEED, STEP, LAYER);
    const q = quantize(X, { format: "mxfp4", rounding: "rtn-rm", rht: { dim: 32, signs } });
    const dq = dequantize(q).toFloat32Array();
    for (let i = 0; i < dq.length; ++i) dq[i] = (dq[i]! * 4) / 3;
    const m = relMse(rht(X, { dim: 32, signs }).toFloat32Array(), dq);
    expect(m * 1e3).toBeGreaterThan(13.86 * (1 - TOL));
    expect(m * 1e3).toBeLessThan(13.86 * (1 + TOL));
  });
});
