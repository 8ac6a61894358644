/** The raw bun:ffi bindings of csrc/include/quartet.h, one entry per C function, and `check`, which turns a
 * status into a QuartetError carrying the library's own message. Everything else in src/ goes through here. */
import { CString, dlopen, FFIType, type Pointer } from "bun:ffi";
import { QuartetError, STATUS_NAMES, type StatusName } from "../errors.ts";
import { findLibrary } from "./loader.ts";

const { i32, i64, u32, f32, f64, ptr, cstring } = FFIType;

const SYMBOLS = {
  quartet_last_error: { args: [], returns: cstring },
  quartet_clear_error: { args: [], returns: i32 },
  quartet_version: { args: [ptr, ptr, ptr], returns: i32 },
  quartet_build_info: { args: [ptr], returns: i32 },
  quartet_backend_available: { args: [i32, ptr], returns: i32 },
  quartet_cpu_set_threads: { args: [i32], returns: i32 },
  quartet_cpu_get_threads: { args: [ptr], returns: i32 },
  quartet_cuda_device_count: { args: [ptr], returns: i32 },
  quartet_cuda_set_device: { args: [i32], returns: i32 },
  quartet_cuda_get_device: { args: [ptr], returns: i32 },
  quartet_cuda_device_info: { args: [i32, ptr, i64, ptr, ptr, ptr, ptr], returns: i32 },
  quartet_cuda_mem_info: { args: [ptr, ptr], returns: i32 },
  quartet_cuda_stream: { args: [ptr], returns: i32 },
  quartet_cuda_set_gemm_path: { args: [i32], returns: i32 },
  quartet_cuda_gemm_last_path: { args: [ptr], returns: i32 },
  quartet_malloc: { args: [i32, i64, ptr], returns: i32 },
  quartet_free: { args: [i32, ptr], returns: i32 },
  quartet_memcpy: { args: [i32, ptr, i32, ptr, i64], returns: i32 },
  quartet_memset: { args: [i32, ptr, i32, i64], returns: i32 },
  quartet_sync: { args: [i32], returns: i32 },
  quartet_encode_e2m1: { args: [ptr, i64, ptr], returns: i32 },
  quartet_decode_e2m1: { args: [ptr, i64, ptr], returns: i32 },
  quartet_encode_e4m3: { args: [ptr, i64, ptr], returns: i32 },
  quartet_decode_e4m3: { args: [ptr, i64, ptr], returns: i32 },
  quartet_decode_e8m0: { args: [ptr, i64, ptr], returns: i32 },
  quartet_f32_to_bf16: { args: [ptr, i64, ptr], returns: i32 },
  quartet_bf16_to_f32: { args: [ptr, i64, ptr], returns: i32 },
  quartet_sr_e2m1: { args: [ptr, ptr, i64, ptr], returns: i32 },
  quartet_sr_e4m3: { args: [ptr, ptr, i64, ptr], returns: i32 },
  quartet_eden_block: { args: [ptr, f32, f32, u32, ptr, ptr, ptr, ptr], returns: i32 },
  quartet_philox4x32: { args: [ptr, ptr, ptr], returns: i32 },
  quartet_uniform_u24: { args: [u32, u32, u32, u32, i64, i64, ptr], returns: i32 },
  quartet_rht_signs: { args: [u32, u32, u32, ptr], returns: i32 },
  quartet_absmax: { args: [i32, ptr, i32, i64, ptr], returns: i32 },
  quartet_rht: { args: [i32, ptr, i32, i64, i64, i32, ptr, ptr, i32], returns: i32 },
  quartet_quantize: {
    // backend format method x x_dtype rows cols transpose rht_dim rht_signs seed step tag
    // amax_override amax_out scale_layout codes scales tensor_scale trust_mask
    args: [i32, i32, i32, ptr, i32, i64, i64, i32, i32, ptr, u32, u32, u32, ptr, ptr, i32, ptr, ptr, ptr, ptr],
    returns: i32,
  },
  quartet_requantize: {
    // backend src_format src_codes src_scales src_g rows cols format method rht_dim rht_signs seed step tag
    // scale_layout codes scales tensor_scale
    args: [i32, i32, ptr, ptr, ptr, i64, i64, i32, i32, i32, ptr, u32, u32, u32, i32, ptr, ptr, ptr],
    returns: i32,
  },
  quartet_dequantize: { args: [i32, i32, ptr, ptr, ptr, i64, i64, i32, ptr, i32], returns: i32 },
  quartet_scales_bytes: { args: [i64, i64, i32, ptr], returns: i32 },
  quartet_swizzle_scales: { args: [i32, ptr, i64, i64, ptr], returns: i32 },
  quartet_unswizzle_scales: { args: [i32, ptr, i64, i64, ptr], returns: i32 },
  quartet_gemm_fp4: {
    // backend format a_codes a_scales a_g b_codes b_scales b_g m n k scale_layout alpha accumulate out out_dtype
    args: [i32, i32, ptr, ptr, ptr, ptr, ptr, ptr, i64, i64, i64, i32, f32, i32, ptr, i32],
    returns: i32,
  },
  quartet_gemm: {
    // backend ab_dtype trans_a trans_b m n k alpha a lda b ldb beta c ldc c_dtype
    args: [i32, i32, i32, i32, i64, i64, i64, f32, ptr, i64, ptr, i64, f32, ptr, i64, i32],
    returns: i32,
  },
  quartet_linear_create: { args: [i32, i32, i32, i32, i64, i64, i64, u32, ptr], returns: i32 },
  quartet_linear_destroy: { args: [ptr], returns: i32 },
  quartet_linear_forward: { args: [ptr, ptr, i32, i64, ptr, ptr, u32, u32], returns: i32 },
  quartet_linear_backward: { args: [ptr, ptr, ptr, ptr, ptr, i32, u32, u32], returns: i32 },
  quartet_linear_saved_bytes: { args: [ptr, ptr], returns: i32 },
  quartet_linear_amax_state: { args: [ptr, ptr, ptr, i32], returns: i32 },
  quartet_linear_operand: { args: [ptr, i32, ptr, ptr, ptr, ptr, ptr, ptr], returns: i32 },
  // optimizer (quartet.h "Optimizer"): backend count tensors sizes sumsq / backend w grad m v n step lr beta1
  // beta2 eps weight_decay grad_scale
  quartet_sum_squares: { args: [i32, i32, ptr, ptr, ptr], returns: i32 },
  quartet_adamw_step: { args: [i32, ptr, ptr, ptr, ptr, i64, i64, f32, f32, f32, f32, f32, f32], returns: i32 },
  // model ops (quartet.h "Model ops"; src/model/ops.ts)
  quartet_embedding_forward: { args: [i32, ptr, i64, ptr, i64, i64, ptr, i32], returns: i32 },
  quartet_embedding_backward: { args: [i32, ptr, i64, ptr, i32, i64, i64, ptr], returns: i32 },
  quartet_rmsnorm_forward: { args: [i32, ptr, i32, i64, i64, ptr, f32, ptr, i32, ptr], returns: i32 },
  quartet_rmsnorm_scratch_elems: { args: [i64, i64, ptr], returns: i32 },
  quartet_rmsnorm_backward: { args: [i32, ptr, i32, i64, i64, ptr, ptr, ptr, i32, ptr, i32, i32, ptr, ptr], returns: i32 },
  quartet_rope_table: { args: [i64, i64, f64, ptr, ptr], returns: i32 },
  quartet_rope_forward: { args: [i32, ptr, i32, i64, i64, i64, i64, i64, ptr, ptr], returns: i32 },
  quartet_rope_backward: { args: [i32, ptr, i32, i64, i64, i64, i64, i64, ptr, ptr], returns: i32 },
  quartet_attention_forward: { args: [i32, ptr, i32, i64, i64, i64, i64, ptr, ptr], returns: i32 },
  quartet_attention_backward: { args: [i32, ptr, ptr, ptr, ptr, i32, i64, i64, i64, i64, ptr, ptr], returns: i32 },
  quartet_swiglu_forward: { args: [i32, ptr, i32, i64, i64, ptr, i32], returns: i32 },
  quartet_swiglu_backward: { args: [i32, ptr, i32, ptr, i32, i64, i64, ptr, i32], returns: i32 },
  quartet_convert: { args: [i32, ptr, i32, ptr, i32, i64], returns: i32 },
  quartet_add: { args: [i32, ptr, i32, ptr, i32, i64], returns: i32 },
  quartet_cross_entropy: { args: [i32, ptr, i32, i64, i64, ptr, f32, ptr, i32], returns: i32 },
} as const;

