/**
 * Quantizers, byte for byte: hand-checkable vectors and a float32-emulated transcription of the spec.
 *
 * Spec map (shared/spec/numerics.md):
 *   §5.1 RTN 1x16, §1.1 packing                 -> "TV-3"
 *   §5.3 4/6                                    -> "TV-4"
 *   §3.2 steps 1 and 3 (zero / tiny tensors)    -> "TV-10"
 *   §3.1 dequantization, §4 MXFP4 decode        -> "dequantize"
 *   §3.2-§3.4, §5.1-§5.7, §5.9, §5.10, §2       -> "every method against the spec transcription"
 *     (codes, scales, tensor scale, trust mask, and the Philox stream/index each method draws from)
 *   §2 ("[R, K] are the coordinates after any transpose"), §0 (BF16 widens exactly), §5.11 -> "inputs"
 */
import { describe, expect, test } from "bun:test";
import { dequantize, quantize, rhtSigns, Tensor, type Rounding } from "../../src/index.ts";
import { bytesOf, f32 } from "../helpers/quartet.ts";
import { gaussian, Rng } from "../helpers/random.ts";
import { bf16Rne, edenARef, edenBRef, mxfp4Ref, nvfp4Ref, rhtF32, type RefQuantized } from "../helpers/spec_quantizers.ts";
import { decodeNvfp4, e8m0Value, E2M1_VALUES, fl, hex, unpackCodes } from "../helpers/reference.ts";

describe("hand-checkable vectors (§10)", () => {
  test("TV-3 RTN 1x16: one row of 32, g = 1", () => {
    const b0 = [6, -4, 3, 2.5, 1.75, 1.25, 0.75, 0.25, 5, 3.5, 0.3, -0.3, 1.4, -0.0, 0.1, 2.9].map((v) => 448 * v);
    const b1 = [100, -100, 50, 33, 16, 8, 4, -2, 1, 0, 12, -12, 40, -40, 24, 70];
    const q = quantize(f32([...b0, ...b1], 1, 32), { rounding: "rtn" });
    const got = bytesOf(q);
    expect(got.g).toBe(1);
    expect(Array.from(got.scales)).toEqual([0x7e, 0x58]);
    expect(Array.from(unpackCodes(got.codes))).toEqual(
      [0x7, 0xe, 0x5, 0x4, 0x4, 0x2, 0x2, 0x0, 0x6, 0x6, 0x1, 0x9, 0x3, 0x8, 0x0, 0x5,
       0x7, 0xf, 0x5, 0x4, 0x2, 0x1, 0x0, 0x8, 0x0, 0x0, 0x2, 0xa, 0x4, 0xc, 0x3, 0x6],
    );
    expect(hex(got.codes)).toBe("E7 45 24 02 66 91 83 50 F7 45 12 80 00 A2 C4 63");
    const dq = dequantize(q).toFloat32Array();
    const want1 = [96, -96, 48, 32, 16, 8, 0, -0, 0, 0, 16, -16, 32, -32, 24, 64];
    for (let i = 0; i < 16; ++i) expect(Object.is(dq[16 + i], want1[i])).toBe(true);
  });

  test("TV-4 4/6 (M = 256), g = 1", () => {
    const b0 = [1536, ...Array(15).fill(0)];
    const b1 = [4, 3, 2, 1.5, 1, 0.5, 0, -4, -3, -2, -1.5, -1, -0.5, 0, 4, -4].map((v) => 3 * v);
    const got = bytesOf(quantize(f32([...b0, ...b1], 1, 32), { rounding: "4/6" }));
    expect(got.g).toBe(1);
    expect(Array.from(got.scales)).toEqual([0x78, 0x44]); // block 0 tie keeps 6 (256); block 1 picks 4 (scale 3)
    expect(Array.from(unpackCodes(got.codes))).toEqual([
      0x7, ...Array(15).fill(0),
      0x6, 0x5, 0x4, 0x3, 0x2, 0x1, 0x0, 0xe, 0xd, 0xc, 0xb, 0xa, 0x9, 0x0, 0x6, 0xe,
    ]);
  });

  test("TV-10 all-zero tensor: g = 1, scales 0, codes 0 (0x8 for -0.0), for every NVFP4 method", () => {
    const x = new Float32Array(32 * 64);
    for (let i = 1; i < x.length; i += 3) x[i] = -0;
    const wantCodes = Array.from(x, (v) => (Object.is(v, -0) ? 8 : 0));
    const signs = rhtSigns(1, 1, 0);
    for (const rounding of ["rtn", "4/6", "sr", "sr-4/6", "eden-a", "eden-b", "rtn-16x16"] as const) {
      const got = bytesOf(quantize(f32(x, 32, 64), { rounding, seed: 3, step: 4 }));
      expect({ rounding, g: got.g }).toEqual({ rounding, g: 1 });
      expect(got.scales.every((s) => s === 0)).toBe(true);
      expect(Array.from(unpackCodes(got.codes))).toEqual(wantCodes);
    }
    // rotated zero tensors: g = 1 and zero scales too
    for (const rounding of ["eden-a", "eden-b"] as const) {
      const got = bytesOf(quantize(f32(new Float32Array(32 * 128), 32, 128), { rounding, rht: { dim: 128, signs } }));
      expect(got.g).toBe(1);
      expect(got.scales.every((s) => s === 0)).toBe(true);
    }
  });

  test("TV-10 a lone 1e-30: g = fl(1e-30 / 2688), block 0 scale 0x7E code 0x7, all other scales 0", () => {
    const x = new Float32Array(4 * 64);
    x[0] = 1e-30;
    const got = bytesOf(quantize(f32(x, 4, 64), { rounding: "rtn" }));
    expect(got.g).toBe(fl(fl(1e-30) / 2688));
    expect(got.scales[0]).toBe(0x7e);
    expect(got.scales.subarray(1).every((s) => s === 0)).toBe(true);
    expect(got.codes[0]).toBe(0x07);
    expect(got.codes.subarray(1).every((c) => c === 0)).toBe(true);
  });
});

