/** Tensor: a dense row-major array on the CPU (host memory owned by JavaScript) or on a CUDA device
 * (memory owned by the tensor, released by dispose() or `using`). One owner per buffer; nothing is freed
 * behind the user's back except by the finalizer safety net for device tensors that were never disposed. */
import type { Pointer } from "bun:ffi";
import { argumentError, QuartetError } from "./errors.ts";
import { check, native } from "./native/ffi.ts";

export type Device = "cpu" | "cuda";
export type DType = "f32" | "bf16" | "u8";

export const BACKEND: Readonly<Record<Device, number>> = { cpu: 0, cuda: 1 };
export const DTYPE_CODE: Readonly<Record<DType, number>> = { f32: 0, bf16: 1, u8: 2 };
export const DTYPE_BYTES: Readonly<Record<DType, number>> = { f32: 4, bf16: 2, u8: 1 };

/** What an FFI pointer argument receives: a host TypedArray or a device address. */
export type NativeArg = Uint8Array | Pointer;

let liveDeviceBytes = 0;
let liveDeviceBuffers = 0;

/** Device memory held by undisposed tensors (bytes, buffers): for leak checks. */
export function deviceMemoryInUse(): { bytes: number; buffers: number } {
  return { bytes: liveDeviceBytes, buffers: liveDeviceBuffers };
}

const deviceFinalizer = new FinalizationRegistry<{ ptr: Pointer; bytes: number }>((held) => {
  native().quartet_free(BACKEND.cuda, held.ptr);
  liveDeviceBytes -= held.bytes;
  liveDeviceBuffers -= 1;
});

function checkShape(fn: string, shape: readonly number[]): number {
  if (!Array.isArray(shape) || shape.length === 0)
    throw argumentError(fn, "shape", "a non-empty array of positive integers", shape);
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d <= 0) throw argumentError(fn, "shape", "a non-empty array of positive integers", shape);
    n *= d;
  }
  return n;
}

function checkDevice(fn: string, device: unknown): Device {
  if (device !== "cpu" && device !== "cuda") throw argumentError(fn, "device", '"cpu" or "cuda"', device);
  return device;
}

function checkDType(fn: string, dtype: unknown): DType {
  if (dtype !== "f32" && dtype !== "bf16" && dtype !== "u8") throw argumentError(fn, "dtype", '"f32", "bf16" or "u8"', dtype);
  return dtype;
}

export interface TensorOptions {
  dtype?: DType;
  device?: Device;
}

export class Tensor implements Disposable {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly device: Device;
  readonly numel: number;
  readonly byteLength: number;
  #host: Uint8Array | null;
  #ptr: Pointer | null;
  #disposed = false;
  #token: object | null = null;

