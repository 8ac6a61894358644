/** The quantizers of numerics.md §3-§5, transcribed from the spec text into float32-emulated JavaScript
 * (Math.fround after every operation: for +, -, *, / and sqrt of float32 operands a float64 result rounded
 * once to float32 equals the correctly rounded float32 result). Slow and independent of the library: the
 * tests compare the library's bytes with these. Only the Philox uniforms come from the library
 * (formats.uniformU24, which random.test.ts checks against the Random123 known answers). */
import { formats } from "../../src/index.ts";
import { bitsF32, E2M1_VALUES, e2m1RneRef, e4m3RneRef, e4m3Value, f32Bits, fl } from "./reference.ts";

// §1.5 constants, from their bit patterns
export const V_SR = bitsF32(0x40b4b4b5);
export const V_SR4 = bitsF32(0x4070f0f1); // 64/17: the 4-candidate of SR+4/6 (csrc/core/numerics.h; not fixed by the spec)
export const V_ED = bitsF32(0x40c24eb2);
export const K_SR = bitsF32(0x451e1e1e);
export const K_ED = bitsF32(0x44c24eb2);
export const C128 = bitsF32(0x3db504f3);
export const C32 = bitsF32(0x3e3504f3);
export const C_QUEST = bitsF32(0x3ef96285);
export const EPS_QUEST = bitsF32(0x322bcc77);

export const STREAM = { SR_ELEMENT: 1, SR_SCALE: 2, SR_ELEMENT_2: 4 } as const;

export interface RefQuantized {
  codes: Uint8Array; // one code per element, [R*K]
  scales: Uint8Array; // linear [R, K/bs]
  g: number;
  mask?: Uint8Array; // QuEST: [R, K/8]
}

export function psum(t: number[]): number {
  while (t.length > 1) t = Array.from({ length: t.length / 2 }, (_, i) => fl(t[2 * i]! + t[2 * i + 1]!));
  return t[0]!;
}

/** floor(log2 a) of a positive float32 from its bits (subnormals included). */
export function floorLog2(a: number): number {
  const u = f32Bits(a) & 0x7fffffff;
  const e = u >>> 23;
  if (e !== 0) return e - 127;
  return Math.floor(Math.log2(u)) - 149;
}

export function bf16Rne(x: number): number {
  const u = f32Bits(x);
  return bitsF32((Math.floor((u + 0x7fff + ((u >>> 16) & 1)) / 65536) & 0xffff) << 16);
}

const signedZero = (x: number) => (f32Bits(x) >>> 31 ? 8 : 0);
const absmax = (x: ArrayLike<number>, s = 0, e = x.length) => {
  let a = 0;
  for (let i = s; i < e; ++i) a = Math.max(a, Math.abs(x[i]!));
  return a;
};

/** SR_E2M1 (§5.4). */
export function srE2M1Ref(v: number, u24: number): number {
  const sign = signedZero(v);
  const a = Math.abs(v);
  if (a >= 6) return sign | 7;
  const step = a < 2 ? 0.5 : a < 4 ? 1 : 2;
  const k = Math.floor(a / step);
  const f = a / step - k;
  return sign | E2M1_VALUES.indexOf((k + (u24 < f * 2 ** 24 ? 1 : 0)) * step);
}

/** SR_E4M3 (§5.6) for c >= 0. */
export function srE4M3Ref(c: number, u24: number): number {
  if (c >= 448) return 0x7e;
  const step = c < 2 ** -6 ? 2 ** -9 : 2 ** (floorLog2(c) - 3);
  const k = Math.floor(c / step);
  const f = c / step - k;
  return e4m3RneRef((k + (u24 < f * 2 ** 24 ? 1 : 0)) * step);
}

/** Float32-emulated RHT-d (§5.5) of every d-chunk of every row: signs, FWHT stages in natural order, * C_d. */
export function rhtF32(x: ArrayLike<number>, rows: number, cols: number, d: number, signs?: Uint32Array): Float32Array {
  const c = d === 128 ? C128 : d === 32 ? C32 : 0.25;
  const out = new Float32Array(rows * cols);
  const w = new Array<number>(d);
  for (let r = 0; r < rows; ++r)
    for (let k0 = 0; k0 < cols; k0 += d) {
      for (let j = 0; j < d; ++j) {
        const s = signs && (signs[(j >> 5) & 3]! >>> (j & 31)) & 1 ? -1 : 1;
        w[j] = x[r * cols + k0 + j]! * s;
      }
      for (let h = 1; h < d; h *= 2)
        for (let i = 0; i < d; ++i)
          if ((i & h) === 0) {
            const a = w[i]!, b = w[i + h]!;
            w[i] = fl(a + b);
            w[i + h] = fl(a - b);
          }
      for (let j = 0; j < d; ++j) out[r * cols + k0 + j] = fl(w[j]! * c);
    }
  return out;
}

