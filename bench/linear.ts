/**
 * The Quartet II linear layer on the GPU: forward + backward time against the BF16 linear (three BF16 GEMMs
 * through the same engine, cuBLASLt when found), per shape, plus the bytes each keeps for the backward.
 *
 *   QUARTET_LIB=/abs/path/libquartet.so bun bench/linear.ts [--reps N]
 *
 * Shapes (issue "The Quartet II linear layer"): T = 16384 with (K, N) in {(2048, 2048), (2048, 8192),
 * (8192, 2048)} and T = 8192, K = N = 4096. Inputs: X BF16 [T, K], W FP32 [N, K] (master weights),
 * E BF16 [T, N]; dW accumulates in FP32. Reference figures (H100, published Quartet II Triton reference,
 * pseudo-quantization): 2.76-5.11x the BF16 time (0.633 ms BF16 vs 3.233 ms at 16384x2048x2048).
 * Target: <= 1.3x BF16. Roofline: 3 GEMMs of 2TKN FLOPs at the BF16 rate measured here (the bf16 row).
 * Prints one JSON object per measurement, then a table.
 */
import { buildInfo, cudaAvailable, QuartetLinear, synchronize, Tensor, type Recipe } from "../src/index.ts";

if (!cudaAvailable()) {
  console.log("bench/linear.ts: no CUDA device (or the library was built without CUDA); nothing to measure");
  process.exit(0);
}
const repsArg = Bun.argv.indexOf("--reps");
const REPS = repsArg >= 0 ? Number(Bun.argv[repsArg + 1]) : 10;
const device = buildInfo().devices[0]!;
const REFERENCE_RATIO = { "16384x2048x2048": 3.233 / 0.633 } as Record<string, number>;

function timeDevice(fn: () => void): number {
  for (let i = 0; i < 2; i++) fn();
  synchronize();
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < REPS; i++) fn();
  synchronize();
  return ((Bun.nanoseconds() - t0) * 1e-9) / REPS;
}

function randomF32(n: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = 0x12345678;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296 - 0.5) * 3.4 * scale; // uniform with std ~ scale
  }
  return out;
}

const shapes: [number, number, number][] = [[16384, 2048, 2048], [16384, 2048, 8192], [16384, 8192, 2048], [8192, 4096, 4096]];
const rows: Record<string, unknown>[] = [];
for (const [T, K, N] of shapes) {
  using x = Tensor.fromFloat32(randomF32(T * K, 1), [T, K], { dtype: "bf16", device: "cuda" });
  using w = Tensor.fromFloat32(randomF32(N * K, 0.02), [N, K], { device: "cuda" });
  using e = Tensor.fromFloat32(randomF32(T * N, 1e-3), [T, N], { dtype: "bf16", device: "cuda" });
  using y = Tensor.empty([T, N], { dtype: "bf16", device: "cuda" });
  using dx = Tensor.empty([T, K], { dtype: "bf16", device: "cuda" });
  using dw = Tensor.zeros([N, K], { device: "cuda" });
  const times: Partial<Record<Recipe, number>> = {};
  const saved: Partial<Record<Recipe, number>> = {};
  for (const recipe of ["bf16", "quartet2", "nvidia"] as const) {
    using L = new QuartetLinear({ recipe, inFeatures: K, outFeatures: N, maxTokens: T, device: "cuda" });
    let step = 0;
    const fwd = timeDevice(() => L.forward(x, w, { seed: 1, step: step++ }, y));
    const total = timeDevice(() => {
      L.forward(x, w, { seed: 1, step }, y);
      L.backward(e, w, dw, { seed: 1, step: step++, accumulate: true, dx });
    });
    times[recipe] = total;
    saved[recipe] = L.savedBytes;
    const flops = 3 * 2 * T * K * N;
    const row = { bench: "linear", gpu: device.name, recipe, T, K, N, forward_ms: fwd * 1e3, fwd_bwd_ms: total * 1e3,
      tflops: flops / total / 1e12, saved_bytes: L.savedBytes };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
  const key = `${T}x${K}x${N}`;
  const ratio = times.quartet2! / times.bf16!;
  const summary = { bench: "linear_ratio", gpu: device.name, shape: key, quartet2_over_bf16: ratio,
    nvidia_over_bf16: times.nvidia! / times.bf16!, target: 1.3, reference_ratio: REFERENCE_RATIO[key] ?? null,
    saved_bytes_quartet2: saved.quartet2, saved_bytes_bf16: saved.bf16 };
  rows.push(summary);
  console.log(JSON.stringify(summary));
}

console.log("\nshape (T x K x N)      recipe     fwd ms   fwd+bwd ms  TFLOP/s   saved MiB");
for (const r of rows.filter((r) => r.bench === "linear")) {
  const x = r as { T: number; K: number; N: number; recipe: string; forward_ms: number; fwd_bwd_ms: number; tflops: number; saved_bytes: number };
  console.log(`${`${x.T}x${x.K}x${x.N}`.padEnd(22)} ${x.recipe.padEnd(9)} ${x.forward_ms.toFixed(3).padStart(8)} ${x.fwd_bwd_ms.toFixed(3).padStart(11)} ${x.tflops.toFixed(1).padStart(8)} ${(x.saved_bytes / 2 ** 20).toFixed(1).padStart(10)}`);
}
console.log("\nshape                 quartet2/bf16  nvidia/bf16  target  published reference");
for (const r of rows.filter((r) => r.bench === "linear_ratio")) {
  const x = r as { shape: string; quartet2_over_bf16: number; nvidia_over_bf16: number; reference_ratio: number | null };
  console.log(`${x.shape.padEnd(22)} ${x.quartet2_over_bf16.toFixed(2).padStart(13)} ${x.nvidia_over_bf16.toFixed(2).padStart(12)}    1.30  ${x.reference_ratio ? x.reference_ratio.toFixed(2) + "x" : "2.76-5.11x"}`);
}
