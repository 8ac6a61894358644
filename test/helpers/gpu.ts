/** Whether this machine can run the CUDA tests, with the reason printed once per file when it cannot. */
import { cudaAvailable } from "../../src/index.ts";

export interface GpuEnv {
  ok: boolean;
  reason: string;
}

export function gpuEnv(file: string): GpuEnv {
  let env: GpuEnv;
  try {
    env = cudaAvailable() ? { ok: true, reason: "" } : { ok: false, reason: "no CUDA device (or the library was built without CUDA)" };
  } catch (e) {
    env = { ok: false, reason: `the native library could not be used: ${(e as Error).message.split("\n")[0]}` };
  }
  if (!env.ok) console.warn(`[skip] ${file}: ${env.reason}`);
  return env;
}