/** §3.2 steps 3-4 with given element rounding. */
function encodeBlock(x: ArrayLike<number>, off: number, s: number, g: number, round: (v: number, i: number) => number, out: Uint8Array) {
  const D = s ? fl(e4m3Value(s) * g) : 0;
  for (let i = 0; i < 16; ++i) out[off + i] = D === 0 ? signedZero(x[off + i]!) : round(fl(x[off + i]! / D), off + i);
}

function blockScale(a: number, V: number, g: number): number {
  return e4m3RneRef(fl(fl(a / V) / g));
}

function sqError(x: ArrayLike<number>, off: number, codes: Uint8Array, s: number, g: number): number {
  const sv = e4m3Value(s);
  const t: number[] = [];
  for (let i = 0; i < 16; ++i) {
    const d = fl(x[off + i]! - fl(fl(E2M1_VALUES[codes[off + i]!]! * sv) * g));
    t.push(fl(d * d));
  }
  return psum(t);
}

export interface RefOptions {
  seed?: number;
  step?: number;
  tag?: number;
  amax?: number; // delayed abs-max override (§5.11)
}

/** NVFP4 quantizers of §5.1-§5.4 on a logical [R, K] float32 matrix (already rotated if needed). */
export function nvfp4Ref(method: "rtn" | "4/6" | "sr" | "sr-4/6" | "rtn-16x16", y: Float32Array, R: number, K: number, o: RefOptions = {}): RefQuantized {
  const A = o.amax ?? absmax(y);
  const Kvm = method === "rtn" || method === "rtn-16x16" ? 2688 : method === "sr" ? K_SR : 1536;
  const g = A === 0 ? 1 : fl(A / Kvm);
  const codes = new Uint8Array(R * K), scales = new Uint8Array((R * K) / 16);
  const uA = method === "sr" || method === "sr-4/6" ? formats.uniformU24(o.seed ?? 0, o.step ?? 0, STREAM.SR_ELEMENT, o.tag ?? 0, 0, R * K) : null;
  const uB = method === "sr-4/6" ? formats.uniformU24(o.seed ?? 0, o.step ?? 0, STREAM.SR_ELEMENT_2, o.tag ?? 0, 0, R * K) : null;
  const rne = (v: number) => e2m1RneRef(v);
  const c6 = new Uint8Array(R * K), c4 = new Uint8Array(R * K); // 4/6 candidates
  for (let r = 0; r < R; ++r)
    for (let b = 0; b < K / 16; ++b) {
      const off = r * K + 16 * b;
      let a = absmax(y, off, off + 16);
      if (method === "rtn-16x16") {
        const r0 = r - (r % 16);
        a = 0;
        for (let rr = r0; rr < r0 + 16; ++rr) a = Math.max(a, absmax(y, rr * K + 16 * b, rr * K + 16 * b + 16));
      }
      let s: number;
      if (method === "rtn" || method === "rtn-16x16") {
        s = blockScale(a, 6, g);
        encodeBlock(y, off, s, g, rne, codes);
      } else if (method === "sr") {
        s = blockScale(a, V_SR, g);
        encodeBlock(y, off, s, g, (v, i) => srE2M1Ref(v, uA![i]!), codes);
      } else {
        const [V6, V4] = method === "4/6" ? [6, 4] : [V_SR, V_SR4];
        const s6 = blockScale(a, V6, g), s4 = blockScale(a, V4, g);
        encodeBlock(y, off, s6, g, method === "4/6" ? rne : (v, i) => srE2M1Ref(v, uA![i]!), c6);
        encodeBlock(y, off, s4, g, method === "4/6" ? rne : (v, i) => srE2M1Ref(v, uB![i]!), c4);
        const four = sqError(y, off, c4, s4, g) < sqError(y, off, c6, s6, g);
        s = four ? s4 : s6;
        codes.set((four ? c4 : c6).subarray(off, off + 16), off);
      }
      scales[r * (K / 16) + b] = s;
    }
  return { codes, scales, g };
}

/** MS-EDEN variant A (§5.6) on the rotated matrix y. */
export function edenARef(y: Float32Array, R: number, K: number, o: RefOptions = {}): RefQuantized {
  const A = absmax(y);
  const g = A === 0 ? 1 : fl(A / K_ED);
  const codes = new Uint8Array(R * K), scales = new Uint8Array((R * K) / 16);
  const u = formats.uniformU24(o.seed ?? 0, o.step ?? 0, STREAM.SR_SCALE, o.tag ?? 0, 0, (R * K) / 16);
  for (let b = 0; b < (R * K) / 16; ++b) {
    const off = 16 * b;
    const s = blockScale(absmax(y, off, off + 16), V_ED, g);
    const D = s ? fl(e4m3Value(s) * g) : 0;
    if (D === 0) {
      for (let i = 0; i < 16; ++i) codes[off + i] = signedZero(y[off + i]!);
      scales[b] = 0;
      continue;
    }
    const v = Array.from({ length: 16 }, (_, i) => fl(y[off + i]! / D));
    const q = v.map(e2m1RneRef);
    q.forEach((c, i) => (codes[off + i] = c));
    const n = psum(v.map((vi) => fl(vi * vi)));
    const d = psum(v.map((vi, i) => fl(vi * E2M1_VALUES[q[i]!]!)));
    const S = d === 0 ? 1 : fl(n / d);
    scales[b] = srE4M3Ref(fl(e4m3Value(s) * S), u[b]!);
  }
  return { codes, scales, g };
}

