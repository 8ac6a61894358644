/** What the loaded library is and what it found on this machine. */
import { check, libraryPath, native, readCString } from "./native/ffi.ts";

export interface BuildInfo {
  version: string;
  source_hash: string;
  compiler: string;
  cpu_threads: number;
  cuda: { compiled: boolean; version: string; archs: string[] };
  devices: { index: number; name: string; compute_capability: string; memory_bytes: number; sm_count: number }[];
  optional: Record<string, { found: boolean; detail: string }>;
  /** where the library was loaded from */
  path: string;
}

export function buildInfo(): BuildInfo {
  const out = new BigUint64Array(1);
  check(native().quartet_build_info(out));
  return { ...(JSON.parse(readCString(Number(out[0]))) as Omit<BuildInfo, "path">), path: libraryPath() };
}

/** True when the CUDA backend is compiled in and a device is present. */
export function cudaAvailable(): boolean {
  const out = new Int32Array(1);
  check(native().quartet_backend_available(1, out));
  return out[0] === 1;
}

export function setCpuThreads(n: number): void {
  check(native().quartet_cpu_set_threads(n));
}

export function cpuThreads(): number {
  const out = new Int32Array(1);
  check(native().quartet_cpu_get_threads(out));
  return out[0]!;
}

/** Wait for queued device work; reports asynchronous kernel errors (e.g. a non-finite quantizer input). */
export function synchronize(device: "cpu" | "cuda" = "cuda"): void {
  check(native().quartet_sync(device === "cuda" ? 1 : 0));
}
