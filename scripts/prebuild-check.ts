/** `bun run prebuild:check`: fails when prebuilds/linux-x64 does not match the sources (contract §4).
 *
 * Recomputes the source hash of csrc/** and CMakeLists.txt and compares it with the manifest, checks the
 * library's bytes against the manifest's sha256 and size, and, where this machine can load it, that the
 * library reports the same source hash and every prebuild arch. Never builds anything. */
import { existsSync, readFileSync, statSync } from "node:fs";
import { relative } from "node:path";
import { sourceHashEntries, combineSourceHash } from "../src/native/source-hash.ts";
import {
  MANIFEST_PATH,
  MAX_LIBRARY_BYTES,
  PLATFORM,
  PREBUILD_ARCHS,
  PREBUILD_DIR,
  PREBUILD_LIBRARY,
  ROOT,
  cmakeArch,
  mib,
  readBuildInfo,
  sha256File,
  type Manifest,
} from "./prebuild-common.ts";

/** The platform every release ships; CI runs on it. */
const SHIPPED_PLATFORM = "linux-x64";
const dir = relative(ROOT, PREBUILD_DIR);
const STALE = `${dir} is stale: run bun run prebuild`;

function fail(lines: string[]): never {
  console.error(`prebuild:check FAILED: ${lines.join("\n  ")}`);
  process.exit(1);
}

if (PLATFORM !== SHIPPED_PLATFORM) {
  console.log(`prebuild:check: nothing to check on ${PLATFORM} (prebuilds are shipped for ${SHIPPED_PLATFORM} only)`);
  process.exit(0);
}
if (!existsSync(MANIFEST_PATH) || !existsSync(PREBUILD_LIBRARY)) {
  fail([`${dir} is missing ${existsSync(MANIFEST_PATH) ? "libquartet.so" : "manifest.json"}: run bun run prebuild`]);
}

let manifest: Manifest;
try {
  manifest = JSON.parse(readFileSync(MANIFEST_PATH, "utf8")) as Manifest;
} catch (e) {
  fail([`${relative(ROOT, MANIFEST_PATH)} does not parse (${(e as Error).message}): run bun run prebuild`]);
}

// 1. The sources: name the files that differ, so the author knows which change was not rebuilt.
const entries = sourceHashEntries(ROOT);
const hash = combineSourceHash(entries);
if (hash !== manifest.source_hash) {
  const now = new Map(entries.map((e) => [e.path, e.sha256]));
  const then = new Map(Object.entries(manifest.files ?? {}));
  const changes = [
    ...[...now].filter(([p, h]) => then.has(p) && then.get(p) !== h).map(([p]) => `changed  ${p}`),
    ...[...now.keys()].filter((p) => !then.has(p)).map((p) => `added    ${p}`),
    ...[...then.keys()].filter((p) => !now.has(p)).map((p) => `removed  ${p}`),
  ];
  fail([
    STALE,
    `sources hash to ${hash}`,
    `the manifest says ${manifest.source_hash} (built ${manifest.built_at})`,
    ...(changes.length ? changes : ["(the manifest lists no per-file hashes to compare)"]),
  ]);
}

// 2. The binary: exactly the file the manifest describes.
const size = statSync(PREBUILD_LIBRARY).size;
const sha = sha256File(PREBUILD_LIBRARY);
if (sha !== manifest.sha256 || size !== manifest.size_bytes) {
  fail([
    `${relative(ROOT, PREBUILD_LIBRARY)} is not the file the manifest describes: run bun run prebuild`,
    `file:     sha256 ${sha}, ${size} bytes`,
    `manifest: sha256 ${manifest.sha256}, ${manifest.size_bytes} bytes`,
  ]);
}
if (size >= MAX_LIBRARY_BYTES) fail([`the prebuilt library is ${mib(size)}, over the ${mib(MAX_LIBRARY_BYTES)} limit`]);
const missingInManifest = PREBUILD_ARCHS.filter((a) => !manifest.archs.includes(a));
if (missingInManifest.length) fail([`the prebuild lacks archs ${missingInManifest.join(", ")}: run bun run prebuild`]);

// 3. What the binary says about itself (loading it also proves it loads here, GPU or not).
const info = readBuildInfo(PREBUILD_LIBRARY);
if (info.source_hash !== hash) {
  fail([STALE, `the library reports source hash ${info.source_hash}, the sources hash to ${hash}`]);
}
const archs = info.cuda.archs.map(cmakeArch);
const missing = PREBUILD_ARCHS.filter((a) => !archs.includes(a));
if (!info.cuda.compiled || missing.length) {
  fail([`the prebuilt library lacks CUDA archs ${missing.join(", ") || "(CUDA not compiled)"}: run bun run prebuild`]);
}

console.log(
  `prebuild:check ok: ${dir} matches the sources (hash ${hash.slice(0, 16)}…, ${entries.length} files), ` +
    `${mib(size)}, CUDA ${info.cuda.version} sm ${archs.join(" ")}, built ${manifest.built_at}`,
);