/** MS-EDEN variant B (§5.7) on the rotated matrix y. */
export function edenBRef(y: Float32Array, R: number, K: number, o: RefOptions = {}): RefQuantized {
  const nb = (R * K) / 16;
  const codes = new Uint8Array(R * K), scales = new Uint8Array(nb);
  const f = new Float64Array(nb);
  for (let b = 0; b < nb; ++b) {
    const off = 16 * b;
    const p = bitsF32(f32Bits(fl(absmax(y, off, off + 16) / V_ED)) & 0xfff80000);
    if (p < 2 ** -126) {
      for (let i = 0; i < 16; ++i) codes[off + i] = signedZero(y[off + i]!);
      f[b] = 0;
      continue;
    }
    const v = Array.from({ length: 16 }, (_, i) => fl(y[off + i]! / p));
    const q = v.map(e2m1RneRef);
    q.forEach((c, i) => (codes[off + i] = c));
    const n = psum(v.map((vi) => fl(vi * vi)));
    const d = psum(v.map((vi, i) => fl(vi * E2M1_VALUES[q[i]!]!)));
    const S = d === 0 ? 1 : fl(n / d);
    f[b] = bf16Rne(fl(p * S));
  }
  const F = f.reduce((a, b) => Math.max(a, b), 0);
  const g = F === 0 ? 1 : fl(F / 256);
  const u = formats.uniformU24(o.seed ?? 0, o.step ?? 0, STREAM.SR_SCALE, o.tag ?? 0, 0, nb);
  for (let b = 0; b < nb; ++b) scales[b] = F === 0 ? 0 : srE4M3Ref(fl(f[b]! / g), u[b]!);
  return { codes, scales, g };
}

/** MXFP4 quantizers (§4 OCP, §5.9 QuEST on the rotated y, §5.10 range-matched RTN/SR on the rotated y). */
export function mxfp4Ref(method: "ocp" | "quest" | "rtn-rm" | "sr-rm", y: Float32Array, R: number, K: number, o: RefOptions = {}): RefQuantized {
  const codes = new Uint8Array(R * K), scales = new Uint8Array((R * K) / 32);
  const mask = method === "quest" ? new Uint8Array((R * K) / 8) : undefined;
  const u = method === "sr-rm" ? formats.uniformU24(o.seed ?? 0, o.step ?? 0, STREAM.SR_ELEMENT, o.tag ?? 0, 0, R * K) : null;
  const clampCode = (e: number) => Math.min(254, Math.max(0, e + 127));
  for (let b = 0; b < (R * K) / 32; ++b) {
    const off = 32 * b;
    const a = absmax(y, off, off + 32);
    if (method === "ocp") {
      const code = a === 0 ? 0 : clampCode(floorLog2(a) - 2);
      const X = 2 ** (code - 127);
      for (let i = 0; i < 32; ++i) codes[off + i] = e2m1RneRef(fl(y[off + i]! / X));
      scales[b] = code;
    } else if (method === "quest") {
      const ys = Array.from({ length: 32 }, (_, i) => y[off + i]!);
      const m1 = fl(psum(ys) / 32);
      const m2 = fl(psum(ys.map((v) => fl(v * v))) / 32);
      const vr = fl(m2 - fl(m1 * m1));
      const r = vr >= 0 ? fl(fl(fl(Math.sqrt(vr)) * C_QUEST) + EPS_QUEST) : 1;
      const code = (f32Bits(r) >>> 23) & 0xff;
      const X = 2 ** (code - 127);
      for (let i = 0; i < 32; ++i) {
        const v = fl(y[off + i]! / X);
        codes[off + i] = e2m1RneRef(v);
        if (Math.abs(v) < 6) mask![(off + i) >> 3]! |= 1 << ((off + i) & 7);
      }
      scales[b] = code;
    } else {
      if (a === 0) {
        for (let i = 0; i < 32; ++i) codes[off + i] = signedZero(y[off + i]!);
        scales[b] = 0;
        continue;
      }
      const e = floorLog2(a);
      const mul = 3 * 2 ** -e;
      for (let i = 0; i < 32; ++i) {
        const v = fl(y[off + i]! * mul);
        codes[off + i] = u ? srE2M1Ref(v, u[off + i]!) : e2m1RneRef(v);
      }
      scales[b] = clampCode(e - 2);
    }
  }
  return { codes, scales, g: 1, mask };
}