  private constructor(shape: readonly number[], dtype: DType, device: Device, host: Uint8Array | null, ptr: Pointer | null) {
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.device = device;
    this.numel = shape.reduce((a, b) => a * b, 1);
    this.byteLength = this.numel * DTYPE_BYTES[dtype];
    this.#host = host;
    this.#ptr = ptr;
    if (ptr !== null) {
      this.#token = {};
      deviceFinalizer.register(this, { ptr, bytes: this.byteLength }, this.#token);
    }
  }

  /** An uninitialized tensor (zero-filled on the CPU). */
  static empty(shape: readonly number[], opts: TensorOptions = {}): Tensor {
    const fn = "Tensor.empty";
    const n = checkShape(fn, shape);
    const dtype = checkDType(fn, opts.dtype ?? "f32");
    const device = checkDevice(fn, opts.device ?? "cpu");
    const bytes = n * DTYPE_BYTES[dtype];
    if (device === "cpu") return new Tensor(shape, dtype, device, new Uint8Array(bytes), null);
    const out = new BigUint64Array(1);
    check(native().quartet_malloc(BACKEND.cuda, bytes, out));
    liveDeviceBytes += bytes;
    liveDeviceBuffers += 1;
    return new Tensor(shape, dtype, device, null, Number(out[0]) as Pointer);
  }

  static zeros(shape: readonly number[], opts: TensorOptions = {}): Tensor {
    const t = Tensor.empty(shape, opts);
    if (t.device === "cuda") check(native().quartet_memset(BACKEND.cuda, t.handle, 0, t.byteLength));
    return t;
  }

  /** From float32 values; dtype "bf16" rounds to nearest even. */
  static fromFloat32(data: Float32Array | readonly number[], shape: readonly number[], opts: TensorOptions = {}): Tensor {
    const fn = "Tensor.fromFloat32";
    const n = checkShape(fn, shape);
    const values = data instanceof Float32Array ? data : Float32Array.from(data);
    if (values.length !== n) throw argumentError(fn, "data.length", `${n} (the product of shape ${JSON.stringify(shape)})`, values.length);
    const dtype = checkDType(fn, opts.dtype ?? "f32");
    if (dtype === "u8") throw argumentError(fn, "dtype", '"f32" or "bf16"', dtype);
    let bytes: Uint8Array;
    if (dtype === "f32") bytes = new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
    else {
      const h = new Uint16Array(n);
      check(native().quartet_f32_to_bf16(values, n, h));
      bytes = new Uint8Array(h.buffer);
    }
    return Tensor.fromBytes(bytes, shape, { dtype, device: opts.device ?? "cpu" });
  }

  /** From raw little-endian bytes of the given dtype (copied). */
  static fromBytes(bytes: Uint8Array, shape: readonly number[], opts: TensorOptions = {}): Tensor {
    const fn = "Tensor.fromBytes";
    const n = checkShape(fn, shape);
    const dtype = checkDType(fn, opts.dtype ?? "u8");
    const device = checkDevice(fn, opts.device ?? "cpu");
    if (!(bytes instanceof Uint8Array)) throw argumentError(fn, "bytes", "a Uint8Array", bytes);
    if (bytes.length !== n * DTYPE_BYTES[dtype])
      throw argumentError(fn, "bytes.length", `${n * DTYPE_BYTES[dtype]} for shape ${JSON.stringify(shape)} of ${dtype}`, bytes.length);
    if (device === "cpu") return new Tensor(shape, dtype, device, new Uint8Array(bytes), null);
    const t = Tensor.empty(shape, { dtype, device });
    check(native().quartet_memcpy(BACKEND.cuda, t.handle, BACKEND.cpu, bytes, bytes.length));
    return t;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** The FFI argument for this tensor's data (throws once disposed). */
  get handle(): NativeArg {
    if (this.#disposed) throw new QuartetError("DISPOSED", `Tensor[${this.shape.join("x")} ${this.dtype} ${this.device}] was used after dispose()`);
    return (this.#host ?? this.#ptr) as NativeArg;
  }

  get backend(): number {
    return BACKEND[this.device];
  }

  /** A copy on another device (or the same device). */
  to(device: Device): Tensor {
    checkDevice("Tensor.to", device);
    const t = Tensor.empty(this.shape, { dtype: this.dtype, device });
    check(native().quartet_memcpy(t.backend, t.handle, this.backend, this.handle, this.byteLength));
    return t;
  }

  /** A copy of the bytes in host memory (synchronizes with the device). */
  toBytes(): Uint8Array {
    const src = this.handle;
    if (this.#host) return new Uint8Array(this.#host);
    const out = new Uint8Array(this.byteLength);
    check(native().quartet_memcpy(BACKEND.cpu, out, BACKEND.cuda, src, this.byteLength));
    return out;
  }

  /** The values as float32 (bf16 widens exactly). */
  toFloat32Array(): Float32Array {
    if (this.dtype === "u8") throw argumentError("Tensor.toFloat32Array", "dtype", '"f32" or "bf16"', this.dtype);
    const bytes = this.toBytes();
    if (this.dtype === "f32") return new Float32Array(bytes.buffer, bytes.byteOffset, this.numel);
    const out = new Float32Array(this.numel);
    check(native().quartet_bf16_to_f32(new Uint16Array(bytes.buffer, bytes.byteOffset, this.numel), this.numel, out));
    return out;
  }

  /** Releases the memory now. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (this.#ptr !== null) {
      if (this.#token) deviceFinalizer.unregister(this.#token);
      const p = this.#ptr;
      this.#ptr = null;
      liveDeviceBytes -= this.byteLength;
      liveDeviceBuffers -= 1;
      check(native().quartet_free(BACKEND.cuda, p));
    }
    this.#host = null;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  toString(): string {
    return `Tensor(${this.shape.join("x")}, ${this.dtype}, ${this.device}${this.#disposed ? ", disposed" : ""})`;
  }
}

/** Throws unless every tensor lives on `device`. */
export function sameDevice(fn: string, tensors: Record<string, Tensor | null | undefined>): Device {
  let device: Device | null = null;
  let first = "";
  for (const [name, t] of Object.entries(tensors)) {
    if (!t) continue;
    if (t.disposed) throw new QuartetError("DISPOSED", `${fn}: ${name} was used after dispose()`);
    if (device === null) {
      device = t.device;
      first = name;
    } else if (t.device !== device) {
      throw argumentError(fn, name, `on the same device as ${first} (${device})`, t.device);
    }
  }
  if (device === null) throw new QuartetError("INVALID_ARGUMENT", `${fn}: no tensor given`);
  return device;
}
