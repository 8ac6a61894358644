/** What `bun run prebuild` produces and `bun run prebuild:check` verifies (contract §4). */
import { dlopen, FFIType, CString, type Pointer } from "bun:ffi";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The archs every prebuild carries, in CMake's spelling (QUARTET_CUDA_ARCHS). */
export const PREBUILD_ARCHS = ["80", "90a", "100a", "120a"] as const;

/** The whole checkout must travel to a GPU machine within 64 MiB, Bun included (contract §4). */
export const MAX_LIBRARY_BYTES = 10 * 1024 * 1024;

export const PLATFORM = `${process.platform}-${process.arch}`;
export const LIBRARY_NAME = process.platform === "darwin" ? "libquartet.dylib" : "libquartet.so";
export const PREBUILD_DIR = join(ROOT, "prebuilds", PLATFORM);
export const PREBUILD_LIBRARY = join(PREBUILD_DIR, LIBRARY_NAME);
export const MANIFEST_PATH = join(PREBUILD_DIR, "manifest.json");

export interface Manifest {
  /** sha256 of csrc/** and CMakeLists.txt (src/native/source-hash.ts), equal to the .so's own */
  source_hash: string;
  /** CUDA archs compiled in, CMake spelling ("80", "90a", ...) */
  archs: string[];
  cuda_version: string;
  built_at: string;
  size_bytes: number;
  /** sha256 of the library file's bytes */
  sha256: string;
  platform: string;
  library: string;
  version: string;
  compiler: string;
  /** the newest GLIBC symbol version the library needs: the oldest glibc it loads on */
  glibc: string;
  /** each hashed source file and the sha256 of its bytes, so that a stale prebuild names what changed */
  files: Record<string, string>;
}

/** What quartet_build_info() reports; only the fields the prebuild scripts look at. */
export interface NativeBuildInfo {
  version: string;
  source_hash: string;
  compiler: string;
  cuda: { compiled: boolean; version: string; archs: string[] };
}

/** Loads the library at `path` on its own (not through src/, so a broken src/ cannot hide a bad binary)
 * and returns its build info. Loading also proves that the binary resolves all its symbols here. */
export function readBuildInfo(path: string): NativeBuildInfo {
  const lib = dlopen(path, {
    quartet_build_info: { args: [FFIType.ptr], returns: FFIType.i32 },
    quartet_last_error: { args: [], returns: FFIType.cstring },
  });
  try {
    const out = new BigUint64Array(1);
    const status = lib.symbols.quartet_build_info(out);
    if (status !== 0) {
      throw new Error(`quartet_build_info failed (${status}): ${String(lib.symbols.quartet_last_error())}`);
    }
    return JSON.parse(new CString(Number(out[0]) as Pointer).toString()) as NativeBuildInfo;
  } finally {
    lib.close();
  }
}

export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** "sm_90a" -> "90a": build info names archs the way nvcc does, the manifest the way CMake does. */
export function cmakeArch(arch: string): string {
  return arch.replace(/^sm_/, "");
}

export function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(2)} MiB`;
}

/** Runs a command, returning its stdout; throws with its stderr when it fails. */
export function capture(cmd: string[], opts: { cwd?: string } = {}): string {
  const r = Bun.spawnSync(cmd, { cwd: opts.cwd ?? ROOT, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) {
    throw new Error(`${cmd.join(" ")} failed (exit ${r.exitCode}):\n${r.stderr.toString()}${r.stdout.toString()}`);
  }
  return r.stdout.toString();
}

/** Shared libraries a prebuild may depend on: glibc's own. The CUDA runtime, libstdc++ and libgcc are linked
 * statically (CMakeLists.txt), and the driver is dlopen'ed, so the binary loads on a machine without CUDA. */
export const ALLOWED_NEEDED = new Set([
  "libc.so.6",
  "libm.so.6",
  "libpthread.so.0",
  "libdl.so.2",
  "librt.so.1",
  "ld-linux-x86-64.so.2",
  "ld-linux-aarch64.so.1",
]);

/** The DT_NEEDED entries of an ELF shared library. */
export function neededLibraries(path: string): string[] {
  return [...capture(["readelf", "-d", "-W", path]).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map(
    (m) => m[1]!,
  );
}

/** The newest GLIBC_x.y symbol version an ELF shared library references ("2.34"). */
export function glibcRequirement(path: string): string {
  const versions = [...capture(["objdump", "-T", path]).matchAll(/GLIBC_(\d+)\.(\d+)(?:\.(\d+))?/g)].map((m) => [
    Number(m[1]),
    Number(m[2]),
    Number(m[3] ?? 0),
  ]);
  versions.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!);
  const v = versions.at(-1);
  return v ? (v[2] ? v.join(".") : `${v[0]}.${v[1]}`) : "none";
}
