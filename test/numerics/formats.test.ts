/**
 * Scalar formats and the stochastic-rounding primitives.
 *
 * Spec map (shared/spec/numerics.md):
 *   §1.1 E2M1 (RNE_E2M1, packing)        -> "E2M1": TV-1, all 16 codes, brute-force nearest-even check
 *   §1.2 E4M3 (RNE_SAT_E4M3)             -> "E4M3": TV-2, all 256 codes, every midpoint ties to the even code
 *   §1.3 E8M0, §1.4 BF16                 -> "E8M0", "BF16"
 *   §5.4 SR_E2M1, §5.6 SR_E4M3, §9.3     -> "SR": TV-5, exact P(up) = f via the u24 threshold
 *   §5.6 steps 2-5 (one MS-EDEN block)   -> "MS-EDEN block": TV-6 and a float32-emulated reference
 */
import { describe, expect, test } from "bun:test";
import { formats } from "../../src/index.ts";
import { Rng } from "../helpers/random.ts";
import {
  bitsF32,
  E2M1_VALUES,
  e2m1RneRef,
  e4m3RneRef,
  e4m3Value,
  e8m0Value,
  f32Bits,
  fl,
  nextDown,
  nextUp,
  unpackCodes,
} from "../helpers/reference.ts";

const enc2 = (xs: number[]) => Array.from(formats.encodeE2M1(Float32Array.from(xs)));
const enc4 = (xs: number[]) => Array.from(formats.encodeE4M3(Float32Array.from(xs)));

describe("E2M1 (§1.1)", () => {
  test("TV-1 encodings", () => {
    const cases: [number, number][] = [
      [0.0, 0x0], [-0.0, 0x8], [0.25, 0x0], [nextUp(0.25), 0x1], [-0.25, 0x8], [0.3, 0x1], [0.75, 0x2],
      [fl(0.7499999), 0x1], [1.25, 0x2], [1.75, 0x4], [2.5, 0x4], [fl(2.5000002), 0x5], [3.5, 0x6], [5.0, 0x6],
      [fl(5.0000005), 0x7], [6.0, 0x7], [6.5, 0x7], [1e9, 0x7], [-7, 0xf], [Infinity, 0x7],
      // the float32 neighbours of the ties themselves
      [nextDown(0.75), 0x1], [nextUp(2.5), 0x5], [nextUp(5.0), 0x7], [nextUp(1.25), 0x3], [nextDown(1.75), 0x3],
    ];
    // the spec's decimal inputs sit on the intended side of their ties (fl(0.7499999) is 2 ulps below 0.75)
    expect(fl(0.7499999)).toBeLessThan(0.75);
    expect(fl(2.5000002)).toBe(nextUp(2.5));
    expect(fl(5.0000005)).toBe(nextUp(5.0));
    expect(enc2(cases.map((c) => c[0]))).toEqual(cases.map((c) => c[1]));
    // completeness of the table: -inf saturates to -6, NaN -> +6
    expect(enc2([-Infinity, NaN])).toEqual([0xf, 0x7]);
  });

  test("all 16 codes decode to the table and encode back (-0 -> 0x8)", () => {
    const codes = Uint8Array.from({ length: 16 }, (_, i) => i);
    const vals = formats.decodeE2M1(codes);
    for (let c = 0; c < 16; ++c) expect(Object.is(vals[c], E2M1_VALUES[c])).toBe(true);
    expect(Array.from(formats.encodeE2M1(vals))).toEqual(Array.from(codes));
    // decoding ignores the high nibble (one code per byte)
    expect(Array.from(formats.decodeE2M1(Uint8Array.from([0x17, 0xf9])))).toEqual([6, -0.5]);
  });

  test("every midpoint ties to the even code; its float neighbours round to the near side", () => {
    const xs: number[] = [];
    for (let c = 0; c < 7; ++c) {
      const mid = (E2M1_VALUES[c]! + E2M1_VALUES[c + 1]!) / 2; // exact in float32
      for (const s of [1, -1]) xs.push(s * mid, s * nextUp(mid), s * nextDown(mid));
    }
    expect(enc2(xs)).toEqual(xs.map(e2m1RneRef));
    // and the ties really go to even codes: 0.25->0, 0.75->2, 1.25->2, 1.75->4, 2.5->4, 3.5->6, 5->6
    expect(enc2([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5])).toEqual([0, 2, 2, 4, 4, 6, 6]);
  });

  test("random float32 values agree with a brute-force nearest-even search", () => {
    const rng = new Rng(11);
    const xs = Float32Array.from({ length: 20000 }, () => (rng.uniform() - 0.5) * 16 * rng.uniform());
    const got = formats.encodeE2M1(xs);
    for (let i = 0; i < xs.length; ++i) if (got[i] !== e2m1RneRef(xs[i]!)) expect([xs[i], got[i]]).toEqual([xs[i], e2m1RneRef(xs[i]!)]);
  });
});

