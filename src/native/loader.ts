/** Finds libquartet: $QUARTET_LIB, then prebuilds/<platform>-<arch>/ of this package (contract §4). */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { QuartetError } from "../errors.ts";

export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export function libraryFileName(): string {
  return process.platform === "darwin" ? "libquartet.dylib" : "libquartet.so";
}

/** The candidate paths, in the order they are tried. */
export function libraryCandidates(): string[] {
  const out: string[] = [];
  const env = process.env.QUARTET_LIB;
  if (env) out.push(resolve(env));
  out.push(join(PACKAGE_ROOT, "prebuilds", `${process.platform}-${process.arch}`, libraryFileName()));
  return out;
}

export function findLibrary(): string {
  const tried = libraryCandidates();
  const env = process.env.QUARTET_LIB;
  if (env && !existsSync(resolve(env))) {
    throw new QuartetError(
      "LOAD",
      `quartet-ii: QUARTET_LIB points to ${resolve(env)}, which does not exist. ` +
        `Unset it to use the prebuilt library, or build from source: cmake -S . -B build && cmake --build build -j`,
    );
  }
  for (const p of tried) if (existsSync(p)) return p;
  throw new QuartetError(
    "LOAD",
    `quartet-ii: cannot find the native library. Tried:\n` +
      tried.map((p) => `  - ${p}`).join("\n") +
      `\nSet QUARTET_LIB=/path/to/libquartet.so, or build from source:\n` +
      `  cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release && cmake --build build/release -j\n` +
      `  export QUARTET_LIB=$PWD/build/release/libquartet.so`,
  );
}
