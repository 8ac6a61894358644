/** `bun run bench [filter...]`: runs every bench/*.ts (those whose path contains a filter, when given), one
 * after another in its own process, and fails if any fails. Benchmarks print JSON lines and a closing table
 * (contract §5); CI never runs them. */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./prebuild-common.ts";

const filters = process.argv.slice(2);
const dir = join(ROOT, "bench");
let files: string[] = [];
try {
  files = readdirSync(dir)
    .filter((f) => f.endsWith(".ts") && !f.startsWith("_"))
    .sort()
    .map((f) => join("bench", f));
} catch {
  // no bench/ yet
}
files = files.filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error(`bench: no bench/*.ts${filters.length ? ` matching ${filters.join(", ")}` : ""}`);
  process.exit(1);
}
const failed: string[] = [];
for (const f of files) {
  console.error(`# bun ${f}`);
  const r = Bun.spawnSync(["bun", f], { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
  if (r.exitCode !== 0) failed.push(f);
}
if (failed.length) {
  console.error(`bench: ${failed.length} of ${files.length} failed: ${failed.join(", ")}`);
  process.exit(1);
}