/** A test matrix that visits every branch: Gaussian rows over 2^-24..2^8 of dynamic range (so some blocks get
 * subnormal and zero E4M3 scales), an all-zero block, a block of -0.0, exact E2M1 ties (for RTN), one outlier. */
function branchyMatrix(R: number, K: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(R * K);
  for (let r = 0; r < R; ++r) {
    const scale = 2 ** (8 - ((r * 5) % 33));
    for (let k = 0; k < K; ++k) x[r * K + k] = scale * rng.normal();
  }
  x.fill(0, 16, 32);
  for (let k = 32; k < 48; ++k) x[k] = -0;
  [6, 0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5, -6, -0.25, -0.75, -1.25, -1.75, -2.5, -3.5, -5].forEach((v, i) => (x[K + i] = 448 * v));
  // the outlier sets A = 2688 = 6 * 448, so RTN has g = 1 and the tie row above is exactly on the E2M1 ties
  x[3 * K + 7] = 2688;
  return x;
}

function expectSameQuantized(got: ReturnType<typeof bytesOf>, want: RefQuantized, label: string) {
  expect({ label, g: got.g }).toEqual({ label, g: want.g });
  const gc = unpackCodes(got.codes);
  let badCode = -1, badScale = -1;
  for (let i = 0; i < gc.length; ++i) if (gc[i] !== want.codes[i]) { badCode = i; break; }
  for (let i = 0; i < want.scales.length; ++i) if (got.scales[i] !== want.scales[i]) { badScale = i; break; }
  expect({ label, firstBadCode: badCode, got: gc[badCode], want: want.codes[badCode] }).toEqual({ label, firstBadCode: -1, got: undefined, want: undefined });
  expect({ label, firstBadScale: badScale, got: got.scales[badScale], want: want.scales[badScale] }).toEqual({ label, firstBadScale: -1, got: undefined, want: undefined });
}

