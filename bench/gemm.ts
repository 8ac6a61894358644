/**
 * CUDA GEMM throughput: the block-scaled FP4 GEMM Y = alpha gA gB A B^T (numerics.md §3.6) on the paths the
 * dispatcher chooses between, next to cuBLAS BF16 on the same shapes, measured in the same run.
 *
 *   QUARTET_LIB=/abs/path/libquartet.so bun bench/gemm.ts [--reps N]
 *
 * Shapes: M in {16384, 2048} x (K, N) in {(2048, 2048), (2048, 8192), (8192, 2048), (4096, 4096)}, A [M, K],
 * B [N, K] ("TN"), BF16 output. Rows per shape:
 *  - nvfp4_auto: the automatic path (wgmma decode-to-16-bit on Hopper), device tensor scales;
 *  - nvfp4_mma: the portable mma.sync decode path forced (path 1);
 *  - mxfp4_auto: MXFP4 on the automatic path;
 *  - builtin_bf16: the library's own BF16 GEMM (path 6), used when cuBLASLt is absent;
 *  - cublas_bf16: the baseline and roofline: a BF16 x BF16 -> BF16 GEMM with FP32 accumulation through
 *    cuBLASLt (quartet_gemm, path 5), or, when the library did not find cuBLASLt, torch.matmul in a python3
 *    subprocess on the same GPU (then the shapes are timed there, the same way).
 * Each figure is the mean over `reps` back-to-back launches after 3 warm-ups, timed on the host around a
 * device synchronization (launches are asynchronous, so the queue stays full). Operands: random codes,
 * E4M3 scales 0x20..0x50 (MXFP4: E8M0 2^-9..2^9); the BF16 operands are their decoded values.
 * Prints one JSON object per measurement, then a table.
 */
import {
  buildInfo,
  check,
  cudaAvailable,
  dequantize,
  gemm,
  native,
  QuantizedTensor,
  synchronize,
  Tensor,
  type Format,
} from "../src/index.ts";

