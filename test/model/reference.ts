/** Float64 references of the model ops (numerics.md §7), written from the math, never calling the library,
 * plus small helpers shared by the model tests. Activations are row-major Float64Arrays. */
import { check, native } from "../../src/native/ffi.ts";
import { Tensor } from "../../src/index.ts";
import { gaussian } from "../helpers/random.ts";

export const U_BF16 = 2 ** -8;

/** Values rounded to bfloat16 (RNE), as float64. */
export function roundBf16(x: Float32Array): Float32Array {
  const h = new Uint16Array(x.length), out = new Float32Array(x.length);
  check(native().quartet_f32_to_bf16(x, x.length, h));
  check(native().quartet_bf16_to_f32(h, x.length, out));
  return out;
}

export function f64(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x as ArrayLike<number>);
}

export function randn(n: number, seed: number, sigma = 1): Float32Array {
  return gaussian(n, seed, sigma);
}

/** An f32 or bf16 CPU tensor [rows, cols] from float32 values. */
export function mat(values: Float32Array, rows: number, cols: number, dtype: "f32" | "bf16" = "f32"): Tensor {
  return Tensor.fromFloat32(values, [rows, cols], { dtype });
}

export function vec(values: Float32Array | number[], dtype: "f32" | "bf16" = "f32"): Tensor {
  const v = values instanceof Float32Array ? values : Float32Array.from(values);
  return Tensor.fromFloat32(v, [v.length], { dtype });
}

export function int32Buf(values: number[] | Int32Array): Tensor {
  const v = values instanceof Int32Array ? values : Int32Array.from(values);
  return Tensor.fromBytes(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), [v.byteLength], { dtype: "u8" });
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; ++i) s += a[i]! * b[i]!;
  return s;
}

/** max_i |a_i - b_i| / (max_i |b_i| + tiny): an error relative to the reference's scale. */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0, scale = 0;
  for (let i = 0; i < b.length; ++i) {
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return err / (scale + 1e-300);
}

/** max_i |a_i - b_i| / (|b_i| + floor): element-wise relative error with an absolute floor. */
export function maxElemRelErr(a: ArrayLike<number>, b: ArrayLike<number>, floor: number): number {
  let err = 0;
  for (let i = 0; i < b.length; ++i) err = Math.max(err, Math.abs(a[i]! - b[i]!) / (Math.abs(b[i]!) + floor));
  return err;
}

// ---- ops ---------------------------------------------------------------------------------------------

export function rmsnormRef(x: ArrayLike<number>, rows: number, d: number, w: ArrayLike<number>, eps: number) {
  const y = new Float64Array(rows * d), rstd = new Float64Array(rows);
  for (let r = 0; r < rows; ++r) {
    let ss = 0;
    for (let c = 0; c < d; ++c) ss += x[r * d + c]! ** 2;
    rstd[r] = 1 / Math.sqrt(ss / d + eps);
    for (let c = 0; c < d; ++c) y[r * d + c] = x[r * d + c]! * rstd[r]! * w[c]!;
  }
  return { y, rstd };
}

export function rmsnormBackwardRef(x: ArrayLike<number>, rows: number, d: number, w: ArrayLike<number>, eps: number, dy: ArrayLike<number>) {
  const { rstd } = rmsnormRef(x, rows, d, w, eps);
  const dx = new Float64Array(rows * d), dw = new Float64Array(d);
  for (let r = 0; r < rows; ++r) {
    const rs = rstd[r]!;
    let m = 0;
    for (let c = 0; c < d; ++c) m += dy[r * d + c]! * w[c]! * x[r * d + c]! * rs;
    m /= d;
    for (let c = 0; c < d; ++c) {
      const xhat = x[r * d + c]! * rs;
      dx[r * d + c] = rs * (dy[r * d + c]! * w[c]! - xhat * m);
      dw[c]! += dy[r * d + c]! * xhat;
    }
  }
  return { dx, dw };
}

/** RoPE (rotate-half) of rows [rows, ld], heads * hd rotated columns, position t % seqLen, float64 angles. */
export function ropeRef(x: ArrayLike<number>, rows: number, ld: number, heads: number, hd: number, seqLen: number, inverse = false, theta = 10000) {
  const y = Float64Array.from(x as ArrayLike<number>);
  const half = hd / 2;
  for (let t = 0; t < rows; ++t) {
    const p = t % seqLen;
    for (let h = 0; h < heads; ++h)
      for (let j = 0; j < half; ++j) {
        const ang = p * Math.pow(theta, (-2 * j) / hd);
        const c = Math.cos(ang), s = inverse ? -Math.sin(ang) : Math.sin(ang);
        const i1 = t * ld + h * hd + j, i2 = i1 + half;
        const a = x[i1]!, b = x[i2]!;
        y[i1] = a * c - b * s;
        y[i2] = b * c + a * s;
      }
  }
  return y;
}

export interface AttnShape {
  B: number;
  S: number;
  H: number;
  hd: number;
}

