/** The scalar formats of numerics.md §1 and the Philox generator of §2, exactly as the kernels use them. */
import { argumentError } from "./errors.ts";
import { check, native } from "./native/ffi.ts";

export function encodeE2M1(x: Float32Array): Uint8Array {
  const out = new Uint8Array(x.length);
  check(native().quartet_encode_e2m1(x, x.length, out));
  return out;
}
export function decodeE2M1(codes: Uint8Array): Float32Array {
  const out = new Float32Array(codes.length);
  check(native().quartet_decode_e2m1(codes, codes.length, out));
  return out;
}
export function encodeE4M3(x: Float32Array): Uint8Array {
  const out = new Uint8Array(x.length);
  check(native().quartet_encode_e4m3(x, x.length, out));
  return out;
}
export function decodeE4M3(codes: Uint8Array): Float32Array {
  const out = new Float32Array(codes.length);
  check(native().quartet_decode_e4m3(codes, codes.length, out));
  return out;
}
export function decodeE8M0(codes: Uint8Array): Float32Array {
  const out = new Float32Array(codes.length);
  check(native().quartet_decode_e8m0(codes, codes.length, out));
  return out;
}
export function toBf16(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length);
  check(native().quartet_f32_to_bf16(x, x.length, out));
  return out;
}
export function fromBf16(h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length);
  check(native().quartet_bf16_to_f32(h, h.length, out));
  return out;
}
function sameLength(fn: string, a: { length: number }, b: { length: number }): void {
  if (a.length !== b.length) throw argumentError(fn, "u24.length", `equal to x.length = ${a.length}`, b.length);
}
/** SR_E2M1 with caller-given 24-bit uniforms (§5.4). */
export function srE2M1(x: Float32Array, u24: Uint32Array): Uint8Array {
  sameLength("srE2M1", x, u24);
  const out = new Uint8Array(x.length);
  check(native().quartet_sr_e2m1(x, u24, x.length, out));
  return out;
}
/** SR_E4M3 with caller-given 24-bit uniforms (§5.6). */
export function srE4M3(x: Float32Array, u24: Uint32Array): Uint8Array {
  sameLength("srE4M3", x, u24);
  const out = new Uint8Array(x.length);
  check(native().quartet_sr_e4m3(x, u24, x.length, out));
  return out;
}

/** One MS-EDEN block (§5.6 steps 2-5) with explicit V and g (test vector TV-6). */
export function edenBlock(y16: Float32Array, v: number, g: number, u24: number) {
  if (y16.length !== 16) throw argumentError("edenBlock", "y16.length", "16", y16.length);
  const codes = new Uint8Array(8);
  const s = new Float32Array(1), c = new Float32Array(1);
  const scale = new Uint8Array(1);
  check(native().quartet_eden_block(y16, v, g, u24, codes, s, c, scale));
  return { codes, factor: s[0]!, corrected: c[0]!, scale: scale[0]! };
}

/** Philox4x32-10 on one counter (§2). */
export function philox4x32(ctr: Uint32Array, key: Uint32Array): Uint32Array {
  if (ctr.length !== 4) throw argumentError("philox4x32", "ctr.length", "4", ctr.length);
  if (key.length !== 2) throw argumentError("philox4x32", "key.length", "2", key.length);
  const out = new Uint32Array(4);
  check(native().quartet_philox4x32(ctr, key, out));
  return out;
}

/** u24 uniforms for logical indices first..first+n-1 of (seed, step, stream, tag). */
export function uniformU24(seed: number, step: number, stream: number, tag: number, first: number, n: number): Uint32Array {
  const out = new Uint32Array(n);
  check(native().quartet_uniform_u24(seed, step, stream, tag, first, n, out));
  return out;
}
