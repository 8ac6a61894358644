/** QuartetLinear: a linear layer whose three GEMMs run in 4 bits (numerics.md §6), over the C engine in
 * csrc/core/linear.cpp. The recipe decides which quantizer runs on which operand; the layer owns all its
 * workspace (allocated once for up to maxTokens tokens) and frees it on dispose(). */
import { toArrayBuffer, type Pointer } from "bun:ffi";
import { z } from "zod";
import { argumentError, QuartetError } from "./errors.ts";
import { check, native } from "./native/ffi.ts";
import { QuantizedTensor, type Format } from "./quantize.ts";
import { BACKEND, DTYPE_CODE, sameDevice, Tensor, type Device } from "./tensor.ts";

export const RECIPES = ["bf16", "quartet2", "nvidia", "tetrajet2", "quartet1"] as const;
export type Recipe = (typeof RECIPES)[number];
const RECIPE_CODE: Readonly<Record<Recipe, number>> = { bf16: 0, quartet2: 1, nvidia: 2, tetrajet2: 3, quartet1: 4 };

const FLAG = { fourSix: 1, edenA: 2, delayedAmax: 4, forwardOnly: 8, backwardOnly: 16, redrawSigns: 32, srBackward: 64, rtnBackward: 128 } as const;

export const LinearOptionsSchema = z
  .object({
    recipe: z.enum(RECIPES).default("quartet2"),
    inFeatures: z.number().int().positive(),
    outFeatures: z.number().int().positive(),
    maxTokens: z.number().int().positive(),
    /** layer index: keys the Philox streams and the RHT signs (< 2^24) */
    layer: z.number().int().min(0).max(2 ** 24 - 1).default(0),
    device: z.enum(["cpu", "cuda"]).default("cpu"),
    /** 4/6 in the forward (quartet2 default on; nvidia: X only) */
    fourSix: z.boolean().optional(),
    /** MS-EDEN variant (quartet2): "B" post-hoc (default) or "A" paper form */
    edenVariant: z.enum(["A", "B"]).default("B"),
    /** variant A only: previous step's abs-max for E and E^T */
    delayedAmax: z.boolean().default(false),
    /** ablations: which passes are quantized */
    quantize: z.enum(["both", "forward", "backward"]).default("both"),
    /** Hadamard dimension of the backward (default by recipe: 128 / 16 / 32 / 32) */
    rhtDim: z.union([z.literal(16), z.literal(32), z.literal(128)]).optional(),
    /** nvidia: redraw the RHT-16 signs every backward instead of Transformer Engine's fixed ones */
    redrawSigns: z.boolean().default(false),
    /** quartet1: stochastic instead of round-to-nearest range-matched backward */
    srBackward: z.boolean().default(false),
    /** quartet2 ablation: RTN after the RHT instead of MS-EDEN in the backward (biased) */
    rtnBackward: z.boolean().default(false),
  })
  .strict();
export type LinearOptions = z.input<typeof LinearOptionsSchema>;

function parseOptions(opts: LinearOptions) {
  const r = LinearOptionsSchema.safeParse(opts);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new QuartetError("INVALID_ARGUMENT", `QuartetLinear: option ${i.path.join(".") || "(root)"}: ${i.message}`);
  }
  return r.data;
}

export interface StepKey {
  seed: number;
  step: number;
}

export class QuartetLinear implements Disposable {
  readonly recipe: Recipe;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly maxTokens: number;
  readonly device: Device;
  readonly layer: number;
  /** MS-EDEN A with the previous step's abs-max (its state travels in checkpoints: amaxState) */
  readonly delayedAmax: boolean;
  #handle: Pointer | null;
  #tokens = 0;

  constructor(opts: LinearOptions) {
    const o = parseOptions(opts);
    this.recipe = o.recipe;
    this.inFeatures = o.inFeatures;
    this.outFeatures = o.outFeatures;
    this.maxTokens = o.maxTokens;
    this.device = o.device;
    this.layer = o.layer;
    this.delayedAmax = o.delayedAmax;
    const fourSix = o.fourSix ?? o.recipe === "quartet2";
    if (o.delayedAmax && o.edenVariant !== "A") throw argumentError("QuartetLinear", "delayedAmax", 'false unless edenVariant is "A"', true);
    const flags =
      (fourSix ? FLAG.fourSix : 0) |
      (o.edenVariant === "A" ? FLAG.edenA : 0) |
      (o.delayedAmax ? FLAG.delayedAmax : 0) |
      (o.quantize === "forward" ? FLAG.forwardOnly : 0) |
      (o.quantize === "backward" ? FLAG.backwardOnly : 0) |
      (o.redrawSigns ? FLAG.redrawSigns : 0) |
      (o.srBackward ? FLAG.srBackward : 0) |
      (o.rtnBackward ? FLAG.rtnBackward : 0);
    const out = new BigUint64Array(1);
    check(native().quartet_linear_create(BACKEND[o.device], RECIPE_CODE[o.recipe], flags, o.rhtDim ?? 0, o.inFeatures,
      o.outFeatures, o.maxTokens, o.layer, out));
    this.#handle = Number(out[0]) as Pointer;
  }