describe("E4M3 (§1.2)", () => {
  test("TV-2 RNE_SAT encodings", () => {
    const cases: [number, number][] = [
      [0, 0x00], [2 ** -10, 0x00], [2 ** -10 * (1 + 2 ** -23), 0x01], [1.5 * 2 ** -9, 0x02], [2.5 * 2 ** -9, 0x02],
      [2 ** -6, 0x08], [1.0625, 0x38], [nextUp(1.0625), 0x39], [1.1875, 0x3a], [fl(16.6667), 0x58],
      [fl(257.387), 0x78], [448, 0x7e], [460, 0x7e], [464, 0x7e], [465, 0x7e], [1e6, 0x7e],
    ];
    expect(enc4(cases.map((c) => c[0]))).toEqual(cases.map((c) => c[1]));
    expect(enc4([NaN])).toEqual([0x7f]);
  });

  test("all 256 codes decode by the formula; 0x7F/0xFF are NaN; key values", () => {
    const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const vals = formats.decodeE4M3(codes);
    for (let c = 0; c < 256; ++c) {
      const want = e4m3Value(c);
      if (Number.isNaN(want)) expect(Number.isNaN(vals[c]!)).toBe(true);
      else expect(Object.is(vals[c], want)).toBe(true);
    }
    expect([vals[0x7e], vals[0x08], vals[0x01], vals[0x38], vals[0x78]]).toEqual([448, 2 ** -6, 2 ** -9, 1, 256]);
  });

  test("encode(decode(c)) == c for 0x00..0x7E (monotone table)", () => {
    const codes = Uint8Array.from({ length: 0x7f }, (_, i) => i);
    const vals = formats.decodeE4M3(codes);
    for (let c = 1; c < 0x7f; ++c) expect(vals[c]!).toBeGreaterThan(vals[c - 1]!);
    expect(Array.from(formats.encodeE4M3(vals))).toEqual(Array.from(codes));
  });

  test("RNE ties between consecutive values go to the even code, neighbours to the near side", () => {
    const xs: number[] = [];
    const want: number[] = [];
    for (let c = 0; c < 0x7e; ++c) {
      const lo = e4m3Value(c), hi = e4m3Value(c + 1);
      const mid = (lo + hi) / 2; // at most 5 significant bits: exact in float32
      expect(fl(mid)).toBe(mid);
      xs.push(mid, nextUp(mid), mid === 0 ? 0 : nextDown(mid));
      want.push(c % 2 === 0 ? c : c + 1, c + 1, c);
    }
    expect(enc4(xs)).toEqual(want);
    expect(xs.map(e4m3RneRef)).toEqual(want); // the brute-force reference agrees with the tie rule
  });

  test("random non-negative float32 values agree with a brute-force nearest-even search", () => {
    const rng = new Rng(12);
    // log-uniform over [2^-12, 2^10]: covers zero-rounding, subnormal, normal and saturating ranges
    const xs = Float32Array.from({ length: 20000 }, () => 2 ** (-12 + 22 * rng.uniform()));
    const got = formats.encodeE4M3(xs);
    for (let i = 0; i < xs.length; ++i) if (got[i] !== e4m3RneRef(xs[i]!)) expect([xs[i], got[i]]).toEqual([xs[i], e4m3RneRef(xs[i]!)]);
  });
});

