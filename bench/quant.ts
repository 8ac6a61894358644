/**
 * CUDA quantizer throughput on the 16384 x 4096 BF16 tensor (a 16384-token activation of a 4096-wide layer),
 * next to the copy roofline and the published H100 figures of the official Quartet II kernels.
 *
 *   QUARTET_LIB=/abs/path/libquartet.so bun bench/quant.ts [--reps N]
 *
 * Roofline: a device-to-device copy of the BF16 tensor (quartet_memcpy), measured in the same run; its
 * bandwidth counts the bytes read plus the bytes written. Every quantizer row counts the bytes it must move:
 * the input read once plus the codes, scales and tensor scale written (`bytes_min`), and reports
 * `ratio_to_copy` = (bytes_min / time) / copy bandwidth. Rows whose algorithm needs the tensor abs-max
 * before any block can be encoded read the input twice when no delayed abs-max is given (`bytes_moved`
 * counts that); the `amaxOverride` rows are the one-pass form. MS-EDEN variant B also writes and reads back
 * a BF16 pre-scale per block (in bytes_moved). Requantize reads a saved NVFP4 tensor (codes + scales) and
 * writes the re-quantized transpose.
 * Reference (published H100 timings of the official kernels, same shape): RTN 0.252 ms, 4/6 0.337 ms,
 * RHT-128 + MS-EDEN 0.175 ms.
 * Each figure is the mean over `reps` back-to-back calls after 3 warm-ups, timed on the host around a device
 * synchronization (calls are asynchronous; outputs are preallocated, so nothing allocates in the loop).
 * Prints one JSON object per measurement, then a table.
 */
import type { Pointer } from "bun:ffi";
import { buildInfo, check, cudaAvailable, native, quantize, rhtSigns, synchronize, Tensor } from "../src/index.ts";