function open() {
  const path = findLibrary();
  try {
    return { path, lib: dlopen(path, SYMBOLS) };
  } catch (e) {
    throw new QuartetError(
      "LOAD",
      `quartet-ii: found ${path} but could not load it (${(e as Error).message}). ` +
        `It may be stale or built for another platform: rebuild it (bun run build:native) or point QUARTET_LIB elsewhere.`,
    );
  }
}

let loaded: ReturnType<typeof open> | null = null;

/** The loaded library (opened on first use, so importing the package never fails by itself). */
export function native(): ReturnType<typeof open>["lib"]["symbols"] {
  loaded ??= open();
  return loaded.lib.symbols;
}

export function libraryPath(): string {
  loaded ??= open();
  return loaded.path;
}

/** Throws a QuartetError for a non-zero status, with the library's message. */
export function check(status: number): void {
  if (status === 0) return;
  const message = String(native().quartet_last_error());
  const name = (STATUS_NAMES[status] ?? "INTERNAL") as StatusName;
  throw new QuartetError(name, message || `quartet: native call failed with status ${status}`, status);
}

/** A null pointer argument. */
export const NULL = null;

/** Reads a C string owned by the library. */
export function readCString(p: Pointer | number): string {
  return new CString(p as Pointer).toString();
}

export type { Pointer };
