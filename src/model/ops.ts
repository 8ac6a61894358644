/** Typed wrappers of the model ops of the C library (quartet.h, "Model ops"; numerics.md §7): embedding,
 * RMSNorm, RoPE, causal attention, SwiGLU, residual add, dtype conversion and the fused cross-entropy.
 *
 * Every op works on caller-owned tensors (nothing is allocated per call). Activations are 2-D row-major
 * tensors [capacity, width]; `rows` (default: all of them) selects the leading rows an op works on, so one
 * preallocated buffer serves any batch up to its capacity. Token ids and targets live in u8 tensors holding
 * int32 values (see int32Tensor / writeInt32). */
import type { Pointer } from "bun:ffi";
import { argumentError, QuartetError } from "../errors.ts";
import { check, native } from "../native/ffi.ts";
import { DTYPE_BYTES, DTYPE_CODE, sameDevice, Tensor, type Device, type NativeArg } from "../tensor.ts";

/** The RMSNorm epsilon of the papers' models (numerics.md §7). */
export const RMSNORM_EPS = 1e-5;
/** The RoPE base of the papers' models. */
export const ROPE_THETA = 10000;

type Float = "f32" | "bf16";

/** The FFI argument for `t`'s data starting `byteOffset` bytes in (a host subarray or a device address). */
export function at(t: Tensor, byteOffset: number): NativeArg {
  const h = t.handle;
  if (byteOffset === 0) return h;
  if (byteOffset < 0 || byteOffset > t.byteLength) throw argumentError("at", "byteOffset", `in [0, ${t.byteLength}]`, byteOffset);
  if (h instanceof Uint8Array) return h.subarray(byteOffset);
  return ((h as number) + byteOffset) as Pointer;
}

/** An int32 buffer (token ids or targets) on `device`, as a u8 tensor of 4 * n bytes. */
export function int32Tensor(values: Int32Array, device: Device = "cpu"): Tensor {
  return Tensor.fromBytes(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), [values.byteLength], { dtype: "u8", device });
}

/** Copies `values` into the leading 4 * values.length bytes of the int32 buffer `dst`. */
export function writeInt32(dst: Tensor, values: Int32Array): void {
  if (!(dst instanceof Tensor) || dst.dtype !== "u8" || dst.byteLength < values.byteLength)
    throw argumentError("writeInt32", "dst", `a u8 Tensor of at least ${values.byteLength} bytes`, dst);
  check(native().quartet_memcpy(dst.backend, dst.handle, 0, new Uint8Array(values.buffer, values.byteOffset, values.byteLength), values.byteLength));
}

function isFloat(t: Tensor): t is Tensor & { dtype: Float } {
  return t.dtype === "f32" || t.dtype === "bf16";
}

/** Checks a 2-D float tensor of `width` columns holding at least `rows` rows; returns rows. */
function matrix(fn: string, name: string, t: Tensor, width: number | null, rows?: number, dtype?: Float): number {
  if (!(t instanceof Tensor) || t.shape.length !== 2 || !isFloat(t) || (width !== null && t.shape[1] !== width) || (dtype && t.dtype !== dtype))
    throw argumentError(fn, name, `a 2-D ${dtype ?? "f32 or bf16"} Tensor${width !== null ? ` with ${width} columns` : ""}`, t);
  const r = rows ?? t.shape[0]!;
  if (!Number.isSafeInteger(r) || r <= 0 || r > t.shape[0]!) throw argumentError(fn, `rows (of ${name})`, `an integer in [1, ${t.shape[0]}]`, r);
  return r;
}

/** Checks a float tensor of the given dtype with at least n elements. */
function vector(fn: string, name: string, t: Tensor, n: number, dtype: Float = "f32"): void {
  if (!(t instanceof Tensor) || t.dtype !== dtype || t.numel < n)
    throw argumentError(fn, name, `a ${dtype} Tensor of at least ${n} elements`, t);
}

