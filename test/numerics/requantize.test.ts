/**
 * Re-quantization of a saved quantized tensor along its other dimension.
 *
 * Spec map:
 *   numerics.md §5.8 (dequantize to FP32, transpose, RHT along the new rows, quantize) and quartet.h
 *   quartet_requantize ("equals quantize(dequantize(src), transpose = 1, ...) bit for bit")
 *     -> "requantize == quantize(dequantize(q), transpose)"
 *   numerics.md §6.1 / §6.5 (W^T, X^T of Quartet II with EDEN-B; Quartet v1 MXFP4 range-matched) -> the cases
 */
import { describe, expect, test } from "bun:test";
import { dequantize, quantize, requantize, rhtSigns, type QuantizeOptions, type RequantizeOptions } from "../../src/index.ts";
import { bytesOf, f32 } from "../helpers/quartet.ts";
import { gaussian } from "../helpers/random.ts";
import { hex } from "../helpers/reference.ts";

const R = 256, K = 96; // the forward tensor [R, K]; its transpose [K, R] has K' = 256 (a multiple of 128)
const x = gaussian(R * K, 600);
const signs = rhtSigns(11, 12, 13);

const CASES: { name: string; fwd: QuantizeOptions; re: RequantizeOptions }[] = [
  { name: "4/6 -> eden-b, RHT-128 (Quartet II W^T / X^T)", fwd: { rounding: "4/6" }, re: { rounding: "eden-b", rht: { dim: 128, signs } } },
  { name: "rtn -> eden-a, RHT-128", fwd: { rounding: "rtn" }, re: { rounding: "eden-a", rht: { dim: 128, signs } } },
  { name: "rtn -> sr (no RHT)", fwd: { rounding: "rtn" }, re: { rounding: "sr" } },
  { name: "rtn -> sr, RHT-32 (TetraJet-v2)", fwd: { rounding: "rtn" }, re: { rounding: "sr", rht: { dim: 32, signs } } },
  { name: "4/6 -> rtn", fwd: { rounding: "4/6" }, re: { rounding: "rtn" } },
  { name: "rtn-16x16 -> rtn-16x16", fwd: { rounding: "rtn-16x16" }, re: { rounding: "rtn-16x16" } },
  { name: "eden-b -> eden-b, swizzled output", fwd: { rounding: "eden-b" }, re: { rounding: "eden-b", rht: { dim: 128, signs }, scaleLayout: "swizzled" } },
  {
    name: "mxfp4 quest -> mxfp4 rtn-rm, RHT-32 (Quartet v1)",
    fwd: { format: "mxfp4", rounding: "quest" },
    re: { format: "mxfp4", rounding: "rtn-rm", rht: { dim: 32, signs } },
  },
];

describe("requantize == quantize(dequantize(q), transpose) (§5.8)", () => {
  for (const c of CASES)
    test(c.name, () => {
      const q = quantize(f32(x, R, K), c.fwd);
      const key = { seed: 21, step: 22, tag: (4 << 8) | 2 };
      const rq = requantize(q, { ...c.re, ...key });
      expect(rq.shape).toEqual([K, R]);
      const ref = quantize(dequantize(q), { ...c.re, ...key, transpose: true });
      const a = bytesOf(rq), b = bytesOf(ref);
      expect(a.g).toBe(b.g);
      expect(hex(a.scales)).toBe(hex(b.scales));
      expect(hex(a.codes)).toBe(hex(b.codes));
    });

  test("the key matters: another step gives other scale draws (EDEN) — the comparison above is not vacuous", () => {
    const q = quantize(f32(x, R, K), { rounding: "4/6" });
    const a = bytesOf(requantize(q, { rounding: "eden-b", rht: { dim: 128, signs }, seed: 1, step: 1 }));
    const b = bytesOf(requantize(q, { rounding: "eden-b", rht: { dim: 128, signs }, seed: 1, step: 2 }));
    expect(hex(a.scales)).not.toBe(hex(b.scales));
  });
});
