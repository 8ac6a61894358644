/**
 * The 128x4 swizzled scale layout.
 *
 * Spec map (shared/spec/numerics.md):
 *   §3.5 offsets and their check values (TV-8)     -> "TV-8"
 *   §3.5 padding (rows to 128, columns to 4, zero)  -> "sizes and padding", "round trip"
 *   §3.5 + §4 (MXFP4 uses the same layout)          -> "quantize with swizzled scales"
 */
import { describe, expect, test } from "bun:test";
import { check, dequantize, native, quantize, rhtSigns, type Rounding } from "../../src/index.ts";
import { bytesOf, f32 } from "../helpers/quartet.ts";
import { gaussian, Rng } from "../helpers/random.ts";
import { hex, swizzledBytes, swizzleOffset } from "../helpers/reference.ts";

function scalesBytes(rows: number, cols: number, layout: 0 | 1): number {
  const out = new BigInt64Array(1);
  check(native().quartet_scales_bytes(rows, cols, layout, out));
  return Number(out[0]);
}
function swizzle(linear: Uint8Array, rows: number, cols: number): Uint8Array {
  const out = new Uint8Array(scalesBytes(rows, cols, 1)).fill(0xee); // poison: pads must be written as 0
  check(native().quartet_swizzle_scales(0, linear, rows, cols, out));
  return out;
}
function unswizzle(sw: Uint8Array, rows: number, cols: number): Uint8Array {
  const out = new Uint8Array(rows * cols);
  check(native().quartet_unswizzle_scales(0, sw, rows, cols, out));
  return out;
}

describe("TV-8 swizzle offsets (§3.5)", () => {
  // Two linear matrices whose bytes name their own row (r + 1) and column (c + 1); after swizzling, the byte at
  // offset o says which (r, c) the library put there. rows 200 and 6 columns exercise both paddings.
  const rows = 200, cols = 6;
  const rowTag = Uint8Array.from({ length: rows * cols }, (_, i) => Math.floor(i / cols) + 1);
  const colTag = Uint8Array.from({ length: rows * cols }, (_, i) => (i % cols) + 1);
  const swR = swizzle(rowTag, rows, cols), swC = swizzle(colTag, rows, cols);
  const where = (o: number) => [swR[o]! - 1, swC[o]! - 1];

  test("the spec's check values", () => {
    const nCT = 2; // ceil(6 / 4)
    expect(where(0)).toEqual([0, 0]);
    expect(where(16)).toEqual([1, 0]);
    expect(where(4)).toEqual([32, 0]);
    expect(where(21)).toEqual([33, 1]);
    expect(where(511)).toEqual([127, 3]);
    expect(where(512)).toEqual([0, 4]);
    expect(where(512 * nCT)).toEqual([128, 0]);
  });

  test("every (r, c) lands at off(r, c) of the spec formula; everything else is zero padding", () => {
    expect(swR.length).toBe(256 * 8);
    const used = new Uint8Array(swR.length);
    for (let r = 0; r < rows; ++r)
      for (let c = 0; c < cols; ++c) {
        const o = swizzleOffset(r, c, cols);
        used[o] = 1;
        if (swR[o] !== r + 1 || swC[o] !== c + 1) expect([r, c, where(o)]).toEqual([r, c, [r, c]]);
      }
    for (let o = 0; o < swR.length; ++o) if (!used[o] && (swR[o] !== 0 || swC[o] !== 0)) expect([o, swR[o], swC[o]]).toEqual([o, 0, 0]);
  });
});

describe("sizes, padding and round trip (§3.5)", () => {
  test("quartet_scales_bytes: linear rows*cols; swizzled 128*ceil(rows/128) * 4*ceil(cols/4)", () => {
    for (const [r, c] of [[1, 1], [128, 4], [129, 5], [200, 6], [256, 8], [37, 3]] as const) {
      expect(scalesBytes(r, c, 0)).toBe(r * c);
      expect(scalesBytes(r, c, 1)).toBe(swizzledBytes(r, c));
    }
  });

  test("unswizzle(swizzle(x)) == x for odd shapes", () => {
    const rng = new Rng(90);
    for (const [r, c] of [[1, 1], [37, 3], [128, 4], [129, 9], [300, 17]] as const) {
      const lin = Uint8Array.from({ length: r * c }, () => rng.u32() & 0xff);
      expect(hex(unswizzle(swizzle(lin, r, c), r, c))).toBe(hex(lin));
    }
  });
});

describe("quantize with swizzled scales (§3.5, §4)", () => {
  const rows = 150, K = 80; // 150 rows -> 256 padded; 5 NVFP4 scale columns -> 8 padded
  const x = gaussian(rows * K, 91);
  const cases: { format: "nvfp4" | "mxfp4"; rounding: Rounding; K: number; rht?: { dim: 32; signs?: Uint32Array } }[] = [
    { format: "nvfp4", rounding: "rtn", K: 80 },
    { format: "nvfp4", rounding: "sr", K: 80 },
    { format: "nvfp4", rounding: "eden-b", K: 80 },
    { format: "mxfp4", rounding: "rtn-rm", K: 160, rht: { dim: 32, signs: rhtSigns(1, 1, 1) } },
  ];
  for (const c of cases) {
    test(`${c.format} ${c.rounding}: swizzled scales == swizzle(linear scales), same codes and g, pads 0`, () => {
      const R = (rows * K) / c.K;
      const opts = { format: c.format, rounding: c.rounding, rht: c.rht, seed: 3, step: 3 };
      const lin = quantize(f32(x, R, c.K), { ...opts, scaleLayout: "linear" });
      const sw = quantize(f32(x, R, c.K), { ...opts, scaleLayout: "swizzled" });
      const cols = c.K / (c.format === "nvfp4" ? 16 : 32);
      const a = bytesOf(lin), b = bytesOf(sw);
      expect(b.scales.length).toBe(swizzledBytes(R, cols));
      expect(hex(b.scales)).toBe(hex(swizzle(a.scales, R, cols)));
      expect(hex(b.codes)).toBe(hex(a.codes));
      expect(b.g).toBe(a.g);
      // dequantize reads the swizzled layout
      expect(Array.from(dequantize(sw).toFloat32Array())).toEqual(Array.from(dequantize(lin).toFloat32Array()));
    });
  }
});

describe("pads are written, not assumed (§3.5)", () => {
  test("raw quartet_quantize into a poisoned swizzled buffer writes 0 into every pad byte", () => {
    const R = 130, K = 48, cols = K / 16; // 2 row tiles (126 pad rows), 3 -> 4 scale columns
    const x = gaussian(R * K, 92);
    const lin = new Uint8Array(R * cols), sw = new Uint8Array(swizzledBytes(R, cols)).fill(0xee);
    const codes = new Uint8Array((R * K) / 2), g = new Float32Array(1);
    for (const [layout, out] of [[0, lin], [1, sw]] as const)
      check(native().quartet_quantize(0, 0, 0, x, 0, R, K, 0, 0, null, 0, 0, 0, null, null, layout, codes, out, g, null));
    expect(hex(sw)).toBe(hex(swizzle(lin, R, cols)));
    expect(sw.includes(0xee)).toBe(false);
  });
});

