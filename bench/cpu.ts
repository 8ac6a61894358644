/**
 * CPU backend throughput: the NVFP4 quantizers (elements/s) and the GEMMs (GFLOP/s).
 *
 *   QUARTET_LIB=/abs/path/libquartet.so bun bench/cpu.ts [--threads N] [--reps N]
 *
 * Prints one JSON object per measurement, then a table. Every measurement is the best of `reps` timed runs
 * after one warm-up run (best-of, because this machine is shared and slower runs are interference).
 *
 * Rooflines (measured in the same run, contract §5):
 *  - quantizers are memory-bound at best: read 4 bytes of f32 input, write 0.5 byte of codes and 1/16 byte
 *    of scale per element. The roofline in elements/s is the measured host copy bandwidth (bytes read +
 *    written per second, copying the same 32 MiB tensor) divided by 4.5625 bytes. Baseline: "rtn".
 *  - GEMMs: the roofline is the dense BF16 GEMM rate at 1024^3 (quartet_gemm, FP32 accumulation) measured here.
 *    Baselines: the f32 GEMM is compared with a plain TypeScript i-k-j triple loop (512^3), the NVFP4 GEMM
 *    with the dense f32 GEMM of the same shape (what the FP4 decode costs).
 */
import { cpuThreads, gemm, nvfp4Gemm, quantize, rhtSigns, setCpuThreads, Tensor, type Rounding } from "../src/index.ts";
import { gaussian } from "../test/helpers/random.ts";