function int32s(fn: string, name: string, t: Tensor, n: number, offset = 0): void {
  if (!(t instanceof Tensor) || t.dtype !== "u8" || t.byteLength < 4 * (offset + n))
    throw argumentError(fn, name, `an int32 buffer (u8 Tensor) of at least ${4 * (offset + n)} bytes`, t);
}

function positiveInt(fn: string, name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v <= 0) throw argumentError(fn, name, "a positive integer", v);
}

// ---- embedding -------------------------------------------------------------------------------------------

/** out[t, :] = table[tokens[t], :] for t < n (default: out's rows). table: f32 [vocab, dim]. */
export function embeddingForward(a: { tokens: Tensor; table: Tensor; out: Tensor; n?: number }): void {
  const fn = "embeddingForward";
  const [V, d] = tableShape(fn, "table", a.table);
  const n = matrix(fn, "out", a.out, d, a.n);
  int32s(fn, "tokens", a.tokens, n);
  sameDevice(fn, { tokens: a.tokens, table: a.table, out: a.out });
  check(native().quartet_embedding_forward(a.out.backend, a.tokens.handle, n, a.table.handle, V, d, a.out.handle, DTYPE_CODE[a.out.dtype]));
}

/** dtable[tokens[t], :] += dout[t, :] for t < n, each row summed in increasing t. */
export function embeddingBackward(a: { tokens: Tensor; dout: Tensor; dtable: Tensor; n?: number }): void {
  const fn = "embeddingBackward";
  const [V, d] = tableShape(fn, "dtable", a.dtable);
  const n = matrix(fn, "dout", a.dout, d, a.n);
  int32s(fn, "tokens", a.tokens, n);
  sameDevice(fn, { tokens: a.tokens, dout: a.dout, dtable: a.dtable });
  check(native().quartet_embedding_backward(a.dout.backend, a.tokens.handle, n, a.dout.handle, DTYPE_CODE[a.dout.dtype], V, d, a.dtable.handle));
}

function tableShape(fn: string, name: string, t: Tensor): [number, number] {
  if (!(t instanceof Tensor) || t.dtype !== "f32" || t.shape.length !== 2) throw argumentError(fn, name, "an f32 Tensor [vocab, dim]", t);
  return [t.shape[0]!, t.shape[1]!];
}

// ---- RMSNorm ---------------------------------------------------------------------------------------------

/** y = x * rstd * weight with rstd = 1/sqrt(mean(x^2) + eps) per row (saved into `rstd` when given). */
export function rmsnormForward(a: { x: Tensor; weight: Tensor; y: Tensor; rstd?: Tensor; rows?: number; eps?: number }): void {
  const fn = "rmsnormForward";
  vector(fn, "weight", a.weight, 1);
  const d = a.weight.numel;
  const rows = matrix(fn, "x", a.x, d, a.rows);
  matrix(fn, "y", a.y, d, rows);
  if (a.rstd) vector(fn, "rstd", a.rstd, rows);
  sameDevice(fn, { x: a.x, weight: a.weight, y: a.y, rstd: a.rstd });
  check(native().quartet_rmsnorm_forward(a.x.backend, a.x.handle, DTYPE_CODE[a.x.dtype], rows, d, a.weight.handle, a.eps ?? RMSNORM_EPS,
    a.y.handle, DTYPE_CODE[a.y.dtype], a.rstd?.handle ?? null));
}

/** F32 elements of the scratch rmsnormBackward needs for `rows` rows of width `dim`. */
export function rmsnormScratchElems(rows: number, dim: number): number {
  const out = new BigInt64Array(1);
  check(native().quartet_rmsnorm_scratch_elems(rows, dim, out));
  return Number(out[0]);
}

