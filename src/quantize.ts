/** Quantizers (numerics.md §3-§5): quantize, dequantize, requantize and the randomized Hadamard transform,
 * on either backend with the same call. The result of quantize is a QuantizedTensor that owns its codes,
 * scales, tensor scale and (QuEST) trust mask. */
import { argumentError, describe, QuartetError } from "./errors.ts";
import { check, native } from "./native/ffi.ts";
import { DTYPE_CODE, sameDevice, Tensor, type Device, type DType } from "./tensor.ts";

export type Format = "nvfp4" | "mxfp4";
export type ScaleLayout = "linear" | "swizzled";

/** Rounding methods and the C enum quartet_method they map to. */
export const ROUNDING = {
  rtn: 0,
  "4/6": 1,
  sr: 2,
  "sr-4/6": 3,
  "eden-a": 4,
  "eden-b": 5,
  "rtn-16x16": 6,
  ocp: 7,
  quest: 8,
  "rtn-rm": 9,
  "sr-rm": 10,
} as const;
export type Rounding = keyof typeof ROUNDING;

const NVFP4_ROUNDINGS: readonly Rounding[] = ["rtn", "4/6", "sr", "sr-4/6", "eden-a", "eden-b", "rtn-16x16"];
const MXFP4_ROUNDINGS: readonly Rounding[] = ["ocp", "quest", "rtn-rm", "sr-rm"];
export const FORMAT_CODE: Readonly<Record<Format, number>> = { nvfp4: 0, mxfp4: 1 };
export const LAYOUT_CODE: Readonly<Record<ScaleLayout, number>> = { linear: 0, swizzled: 1 };
export const BLOCK_SIZE: Readonly<Record<Format, number>> = { nvfp4: 16, mxfp4: 32 };

/** Operand roles of §2 (tensor_tag = layer << 8 | role). */
export const ROLE = { E: 1, WT: 2, ET: 3, XT: 4, X: 5, W: 6 } as const;
export function tensorTag(layer: number, role: keyof typeof ROLE): number {
  if (!Number.isInteger(layer) || layer < 0 || layer >= 1 << 24) throw argumentError("tensorTag", "layer", "an integer in [0, 2^24)", layer);
  return ((layer << 8) | ROLE[role]) >>> 0;
}

export interface RhtOptions {
  /** 0 (none), 16, 32 or 128 */
  dim: 0 | 16 | 32 | 128;
  /** 4 words, bit j&31 of word j>>5 set = sign -1; omitted = all +1 */
  signs?: Uint32Array;
}

export interface QuantizeOptions {
  format?: Format;
  rounding?: Rounding;
  /** Philox key: run seed and step (both uint32) */
  seed?: number;
  step?: number;
  /** Philox stream tag: (layer << 8) | role, see tensorTag() */
  tag?: number;
  /** quantize x^T instead of x (blocks along the other dimension) */
  transpose?: boolean;
  rht?: RhtOptions;
  scaleLayout?: ScaleLayout;
  /** delayed abs-max: a 1-element f32 tensor on the same device (NVFP4 methods except eden-b) */
  amaxOverride?: Tensor;
  /** receives the current abs-max (after the RHT): a 1-element f32 tensor on the same device */
  amaxOut?: Tensor;
}

export class QuantizedTensor implements Disposable {
  constructor(
    readonly format: Format,
    /** logical [R, K]; blocks run along K */
    readonly shape: readonly [number, number],
    readonly scaleLayout: ScaleLayout,
    readonly codes: Tensor,
    readonly scales: Tensor,
    readonly tensorScale: Tensor | null,
    readonly mask: Tensor | null,
  ) {
    // The C kernels trust these sizes: a hand-built QuantizedTensor must be checked here, never read out of bounds.
    const fn = "QuantizedTensor";
    if (format !== "nvfp4" && format !== "mxfp4") throw argumentError(fn, "format", '"nvfp4" or "mxfp4"', format);
    const [R, K] = shape;
    if (!Number.isSafeInteger(R) || !Number.isSafeInteger(K) || R <= 0 || K <= 0 || K % BLOCK_SIZE[format] !== 0)
      throw argumentError(fn, "shape", `[R, K] with K a multiple of ${BLOCK_SIZE[format]}`, shape);
    if (scaleLayout !== "linear" && scaleLayout !== "swizzled") throw argumentError(fn, "scaleLayout", '"linear" or "swizzled"', scaleLayout);
    const u8 = (name: string, t: Tensor | null, bytes: number) => {
      if (!(t instanceof Tensor) || t.dtype !== "u8" || t.byteLength !== bytes)
        throw argumentError(fn, name, `a u8 Tensor of ${bytes} bytes`, t === null ? null : `${t}`);
    };
    u8("codes", codes, (R * K) / 2);
    u8("scales", scales, scalesBytes(R, K / BLOCK_SIZE[format], scaleLayout));
    if (format === "nvfp4" && tensorScale !== null && (!(tensorScale instanceof Tensor) || tensorScale.dtype !== "f32" || tensorScale.numel !== 1))
      throw argumentError(fn, "tensorScale", "a 1-element f32 Tensor (or null: g = 1) for nvfp4", `${tensorScale}`);
    if (format === "mxfp4" && tensorScale !== null) throw argumentError(fn, "tensorScale", "null for mxfp4", `${tensorScale}`);
    if (mask !== null) u8("mask", mask, (R * K) / 8);
    sameDevice(fn, { codes, scales, tensorScale, mask });
  }