function argValue(name: string): number | undefined {
  const i = Bun.argv.indexOf(name);
  if (i < 0) return undefined;
  const v = Number(Bun.argv[i + 1]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} needs a non-negative integer, got ${Bun.argv[i + 1]}`);
  return v;
}

const threadsArg = argValue("--threads");
if (threadsArg !== undefined) setCpuThreads(threadsArg);
const REPS = argValue("--reps") ?? 5;
const THREADS = cpuThreads();

/** Best wall time in seconds of `reps` runs of fn, after one warm-up run. */
function bestSeconds(fn: () => void, reps = REPS): number {
  fn();
  let best = Infinity;
  for (let r = 0; r < reps; ++r) {
    const t0 = Bun.nanoseconds();
    fn();
    best = Math.min(best, (Bun.nanoseconds() - t0) * 1e-9);
  }
  return best;
}

interface Row {
  bench: string;
  shape: string;
  value: number;
  unit: string;
  roofline: number;
  roofline_of: string;
  ratio_to_roofline: number;
  baseline: string;
  baseline_value: number;
  ratio_to_baseline: number;
  ms: number;
  threads: number;
}
const rows: Row[] = [];
function report(r: Omit<Row, "ratio_to_roofline" | "ratio_to_baseline" | "threads">): void {
  const row: Row = { ...r, ratio_to_roofline: r.value / r.roofline, ratio_to_baseline: r.value / r.baseline_value, threads: THREADS };
  rows.push(row);
  console.log(JSON.stringify(row));
}

// ---- quantizers: 2048 x 4096 f32 -------------------------------------------------------------------------

const QR = 2048, QK = 4096, QN = QR * QK;
const xData = gaussian(QN, 1);
const x = Tensor.fromFloat32(xData, [QR, QK]);

const copyDst = new Float32Array(QN);
const copySec = bestSeconds(() => copyDst.set(xData));
const copyBytesPerSec = (2 * QN * 4) / copySec;
const BYTES_PER_ELEMENT = 4 + 0.5 + 1 / 16;
const quantRoofline = copyBytesPerSec / BYTES_PER_ELEMENT;

const QUANTIZERS: { rounding: Rounding; label: string; rht?: { dim: 128; signs: Uint32Array } }[] = [
  { rounding: "rtn", label: "rtn" },
  { rounding: "4/6", label: "4/6" },
  { rounding: "sr", label: "sr" },
  // MS-EDEN is defined on RHT-128-rotated data (the Quartet II backward); the rotation is part of the call.
  { rounding: "eden-b", label: "eden-b (+RHT-128)", rht: { dim: 128, signs: rhtSigns(1, 2, 3) } },
];
const quantRate: Record<string, number> = {};
for (const q of QUANTIZERS) {
  const sec = bestSeconds(() => quantize(x, { format: "nvfp4", rounding: q.rounding, rht: q.rht, seed: 7, step: 1 }).dispose());
  quantRate[q.label] = QN / sec;
  report({
    bench: `quantize nvfp4 ${q.label}`, shape: `${QR}x${QK} f32`, value: QN / sec, unit: "elements/s",
    roofline: quantRoofline, roofline_of: `copy ${(copyBytesPerSec / 1e9).toFixed(1)} GB/s / ${BYTES_PER_ELEMENT} B/elem`,
    baseline: "rtn", baseline_value: quantRate["rtn"]!, ms: sec * 1e3,
  });
}
x.dispose();

// ---- GEMMs -----------------------------------------------------------------------------------------------

function denseGemmSeconds(n: number, dtype: "f32" | "bf16"): number {
  const a = Tensor.fromFloat32(gaussian(n * n, 2), [n, n], { dtype });
  const b = Tensor.fromFloat32(gaussian(n * n, 3), [n, n], { dtype });
  const sec = bestSeconds(() => gemm(a, b).dispose());
  a.dispose();
  b.dispose();
  return sec;
}
const gflops = (m: number, n: number, k: number, sec: number) => (2 * m * n * k) / sec / 1e9;

// Plain TypeScript baseline: i-k-j loop over Float32Arrays (the fastest simple loop order), 512^3.
function naiveTsGflops(n: number): number {
  const a = gaussian(n * n, 4), b = gaussian(n * n, 5), c = new Float32Array(n * n);
  const sec = bestSeconds(() => {
    c.fill(0);
    for (let i = 0; i < n; ++i) {
      for (let k = 0; k < n; ++k) {
        const aik = a[i * n + k]!;
        const bo = k * n, co = i * n;
        for (let j = 0; j < n; ++j) c[co + j]! += aik * b[bo + j]!;
      }
    }
  }, 2);
  return gflops(n, n, n, sec);
}

const G = 1024;
const bf16Sec = denseGemmSeconds(G, "bf16");
const gemmRoofline = gflops(G, G, G, bf16Sec);
const rooflineOf = `dense bf16 GEMM ${G}^3 (this run)`;
const naive = naiveTsGflops(512);

const f32Sec = denseGemmSeconds(G, "f32");
report({
  bench: "gemm f32", shape: `${G}x${G}x${G}`, value: gflops(G, G, G, f32Sec), unit: "GFLOP/s",
  roofline: gemmRoofline, roofline_of: rooflineOf, baseline: "TypeScript i-k-j loop 512^3", baseline_value: naive, ms: f32Sec * 1e3,
});
report({
  bench: "gemm bf16", shape: `${G}x${G}x${G}`, value: gemmRoofline, unit: "GFLOP/s",
  roofline: gemmRoofline, roofline_of: rooflineOf, baseline: "TypeScript i-k-j loop 512^3", baseline_value: naive, ms: bf16Sec * 1e3,
});

const F = 2048;
{
  const qo = { format: "nvfp4" as const, rounding: "rtn" as const };
  const xa = Tensor.fromFloat32(gaussian(F * F, 6), [F, F]);
  const xb = Tensor.fromFloat32(gaussian(F * F, 7), [F, F]);
  const qa = quantize(xa, qo), qb = quantize(xb, qo);
  const fp4Sec = bestSeconds(() => nvfp4Gemm(qa, qb, { outDtype: "bf16" }).dispose());
  // Same shape, dense f32 (A B^T, as the FP4 GEMM is TN).
  const denseSec = bestSeconds(() => gemm(xa, xb, { transB: true }).dispose());
  report({
    bench: "gemm nvfp4 (TN, bf16 out)", shape: `${F}x${F}x${F}`, value: gflops(F, F, F, fp4Sec), unit: "GFLOP/s",
    roofline: gemmRoofline, roofline_of: rooflineOf, baseline: `dense f32 GEMM ${F}^3 (TN)`,
    baseline_value: gflops(F, F, F, denseSec), ms: fp4Sec * 1e3,
  });
  for (const t of [xa, xb]) t.dispose();
  qa.dispose();
  qb.dispose();
}

// ---- table -----------------------------------------------------------------------------------------------

const fmt = (v: number, unit: string) => (unit === "elements/s" ? `${(v / 1e9).toFixed(3)} G/s` : `${v.toFixed(1)} GFLOP/s`);
const table = rows.map((r) => ({
  bench: r.bench,
  shape: r.shape,
  rate: fmt(r.value, r.unit),
  "ms": r.ms.toFixed(2),
  "x roofline": r.ratio_to_roofline.toFixed(3),
  "x baseline": `${r.ratio_to_baseline.toFixed(2)} (${r.baseline})`,
}));
console.log(`\nCPU backend, ${THREADS} thread(s), best of ${REPS}`);
console.table(table);