describe("E8M0 (§1.3) and BF16 (§1.4)", () => {
  test("E8M0: 2^(code-127) for every code, 0xFF NaN, 0x00 = 2^-127", () => {
    const vals = formats.decodeE8M0(Uint8Array.from({ length: 256 }, (_, i) => i));
    for (let c = 0; c < 255; ++c) expect(vals[c]).toBe(e8m0Value(c));
    expect(vals[0]).toBe(2 ** -127);
    expect(Number.isNaN(vals[255]!)).toBe(true);
  });

  test("BF16: RNE on the dropped 16 bits, NaN stays NaN, widening is exact", () => {
    const xs = [1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, -2.5, 3.0e38, NaN, -0];
    const h = Array.from(formats.toBf16(Float32Array.from(xs)));
    expect(h.slice(0, 6)).toEqual([0x3f80, 0x3f80, 0x3f82, 0x3f81, 0xc020, 0x7f62]);
    expect((h[6]! & 0x7f80) === 0x7f80 && (h[6]! & 0x7f) !== 0).toBe(true);
    expect(h[7]).toBe(0x8000);
    // random: result = RNE of the float32 bits, computed here on the integers
    const rng = new Rng(13);
    const r = Float32Array.from({ length: 5000 }, () => (rng.uniform() - 0.5) * 2 ** (40 * rng.uniform() - 20));
    const got = formats.toBf16(r);
    for (let i = 0; i < r.length; ++i) {
      const u = f32Bits(r[i]!);
      const want = Math.floor((u + 0x7fff + ((u >>> 16) & 1)) / 65536) & 0xffff;
      if (got[i] !== want) expect([r[i], got[i]]).toEqual([r[i], want]);
    }
    const back = formats.fromBf16(got);
    for (let i = 0; i < r.length; ++i) expect(back[i]).toBe(bitsF32(got[i]! << 16));
  });
});

describe("stochastic rounding with given uniforms (§5.4, §5.6, TV-5)", () => {
  test("TV-5 SR_E2M1", () => {
    const x = Float32Array.from([2.25, 2.25, 2.25, fl(0.1), fl(0.1), -2.25, -2.25]);
    const u = Uint32Array.from([0, 4194303, 4194304, 3355443, 3355444, 0, 4194304]);
    expect(Array.from(formats.srE2M1(x, u))).toEqual([0x5, 0x5, 0x4, 0x1, 0x0, 0xd, 0xc]);
    // the threshold of fl(0.1): f = fl(0.1)/0.5, f * 2^24 = 3355443.25 exactly
    expect((fl(0.1) / 0.5) * 2 ** 24).toBe(3355443.25);
  });

  test("SR_E2M1 rounds up exactly when u24 < f * 2^24 (so P(up) = f exactly for |v| >= 0.25)", () => {
    const rng = new Rng(21);
    const n = 4000;
    const x = new Float32Array(n), u = new Uint32Array(n), want = new Uint8Array(n);
    for (let i = 0; i < n; ++i) {
      const a = fl(0.25 + 5.75 * rng.uniform());
      const step = a < 2 ? 0.5 : a < 4 ? 1 : 2;
      const k = Math.floor(a / step);
      const T = (a / step - k) * 2 ** 24; // an integer: the exact number of u24 values that round up
      expect(Number.isInteger(T)).toBe(true);
      // probe the boundary (T-1 up, T down) and a random u24
      const which = i % 3;
      const ui = which === 0 ? Math.max(T - 1, 0) : which === 1 ? Math.min(T, 2 ** 24 - 1) : rng.u32() >>> 8;
      const up = ui < T;
      const mag = (k + (up ? 1 : 0)) * step;
      const neg = i % 2 === 1;
      x[i] = neg ? -a : a;
      u[i] = ui;
      want[i] = (neg ? 8 : 0) | E2M1_VALUES.indexOf(mag);
    }
    expect(Array.from(formats.srE2M1(x, u))).toEqual(Array.from(want));
  });

  test("SR_E4M3 rounds up exactly when u24 < f * 2^24, whole grid incl. subnormals; >= 448 -> 0x7E", () => {
    const rng = new Rng(22);
    const n = 4000;
    const x = new Float32Array(n), u = new Uint32Array(n), want = new Uint8Array(n);
    for (let i = 0; i < n; ++i) {
      const c = fl(2 ** (-10 + 18.8 * rng.uniform())); // [2^-10, ~456]
      let w: number, ui: number;
      if (c >= 448) {
        ui = rng.u32() >>> 8;
        w = 0x7e;
      } else {
        const step = c < 2 ** -6 ? 2 ** -9 : 2 ** (Math.floor(Math.log2(c)) - 3);
        const k = Math.floor(c / step);
        const T = (c / step - k) * 2 ** 24;
        expect(Number.isInteger(T)).toBe(true);
        const which = i % 3;
        ui = which === 0 ? Math.max(T - 1, 0) : which === 1 ? Math.min(T, 2 ** 24 - 1) : rng.u32() >>> 8;
        w = e4m3RneRef((k + (ui < T ? 1 : 0)) * step); // an exact grid value -> its code
      }
      x[i] = c;
      u[i] = ui;
      want[i] = w;
    }
    expect(Array.from(formats.srE4M3(x, u))).toEqual(Array.from(want));
  });
});

