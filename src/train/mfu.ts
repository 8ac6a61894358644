/** Model FLOPs utilization: training FLOPs per token (6 N for the weight GEMMs, forward + backward, plus the
 * attention score and value products) against the dense BF16 GEMM rate measured on the run's device at start-up
 * (quartet_gemm; on the CPU, the library's CPU GEMM). */
import { gemm } from "../gemm.ts";
import { synchronize } from "../info.ts";
import { Tensor, type Device } from "../tensor.ts";
import { nonEmbeddingParams, type ModelShape } from "./presets.ts";

/** Training FLOPs per token: 6 (N + V d) for the weight GEMMs (N non-embedding parameters; the LM head's V d
 * multiply-adds count, the embedding lookup does not) + 12 L T d for QK^T and AV (forward 4 L T d, backward
 * twice that; the causal mask is not discounted, as in the PaLM appendix). */
export function trainingFlopsPerToken(shape: ModelShape, seq: number, vocab: number): number {
  return 6 * (nonEmbeddingParams(shape) + vocab * shape.dModel) + 12 * shape.nLayers * seq * shape.dModel;
}

export interface GemmRate {
  /** FLOP/s of a square BF16 GEMM with FP32 accumulation */
  flopsPerS: number;
  size: number;
  device: Device;
}

/** Times C = A B for square BF16 matrices (size 4096 on CUDA, 512 on the CPU) for at least `minSeconds`. */
export function measureGemmRate(device: Device, minSeconds = 0.3): GemmRate {
  const size = device === "cuda" ? 4096 : 512;
  const values = new Float32Array(size * size);
  for (let i = 0; i < values.length; ++i) values[i] = ((i * 2654435761) % 1000) / 1000 - 0.5;
  const a = Tensor.fromFloat32(values, [size, size], { dtype: "bf16", device });
  const b = Tensor.fromFloat32(values, [size, size], { dtype: "bf16", device });
  const c = Tensor.empty([size, size], { dtype: "f32", device });
  try {
    gemm(a, b, { into: c }); // warm-up (and CUDA lazy initialization)
    if (device === "cuda") synchronize("cuda");
    let reps = 0;
    const t0 = performance.now();
    let elapsed = 0;
    do {
      gemm(a, b, { into: c });
      reps += 1;
      if (device === "cuda" && reps % 4 === 0) synchronize("cuda");
      elapsed = (performance.now() - t0) / 1000;
    } while (elapsed < minSeconds || (device === "cuda" && reps % 4 !== 0));
    if (device === "cuda") synchronize("cuda");
    elapsed = (performance.now() - t0) / 1000;
    return { flopsPerS: (2 * size ** 3 * reps) / elapsed, size, device };
  } finally {
    a.dispose();
    b.dispose();
    c.dispose();
  }
}
