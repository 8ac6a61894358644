/** `bun run prebuild`: builds prebuilds/<platform>-<arch>/libquartet.so (CPU backend + CUDA for sm_80, sm_90a,
 * sm_100a, sm_120a, CUDA runtime static) and its manifest.json (contract §4).
 *
 *   bun scripts/prebuild.ts [--build-dir build/prebuild] [--jobs N]
 *
 * Refuses to run without nvcc: a prebuild without CUDA would silently take the GPU away from every user.
 * Verifies before replacing anything: the binary's own source hash equals the one computed here, every
 * arch is compiled in, it links nothing but glibc, and it is under 10 MiB. */
import { copyFileSync, existsSync, mkdirSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { combineSourceHash, sourceHashEntries } from "../src/native/source-hash.ts";
import {
  ALLOWED_NEEDED,
  LIBRARY_NAME,
  MANIFEST_PATH,
  MAX_LIBRARY_BYTES,
  PLATFORM,
  PREBUILD_ARCHS,
  PREBUILD_DIR,
  PREBUILD_LIBRARY,
  ROOT,
  capture,
  cmakeArch,
  glibcRequirement,
  mib,
  neededLibraries,
  readBuildInfo,
  sha256File,
  type Manifest,
} from "./prebuild-common.ts";

class PrebuildError extends Error {}

function fail(message: string): never {
  throw new PrebuildError(message);
}

function parseArgs(argv: string[]): { buildDir: string; jobs: number } {
  let buildDir = join(ROOT, "build", "prebuild");
  let jobs = Number(process.env.QUARTET_JOBS ?? 0) || availableParallelism();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => argv[++i] ?? fail(`${a} needs a value`);
    if (a === "--build-dir") buildDir = resolve(value());
    else if (a === "--jobs" || a === "-j") jobs = Number(value());
    else fail(`unknown argument ${a} (usage: bun scripts/prebuild.ts [--build-dir DIR] [--jobs N])`);
  }
  if (!Number.isInteger(jobs) || jobs < 1) fail(`--jobs must be a positive integer`);
  return { buildDir, jobs };
}

/** nvcc the way CMake's check_language(CUDA) finds it: $CUDACXX, then PATH, then the default toolkit. */
function findNvcc(): string {
  const candidates = [process.env.CUDACXX, Bun.which("nvcc"), "/usr/local/cuda/bin/nvcc"].filter(
    (p): p is string => !!p,
  );
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    fail(
      `nvcc not found (tried $CUDACXX, PATH, /usr/local/cuda/bin/nvcc). The prebuild must contain the CUDA ` +
        `backend; install the CUDA toolkit or set CUDACXX=/path/to/nvcc.`,
    );
  }
  return found;
}

