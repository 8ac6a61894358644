/** Random FP4 GEMM operands for the GPU GEMM tests: host bytes, their exact decoded values, device copies in
 * either scale layout, and the float64 reference with the K-dependent bound of numerics.md §3.6. */
import { QuantizedTensor, Tensor, type Format, type ScaleLayout } from "../../src/index.ts";
import type { Rng } from "./random.ts";
import { decodeOperand, gamma, gemmTN64, swizzledBytes, swizzleOffset, U_BF16 } from "./reference.ts";

export interface Operand {
  codes: Uint8Array; // [R, K/2]
  scales: Uint8Array; // linear [R, K/bs]
  values: Float64Array; // q * s, [R, K] (exact)
}

/** Random codes with scale bytes drawn by `scale` (one call per block). */
export function randomOperand(format: Format, rows: number, k: number, rng: Rng, scale: () => number): Operand {
  const cols = k / (format === "nvfp4" ? 16 : 32);
  const codes = new Uint8Array((rows * k) / 2).map(() => rng.u32() & 0xff);
  const scales = new Uint8Array(rows * cols).map(scale);
  const values = decodeOperand({ codes, scales, g: 1, R: rows, K: k, layout: "linear" }, format);
  return { codes, scales, values };
}

export function swizzleScales(lin: Uint8Array, rows: number, cols: number): Uint8Array {
  const out = new Uint8Array(swizzledBytes(rows, cols));
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[swizzleOffset(r, c, cols)] = lin[r * cols + c]!;
  return out;
}

/** The operand as a CUDA QuantizedTensor (tensor scale g on the device, or none). */
export function onDevice(format: Format, op: Operand, rows: number, k: number, layout: ScaleLayout, g: number | null): QuantizedTensor {
  const cols = k / (format === "nvfp4" ? 16 : 32);
  const sc = layout === "swizzled" ? swizzleScales(op.scales, rows, cols) : op.scales;
  const codes = Tensor.fromBytes(op.codes, [rows, k / 2], { dtype: "u8", device: "cuda" });
  const scales = Tensor.fromBytes(sc, [sc.length], { dtype: "u8", device: "cuda" });
  const ts = g === null ? null : Tensor.fromFloat32([g], [1], { device: "cuda" });
  return new QuantizedTensor(format, [rows, k], layout, codes, scales, ts, null);
}

/** float64 y = old + mult A B^T and its bound: gamma_{K+2} (|mult| sum|ab| + |old|) + bf16 output rounding. */
export function fp4Reference(a: Operand, b: Operand, m: number, n: number, k: number, mult: number, old: Float32Array | null, bf16: boolean) {
  const { y, s } = gemmTN64(a.values, b.values, m, n, k);
  const bound = new Float64Array(m * n);
  for (let i = 0; i < m * n; i++) {
    const o = old ? old[i]! : 0;
    y[i] = o + mult * y[i]!;
    bound[i] = gamma(k + 2) * (Math.abs(mult) * s[i]! + Math.abs(o)) + (bf16 ? U_BF16 * Math.abs(y[i]!) : 0);
  }
  return { ref: y, bound };
}

/** Throws (naming the first offender) unless |got - want| <= scale * bound elementwise. */
export function expectWithin(got: ArrayLike<number>, want: ArrayLike<number>, bound: ArrayLike<number>, scale: number, what: string): void {
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i]! - want[i]!);
    if (!(err <= scale * bound[i]!))
      throw new Error(`${what}: element ${i} is ${got[i]}, expected ${want[i]} within ${scale * bound[i]!}`);
  }
}