/** Causal attention forward in float64: out [B*S, H*hd], lse [B, H, S]. */
export function attentionRef(qkv: ArrayLike<number>, s: AttnShape) {
  const { B, S, H, hd } = s;
  const D = H * hd, scale = 1 / Math.sqrt(hd);
  const out = new Float64Array(B * S * D), lse = new Float64Array(B * H * S);
  const q = (t: number, h: number, d: number) => qkv[t * 3 * D + h * hd + d]!;
  const k = (t: number, h: number, d: number) => qkv[t * 3 * D + D + h * hd + d]!;
  const v = (t: number, h: number, d: number) => qkv[t * 3 * D + 2 * D + h * hd + d]!;
  for (let b = 0; b < B; ++b)
    for (let h = 0; h < H; ++h)
      for (let i = 0; i < S; ++i) {
        const sc: number[] = [];
        for (let j = 0; j <= i; ++j) {
          let acc = 0;
          for (let d = 0; d < hd; ++d) acc += q(b * S + i, h, d) * k(b * S + j, h, d);
          sc.push(acc * scale);
        }
        const m = Math.max(...sc);
        let l = 0;
        const p = sc.map((x) => Math.exp(x - m));
        for (const x of p) l += x;
        for (let d = 0; d < hd; ++d) {
          let acc = 0;
          for (let j = 0; j <= i; ++j) acc += p[j]! * v(b * S + j, h, d);
          out[(b * S + i) * D + h * hd + d] = acc / l;
        }
        lse[(b * H + h) * S + i] = m + Math.log(l);
      }
  return { out, lse };
}

/** Causal attention backward in float64: dqkv [B*S, 3*H*hd] from dout [B*S, H*hd]. */
export function attentionBackwardRef(qkv: ArrayLike<number>, dout: ArrayLike<number>, s: AttnShape) {
  const { B, S, H, hd } = s;
  const D = H * hd, scale = 1 / Math.sqrt(hd);
  const { out } = attentionRef(qkv, s);
  const dqkv = new Float64Array(B * S * 3 * D);
  const Q = (t: number, h: number) => t * 3 * D + h * hd;
  const K = (t: number, h: number) => t * 3 * D + D + h * hd;
  const Vv = (t: number, h: number) => t * 3 * D + 2 * D + h * hd;
  for (let b = 0; b < B; ++b)
    for (let h = 0; h < H; ++h) {
      // P[i][j] for j <= i
      const P: number[][] = [];
      for (let i = 0; i < S; ++i) {
        const sc: number[] = [];
        for (let j = 0; j <= i; ++j) {
          let acc = 0;
          for (let d = 0; d < hd; ++d) acc += qkv[Q(b * S + i, h) + d]! * qkv[K(b * S + j, h) + d]!;
          sc.push(acc * scale);
        }
        const m = Math.max(...sc);
        const p = sc.map((x) => Math.exp(x - m));
        const l = p.reduce((a, c) => a + c, 0);
        P.push(p.map((x) => x / l));
      }
      for (let i = 0; i < S; ++i) {
        const ti = b * S + i, oi = ti * D + h * hd;
        let delta = 0;
        for (let d = 0; d < hd; ++d) delta += dout[oi + d]! * out[oi + d]!;
        for (let j = 0; j <= i; ++j) {
          const tj = b * S + j;
          let dp = 0;
          for (let d = 0; d < hd; ++d) dp += dout[oi + d]! * qkv[Vv(tj, h) + d]!;
          const pij = P[i]![j]!;
          const ds = pij * (dp - delta);
          for (let d = 0; d < hd; ++d) {
            dqkv[Q(ti, h) + d]! += scale * ds * qkv[K(tj, h) + d]!;
            dqkv[K(tj, h) + d]! += scale * ds * qkv[Q(ti, h) + d]!;
            dqkv[Vv(tj, h) + d]! += pij * dout[oi + d]!;
          }
        }
      }
    }
  return { dqkv, out };
}

export function swigluRef(gu: ArrayLike<number>, rows: number, H: number) {
  const h = new Float64Array(rows * H);
  for (let r = 0; r < rows; ++r)
    for (let j = 0; j < H; ++j) {
      const g = gu[r * 2 * H + j]!, u = gu[r * 2 * H + H + j]!;
      h[r * H + j] = (g / (1 + Math.exp(-g))) * u;
    }
  return h;
}

export function swigluBackwardRef(gu: ArrayLike<number>, dh: ArrayLike<number>, rows: number, H: number) {
  const dgu = new Float64Array(rows * 2 * H);
  for (let r = 0; r < rows; ++r)
    for (let j = 0; j < H; ++j) {
      const g = gu[r * 2 * H + j]!, u = gu[r * 2 * H + H + j]!, d = dh[r * H + j]!;
      const s = 1 / (1 + Math.exp(-g));
      dgu[r * 2 * H + j] = d * u * s * (1 + g * (1 - s));
      dgu[r * 2 * H + H + j] = d * g * s;
    }
  return dgu;
}

/** Cross-entropy in float64: per-row losses and the gradient scale * (softmax - onehot); target < 0 ignored. */
export function crossEntropyRef(z: ArrayLike<number>, rows: number, V: number, targets: ArrayLike<number>, scale: number) {
  const losses = new Float64Array(rows), grad = new Float64Array(rows * V);
  for (let r = 0; r < rows; ++r) {
    const t = targets[r]!;
    if (t < 0) continue;
    let m = -Infinity;
    for (let v = 0; v < V; ++v) m = Math.max(m, z[r * V + v]!);
    let s = 0;
    for (let v = 0; v < V; ++v) s += Math.exp(z[r * V + v]! - m);
    losses[r] = Math.log(s) + m - z[r * V + t]!;
    for (let v = 0; v < V; ++v) grad[r * V + v] = scale * (Math.exp(z[r * V + v]! - m) / s - (v === t ? 1 : 0));
  }
  return { losses, grad };
}
