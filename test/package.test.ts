/** The package as users and CI see it: package.json fields, the prebuild manifest, the source hash rule,
 * and the spec copies under docs/spec/. */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { sourceHash, sourceHashFiles } from "../src/native/source-hash.ts";

const ROOT = resolve(import.meta.dir, "..");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as Record<string, unknown>;

describe("package.json", () => {
  test("is the ESM TypeScript package quartet-ii", () => {
    expect(pkg.name).toBe("quartet-ii");
    expect(pkg.type).toBe("module");
    expect(pkg.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(pkg.exports).toMatchObject({ ".": { types: "./src/index.ts", default: "./src/index.ts" } });
    expect(existsSync(join(ROOT, "src/index.ts"))).toBe(true);
  });

  test("ships what a user needs and nothing of the development tree", () => {
    const files = pkg.files as string[];
    for (const f of ["src", "prebuilds", "csrc", "cmake", "CMakeLists.txt", "README.md"]) expect(files).toContain(f);
    for (const f of ["build", "test", "scratch", "bench", "scripts", "node_modules"]) expect(files).not.toContain(f);
  });

  test("has no install-time scripts and no script that is an accidental pre/post hook", () => {
    const scripts = pkg.scripts as Record<string, string>;
    for (const s of ["preinstall", "install", "postinstall", "prepare", "prepack", "prepublishOnly"]) {
      expect(scripts[s]).toBeUndefined();
    }
    // npm and bun run "preX" before "X": `bun run build` must not start the 4-arch prebuild.
    for (const name of Object.keys(scripts)) {
      const m = /^(pre|post)(.+)$/.exec(name);
      if (m) expect({ hook: name, runsBefore: scripts[m[2]!] }).toEqual({ hook: name, runsBefore: undefined });
    }
    for (const s of ["prebuild", "prebuild:check", "test", "bench", "train"]) expect(scripts[s]).toBeString();
  });
});

describe("source hash", () => {
  test("covers CMakeLists.txt and every file under csrc/, sorted by bytes", () => {
    const files = sourceHashFiles(ROOT);
    expect(files).toContain("CMakeLists.txt");
    expect(files).toContain("csrc/include/quartet.h");
    expect(files.every((f) => f === "CMakeLists.txt" || f.startsWith("csrc/"))).toBe(true);
    const bytes = files.map((f) => Buffer.from(f));
    for (let i = 1; i < bytes.length; i++) expect(Buffer.compare(bytes[i - 1]!, bytes[i]!)).toBe(-1);
    expect(sourceHash(ROOT)).toMatch(/^[0-9a-f]{64}$/);
  });

  test("agrees with cmake/source_hash.cmake", () => {
    const cmake = Bun.which("cmake");
    if (!cmake) {
      console.warn("skipped: cmake not found");
      return;
    }
    const out = join(tmpdir(), `quartet-source-hash-${process.pid}.h`);
    const r = Bun.spawnSync([cmake, `-DROOT=${ROOT}`, `-DOUT=${out}`, "-P", join(ROOT, "cmake/source_hash.cmake")]);
    expect(r.exitCode).toBe(0);
    const header = readFileSync(out, "utf8");
    rmSync(out, { force: true });
    expect(header).toBe(`#define QUARTET_SOURCE_HASH "${sourceHash(ROOT)}"\n`);
  });
});

describe("prebuilds/linux-x64/manifest.json", () => {
  const path = join(ROOT, "prebuilds/linux-x64/manifest.json");
  test.skipIf(!existsSync(path))("parses and describes a CUDA prebuild under 10 MiB", () => {
    const m = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
    expect(m.source_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(m.archs).toEqual(["80", "90a", "100a", "120a"]);
    expect(m.cuda_version).toBeString();
    expect(Number.isNaN(Date.parse(m.built_at as string))).toBe(false);
    expect(m.size_bytes).toBeGreaterThan(0);
    expect(m.size_bytes).toBeLessThan(10 * 1024 * 1024);
    expect(Object.keys(m.files as object)).toContain("CMakeLists.txt");
  });
});

describe("docs/spec", () => {
  // CI clones the repository with shared/ beside it; the copies must follow the spec they quote.
  const shared = resolve(ROOT, "../shared/spec");
  for (const name of ["numerics.md", "contract.md"]) {
    test(`${name} is present${existsSync(shared) ? " and equal to ../shared/spec" : ""}`, () => {
      const copy = readFileSync(join(ROOT, "docs/spec", name), "utf8");
      expect(copy.length).toBeGreaterThan(1000);
      if (existsSync(join(shared, name))) {
        const same = copy === readFileSync(join(shared, name), "utf8");
        if (!same) throw new Error(`docs/spec/${name} differs from ../shared/spec/${name}: cp ../shared/spec/*.md docs/spec/`);
      }
    });
  }
});
