/** Independent float64 (and explicitly float32-emulated) references for the numerics tests. Nothing here
 * calls the library: formats are decoded from their definitions in numerics.md §1, the Hadamard transform
 * is a float64 matrix-free FWHT with the exact 1/sqrt(d), GEMMs are float64 dot products. */

/** Unit roundoff of binary32 (RNE): 2^-24. */
export const U32 = 2 ** -24;
/** Unit roundoff of bfloat16 (8 significant bits, RNE): 2^-8. */
export const U_BF16 = 2 ** -8;

/** Higham's gamma_n = n u / (1 - n u): bound on the relative error of n chained float32 roundings. */
export function gamma(n: number, u = U32): number {
  return (n * u) / (1 - n * u);
}

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);
export function f32Bits(x: number): number {
  f32buf[0] = x;
  return u32buf[0]!;
}
export function bitsF32(u: number): number {
  u32buf[0] = u >>> 0;
  return f32buf[0]!;
}
/** The next float32 above a positive float32. */
export function nextUp(x: number): number {
  return bitsF32(f32Bits(x) + 1);
}
export function nextDown(x: number): number {
  return bitsF32(f32Bits(x) - 1);
}
export const fl = Math.fround;

// ---- §1 scalar formats ------------------------------------------------------------------------------

/** E2M1 values of codes 0..15 (§1.1 table; 0x8 is -0). */
export const E2M1_VALUES: readonly number[] = [0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6];

/** E4M3 value from the §1.2 definition: exponent field 0 -> m * 2^-9, else (1 + m/8) * 2^(e-7); 0x7F/0xFF NaN. */
export function e4m3Value(code: number): number {
  const s = code & 0x80 ? -1 : 1;
  const e = (code >> 3) & 15;
  const m = code & 7;
  if ((code & 0x7f) === 0x7f) return NaN;
  return s * (e === 0 ? m * 2 ** -9 : (1 + m / 8) * 2 ** (e - 7));
}

/** E8M0 value (§1.3): 2^(code - 127), 0xFF NaN. */
export function e8m0Value(code: number): number {
  return code === 0xff ? NaN : 2 ** (code - 127);
}

/** Nearest-value search with ties to the even code, over a monotone table of non-negative values. */
function nearestEvenCode(a: number, values: readonly number[]): number {
  let best = 0;
  for (let c = 1; c < values.length; ++c) {
    const dBest = Math.abs(a - values[best]!);
    const d = Math.abs(a - values[c]!);
    if (d < dBest || (d === dBest && (c & 1) === 0 && (best & 1) === 1)) best = c;
  }
  return best;
}

/** RNE_E2M1 by brute force over the 8 magnitudes (sign from the IEEE sign bit, saturating). */
export function e2m1RneRef(v: number): number {
  const sign = f32Bits(v) >>> 31 ? 8 : 0;
  const a = Math.abs(v);
  return sign | nearestEvenCode(Math.min(a, 6), E2M1_VALUES.slice(0, 8));
}

const E4M3_POSITIVE: number[] = Array.from({ length: 0x7f }, (_, c) => e4m3Value(c));
/** RNE_SAT_E4M3 by brute force over the 127 non-negative codes (saturating at 448). */
export function e4m3RneRef(c: number): number {
  return nearestEvenCode(Math.min(c, 448), E4M3_POSITIVE);
}

// ---- §1.1 packing, §3.5 swizzle, decoding -----------------------------------------------------------------

/** One code per element from packed bytes (element 2j low nibble of byte j). */
export function unpackCodes(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length * 2);
  for (let j = 0; j < bytes.length; ++j) {
    out[2 * j] = bytes[j]! & 15;
    out[2 * j + 1] = bytes[j]! >> 4;
  }
  return out;
}

/** §3.5 offset of scale (r, c) in the 128x4 swizzled layout, written from the formula in the spec. */
export function swizzleOffset(r: number, c: number, scaleCols: number): number {
  const nCT = Math.ceil(scaleCols / 4);
  return (Math.floor(r / 128) * nCT + Math.floor(c / 4)) * 512 + (r % 32) * 16 + (Math.floor(r / 32) % 4) * 4 + (c % 4);
}
export function swizzledBytes(rows: number, scaleCols: number): number {
  return Math.ceil(rows / 128) * 128 * Math.ceil(scaleCols / 4) * 4;
}

export interface QuantizedBytes {
  codes: Uint8Array;
  scales: Uint8Array;
  g: number;
  R: number;
  K: number;
  layout: "linear" | "swizzled";
}

function scaleByte(q: QuantizedBytes, r: number, c: number, scaleCols: number): number {
  return q.layout === "linear" ? q.scales[r * scaleCols + c]! : q.scales[swizzleOffset(r, c, scaleCols)]!;
}

/** NVFP4 dequantization (§3.1): fl(fl(val(code) * val(scale)) * g), float32 emulated. */
export function decodeNvfp4(q: QuantizedBytes): Float32Array {
  const codes = unpackCodes(q.codes);
  const sc = q.K / 16;
  const out = new Float32Array(q.R * q.K);
  for (let r = 0; r < q.R; ++r)
    for (let k = 0; k < q.K; ++k) {
      const s = e4m3Value(scaleByte(q, r, k >> 4, sc));
      out[r * q.K + k] = fl(fl(E2M1_VALUES[codes[r * q.K + k]!]! * s) * q.g);
    }
  return out;
}