  get #h(): Pointer {
    if (this.#handle === null) throw new QuartetError("DISPOSED", `QuartetLinear(${this.recipe}, layer ${this.layer}) was used after dispose()`);
    return this.#handle;
  }

  /** Bytes kept between forward and backward at maxTokens. */
  get savedBytes(): number {
    const out = new BigInt64Array(1);
    check(native().quartet_linear_saved_bytes(this.#h, out));
    return Number(out[0]);
  }

  /** Y[T, N] (bf16) = X[T, K] W[N, K]^T. `w` is the f32 master weight; pass `into` to reuse a buffer. */
  forward(x: Tensor, w: Tensor, key: StepKey, into?: Tensor): Tensor {
    const fn = "QuartetLinear.forward";
    const h = this.#h;
    if (!(x instanceof Tensor) || x.shape.length !== 2 || x.shape[1] !== this.inFeatures || x.dtype === "u8")
      throw argumentError(fn, "x", `an f32 or bf16 Tensor [tokens, ${this.inFeatures}]`, x);
    const T = x.shape[0]!;
    if (T > this.maxTokens) throw argumentError(fn, "x.shape[0] (tokens)", `<= maxTokens = ${this.maxTokens}`, T);
    this.#checkWeight(fn, w);
    if (into && (into.dtype !== "bf16" || into.shape[0] !== T || into.shape[1] !== this.outFeatures))
      throw argumentError(fn, "into", `a bf16 Tensor [${T}, ${this.outFeatures}]`, into);
    const device = sameDevice(fn, { x, w, into });
    if (device !== this.device) throw argumentError(fn, "x", `a tensor on ${this.device} (the layer's device)`, device);
    const y = into ?? Tensor.empty([T, this.outFeatures], { dtype: "bf16", device: this.device });
    try {
      check(native().quartet_linear_forward(h, x.handle, DTYPE_CODE[x.dtype], T, w.handle, y.handle, key.seed >>> 0, key.step >>> 0));
    } catch (e) {
      if (!into) y.dispose();
      throw e;
    }
    this.#tokens = T;
    return y;
  }

  /** Backward of the last forward: e = dL/dY (bf16 [T, N]) -> dX (bf16 [T, K], unless dx: false) and dW written
   * into (or, with accumulate, added to) the f32 [N, K] tensor `dw`. */
  backward(e: Tensor, w: Tensor, dw: Tensor, key: StepKey & { accumulate?: boolean; dx?: boolean | Tensor }): Tensor | null {
    const fn = "QuartetLinear.backward";
    const h = this.#h;
    const T = this.#tokens;
    if (T === 0) throw new QuartetError("INVALID_ARGUMENT", `${fn}: call forward first`);
    if (!(e instanceof Tensor) || e.dtype !== "bf16" || e.shape[0] !== T || e.shape[1] !== this.outFeatures)
      throw argumentError(fn, "e", `a bf16 Tensor [${T}, ${this.outFeatures}] (the last forward's tokens)`, e);
    this.#checkWeight(fn, w);
    if (!(dw instanceof Tensor) || dw.dtype !== "f32" || dw.shape[0] !== this.outFeatures || dw.shape[1] !== this.inFeatures)
      throw argumentError(fn, "dw", `an f32 Tensor [${this.outFeatures}, ${this.inFeatures}]`, dw);
    const wantDx = key.dx ?? true;
    const dxInto = wantDx instanceof Tensor ? wantDx : undefined;
    if (dxInto && (dxInto.dtype !== "bf16" || dxInto.shape[0] !== T || dxInto.shape[1] !== this.inFeatures))
      throw argumentError(fn, "dx", `a bf16 Tensor [${T}, ${this.inFeatures}]`, dxInto);
    const device = sameDevice(fn, { e, w, dw, dx: dxInto });
    if (device !== this.device) throw argumentError(fn, "e", `a tensor on ${this.device} (the layer's device)`, device);
    const dx = wantDx === false ? null : dxInto ?? Tensor.empty([T, this.inFeatures], { dtype: "bf16", device: this.device });
    try {
      check(native().quartet_linear_backward(h, e.handle, w.handle, dx?.handle ?? null, dw.handle, key.accumulate ? 1 : 0,
        key.seed >>> 0, key.step >>> 0));
    } catch (err) {
      if (dx && !dxInto) dx.dispose();
      throw err;
    }
    return dx;
  }

  /** The delayed abs-max of E and E^T that the next backward will use (valid once a backward has run). */
  amaxState(): { valid: boolean; e: number; et: number } {
    const v = new Float32Array(2), ok = new Int32Array(1);
    check(native().quartet_linear_amax_state(this.#h, v, ok, 0));
    return { valid: ok[0] === 1, e: v[0]!, et: v[1]! };
  }

  /** Restores a state read by amaxState() (e.g. from a checkpoint). */
  setAmaxState(s: { valid: boolean; e: number; et: number }): void {
    const v = Float32Array.of(s.e, s.et), ok = Int32Array.of(s.valid ? 1 : 0);
    check(native().quartet_linear_amax_state(this.#h, v, ok, 1));
  }

  /** A copy of one quantized operand of the last call: "X" | "W" (forward), "E" | "WT" (dgrad), "ET" | "XT" (wgrad). */
  operand(which: "X" | "W" | "E" | "WT" | "ET" | "XT"): QuantizedTensor {
    const idx = { X: 0, W: 1, E: 2, WT: 3, ET: 4, XT: 5 }[which];
    if (idx === undefined) throw argumentError("QuartetLinear.operand", "which", '"X", "W", "E", "WT", "ET" or "XT"', which);
    const p = new BigUint64Array(3), shape = new BigInt64Array(2), fmt = new Int32Array(1);
    check(native().quartet_linear_operand(this.#h, idx, p.subarray(0, 1), p.subarray(1, 2), p.subarray(2, 3),
      shape.subarray(0, 1), shape.subarray(1, 2), fmt));
    const [R, K] = [Number(shape[0]), Number(shape[1])];
    const format: Format = fmt[0] === 1 ? "mxfp4" : "nvfp4";
    const copy = (ptr: bigint, bytes: number, dims: number[], dtype: "u8" | "f32") => {
      const t = Tensor.empty(dims, { dtype, device: this.device });
      if (this.device === "cpu") {
        const src = new Uint8Array(toArrayBuffer(Number(ptr) as Pointer, 0, bytes));
        check(native().quartet_memcpy(0, t.handle, 0, src, bytes));
      } else {
        check(native().quartet_memcpy(1, t.handle, 1, Number(ptr) as Pointer, bytes));
      }
      return t;
    };
    const block = format === "mxfp4" ? 32 : 16;
    return new QuantizedTensor(format, [R, K], "linear", copy(p[0]!, (R * K) / 2, [R, K / 2], "u8"),
      copy(p[1]!, (R * K) / block, [(R * K) / block], "u8"), p[2] ? copy(p[2]!, 4, [1], "f32") : null, null);
  }

  #checkWeight(fn: string, w: Tensor): void {
    if (!(w instanceof Tensor) || w.dtype !== "f32" || w.shape[0] !== this.outFeatures || w.shape[1] !== this.inFeatures)
      throw argumentError(fn, "w", `an f32 Tensor [${this.outFeatures}, ${this.inFeatures}] (master weights)`, w);
  }

  dispose(): void {
    if (this.#handle === null) return;
    const h = this.#handle;
    this.#handle = null;
    check(native().quartet_linear_destroy(h));
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Per-layer precision policy: which recipe each named linear uses (e.g. keep the first and last block in BF16). */
export interface PrecisionPolicy {
  recipe: Recipe;
  /** block indices (negative = from the end) that stay in BF16 */
  bf16Blocks?: number[];
  /** linear names (e.g. "block0.qkv") forced to a recipe */
  overrides?: Record<string, Recipe>;
}

export function recipeFor(policy: PrecisionPolicy, block: number, blocks: number, name: string): Recipe {
  const o = policy.overrides?.[name];
  if (o) return o;
  const keep = (policy.bf16Blocks ?? []).map((b) => (b < 0 ? blocks + b : b));
  return keep.includes(block) ? "bf16" : policy.recipe;
}