function argValue(name: string): number | undefined {
  const i = Bun.argv.indexOf(name);
  if (i < 0) return undefined;
  const v = Number(Bun.argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} needs a positive integer, got ${Bun.argv[i + 1]}`);
  return v;
}

if (!cudaAvailable()) {
  console.log("bench/gemm.ts: no CUDA device (or the library was built without CUDA); nothing to measure");
  process.exit(0);
}
const REPS = argValue("--reps") ?? 20;
const info = buildInfo();
const device = info.devices[0]!;

const PATH_AUTO = 0, PATH_MMA = 1, PATH_CUBLASLT = 5, PATH_BUILTIN = 6;
const FORMAT_CODE = { nvfp4: 0, mxfp4: 1 } as const;
const DTYPE_BF16 = 1, BACKEND_CUDA = 1, LAYOUT_LINEAR = 0;

function setPath(p: number): void {
  check(native().quartet_cuda_set_gemm_path(p));
}
function lastPath(): number {
  const out = new Int32Array(1);
  check(native().quartet_cuda_gemm_last_path(out));
  return out[0]!;
}

/** Mean seconds per call of `fn` over `reps` queued calls, after 3 warm-ups. */
function timeDevice(fn: () => void, reps = REPS): number {
  for (let i = 0; i < 3; i++) fn();
  synchronize();
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < reps; i++) fn();
  synchronize();
  return (Bun.nanoseconds() - t0) * 1e-9 / reps;
}

let seed = 0x9e3779b9;
function randomBytes(n: number, map?: (x: number) => number): Uint8Array {
  const out = new Uint8Array(n);
  const words = new Uint32Array(out.buffer, 0, n >>> 2);
  for (let i = 0; i < words.length; i++) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    words[i] = seed >>> 0;
  }
  if (map) for (let i = 0; i < n; i++) out[i] = map(out[i]!);
  return out;
}

function operand(format: Format, rows: number, k: number): QuantizedTensor {
  const bs = format === "nvfp4" ? 16 : 32;
  const codes = Tensor.fromBytes(randomBytes((rows * k) / 2), [rows, k / 2], { dtype: "u8", device: "cuda" });
  const scaleMap = format === "nvfp4" ? (x: number) => 0x20 + (x % 0x31) : (x: number) => 118 + (x % 19);
  const scales = Tensor.fromBytes(randomBytes((rows * k) / bs, scaleMap), [rows, k / bs], { dtype: "u8", device: "cuda" });
  const ts = format === "nvfp4" ? Tensor.fromFloat32([0.75], [1], { device: "cuda" }) : null;
  return new QuantizedTensor(format, [rows, k], "linear", codes, scales, ts, null);
}

/** One FP4 GEMM call into a preallocated bf16 output (no allocation inside the timed loop). */
function fp4Call(a: QuantizedTensor, b: QuantizedTensor, out: Tensor): () => void {
  const lib = native();
  const [m, k] = a.shape, n = b.shape[0];
  return () =>
    check(lib.quartet_gemm_fp4(BACKEND_CUDA, FORMAT_CODE[a.format], a.codes.handle, a.scales.handle, a.tensorScale?.handle ?? null,
      b.codes.handle, b.scales.handle, b.tensorScale?.handle ?? null, m, n, k, LAYOUT_LINEAR, 1, 0, out.handle, DTYPE_BF16));
}

interface Row {
  bench: "gemm";
  device: string;
  M: number;
  N: number;
  K: number;
  impl: string;
  path: number | null;
  ms: number;
  tflops: number;
  baseline: string;
  baseline_tflops: number | null;
  ratio_to_baseline: number | null;
  roofline_of: string;
  ratio_to_roofline: number | null;
}
const rows: Row[] = [];

/** torch.matmul BF16 in a subprocess, for when cuBLASLt was not found by the library. */
function torchBaseline(shapes: [number, number, number][]): Map<string, number> {
  const script = `
import json, sys, torch
res = {}
for (M, N, K) in json.loads(sys.argv[1]):
    a = torch.randn(M, K, device="cuda", dtype=torch.bfloat16); b = torch.randn(N, K, device="cuda", dtype=torch.bfloat16)
    for _ in range(3): c = a @ b.T
    torch.cuda.synchronize(); s = torch.cuda.Event(enable_timing=True); e = torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(${REPS}): c = a @ b.T
    e.record(); torch.cuda.synchronize()
    res[f"{M}x{N}x{K}"] = s.elapsed_time(e) / ${REPS} / 1e3
print(json.dumps(res))`;
  const p = Bun.spawnSync(["python3", "-c", script, JSON.stringify(shapes)], { stderr: "pipe" });
  if (p.exitCode !== 0) {
    console.error(`torch baseline unavailable: ${p.stderr.toString().trim().split("\n").pop()}`);
    return new Map();
  }
  return new Map(Object.entries(JSON.parse(p.stdout.toString()) as Record<string, number>));
}

const SHAPES: [number, number, number][] = [];
for (const M of [16384, 2048])
  for (const [K, N] of [[2048, 2048], [2048, 8192], [8192, 2048], [4096, 4096]] as const) SHAPES.push([M, N, K]);

const cublasLt = info.optional?.cublasLt?.found === true;
const torchTimes = cublasLt ? new Map<string, number>() : torchBaseline(SHAPES);

for (const [M, N, K] of SHAPES) {
  const flops = 2 * M * N * K;
  const measured: { impl: string; path: number | null; sec: number }[] = [];
  const out = Tensor.empty([M, N], { dtype: "bf16", device: "cuda" });
  try {
    for (const format of ["nvfp4", "mxfp4"] as const) {
      const a = operand(format, M, K), b = operand(format, N, K);
      try {
        const paths = format === "nvfp4" ? [PATH_AUTO, PATH_MMA] : [PATH_AUTO];
        for (const path of paths) {
          setPath(path);
          try {
            const sec = timeDevice(fp4Call(a, b, out));
            measured.push({ impl: `${format}_${path === PATH_AUTO ? "auto" : "mma"}`, path: lastPath(), sec });
          } finally {
            setPath(PATH_AUTO);
          }
        }
        if (format === "nvfp4") {
          // BF16 operands with the same values: the decoded FP4 tensors
          const abf = dequantize(a, { dtype: "bf16" }), bbf = dequantize(b, { dtype: "bf16" });
          try {
            const dense = () => gemm(abf, bbf, { transB: true, into: out });
            setPath(PATH_BUILTIN);
            try {
              measured.push({ impl: "builtin_bf16", path: PATH_BUILTIN, sec: timeDevice(dense, Math.max(3, REPS >> 2)) });
            } finally {
              setPath(PATH_AUTO);
            }
            if (cublasLt) {
              setPath(PATH_CUBLASLT);
              try {
                measured.push({ impl: "cublas_bf16", path: PATH_CUBLASLT, sec: timeDevice(dense) });
              } finally {
                setPath(PATH_AUTO);
              }
            }
          } finally {
            abf.dispose();
            bbf.dispose();
          }
        }
      } finally {
        a.dispose();
        b.dispose();
      }
    }
  } finally {
    out.dispose();
  }
  const torchSec = torchTimes.get(`${M}x${N}x${K}`);
  if (torchSec !== undefined) measured.push({ impl: "cublas_bf16", path: null, sec: torchSec });
  const base = measured.find((r) => r.impl === "cublas_bf16");
  const baseTflops = base ? flops / base.sec / 1e12 : null;
  const baseName = base ? (base.path === null ? "cuBLAS BF16 (torch.matmul)" : "cuBLAS BF16 (cuBLASLt, path 5)") : "none";
  for (const r of measured) {
    const tflops = flops / r.sec / 1e12;
    const row: Row = {
      bench: "gemm", device: device.name, M, N, K, impl: r.impl, path: r.path, ms: r.sec * 1e3, tflops, baseline: baseName,
      baseline_tflops: baseTflops, ratio_to_baseline: baseTflops ? tflops / baseTflops : null, roofline_of: baseName,
      ratio_to_roofline: baseTflops ? tflops / baseTflops : null,
    };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
}

// ---- table -----------------------------------------------------------------------------------------------
const impls = [...new Set(rows.map((r) => r.impl))];
const pad = (s: string, w: number) => s.padStart(w);
console.log(`\n${device.name} (cc ${device.compute_capability}), TFLOP/s (ratio to cuBLAS BF16), ${REPS} reps`);
console.log([pad("M x N x K", 20), ...impls.map((i) => pad(i, 18))].join(" "));
for (const [M, N, K] of SHAPES) {
  const cells = impls.map((impl) => {
    const r = rows.find((x) => x.M === M && x.N === N && x.K === K && x.impl === impl);
    return pad(r ? `${r.tflops.toFixed(0)} (${r.ratio_to_baseline?.toFixed(2) ?? "-"})` : "-", 18);
  });
  console.log([pad(`${M}x${N}x${K}`, 20), ...cells].join(" "));
}