/** The GEMM operand of §3.6 without the tensor scale: q * s (exact in float32), float64 array. */
export function decodeOperand(q: QuantizedBytes, format: "nvfp4" | "mxfp4"): Float64Array {
  const codes = unpackCodes(q.codes);
  const bs = format === "nvfp4" ? 16 : 32;
  const sc = q.K / bs;
  const out = new Float64Array(q.R * q.K);
  for (let r = 0; r < q.R; ++r)
    for (let k = 0; k < q.K; ++k) {
      const b = scaleByte(q, r, Math.floor(k / bs), sc);
      const s = format === "nvfp4" ? e4m3Value(b) : e8m0Value(b);
      out[r * q.K + k] = E2M1_VALUES[codes[r * q.K + k]!]! * s;
    }
  return out;
}

// ---- §5.5 Hadamard -------------------------------------------------------------------------------------

/** Sign of Hadamard column j from the 4-word mask (§2: bit j&31 of word j>>5 set = -1). */
export function signOf(signs: Uint32Array | undefined, j: number): number {
  if (!signs) return 1;
  return (signs[(j >> 5) & 3]! >>> (j & 31)) & 1 ? -1 : 1;
}

/** Float64 RHT-d of every d-chunk of every row: y = x D H / sqrt(d) with the exact 1/sqrt(d). */
export function rht64(x: ArrayLike<number>, rows: number, cols: number, d: number, signs?: Uint32Array): Float64Array {
  const out = new Float64Array(rows * cols);
  const w = new Float64Array(d);
  const c = 1 / Math.sqrt(d);
  for (let r = 0; r < rows; ++r)
    for (let k0 = 0; k0 < cols; k0 += d) {
      for (let j = 0; j < d; ++j) w[j] = x[r * cols + k0 + j]! * signOf(signs, j);
      for (let h = 1; h < d; h *= 2)
        for (let i = 0; i < d; ++i)
          if ((i & h) === 0) {
            const a = w[i]!, b = w[i + h]!;
            w[i] = a + b;
            w[i + h] = a - b;
          }
      for (let j = 0; j < d; ++j) out[r * cols + k0 + j] = w[j]! * c;
    }
  return out;
}

/** Inverse of rht64 (H symmetric, H H = d I): x = y H D / sqrt(d). */
export function irht64(y: ArrayLike<number>, rows: number, cols: number, d: number, signs?: Uint32Array): Float64Array {
  const z = rht64(y, rows, cols, d);
  for (let r = 0; r < rows; ++r) for (let k = 0; k < cols; ++k) z[r * cols + k]! *= signOf(signs, k % d);
  return z;
}

// ---- error measures and GEMM references ------------------------------------------------------------------

/** sum (x - xhat)^2 / sum x^2 in float64. */
export function relMse(x: ArrayLike<number>, xhat: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < x.length; ++i) {
    const d = x[i]! - xhat[i]!;
    num += d * d;
    den += x[i]! * x[i]!;
  }
  return num / den;
}

export function norm2(x: ArrayLike<number>, start = 0, end = x.length): number {
  let s = 0;
  for (let i = start; i < end; ++i) s += x[i]! * x[i]!;
  return Math.sqrt(s);
}

/** Y = A B^T for A[M,K], B[N,K] row-major, and S = |A| |B|^T (the scale of the rounding-error bound). */
export function gemmTN64(a: ArrayLike<number>, b: ArrayLike<number>, M: number, N: number, K: number) {
  const y = new Float64Array(M * N), s = new Float64Array(M * N);
  for (let m = 0; m < M; ++m)
    for (let n = 0; n < N; ++n) {
      let acc = 0, abs = 0;
      for (let k = 0; k < K; ++k) {
        const p = a[m * K + k]! * b[n * K + k]!;
        acc += p;
        abs += Math.abs(p);
      }
      y[m * N + n] = acc;
      s[m * N + n] = abs;
    }
  return { y, s };
}

/** op(A) op(B) in float64 with BLAS row-major semantics (A stored [M,K] or [K,M] if transA, B [K,N] or [N,K]). */
export function gemm64(a: ArrayLike<number>, b: ArrayLike<number>, M: number, N: number, K: number, transA: boolean, transB: boolean) {
  const y = new Float64Array(M * N), s = new Float64Array(M * N);
  for (let m = 0; m < M; ++m)
    for (let n = 0; n < N; ++n) {
      let acc = 0, abs = 0;
      for (let k = 0; k < K; ++k) {
        const av = transA ? a[k * M + m]! : a[m * K + k]!;
        const bv = transB ? b[n * K + k]! : b[k * N + n]!;
        acc += av * bv;
        abs += Math.abs(av * bv);
      }
      y[m * N + n] = acc;
      s[m * N + n] = abs;
    }
  return { y, s };
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; ++i) if (a[i] !== b[i]) return false;
  return true;
}

export function hex(bytes: ArrayLike<number>): string {
  return Array.from(bytes, (b) => b.toString(16).toUpperCase().padStart(2, "0")).join(" ");
}