describe("every method against the spec transcription (§3-§5)", () => {
  const R = 32, K = 256;
  const x = branchyMatrix(R, K, 31);
  const opts = { seed: 0xdeadbeef, step: 12345, tag: (3 << 8) | 1 };
  const signs = rhtSigns(opts.seed, opts.step, 3);

  for (const method of ["rtn", "4/6", "sr", "sr-4/6", "rtn-16x16"] as const) {
    test(`NVFP4 ${method}`, () => {
      const q = quantize(f32(x, R, K), { rounding: method, ...opts });
      expectSameQuantized(bytesOf(q), nvfp4Ref(method, x, R, K, opts), method);
    });
  }

  test("NVFP4 rtn-16x16 stores one scale per 16x16 tile (rows of a tile share their scales)", () => {
    const s = bytesOf(quantize(f32(x, R, K), { rounding: "rtn-16x16" })).scales;
    for (let r = 0; r < R; ++r) for (let c = 0; c < K / 16; ++c) expect(s[r * (K / 16) + c]).toBe(s[(r - (r % 16)) * (K / 16) + c]!);
  });

  test("MS-EDEN variant A (RHT-128 with signs)", () => {
    const q = quantize(f32(x, R, K), { rounding: "eden-a", rht: { dim: 128, signs }, ...opts });
    expectSameQuantized(bytesOf(q), edenARef(rhtF32(x, R, K, 128, signs), R, K, opts), "eden-a");
  });

  test("MS-EDEN variant B (RHT-128 with signs) and without rotation", () => {
    const q = quantize(f32(x, R, K), { rounding: "eden-b", rht: { dim: 128, signs }, ...opts });
    expectSameQuantized(bytesOf(q), edenBRef(rhtF32(x, R, K, 128, signs), R, K, opts), "eden-b");
    const q0 = quantize(f32(x, R, K), { rounding: "eden-b", ...opts });
    expectSameQuantized(bytesOf(q0), edenBRef(x, R, K, opts), "eden-b no rht");
  });

  test("MXFP4 OCP (§4)", () => {
    const q = quantize(f32(x, R, K), { format: "mxfp4", rounding: "ocp" });
    expect(q.tensorScale).toBeNull();
    expectSameQuantized(bytesOf(q), mxfp4Ref("ocp", x, R, K), "ocp");
  });

  test("MXFP4 QuEST (§5.9): fixed Hadamard-32, codes, E8M0 scales and trust mask", () => {
    const q = quantize(f32(x, R, K), { format: "mxfp4", rounding: "quest" });
    const want = mxfp4Ref("quest", rhtF32(x, R, K, 32), R, K);
    expectSameQuantized(bytesOf(q), want, "quest");
    expect(q.mask).not.toBeNull();
    expect(hex(q.mask!.toBytes())).toBe(hex(want.mask!));
    // the mask is not trivial on this data (the floor-rule scale clips ~7% of Gaussian elements)
    expect(want.mask!.some((b) => b !== 0xff)).toBe(true);
  });

  for (const method of ["rtn-rm", "sr-rm"] as const) {
    test(`MXFP4 range-matched ${method} (§5.10, RHT-32 with signs)`, () => {
      const q = quantize(f32(x, R, K), { format: "mxfp4", rounding: method, rht: { dim: 32, signs }, ...opts });
      expectSameQuantized(bytesOf(q), mxfp4Ref(method, rhtF32(x, R, K, 32, signs), R, K, opts), method);
    });
  }
});