function argValue(name: string): number | undefined {
  const i = Bun.argv.indexOf(name);
  if (i < 0) return undefined;
  const v = Number(Bun.argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} needs a positive integer, got ${Bun.argv[i + 1]}`);
  return v;
}

if (!cudaAvailable()) {
  console.log("bench/quant.ts: no CUDA device (or the library was built without CUDA); nothing to measure");
  process.exit(0);
}
const REPS = argValue("--reps") ?? 30;
const device = buildInfo().devices[0]!;
const T = 16384, K = 4096, N = T * K;
const CUDA = 1, BF16 = 1, F32 = 0, NVFP4 = 0, MXFP4 = 1, LINEAR = 0, SWIZZLED = 1;
const M = { rtn: 0, fourSix: 1, sr: 2, edenA: 4, edenB: 5, quest: 8 } as const;

/** Mean seconds per call of `fn` over `reps` queued calls, after 3 warm-ups. */
function timeDevice(fn: () => void, reps = REPS): number {
  for (let i = 0; i < 3; i++) fn();
  synchronize();
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < reps; i++) fn();
  synchronize();
  return ((Bun.nanoseconds() - t0) * 1e-9) / reps;
}

// input: N(0,1) rows with a per-row scale (so blocks use the whole E4M3 range), made on the device from a
// small host pattern to keep start-up short
const pattern = new Float32Array(K * 64);
let s = 0x2545f491;
for (let i = 0; i < pattern.length; i += 2) {
  s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
  const u1 = ((s >>> 0) + 0.5) / 4294967296;
  s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
  const u2 = ((s >>> 0) + 0.5) / 4294967296;
  const r = Math.sqrt(-2 * Math.log(u1)), scale = 2 ** ((i / K) % 8 - 4);
  pattern[i] = r * Math.cos(2 * Math.PI * u2) * scale;
  pattern[i + 1] = r * Math.sin(2 * Math.PI * u2) * scale;
}
const tile = Tensor.fromFloat32(pattern, [64, K], { dtype: "bf16", device: "cuda" });
const x = Tensor.empty([T, K], { dtype: "bf16", device: "cuda" });
for (let r = 0; r < T; r += 64)
  check(native().quartet_memcpy(CUDA, (Number(x.handle) + r * K * 2) as Pointer, CUDA, tile.handle, tile.byteLength));
const xf = Tensor.empty([T, K], { dtype: "f32", device: "cuda" });
check(native().quartet_rht(CUDA, x.handle, BF16, T, K, 16, null, xf.handle, F32)); // any F32 copy of similar data
const copyDst = Tensor.empty([T, K], { dtype: "bf16", device: "cuda" });
const codes = Tensor.empty([N / 2], { dtype: "u8", device: "cuda" });
const scales = Tensor.empty([N / 16], { dtype: "u8", device: "cuda" });
const g = Tensor.empty([1], { dtype: "f32", device: "cuda" });
const amaxOverride = Tensor.fromFloat32([4.5], [1], { device: "cuda" });
const out = Tensor.empty([T, K], { dtype: "f32", device: "cuda" });
const signs = rhtSigns(1, 2, 3);
// the saved forward tensor for requantize: 4/6 of x (as Quartet II saves X)
const saved = quantize(x, { rounding: "4/6" });
synchronize();

const inBytes = N * 2, outBytes = N / 2 + N / 16 + 4, prescaleBytes = (N / 16) * 2 * 2;

interface Row {
  bench: string;
  device: string;
  shape: string;
  op: string;
  ms: number;
  bytes_min: number;
  bytes_moved: number;
  GBps: number;
  copy_GBps: number;
  ratio_to_copy: number;
  target_ms_80pct: number;
  reference: string | null;
  reference_ms: number | null;
  speedup_vs_reference: number | null;
}
const rows: Row[] = [];

const copySec = timeDevice(() => check(native().quartet_memcpy(CUDA, copyDst.handle, CUDA, x.handle, inBytes)));
const copyGBps = (2 * inBytes) / copySec / 1e9;
console.log(JSON.stringify({ bench: "quant", device: device.name, op: "d2d_copy (roofline)", ms: copySec * 1e3, bytes: 2 * inBytes, GBps: copyGBps }));

function row(op: string, bytesMin: number, bytesMoved: number, ref: [string, number] | null, fn: () => void): void {
  const sec = timeDevice(fn);
  const GBps = bytesMin / sec / 1e9;
  const r: Row = {
    bench: "quant", device: device.name, shape: `${T}x${K} bf16`, op, ms: sec * 1e3, bytes_min: bytesMin, bytes_moved: bytesMoved, GBps,
    copy_GBps: copyGBps, ratio_to_copy: GBps / copyGBps, target_ms_80pct: (bytesMin / (0.8 * copyGBps * 1e9)) * 1e3,
    reference: ref ? ref[0] : null, reference_ms: ref ? ref[1] : null, speedup_vs_reference: ref ? ref[1] / (sec * 1e3) : null,
  };
  rows.push(r);
  console.log(JSON.stringify(r));
}

function q(method: number, opts: { rht?: number; override?: boolean; layout?: number; transpose?: boolean; f32?: boolean; mx?: boolean } = {}) {
  const src = opts.f32 ? xf : x;
  const tr = opts.transpose ? 1 : 0;
  return () =>
    check(native().quartet_quantize(CUDA, opts.mx ? MXFP4 : NVFP4, method, src.handle, opts.f32 ? F32 : BF16, T, K, tr, opts.rht ?? 0,
      opts.rht && !opts.mx ? signs : null, 1, 2, 0x305, opts.override ? amaxOverride.handle : null, null, opts.layout ?? LINEAR, codes.handle,
      scales.handle, opts.mx ? null : g.handle, null));
}

const ref = { rtn: ["official RTN (H100)", 0.252], fs: ["official 4/6 (H100)", 0.337], eden: ["official RHT-128 + MS-EDEN (H100)", 0.175] } as const;
const one = inBytes + outBytes;
row("absmax (read only)", inBytes, inBytes, null, () => check(native().quartet_absmax(CUDA, x.handle, BF16, N, g.handle)));
row("rtn", one, 2 * inBytes + outBytes, [...ref.rtn], q(M.rtn));
row("rtn, amaxOverride (one pass)", one, one, [...ref.rtn], q(M.rtn, { override: true }));
row("rtn, amaxOverride, swizzled scales", one, one, [...ref.rtn], q(M.rtn, { override: true, layout: SWIZZLED }));
row("4/6", one, 2 * inBytes + outBytes, [...ref.fs], q(M.fourSix));
row("4/6, amaxOverride (one pass)", one, one, [...ref.fs], q(M.fourSix, { override: true }));
row("sr", one, 2 * inBytes + outBytes, null, q(M.sr));
row("eden-a + rht128", one, 2 * inBytes + outBytes, [...ref.eden], q(M.edenA, { rht: 128 }));
row("eden-b + rht128", one, one + prescaleBytes, [...ref.eden], q(M.edenB, { rht: 128 }));
row("eden-b + rht128, swizzled scales", one, one + prescaleBytes, [...ref.eden], q(M.edenB, { rht: 128, layout: SWIZZLED }));
row("eden-b + rht128 along tokens (x^T)", one, one + prescaleBytes, [...ref.eden], q(M.edenB, { rht: 128, transpose: true }));
row("eden-b + rht128, f32 input", 2 * inBytes + outBytes, 2 * inBytes + outBytes + prescaleBytes, null, q(M.edenB, { rht: 128, f32: true }));
row("rtn along tokens (x^T), amaxOverride", one, one, null, q(M.rtn, { override: true, transpose: true }));
row("requantize 4/6 -> eden-b + rht128 (X^T)", 2 * outBytes, 2 * outBytes + prescaleBytes, null, () =>
  check(native().quartet_requantize(CUDA, NVFP4, saved.codes.handle, saved.scales.handle, saved.tensorScale!.handle, T, K, NVFP4, M.edenB,
    128, signs, 1, 2, 0x104, LINEAR, codes.handle, scales.handle, g.handle)));
row("rht128 alone (bf16 -> bf16)", 2 * inBytes, 2 * inBytes, null, () =>
  check(native().quartet_rht(CUDA, x.handle, BF16, T, K, 128, signs, copyDst.handle, BF16)));
row("dequantize -> bf16", outBytes + inBytes, outBytes + inBytes, null, () =>
  check(native().quartet_dequantize(CUDA, NVFP4, saved.codes.handle, saved.scales.handle, saved.tensorScale!.handle, T, K, LINEAR, out.handle, BF16)));
row("dequantize -> f32", outBytes + 2 * inBytes, outBytes + 2 * inBytes, null, () =>
  check(native().quartet_dequantize(CUDA, NVFP4, saved.codes.handle, saved.scales.handle, saved.tensorScale!.handle, T, K, LINEAR, out.handle, F32)));
row("mxfp4 quest + rht32", inBytes + N / 2 + N / 32, inBytes + N / 2 + N / 32, null, q(M.quest, { rht: 32, mx: true }));

for (const t of [tile, x, xf, copyDst, codes, scales, g, amaxOverride, out, saved]) t.dispose();

// ---- table -----------------------------------------------------------------------------------------------
const pad = (v: string, w: number) => v.padStart(w);
console.log(`\n${device.name} (cc ${device.compute_capability}), ${T}x${K} BF16, D2D copy ${copyGBps.toFixed(0)} GB/s, ${REPS} reps`);
console.log([pad("op", 44), pad("ms", 8), pad("GB/s", 7), pad("of copy", 8), pad("80% target ms", 14), pad("reference ms", 13), pad("speedup", 8)].join(" "));
for (const r of rows)
  console.log([pad(r.op, 44), pad(r.ms.toFixed(4), 8), pad(r.GBps.toFixed(0), 7), pad(`${(100 * r.ratio_to_copy).toFixed(1)}%`, 8),
    pad(r.target_ms_80pct.toFixed(4), 14), pad(r.reference_ms?.toFixed(3) ?? "-", 13), pad(r.speedup_vs_reference ? `${r.speedup_vs_reference.toFixed(2)}x` : "-", 8)].join(" "));