  get device(): Device {
    return this.codes.device;
  }
  get rows(): number {
    return this.shape[0];
  }
  get cols(): number {
    return this.shape[1];
  }
  get disposed(): boolean {
    return this.codes.disposed;
  }
  /** Storage in bits per element (codes + scales + tensor scale). */
  get bitsPerElement(): number {
    return (8 * (this.codes.byteLength + this.scales.byteLength + (this.tensorScale ? 4 : 0))) / (this.rows * this.cols);
  }
  /** The tensor scale g as a number (reads it back from the device). */
  tensorScaleValue(): number {
    return this.tensorScale ? this.tensorScale.toFloat32Array()[0]! : 1;
  }
  to(device: Device): QuantizedTensor {
    return new QuantizedTensor(this.format, this.shape, this.scaleLayout, this.codes.to(device), this.scales.to(device),
      this.tensorScale?.to(device) ?? null, this.mask?.to(device) ?? null);
  }
  dispose(): void {
    this.codes.dispose();
    this.scales.dispose();
    this.tensorScale?.dispose();
    this.mask?.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** NVFP4 = QuantizedTensor with format "nvfp4" (E4M3 scales per 16, FP32 tensor scale). */
export type Nvfp4Tensor = QuantizedTensor & { readonly format: "nvfp4" };

function u32(fn: string, name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw argumentError(fn, name, "an integer in [0, 2^32)", v);
  return v;
}

function signsArg(fn: string, rht: RhtOptions | undefined, dimAxis: number): { dim: number; signs: Uint32Array | null } {
  if (rht === undefined) return { dim: 0, signs: null };
  const dim = rht.dim;
  if (dim !== 0 && dim !== 16 && dim !== 32 && dim !== 128) throw argumentError(fn, "rht.dim", "0, 16, 32 or 128", dim);
  if (dim !== 0 && dimAxis % dim !== 0) throw argumentError(fn, "rht.dim", `a divisor of the rotated dimension ${dimAxis}`, dim);
  if (rht.signs !== undefined && (!(rht.signs instanceof Uint32Array) || rht.signs.length !== 4))
    throw argumentError(fn, "rht.signs", "a Uint32Array of length 4", rht.signs);
  return { dim, signs: dim === 0 ? null : rht.signs ?? null };
}

function scalesBytes(rows: number, scaleCols: number, layout: ScaleLayout): number {
  const out = new BigInt64Array(1);
  check(native().quartet_scales_bytes(rows, scaleCols, LAYOUT_CODE[layout], out));
  return Number(out[0]);
}

function allocQuantized(format: Format, R: number, K: number, layout: ScaleLayout, device: Device, withMask: boolean): QuantizedTensor {
  const scaleCols = K / BLOCK_SIZE[format];
  return new QuantizedTensor(
    format,
    [R, K],
    layout,
    Tensor.empty([R, K / 2], { dtype: "u8", device }),
    Tensor.empty([scalesBytes(R, scaleCols, layout)], { dtype: "u8", device }),
    format === "nvfp4" ? Tensor.empty([1], { dtype: "f32", device }) : null,
    withMask ? Tensor.empty([R, K / 8], { dtype: "u8", device }) : null,
  );
}

function checkMatrix(fn: string, name: string, x: Tensor): [number, number] {
  if (!(x instanceof Tensor)) throw argumentError(fn, name, "a Tensor", x);
  if (x.shape.length !== 2) throw argumentError(fn, `${name}.shape`, "2-D [rows, cols]", x.shape);
  if (x.dtype === "u8") throw argumentError(fn, `${name}.dtype`, '"f32" or "bf16"', x.dtype);
  return [x.shape[0]!, x.shape[1]!];
}

function checkScalarTensor(fn: string, name: string, t: Tensor | undefined): void {
  if (t === undefined) return;
  if (!(t instanceof Tensor) || t.dtype !== "f32" || t.numel !== 1) throw argumentError(fn, name, "a 1-element f32 Tensor", t);
}

/** Quantize a 2-D tensor (numerics.md §5). Defaults: nvfp4, rtn (or ocp for mxfp4), seed 0, step 0, tag 0. */
export function quantize(x: Tensor, opts: QuantizeOptions = {}): QuantizedTensor {
  const fn = "quantize";
  const [rows, cols] = checkMatrix(fn, "x", x);
  const format = opts.format ?? "nvfp4";
  if (format !== "nvfp4" && format !== "mxfp4") throw argumentError(fn, "format", '"nvfp4" or "mxfp4"', format);
  const allowed = format === "nvfp4" ? NVFP4_ROUNDINGS : MXFP4_ROUNDINGS;
  const rounding = opts.rounding ?? (format === "nvfp4" ? "rtn" : "ocp");
  if (!allowed.includes(rounding)) throw argumentError(fn, "rounding", `one of ${allowed.map(describe).join(", ")} for ${format}`, rounding);
  const transpose = opts.transpose ?? false;
  if (typeof transpose !== "boolean") throw argumentError(fn, "transpose", "a boolean", transpose);
  const [R, K] = transpose ? [cols, rows] : [rows, cols];
  const block = BLOCK_SIZE[format];
  if (K % block !== 0) throw argumentError(fn, transpose ? "x.shape[0] (K of x^T)" : "x.shape[1] (K)", `a multiple of ${block} for ${format}`, K);
  if (rounding === "rtn-16x16" && R % 16 !== 0) throw argumentError(fn, "rows of the quantized matrix", "a multiple of 16 for rtn-16x16", R);
  const layout = opts.scaleLayout ?? "linear";
  if (layout !== "linear" && layout !== "swizzled") throw argumentError(fn, "scaleLayout", '"linear" or "swizzled"', layout);
  const rht = signsArg(fn, opts.rht ?? (rounding === "quest" ? { dim: 32 } : undefined), K);
  const seed = u32(fn, "seed", opts.seed, 0);
  const step = u32(fn, "step", opts.step, 0);
  const tag = u32(fn, "tag", opts.tag, 0);
  checkScalarTensor(fn, "amaxOverride", opts.amaxOverride);
  checkScalarTensor(fn, "amaxOut", opts.amaxOut);
  const device = sameDevice(fn, { x, amaxOverride: opts.amaxOverride, amaxOut: opts.amaxOut });
  const q = allocQuantized(format, R, K, layout, device, rounding === "quest");
  try {
    check(
      native().quartet_quantize(
        x.backend, FORMAT_CODE[format], ROUNDING[rounding], x.handle, DTYPE_CODE[x.dtype], rows, cols, transpose ? 1 : 0,
        rht.dim, rht.signs, seed, step, tag, opts.amaxOverride?.handle ?? null, opts.amaxOut?.handle ?? null,
        LAYOUT_CODE[layout], q.codes.handle, q.scales.handle, q.tensorScale?.handle ?? null, q.mask?.handle ?? null,
      ),
    );
  } catch (e) {
    q.dispose();
    throw e;
  }
  return q;
}

function checkQuantized(fn: string, name: string, q: QuantizedTensor): void {
  if (!(q instanceof QuantizedTensor)) throw argumentError(fn, name, "a QuantizedTensor", q);
  if (q.disposed) throw new QuartetError("DISPOSED", `${fn}: ${name} was used after dispose()`);
}

/** Decode to f32 (default) or bf16: numerics.md §3.1 (NVFP4) or code * 2^(e-127) (MXFP4). */
export function dequantize(q: QuantizedTensor, opts: { dtype?: DType } = {}): Tensor {
  const fn = "dequantize";
  checkQuantized(fn, "q", q);
  const dtype = opts.dtype ?? "f32";
  if (dtype !== "f32" && dtype !== "bf16") throw argumentError(fn, "dtype", '"f32" or "bf16"', dtype);
  const out = Tensor.empty(q.shape, { dtype, device: q.device });
  try {
    check(native().quartet_dequantize(q.codes.backend, FORMAT_CODE[q.format], q.codes.handle, q.scales.handle,
      q.tensorScale?.handle ?? null, q.rows, q.cols, LAYOUT_CODE[q.scaleLayout], out.handle, DTYPE_CODE[dtype]));
  } catch (e) {
    out.dispose();
    throw e;
  }
  return out;
}

export interface RequantizeOptions {
  format?: Format;
  rounding?: Rounding;
  seed?: number;
  step?: number;
  tag?: number;
  rht?: RhtOptions;
  scaleLayout?: ScaleLayout;
}

/** Re-quantize a saved tensor along its other dimension (numerics.md §5.8): the logical result is
 * quantize(dequantize(q)^T, ...), shape [K, R]. Defaults: nvfp4 eden-b, no RHT. */
export function requantize(q: QuantizedTensor, opts: RequantizeOptions = {}): QuantizedTensor {
  const fn = "requantize";
  checkQuantized(fn, "q", q);
  if (q.scaleLayout !== "linear") throw argumentError(fn, "q.scaleLayout", '"linear" (saved tensors keep linear scales)', q.scaleLayout);
  const format = opts.format ?? "nvfp4";
  if (format !== "nvfp4" && format !== "mxfp4") throw argumentError(fn, "format", '"nvfp4" or "mxfp4"', format);
  const allowed: readonly Rounding[] = (format === "nvfp4" ? NVFP4_ROUNDINGS : MXFP4_ROUNDINGS).filter((r) => r !== "quest");
  const rounding = opts.rounding ?? (format === "nvfp4" ? "eden-b" : "rtn-rm");
  if (!allowed.includes(rounding)) throw argumentError(fn, "rounding", `one of ${allowed.map(describe).join(", ")} for ${format}`, rounding);
  const [rows, cols] = q.shape;
  if (rows % BLOCK_SIZE[format] !== 0) throw argumentError(fn, "q.shape[0] (K of the transpose)", `a multiple of ${BLOCK_SIZE[format]}`, rows);
  const layout = opts.scaleLayout ?? "linear";
  if (layout !== "linear" && layout !== "swizzled") throw argumentError(fn, "scaleLayout", '"linear" or "swizzled"', layout);
  const rht = signsArg(fn, opts.rht, rows);
  const out = allocQuantized(format, cols, rows, layout, q.device, false);
  try {
    check(native().quartet_requantize(q.codes.backend, FORMAT_CODE[q.format], q.codes.handle, q.scales.handle,
      q.tensorScale?.handle ?? null, rows, cols, FORMAT_CODE[format], ROUNDING[rounding], rht.dim, rht.signs,
      u32(fn, "seed", opts.seed, 0), u32(fn, "step", opts.step, 0), u32(fn, "tag", opts.tag, 0), LAYOUT_CODE[layout],
      out.codes.handle, out.scales.handle, out.tensorScale?.handle ?? null));
  } catch (e) {
    out.dispose();
    throw e;
  }
  return out;
}

/** RHT-d of every d-chunk of every row (numerics.md §5.5); a new tensor of `dtype` (default: x's). */
export function rht(x: Tensor, opts: { dim: 16 | 32 | 128; signs?: Uint32Array; dtype?: "f32" | "bf16" }): Tensor {
  const fn = "rht";
  const [rows, cols] = checkMatrix(fn, "x", x);
  const { dim, signs } = signsArg(fn, opts, cols);
  if (dim === 0) throw argumentError(fn, "dim", "16, 32 or 128", dim);
  const dtype = opts.dtype ?? (x.dtype as "f32" | "bf16");
  const out = Tensor.empty([rows, cols], { dtype, device: x.device });
  try {
    check(native().quartet_rht(x.backend, x.handle, DTYPE_CODE[x.dtype], rows, cols, dim, signs, out.handle, DTYPE_CODE[dtype]));
  } catch (e) {
    out.dispose();
    throw e;
  }
  return out;
}

/** The 128 RHT signs of one backward call of one layer (numerics.md §2). */
export function rhtSigns(seed: number, step: number, layer: number): Uint32Array {
  const out = new Uint32Array(4);
  check(native().quartet_rht_signs(u32("rhtSigns", "seed", seed, 0), u32("rhtSigns", "step", step, 0), u32("rhtSigns", "layer", layer, 0), out));
  return out;
}

/** max |x| over the tensor, as a number (reads back from the device). */
export function absmax(x: Tensor): number {
  const fn = "absmax";
  if (!(x instanceof Tensor) || x.dtype === "u8") throw argumentError(fn, "x", "an f32 or bf16 Tensor", x);
  const out = Tensor.empty([1], { dtype: "f32", device: x.device });
  try {
    check(native().quartet_absmax(x.backend, x.handle, DTYPE_CODE[x.dtype], x.numel, out.handle));
    return out.toFloat32Array()[0]!;
  } finally {
    out.dispose();
  }
}