/** dx (written, or added to an f32 dx with accumulate) and dweight (+=) from dy and the forward's x, rstd. */
export function rmsnormBackward(a: {
  x: Tensor; weight: Tensor; rstd: Tensor; dy: Tensor; dx: Tensor; dweight: Tensor; scratch: Tensor; rows?: number; accumulate?: boolean;
}): void {
  const fn = "rmsnormBackward";
  vector(fn, "weight", a.weight, 1);
  const d = a.weight.numel;
  const rows = matrix(fn, "x", a.x, d, a.rows);
  matrix(fn, "dy", a.dy, d, rows);
  matrix(fn, "dx", a.dx, d, rows, a.accumulate ? "f32" : undefined);
  vector(fn, "rstd", a.rstd, rows);
  vector(fn, "dweight", a.dweight, d);
  vector(fn, "scratch", a.scratch, rmsnormScratchElems(rows, d));
  sameDevice(fn, { x: a.x, weight: a.weight, rstd: a.rstd, dy: a.dy, dx: a.dx, dweight: a.dweight, scratch: a.scratch });
  check(native().quartet_rmsnorm_backward(a.x.backend, a.x.handle, DTYPE_CODE[a.x.dtype], rows, d, a.weight.handle, a.rstd.handle,
    a.dy.handle, DTYPE_CODE[a.dy.dtype], a.dx.handle, DTYPE_CODE[a.dx.dtype], a.accumulate ? 1 : 0, a.dweight.handle, a.scratch.handle));
}

// ---- RoPE ------------------------------------------------------------------------------------------------

/** cos/sin tables [seqLen, headDim / 2] (float64 math, rounded once). */
export function ropeTable(seqLen: number, headDim: number, theta = ROPE_THETA): { cos: Float32Array; sin: Float32Array } {
  positiveInt("ropeTable", "seqLen", seqLen);
  positiveInt("ropeTable", "headDim", headDim);
  const cos = new Float32Array((seqLen * headDim) / 2 || 1), sin = new Float32Array(cos.length);
  check(native().quartet_rope_table(seqLen, headDim, theta, cos, sin));
  return { cos, sin };
}

export interface RopeArgs {
  /** [capacity, ld] rows; rotated columns [0, heads * headDim) */
  x: Tensor;
  heads: number;
  headDim: number;
  seqLen: number;
  /** f32 tables [seqLen, headDim / 2] on x's device (from ropeTable) */
  cos: Tensor;
  sin: Tensor;
  rows?: number;
}

/** RoPE in place (rotate-half convention); position of row t = t % seqLen. */
export function ropeForward(a: RopeArgs): void {
  rope("ropeForward", a, false);
}

/** The transposed rotation, applied in place to a gradient. */
export function ropeBackward(a: RopeArgs): void {
  rope("ropeBackward", a, true);
}

function rope(fn: string, a: RopeArgs, inverse: boolean): void {
  const rows = matrix(fn, "x", a.x, null, a.rows);
  positiveInt(fn, "seqLen", a.seqLen);
  vector(fn, "cos", a.cos, (a.seqLen * a.headDim) / 2);
  vector(fn, "sin", a.sin, (a.seqLen * a.headDim) / 2);
  sameDevice(fn, { x: a.x, cos: a.cos, sin: a.sin });
  const f = inverse ? native().quartet_rope_backward : native().quartet_rope_forward;
  check(f(a.x.backend, a.x.handle, DTYPE_CODE[a.x.dtype], rows, a.x.shape[1]!, a.heads, a.headDim, a.seqLen, a.cos.handle, a.sin.handle));
}

// ---- attention -------------------------------------------------------------------------------------------

export interface AttentionShape {
  batch: number;
  seq: number;
  heads: number;
  headDim: number;
}

function attentionChecks(fn: string, s: AttentionShape, qkv: Tensor, named: Record<string, Tensor>, lse: Tensor): number {
  for (const k of ["batch", "seq", "heads", "headDim"] as const) positiveInt(fn, k, s[k]);
  const T = s.batch * s.seq, D = s.heads * s.headDim;
  matrix(fn, "qkv", qkv, 3 * D, T);
  for (const [name, t] of Object.entries(named)) {
    matrix(fn, name, t, name === "dqkv" ? 3 * D : D, T);
    if (t.dtype !== qkv.dtype) throw argumentError(fn, `${name}.dtype`, `equal to qkv.dtype (${qkv.dtype})`, t.dtype);
  }
  vector(fn, "lse", lse, s.batch * s.heads * s.seq);
  return T;
}