function run(cmd: string[]): void {
  console.log(`$ ${cmd.join(" ")}`);
  const r = Bun.spawnSync(cmd, { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
  if (r.exitCode !== 0) fail(`${cmd[0]} exited with ${r.exitCode}`);
}

/** Files under csrc/ that git ignores would enter the hash here but be missing from every clone, so CI
 * would find the prebuild stale; untracked ones are fine as long as they are committed with it. */
function checkSourceTree(): void {
  const git = Bun.spawnSync(["git", "rev-parse", "--is-inside-work-tree"], { cwd: ROOT, stdout: "pipe" });
  if (git.exitCode !== 0) return;
  const ignored = capture(["git", "ls-files", "--others", "--ignored", "--exclude-standard", "--", "csrc"]).trim();
  if (ignored) fail(`git-ignored files under csrc/ would enter the source hash; remove them:\n${ignored}`);
  const untracked = capture(["git", "ls-files", "--others", "--exclude-standard", "--", "csrc"]).trim();
  if (untracked) {
    console.warn(`note: untracked files under csrc/ are part of the hash; commit them with the prebuild:\n${untracked}`);
  }
}

function main(): void {
  const { buildDir, jobs } = parseArgs(process.argv.slice(2));
  const nvcc = findNvcc();
  checkSourceTree();
  const entries = sourceHashEntries(ROOT);
  const hash = combineSourceHash(entries);
  console.log(`source hash ${hash} (${entries.length} files)`);
  console.log(`nvcc ${nvcc}; archs ${PREBUILD_ARCHS.join(";")}; ${jobs} jobs; build dir ${relative(ROOT, buildDir)}`);

  const started = performance.now();
  run([
    "cmake",
    "-S",
    ROOT,
    "-B",
    buildDir,
    "-DCMAKE_BUILD_TYPE=Release",
    "-DQUARTET_CUDA=ON",
    `-DQUARTET_CUDA_ARCHS=${PREBUILD_ARCHS.join(";")}`,
    `-DCMAKE_CUDA_COMPILER=${nvcc}`,
  ]);
  run(["cmake", "--build", buildDir, "-j", String(jobs)]);
  const seconds = (performance.now() - started) / 1000;
  console.log(`built in ${seconds.toFixed(0)} s`);

  // Sources edited during a long build would make the binary and the manifest disagree.
  if (combineSourceHash(sourceHashEntries(ROOT)) !== hash) fail(`csrc/ or CMakeLists.txt changed during the build; run it again`);

  const built = join(buildDir, LIBRARY_NAME);
  if (!existsSync(built)) fail(`the build produced no ${built}`);

  // Strip a copy next to its destination, check it, then move it into place: a failed check leaves the
  // committed prebuild untouched.
  mkdirSync(PREBUILD_DIR, { recursive: true });
  const staged = `${PREBUILD_LIBRARY}.tmp`;
  rmSync(staged, { force: true });
  copyFileSync(built, staged);
  try {
    capture(["strip", "--strip-unneeded", staged]);

    const info = readBuildInfo(staged);
    if (info.source_hash !== hash) {
      fail(`the built library reports source hash ${info.source_hash}, the sources hash to ${hash}`);
    }
    if (!info.cuda.compiled) fail(`the built library has no CUDA backend (CMake did not enable CUDA; see its output)`);
    const archs = info.cuda.archs.map(cmakeArch);
    const missing = PREBUILD_ARCHS.filter((a) => !archs.includes(a));
    if (missing.length) fail(`archs missing from the built library: ${missing.join(", ")} (it has ${archs.join(", ")})`);

    // The fatbin itself, not only the arch list compiled into build info, must hold SASS for every arch.
    const cuobjdump = [Bun.which("cuobjdump"), join(dirname(realpathSync(nvcc)), "cuobjdump"), "/usr/local/cuda/bin/cuobjdump"]
      .filter((p): p is string => !!p)
      .find((p) => existsSync(p));
    if (cuobjdump) {
      const elfs = capture([cuobjdump, "--list-elf", staged]);
      const noSass = PREBUILD_ARCHS.filter((a) => !elfs.includes(`.sm_${a}.`));
      if (noSass.length) fail(`no SASS for ${noSass.join(", ")} in the fatbin:\n${elfs}`);
      console.log(`cuobjdump: SASS present for sm ${PREBUILD_ARCHS.join(" ")}`);
    } else {
      console.log(`note: cuobjdump not found; the fatbin's archs are taken from the library's build info`);
    }

    const needed = neededLibraries(staged);
    const extra = needed.filter((n) => !ALLOWED_NEEDED.has(n));
    if (extra.length) fail(`the library needs ${extra.join(", ")}: only glibc may be linked dynamically`);

    const size = statSync(staged).size;
    if (size >= MAX_LIBRARY_BYTES) {
      fail(
        `the library is ${mib(size)}, over the ${mib(MAX_LIBRARY_BYTES)} limit (contract §4). Its fatbin is most of ` +
          `it: SASS only (CUDA_ARCHITECTURES "90a-real", no PTX), no -lineinfo, nvcc --compress-mode=size, and fewer ` +
          `template instantiations shrink it; \`size -A\` on the objects in ${relative(ROOT, buildDir)} shows which.`,
      );
    }

    const manifest: Manifest = {
      source_hash: hash,
      archs: [...PREBUILD_ARCHS],
      cuda_version: info.cuda.version,
      built_at: new Date().toISOString(),
      size_bytes: size,
      sha256: sha256File(staged),
      platform: PLATFORM,
      library: LIBRARY_NAME,
      version: info.version,
      compiler: info.compiler,
      glibc: glibcRequirement(staged),
      files: Object.fromEntries(entries.map((e) => [e.path, e.sha256])),
    };
    renameSync(staged, PREBUILD_LIBRARY);
    writeFileSync(MANIFEST_PATH, `${JSON.stringify(manifest, null, 2)}\n`);
    console.log(
      `\nwrote ${relative(ROOT, PREBUILD_LIBRARY)} (${mib(size)}, sha256 ${manifest.sha256.slice(0, 16)}…, ` +
        `CUDA ${manifest.cuda_version}, sm ${manifest.archs.join(" ")}, glibc >= ${manifest.glibc}, ` +
        `needs ${needed.join(" ")})\nwrote ${relative(ROOT, MANIFEST_PATH)}`,
    );
  } finally {
    rmSync(staged, { force: true });
  }
}

try {
  main();
} catch (e) {
  console.error(`\nprebuild FAILED: ${e instanceof PrebuildError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
}