describe("dequantize (§3.1, §4)", () => {
  const R = 32, K = 256;
  const x = branchyMatrix(R, K, 32);

  test("NVFP4: fl(fl(val(code) * val(scale)) * g), f32 exactly and bf16 as its RNE", () => {
    for (const rounding of ["rtn", "sr", "eden-b"] as const) {
      const q = quantize(f32(x, R, K), { rounding, seed: 5 });
      const want = decodeNvfp4(bytesOf(q));
      const got = dequantize(q).toFloat32Array();
      for (let i = 0; i < want.length; ++i) if (!Object.is(got[i], want[i])) expect([rounding, i, got[i]]).toEqual([rounding, i, want[i]]);
      const gotBf = dequantize(q, { dtype: "bf16" }).toFloat32Array();
      for (let i = 0; i < want.length; ++i) if (!Object.is(gotBf[i], bf16Rne(want[i]!))) expect([rounding, i, gotBf[i]]).toEqual([rounding, i, bf16Rne(want[i]!)]);
    }
  });

  test("MXFP4: code * 2^(e - 127)", () => {
    const q = quantize(f32(x, R, K), { format: "mxfp4", rounding: "ocp" });
    const b = bytesOf(q);
    const codes = unpackCodes(b.codes);
    const got = dequantize(q).toFloat32Array();
    for (let i = 0; i < R * K; ++i) {
      const want = fl(E2M1_VALUES[codes[i]!]! * e8m0Value(b.scales[i >> 5]!));
      if (!Object.is(got[i], want)) expect([i, got[i]]).toEqual([i, want]);
    }
  });
});

describe("inputs: transpose, BF16, abs-max in/out (§2, §0, §5.11)", () => {
  const R = 48, K = 128;
  const x = gaussian(R * K, 41);

  test("transpose: quantize(x, transpose) == quantize(x^T) byte for byte (Philox follows the logical [R, K])", () => {
    // x [128, 64]; its transpose [64, 128] has K = 128, so RHT-128 applies to the logical matrix
    const Rs = 128, Ks = 64;
    const xs = gaussian(Rs * Ks, 42);
    const xsT = new Float32Array(Rs * Ks);
    for (let r = 0; r < Rs; ++r) for (let k = 0; k < Ks; ++k) xsT[k * Rs + r] = xs[r * Ks + k]!;
    const signs = rhtSigns(9, 9, 1);
    const cases: { rounding: Rounding; rht?: { dim: 128; signs: Uint32Array } }[] = [
      { rounding: "rtn" }, { rounding: "sr" }, { rounding: "sr-4/6" }, { rounding: "rtn-16x16" },
      { rounding: "eden-a", rht: { dim: 128, signs } }, { rounding: "eden-b", rht: { dim: 128, signs } },
    ];
    for (const c of cases) {
      const a = bytesOf(quantize(f32(xsT, Ks, Rs), { ...c, seed: 1, step: 2, tag: 3 }));
      const b = bytesOf(quantize(f32(xs, Rs, Ks), { ...c, transpose: true, seed: 1, step: 2, tag: 3 }));
      expect(b.R * 1000 + b.K).toBe(Ks * 1000 + Rs);
      expect({ r: c.rounding, codes: hex(b.codes), scales: hex(b.scales), g: b.g }).toEqual({
        r: c.rounding, codes: hex(a.codes), scales: hex(a.scales), g: a.g,
      });
    }
  });

  test("BF16 input == its exactly widened F32 values", () => {
    const xb = Tensor.fromFloat32(x, [R, K], { dtype: "bf16" });
    const widened = xb.toFloat32Array();
    for (const rounding of ["rtn", "sr", "eden-b"] as const) {
      const a = bytesOf(quantize(xb, { rounding, seed: 4 }));
      const b = bytesOf(quantize(f32(widened, R, K), { rounding, seed: 4 }));
      expect([hex(a.codes), hex(a.scales), a.g]).toEqual([hex(b.codes), hex(b.scales), b.g]);
    }
  });

  test("amaxOut reports max|y| after the RHT; amaxOverride sets g = fl(override / K_VM)", () => {
    const signs = rhtSigns(2, 2, 2);
    const out = Tensor.zeros([1]);
    quantize(f32(x, R, K), { rounding: "eden-a", rht: { dim: 128, signs }, amaxOut: out });
    const y = rhtF32(x, R, K, 128, signs);
    expect(out.toFloat32Array()[0]).toBe(y.reduce((a, v) => Math.max(a, Math.abs(v)), 0));
    const over = Tensor.fromFloat32([100], [1]);
    const q = quantize(f32(x, R, K), { rounding: "rtn", amaxOverride: over });
    expectSameQuantized(bytesOf(q), nvfp4Ref("rtn", x, R, K, { amax: 100 }), "rtn amax override");
  });
});