/** Causal attention: out [T, H * hd] and lse f32 [batch, heads, seq] from the fused, RoPE'd qkv [T, 3 H hd]. */
export function attentionForward(a: AttentionShape & { qkv: Tensor; out: Tensor; lse: Tensor }): void {
  const fn = "attentionForward";
  attentionChecks(fn, a, a.qkv, { out: a.out }, a.lse);
  sameDevice(fn, { qkv: a.qkv, out: a.out, lse: a.lse });
  check(native().quartet_attention_forward(a.qkv.backend, a.qkv.handle, DTYPE_CODE[a.qkv.dtype], a.batch, a.seq, a.heads, a.headDim,
    a.out.handle, a.lse.handle));
}

/** dqkv (written) from dout and the forward's qkv, out, lse; delta: f32 scratch [batch, heads, seq]. */
export function attentionBackward(a: AttentionShape & { qkv: Tensor; out: Tensor; dout: Tensor; lse: Tensor; dqkv: Tensor; delta: Tensor }): void {
  const fn = "attentionBackward";
  attentionChecks(fn, a, a.qkv, { out: a.out, dout: a.dout, dqkv: a.dqkv }, a.lse);
  vector(fn, "delta", a.delta, a.batch * a.heads * a.seq);
  sameDevice(fn, { qkv: a.qkv, out: a.out, dout: a.dout, lse: a.lse, dqkv: a.dqkv, delta: a.delta });
  check(native().quartet_attention_backward(a.qkv.backend, a.qkv.handle, a.out.handle, a.dout.handle, a.lse.handle,
    DTYPE_CODE[a.qkv.dtype], a.batch, a.seq, a.heads, a.headDim, a.dqkv.handle, a.delta.handle));
}

// ---- SwiGLU, residual add, conversion --------------------------------------------------------------------

/** h = silu(gate) * up, gu = [gate | up] of width 2 * hidden. */
export function swigluForward(a: { gu: Tensor; h: Tensor; rows?: number }): void {
  const fn = "swigluForward";
  const rows = matrix(fn, "gu", a.gu, null, a.rows);
  const H = a.gu.shape[1]! / 2;
  if (!Number.isInteger(H)) throw argumentError(fn, "gu.shape[1]", "even (gate | up)", a.gu.shape[1]);
  matrix(fn, "h", a.h, H, rows);
  sameDevice(fn, { gu: a.gu, h: a.h });
  check(native().quartet_swiglu_forward(a.gu.backend, a.gu.handle, DTYPE_CODE[a.gu.dtype], rows, H, a.h.handle, DTYPE_CODE[a.h.dtype]));
}

/** dgu (written; may be gu itself) from dh and the forward's gu. */
export function swigluBackward(a: { gu: Tensor; dh: Tensor; dgu: Tensor; rows?: number }): void {
  const fn = "swigluBackward";
  const rows = matrix(fn, "gu", a.gu, null, a.rows);
  const H = a.gu.shape[1]! / 2;
  if (!Number.isInteger(H)) throw argumentError(fn, "gu.shape[1]", "even (gate | up)", a.gu.shape[1]);
  matrix(fn, "dh", a.dh, H, rows);
  matrix(fn, "dgu", a.dgu, 2 * H, rows);
  sameDevice(fn, { gu: a.gu, dh: a.dh, dgu: a.dgu });
  check(native().quartet_swiglu_backward(a.gu.backend, a.gu.handle, DTYPE_CODE[a.gu.dtype], a.dh.handle, DTYPE_CODE[a.dh.dtype], rows, H,
    a.dgu.handle, DTYPE_CODE[a.dgu.dtype]));
}