/** §5.6 steps 2-5 for one block, float32-emulated with Math.fround, from the spec text. */
function edenBlockRef(y: Float32Array, V: number, g: number) {
  let a = 0;
  for (const v of y) a = Math.max(a, Math.abs(v));
  const s = e4m3RneRef(fl(fl(a / V) / g));
  const D = fl(e4m3Value(s) * g);
  if (s === 0 || D === 0) return { s, codes: Array.from(y, (v) => (f32Bits(v) >>> 31 ? 8 : 0)), S: 1, c: 0 };
  const v = Array.from(y, (yi) => fl(yi / D));
  const codes = v.map(e2m1RneRef);
  const psum = (t: number[]): number => {
    while (t.length > 1) t = Array.from({ length: t.length / 2 }, (_, i) => fl(t[2 * i]! + t[2 * i + 1]!));
    return t[0]!;
  };
  const n = psum(v.map((vi) => fl(vi * vi)));
  const d = psum(v.map((vi, i) => fl(vi * E2M1_VALUES[codes[i]!]!)));
  const S = d === 0 ? 1 : fl(n / d);
  return { s, codes, S, c: fl(e4m3Value(s) * S) };
}

describe("MS-EDEN block (§5.6, TV-6)", () => {
  const V_ED = bitsF32(0x40c24eb2);

  test("TV-6: S, the corrected scale and its SR neighbours 256 / 288", () => {
    const y = new Float32Array(16);
    y[0] = 1536;
    y[15] = 300;
    // float32 steps of §5.6: v15 = 300/256 = 1.171875, n = 36 + 1.373291015625, d = 36 + 1.171875
    const S = fl((36 + 1.373291015625) / (36 + 1.171875));
    const c = fl(256 * S);
    expect(Math.abs(S - 1.0054185)).toBeLessThan(1e-7);
    expect(Math.abs(c - 257.387137)).toBeLessThan(1e-4);
    const p288 = (c - 256) / 32; // exact in float64
    expect(Math.abs(p288 - 0.043348)).toBeLessThan(1e-6);
    const T = p288 * 2 ** 24; // u24 < T rounds up to 288
    expect(Number.isInteger(T)).toBe(true);
    const below = formats.edenBlock(y, 6, 1, T - 1);
    const at = formats.edenBlock(y, 6, 1, T);
    expect(Array.from(unpackCodes(below.codes))).toEqual([7, ...Array(14).fill(0), 2]);
    expect(below.factor).toBe(S);
    expect(below.corrected).toBe(c);
    expect(below.scale).toBe(0x79); // 288
    expect(at.scale).toBe(0x78); // 256
    expect(formats.edenBlock(y, 6, 1, 0).scale).toBe(0x79);
    expect(formats.edenBlock(y, 6, 1, 2 ** 24 - 1).scale).toBe(0x78);
  });

  test("random blocks (V = V_ED, varied g) agree with the float32-emulated §5.6 reference", () => {
    const rng = new Rng(23);
    for (let t = 0; t < 300; ++t) {
      const sigma = 2 ** (20 * rng.uniform() - 10);
      const y = Float32Array.from({ length: 16 }, () => sigma * rng.normal());
      if (t % 10 === 0) y[t % 16] = 0; // exact zeros inside a block
      let a = 0;
      for (const v of y) a = Math.max(a, Math.abs(v));
      // g as a tensor scale would be: the block is a fraction of the tensor max
      const g = fl(fl(a * (1 + 50 * rng.uniform())) / bitsF32(0x44c24eb2));
      const ref = edenBlockRef(y, V_ED, g);
      const got = formats.edenBlock(y, V_ED, g, 0);
      expect(Array.from(unpackCodes(got.codes))).toEqual(ref.codes);
      expect(got.factor).toBe(ref.S);
      expect(got.corrected).toBe(ref.c);
      // u24 = 0 always rounds up unless c is on the grid
      const onGrid = e4m3Value(e4m3RneRef(ref.c)) === ref.c;
      const want = onGrid ? e4m3RneRef(ref.c) : e4m3RneRef(ref.c) + (e4m3Value(e4m3RneRef(ref.c)) < ref.c ? 1 : 0);
      expect(got.scale).toBe(want);
    }
  });
});
