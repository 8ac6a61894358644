/** The optimizer ops on CUDA return the CPU's bits (quartet_sum_squares' fixed tree order and
 * quartet_adamw_step's float32 formula). Runs only where a CUDA device is present. */
import { expect, test } from "bun:test";
import { native, Tensor } from "../../src/index.ts";
import { sumSquares } from "../../src/train/optimizer.ts";
import { gaussian } from "../helpers/random.ts";
import { gpuEnv } from "../helpers/gpu.ts";

const hasCuda = gpuEnv("test/train/optimizer_cuda.test.ts").ok;

test.skipIf(!hasCuda)("sum of squares: CUDA equals CPU bit for bit (one to three tree levels)", () => {
  const xs = [1, 1000, 1025, 1024 * 1024 + 5, 3 * 1024 * 1024 + 1].map((n, i) => gaussian(n, 300 + i));
  const cpu = sumSquares(xs.map((x) => Tensor.fromFloat32(x, [x.length])));
  const dev = xs.map((x) => Tensor.fromFloat32(x, [x.length], { device: "cuda" }));
  const gpu = sumSquares(dev);
  expect(Array.from(gpu)).toEqual(Array.from(cpu));
  for (const t of dev) t.dispose();
});

test.skipIf(!hasCuda)("AdamW step: CUDA equals CPU bit for bit", () => {
  const n = 100_003;
  const w = gaussian(n, 1), g = gaussian(n, 2);
  const cpu = [w, g, new Float32Array(n), new Float32Array(n)].map((x) => Tensor.fromFloat32(x, [n]));
  const gpu = cpu.map((t) => t.to("cuda"));
  for (let step = 1; step <= 3; ++step)
    for (const [backend, t] of [[0, cpu], [1, gpu]] as const)
      expect(native().quartet_adamw_step(backend, t[0]!.handle, t[1]!.handle, t[2]!.handle, t[3]!.handle, n, step, 1.2e-3, 0.9, 0.95, 1e-8, 0.1, 0.7)).toBe(0);
  for (let i = 0; i < 4; ++i) expect(gpu[i]!.toBytes()).toEqual(cpu[i]!.toBytes());
  for (const t of gpu) t.dispose();
});
