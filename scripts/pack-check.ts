/** `bun run pack:check`: proves the published package works for a user who has only Bun.
 *
 * Packs the package (`bun pm pack`), checks what the tarball holds, installs it into a fresh project
 * (`bun add ./quartet-ii-<version>.tgz`; its dependencies come from the registry) and runs a script there
 * that imports "quartet-ii", prints the build info and quantizes a 16x16 tensor on the CPU. With
 * QUARTET_LIB unset the library must come from the prebuild inside the tarball: no compiler, no install script.
 *
 *   bun scripts/pack-check.ts [--keep]     (--keep leaves the temporary project for inspection) */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LIBRARY_NAME, MAX_LIBRARY_BYTES, ROOT, capture, mib } from "./prebuild-common.ts";

const keep = process.argv.includes("--keep");
const pkg = (await Bun.file(join(ROOT, "package.json")).json()) as {
  name: string;
  version: string;
  scripts?: Record<string, string>;
};

function fail(message: string): never {
  console.error(`pack:check FAILED: ${message}`);
  process.exit(1);
}

function run(cmd: string[], cwd: string, env: Record<string, string | undefined> = process.env): string {
  console.log(`$ (cd ${cwd} && ${cmd.join(" ")})`);
  const r = Bun.spawnSync(cmd, { cwd, env, stdout: "pipe", stderr: "pipe" });
  const out = r.stdout.toString() + r.stderr.toString();
  if (out.trim()) console.log(out.trimEnd().replace(/^/gm, "  "));
  if (r.exitCode !== 0) fail(`${cmd.join(" ")} exited with ${r.exitCode}`);
  return r.stdout.toString();
}

// A user's `bun add` must never compile or download anything: the package has no install-time scripts.
const installHooks = ["preinstall", "install", "postinstall", "prepare"].filter((s) => pkg.scripts?.[s]);
if (installHooks.length) fail(`package.json has install-time scripts (${installHooks.join(", ")}); users get the prebuild`);

const work = mkdtempSync(join(tmpdir(), "quartet-pack-"));
try {
  // 1. Pack, exactly as a publish would.
  run(["bun", "pm", "pack", "--destination", work, "--ignore-scripts"], ROOT);
  const tarball = readdirSync(work).find((f) => f.endsWith(".tgz"));
  if (!tarball) fail(`bun pm pack wrote no tarball into ${work}`);
  const tarPath = join(work, tarball);
  console.log(`tarball ${tarball}: ${mib(Bun.file(tarPath).size)}`);

  // 2. What it holds: everything a user needs, nothing of the development tree.
  const listing = capture(["tar", "-tzvf", tarPath]);
  const entries = capture(["tar", "-tzf", tarPath])
    .split("\n")
    .filter(Boolean)
    .map((p) => p.replace(/^package\//, ""));
  const required = [
    "package.json",
    "README.md",
    "CMakeLists.txt",
    "cmake/source_hash.cmake",
    "csrc/include/quartet.h",
    "src/index.ts",
    "src/native/loader.ts",
    "src/native/source-hash.ts",
    `prebuilds/linux-x64/${LIBRARY_NAME}`,
    "prebuilds/linux-x64/manifest.json",
  ];
  const missing = required.filter((p) => !entries.includes(p));
  if (missing.length) fail(`the tarball lacks ${missing.join(", ")}`);
  const forbidden = entries.filter((p) => /^(build|test|scratch|node_modules|bench|\.ci|\.gpu|runs)\//.test(p));
  if (forbidden.length) fail(`the tarball holds development files: ${forbidden.slice(0, 10).join(", ")}`);
  const soLine = listing.split("\n").find((l) => l.endsWith(`prebuilds/linux-x64/${LIBRARY_NAME}`)) ?? "";
  const soBytes = Number(soLine.trim().split(/\s+/)[2]);
  if (!(soBytes > 0 && soBytes < MAX_LIBRARY_BYTES)) fail(`the packed library is ${soBytes} bytes (limit 10 MiB)`);
  console.log(`tarball holds ${entries.length} files; the library is ${mib(soBytes)}`);

  // 3. A fresh project that installs the tarball.
  const project = join(work, "user-project");
  capture(["mkdir", "-p", project]);
  writeFileSync(
    join(project, "package.json"),
    `${JSON.stringify({ name: "quartet-pack-check", private: true, type: "module" }, null, 2)}\n`,
  );
  run(["bun", "add", tarPath], project);

  // 4. Use it like a user: no QUARTET_LIB, so the loader must find the prebuild inside the package.
  writeFileSync(
    join(project, "check.ts"),
    `import { Tensor, buildInfo, dequantize, quantize } from "quartet-ii";

const info = buildInfo();
console.log("library:", info.path);
console.log("version:", info.version, "source hash:", info.source_hash);
console.log("cuda archs:", info.cuda.archs.join(" "), "(CUDA", info.cuda.version + ")");
if (!info.path.includes("node_modules/quartet-ii/prebuilds/")) throw new Error("not the packaged prebuild: " + info.path);

const data = new Float32Array(256).map((_, i) => Math.sin(i * 0.37) * (1 + (i % 16)));
const x = Tensor.fromFloat32(data, [16, 16]);
const q = quantize(x, { format: "nvfp4", rounding: "rtn" });
const codes = q.codes.toBytes();
const back = dequantize(q, { dtype: "f32" }).toFloat32Array();
let err = 0, norm = 0;
for (let i = 0; i < data.length; i++) { err += (back[i]! - data[i]!) ** 2; norm += data[i]! ** 2; }
const rel = Math.sqrt(err / norm);
console.log("quantized 16x16 on the CPU:", codes.length, "code bytes, relative RMS error", rel.toFixed(4));
if (codes.length !== 128) throw new Error("expected 128 bytes of packed E2M1 codes, got " + codes.length);
if (!(rel > 0 && rel < 0.2)) throw new Error("NVFP4 round trip error out of range: " + rel);
x.dispose();
q.dispose();
console.log("pack:check user project ok");
`,
  );
  const env = { ...process.env };
  delete env.QUARTET_LIB;
  run(["bun", "check.ts"], project, env);
  console.log(`pack:check ok: ${tarball} installs and runs from its prebuild`);
} finally {
  if (keep) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
