/** GEMMs: the block-scaled FP4 GEMM Y = alpha * gA * gB * A B^T (numerics.md §3.6) and a dense BF16/F32
 * GEMM with BLAS semantics for the layers that stay in high precision. */
import { argumentError } from "./errors.ts";
import { check, native } from "./native/ffi.ts";
import { FORMAT_CODE, LAYOUT_CODE, QuantizedTensor } from "./quantize.ts";
import { DTYPE_CODE, sameDevice, Tensor, type DType } from "./tensor.ts";

export interface Fp4GemmOptions {
  /** output dtype (default bf16) */
  outDtype?: "f32" | "bf16";
  /** extra multiplier (e.g. 16/9 for Quartet's range-matched backward) */
  alpha?: number;
  /** add into this f32 [M, N] tensor instead of allocating an output */
  accumulateInto?: Tensor;
}

/** Y[M, N] = alpha * gA * gB * deq(A)[M, K] deq(B)[N, K]^T with FP32 accumulation (TN layout). */
export function fp4Gemm(a: QuantizedTensor, b: QuantizedTensor, opts: Fp4GemmOptions = {}): Tensor {
  const fn = "fp4Gemm";
  if (!(a instanceof QuantizedTensor)) throw argumentError(fn, "a", "a QuantizedTensor", a);
  if (!(b instanceof QuantizedTensor)) throw argumentError(fn, "b", "a QuantizedTensor", b);
  if (a.format !== b.format) throw argumentError(fn, "b.format", `equal to a.format (${a.format})`, b.format);
  if (a.scaleLayout !== b.scaleLayout) throw argumentError(fn, "b.scaleLayout", `equal to a.scaleLayout (${a.scaleLayout})`, b.scaleLayout);
  const [M, K] = a.shape;
  const [N, Kb] = b.shape;
  if (K !== Kb) throw argumentError(fn, "b.shape[1]", `equal to a.shape[1] = ${K} (both are K-major)`, Kb);
  const alpha = opts.alpha ?? 1;
  if (!Number.isFinite(alpha)) throw argumentError(fn, "alpha", "a finite number", alpha);
  const acc = opts.accumulateInto;
  const outDtype: DType = acc ? "f32" : opts.outDtype ?? "bf16";
  if (outDtype !== "f32" && outDtype !== "bf16") throw argumentError(fn, "outDtype", '"f32" or "bf16"', outDtype);
  if (acc && (!(acc instanceof Tensor) || acc.dtype !== "f32" || acc.shape.length !== 2 || acc.shape[0] !== M || acc.shape[1] !== N))
    throw argumentError(fn, "accumulateInto", `an f32 Tensor of shape [${M}, ${N}]`, acc);
  const device = sameDevice(fn, { "a.codes": a.codes, "b.codes": b.codes, accumulateInto: acc });
  const out = acc ?? Tensor.empty([M, N], { dtype: outDtype, device });
  try {
    check(native().quartet_gemm_fp4(out.backend, FORMAT_CODE[a.format], a.codes.handle, a.scales.handle,
      a.tensorScale?.handle ?? null, b.codes.handle, b.scales.handle, b.tensorScale?.handle ?? null, M, N, K,
      LAYOUT_CODE[a.scaleLayout], alpha, acc ? 1 : 0, out.handle, DTYPE_CODE[outDtype]));
  } catch (e) {
    if (!acc) out.dispose();
    throw e;
  }
  return out;
}

/** The NVFP4 GEMM (both operands "nvfp4"). */
export function nvfp4Gemm(a: QuantizedTensor, b: QuantizedTensor, opts: Fp4GemmOptions = {}): Tensor {
  if (a.format !== "nvfp4") throw argumentError("nvfp4Gemm", "a.format", '"nvfp4"', a.format);
  return fp4Gemm(a, b, opts);
}

export interface GemmOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  /** C = alpha op(A) op(B) + beta C; with beta != 0 pass `into` */
  beta?: number;
  into?: Tensor;
  outDtype?: "f32" | "bf16";
}

/** Dense C[M, N] = alpha op(A) op(B) + beta C, row-major, FP32 accumulation. A and B share a dtype. */
export function gemm(a: Tensor, b: Tensor, opts: GemmOptions = {}): Tensor {
  const fn = "gemm";
  for (const [name, t] of [["a", a], ["b", b]] as const) {
    if (!(t instanceof Tensor) || t.shape.length !== 2 || t.dtype === "u8") throw argumentError(fn, name, "a 2-D f32 or bf16 Tensor", t);
  }
  if (a.dtype !== b.dtype) throw argumentError(fn, "b.dtype", `equal to a.dtype (${a.dtype})`, b.dtype);
  const transA = opts.transA ?? false, transB = opts.transB ?? false;
  const [M, K] = transA ? [a.shape[1]!, a.shape[0]!] : [a.shape[0]!, a.shape[1]!];
  const [Kb, N] = transB ? [b.shape[1]!, b.shape[0]!] : [b.shape[0]!, b.shape[1]!];
  if (K !== Kb) throw argumentError(fn, "b", `an operand with inner dimension ${K}`, Kb);
  const alpha = opts.alpha ?? 1, beta = opts.beta ?? 0;
  if (!Number.isFinite(alpha) || !Number.isFinite(beta)) throw argumentError(fn, "alpha/beta", "finite numbers", [alpha, beta]);
  if (beta !== 0 && !opts.into) throw argumentError(fn, "into", "a Tensor when beta != 0", opts.into);
  const into = opts.into;
  if (into && (into.shape.length !== 2 || into.shape[0] !== M || into.shape[1] !== N || into.dtype === "u8"))
    throw argumentError(fn, "into", `an f32 or bf16 Tensor of shape [${M}, ${N}]`, into);
  const device = sameDevice(fn, { a, b, into });
  const outDtype = into?.dtype ?? opts.outDtype ?? "f32";
  const c = into ?? Tensor.empty([M, N], { dtype: outDtype, device });
  try {
    check(native().quartet_gemm(c.backend, DTYPE_CODE[a.dtype], transA ? 1 : 0, transB ? 1 : 0, M, N, K, alpha, a.handle,
      a.shape[1]!, b.handle, b.shape[1]!, beta, c.handle, N, DTYPE_CODE[outDtype]));
  } catch (e) {
    if (!into) c.dispose();
    throw e;
  }
  return c;
}
