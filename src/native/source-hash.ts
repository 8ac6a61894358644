/** The source hash of contract §4, the TypeScript twin of cmake/source_hash.cmake.
 *
 * sha256 over the relative paths of every file under csrc/ plus CMakeLists.txt, sorted in byte order (what
 * CMake's list(SORT) does), each contributing "<path>\n<sha256 hex of its bytes>\n". The library embeds the
 * value CMake computed at build time (quartet_build_info().source_hash); the prebuild manifest records the
 * value computed here; CI compares both with the sources, so a stale prebuild cannot land. Any change to
 * the rule must be made in both files at once. */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/** The files that enter the hash, relative to `root` with "/" separators, in hashing order. */
export function sourceHashFiles(root: string): string[] {
  const files: string[] = ["CMakeLists.txt"];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel))) {
      const child = `${rel}/${name}`;
      // statSync follows symbolic links, as file(GLOB_RECURSE) does in CMake's script mode.
      if (statSync(join(root, child)).isDirectory()) walk(child);
      else files.push(child);
    }
  };
  walk("csrc");
  // list(SORT) compares std::string, i.e. bytes; JavaScript's default sort compares UTF-16 units,
  // which differs for non-ASCII names, so compare the UTF-8 bytes explicitly.
  return files.sort((a, b) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8")));
}

/** Each hashed file with the sha256 of its bytes, in hashing order. The prebuild manifest keeps this list, so
 * that a stale prebuild can be traced to the files that changed. */
export function sourceHashEntries(root: string): { path: string; sha256: string }[] {
  return sourceHashFiles(root).map((path) => ({
    path,
    sha256: createHash("sha256").update(readFileSync(join(root, path))).digest("hex"),
  }));
}

/** The source hash of the checkout at `root` (the directory holding CMakeLists.txt and csrc/). */
export function sourceHash(root: string): string {
  return combineSourceHash(sourceHashEntries(root));
}

/** The source hash of entries already in hashing order. */
export function combineSourceHash(entries: readonly { path: string; sha256: string }[]): string {
  const all = createHash("sha256");
  for (const e of entries) all.update(`${e.path}\n${e.sha256}\n`, "utf8");
  return all.digest("hex");
}