/** y[i] += x[i] for the first n elements (default: all of x). */
export function addInto(y: Tensor, x: Tensor, n?: number): void {
  const fn = "addInto";
  const count = n ?? x.numel;
  if (!(y instanceof Tensor) || !isFloat(y) || y.numel < count) throw argumentError(fn, "y", `an f32 or bf16 Tensor of at least ${count} elements`, y);
  if (!(x instanceof Tensor) || !isFloat(x) || x.numel < count) throw argumentError(fn, "x", `an f32 or bf16 Tensor of at least ${count} elements`, x);
  sameDevice(fn, { y, x });
  check(native().quartet_add(y.backend, y.handle, DTYPE_CODE[y.dtype], x.handle, DTYPE_CODE[x.dtype], count));
}

/** out[i] = x[i] converted to out's dtype (round to nearest even into bf16), first n elements (default all of x). */
export function convertInto(out: Tensor, x: Tensor, n?: number): void {
  const fn = "convertInto";
  const count = n ?? x.numel;
  if (!(out instanceof Tensor) || !isFloat(out) || out.numel < count) throw argumentError(fn, "out", `an f32 or bf16 Tensor of at least ${count} elements`, out);
  if (!(x instanceof Tensor) || !isFloat(x) || x.numel < count) throw argumentError(fn, "x", `an f32 or bf16 Tensor of at least ${count} elements`, x);
  sameDevice(fn, { out, x });
  check(native().quartet_convert(out.backend, x.handle, DTYPE_CODE[x.dtype], out.handle, DTYPE_CODE[out.dtype], count));
}

/** Copies the first `bytes` bytes of src to dst at element offsets (same device). */
export function copyInto(dst: Tensor, src: Tensor, bytes?: number): void {
  const n = bytes ?? src.byteLength;
  if (dst.byteLength < n || src.byteLength < n) throw argumentError("copyInto", "bytes", `<= both tensors' byte lengths`, n);
  sameDevice("copyInto", { dst, src });
  check(native().quartet_memcpy(dst.backend, dst.handle, src.backend, src.handle, n));
}

// ---- cross-entropy ---------------------------------------------------------------------------------------

/** Fused softmax cross-entropy over logits [rows, vocab]: losses[lossesOffset + r] = lse(z_r) - z_r[target]; with
 * computeGrad the logits become gradScale * (softmax - onehot). Targets < 0 are ignored (loss 0, gradient 0). */
export function crossEntropy(a: {
  logits: Tensor; targets: Tensor; losses: Tensor; rows?: number; gradScale?: number; computeGrad?: boolean;
  targetsOffset?: number; lossesOffset?: number;
}): void {
  const fn = "crossEntropy";
  const rows = matrix(fn, "logits", a.logits, null, a.rows);
  const V = a.logits.shape[1]!;
  const to = a.targetsOffset ?? 0, lo = a.lossesOffset ?? 0;
  int32s(fn, "targets", a.targets, rows, to);
  vector(fn, "losses", a.losses, lo + rows);
  const scale = a.gradScale ?? 1;
  if (!Number.isFinite(scale)) throw argumentError(fn, "gradScale", "a finite number", scale);
  sameDevice(fn, { logits: a.logits, targets: a.targets, losses: a.losses });
  check(native().quartet_cross_entropy(a.logits.backend, a.logits.handle, DTYPE_CODE[a.logits.dtype], rows, V, at(a.targets, 4 * to), scale,
    at(a.losses, 4 * lo), a.computeGrad ? 1 : 0));
}

/** Bytes of `rows` rows of a 2-D tensor (for offsets with `at`). */
export function rowBytes(t: Tensor, rows: number): number {
  if (t.shape.length !== 2) throw new QuartetError("INVALID_ARGUMENT", `rowBytes: a 2-D tensor is needed, got ${t}`);
  return rows * t.shape[1]! * DTYPE_BYTES[t.dtype];
}
