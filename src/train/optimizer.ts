/** AdamW over a model's parameters: FP32 master weights (the parameters themselves) and FP32 moments on the
 * parameters' device, decoupled weight decay on the parameters marked `decay` (the linear weights), and the
 * global gradient norm for clipping. The arithmetic runs in the native library (quartet_adamw_step,
 * quartet_sum_squares), bit-identical on CPU and CUDA. */
import { ptr } from "bun:ffi";
import { check, native } from "../native/ffi.ts";
import { Tensor } from "../tensor.ts";
import type { Parameter } from "../model/types.ts";

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** The address of a tensor's data, as the FFI's pointer arrays need it. */
function address(t: Tensor): number {
  const h = t.handle;
  return h instanceof Uint8Array ? ptr(h) : (h as number);
}

/** Sums of squares of f32 tensors on one device, in the library's fixed order (quartet_sum_squares). */
export function sumSquares(tensors: readonly Tensor[]): Float64Array {
  const out = new Float64Array(tensors.length);
  if (tensors.length === 0) return out;
  const device = tensors[0]!.device;
  const addrs = new BigUint64Array(tensors.length);
  const sizes = new BigInt64Array(tensors.length);
  tensors.forEach((t, i) => {
    if (t.dtype !== "f32" || t.device !== device) throw new Error(`sumSquares: tensor ${i} must be f32 on ${device}, got ${t.dtype} on ${t.device}`);
    addrs[i] = BigInt(address(t));
    sizes[i] = BigInt(t.numel);
  });
  check(native().quartet_sum_squares(tensors[0]!.backend, tensors.length, addrs, sizes, out));
  return out;
}

/** sqrt of the sum of per-tensor sums of squares, added in order (deterministic). */
export function globalNorm(sumsq: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < sumsq.length; ++i) s += sumsq[i]!;
  return Math.sqrt(s);
}

/** Clipping factor for a global norm (torch.nn.utils.clip_grad_norm_: max / (norm + 1e-6), at most 1). */
export function clipFactor(norm: number, maxNorm: number): number {
  if (maxNorm <= 0) return 1;
  return Math.min(1, maxNorm / (norm + 1e-6));
}

export interface AdamWState {
  /** optimizer updates applied (the t of the bias corrections) */
  t: number;
  /** per parameter name: the f32 bytes of m and v */
  m: Map<string, Uint8Array>;
  v: Map<string, Uint8Array>;
}

export class AdamW implements Disposable {
  readonly params: readonly Parameter[];
  readonly options: AdamWOptions;
  readonly #m: Tensor[];
  readonly #v: Tensor[];
  #t = 0;

  constructor(params: readonly Parameter[], options: AdamWOptions) {
    if (params.length === 0) throw new Error("AdamW: no parameters");
    const names = new Set<string>();
    for (const p of params) {
      if (names.has(p.name)) throw new Error(`AdamW: two parameters are named ${JSON.stringify(p.name)}`);
      names.add(p.name);
      if (p.data.dtype !== "f32" || p.grad.dtype !== "f32") throw new Error(`AdamW: parameter ${p.name} must have f32 data and grad (FP32 master weights)`);
      if (p.data.numel !== p.grad.numel) throw new Error(`AdamW: parameter ${p.name}: grad has ${p.grad.numel} elements, data ${p.data.numel}`);
    }
    this.params = params;
    this.options = { ...options };
    this.#m = params.map((p) => Tensor.zeros(p.data.shape, { dtype: "f32", device: p.data.device }));
    this.#v = params.map((p) => Tensor.zeros(p.data.shape, { dtype: "f32", device: p.data.device }));
  }

  /** Updates applied so far. */
  get t(): number {
    return this.#t;
  }

  /** Per-parameter sums of squares of the gradients (in `params` order). */
  gradSumSquares(): Float64Array {
    return sumSquares(this.params.map((p) => p.grad));
  }

  /** Per-parameter sums of squares of the weights. */
  weightSumSquares(): Float64Array {
    return sumSquares(this.params.map((p) => p.data));
  }

  /** One update with learning rate `lr`; every gradient is multiplied by gradScale first (clipping and the
   * 1/micro-batches factor). */
  step(lr: number, gradScale: number): void {
    const t = this.#t + 1;
    const { beta1, beta2, eps, weightDecay } = this.options;
    const lib = native();
    this.params.forEach((p, i) => {
      check(lib.quartet_adamw_step(p.data.backend, p.data.handle, p.grad.handle, this.#m[i]!.handle, this.#v[i]!.handle, p.data.numel, t,
        lr, beta1, beta2, eps, p.decay ? weightDecay : 0, gradScale));
    });
    this.#t = t;
  }

  /** A host copy of the state (for checkpoints). */
  state(): AdamWState {
    const m = new Map<string, Uint8Array>(), v = new Map<string, Uint8Array>();
    this.params.forEach((p, i) => {
      m.set(p.name, this.#m[i]!.toBytes());
      v.set(p.name, this.#v[i]!.toBytes());
    });
    return { t: this.#t, m, v };
  }

  /** Restores a state saved by state() for the same parameters. */
  loadState(s: AdamWState): void {
    if (!Number.isSafeInteger(s.t) || s.t < 0) throw new Error(`AdamW.loadState: t must be a non-negative integer, got ${s.t}`);
    this.params.forEach((p, i) => {
      for (const [which, map, into] of [["m", s.m, this.#m[i]!], ["v", s.v, this.#v[i]!]] as const) {
        const bytes = map.get(p.name);
        if (!bytes) throw new Error(`AdamW.loadState: no ${which} for parameter ${p.name}`);
        copyInto(into, bytes, `${which}.${p.name}`);
      }
    });
    this.#t = s.t;
  }

  dispose(): void {
    for (const t of [...this.#m, ...this.#v]) t.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Overwrites a tensor's data with host bytes of the same size. */
export function copyInto(t: Tensor, bytes: Uint8Array, what: string): void {
  if (bytes.length !== t.byteLength) throw new Error(`${what}: expected ${t.byteLength} bytes (${t.shape.join("x")} ${t.dtype}), got ${bytes.length}`);
  check(native().quartet_memcpy(t.backend, t.handle, 0, bytes, bytes.length));
}
