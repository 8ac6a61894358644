/** The trainer's configuration: preset < config file < flags; a bad value names the field, its allowed range
 * and where it came from; unknown flags and fields are refused; the presets match the papers. */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, helpText, parseCommandLine, parseFlags, resolveConfig, RULES } from "../../src/train/config.ts";
import { nonEmbeddingParams, presetValues } from "../../src/train/presets.ts";

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("expected a ConfigError");
}

function jsonFile(value: unknown): string {
  const p = join(mkdtempSync(join(tmpdir(), "quartet-config-")), "run.json");
  writeFileSync(p, typeof value === "string" ? value : JSON.stringify(value));
  return p;
}

describe("defaults and precedence", () => {
  test("no flags: preset tiny, recipe quartet2, the embedded corpus, device auto", () => {
    const c = parseCommandLine([]).config;
    expect(c).toMatchObject({ preset: "tiny", recipe: "quartet2", data: "embedded", device: "auto", name: "tiny-quartet2-s0", out: "runs" });
    expect(c.beta1).toBe(0.9);
    expect(c.beta2).toBe(0.95);
    expect(c.weightDecay).toBe(0.1);
    expect(c.clip).toBe(1);
    expect(c.schedule).toBe("onecycle");
  });

  test("a config file overrides the preset and flags override the file", () => {
    const file = jsonFile({ steps: 77, lr: 0.002, seed: 4 });
    const c = parseCommandLine(["--config", file, "--lr", "0.005", "--batch=16"]).config;
    expect(c.steps).toBe(77);
    expect(c.lr).toBe(0.005);
    expect(c.batch).toBe(16);
    expect(c.name).toBe("tiny-quartet2-s4");
  });

  test("the papers' presets: shapes, LR by recipe, 512 x 512 tokens per step, D = 100 N", () => {
    const p30 = presetValues("30M", "quartet2");
    expect(nonEmbeddingParams(p30)).toBe(30_482_560);
    expect(p30.seq * p30.batch * p30.gradAccum).toBe(262_144);
    expect(p30.steps).toBe(Math.round((30_482_560 * 100) / 262_144));
    expect(presetValues("200M", "quartet2").lr).toBe(7.2e-4);
    expect(presetValues("200M", "quartet1").lr).toBe(3.0e-4);
    expect(nonEmbeddingParams(presetValues("100M", "bf16"))).toBe(102_777_856);
    const c = parseCommandLine(["--preset", "100M", "--recipe", "quartet1"]).config;
    expect(c.lr).toBe(6.0e-4);
    expect(c.tokenizer).toBe("gpt2");
  });

  test("--resume with and without a path; --help", () => {
    expect(parseCommandLine(["--resume"]).resume).toBe(true);
    expect(parseCommandLine(["--resume", "runs/a", "--steps", "5"]).resume).toBe("runs/a");
    expect(parseCommandLine(["--resume=runs/b"]).resume).toBe("runs/b");
    expect(parseFlags(["--help"]).help).toBe(true);
    const help = helpText();
    for (const r of Object.values(RULES)) expect(help).toContain(r.flag);
  });
});

describe("bad configurations name the field and the allowed range", () => {
  const cases: [string[], string][] = [
    [["--steps", "0"], "--steps: steps must be an integer in [1, 100000000], got 0"],
    [["--steps", "1.5"], "--steps: steps must be an integer in [1, 100000000], got 1.5"],
    [["--steps", "many"], '--steps: steps must be an integer in [1, 100000000], got "many"'],
    [["--lr", "0"], "--lr: lr must be a number in (0, 1], got 0"],
    [["--lr", "-1e-3"], "--lr: lr must be a number in (0, 1], got -0.001"],
    [["--batch", "0"], "--batch: batch must be an integer in [1, 65536], got 0"],
    [["--seq", "100000"], "--seq: seq must be an integer in [8, 65536], got 100000"],
    [["--recipe", "fp8"], '--recipe: recipe must be one of "bf16", "quartet2", "nvidia", "tetrajet2", "quartet1", got "fp8"'],
    [["--preset", "1B"], '--preset: preset must be one of "tiny", "30M", "50M", "100M", "200M", got "1B"'],
    [["--device", "tpu"], '--device: device must be one of "auto", "cpu", "cuda", got "tpu"'],
    [["--tokenizer", "llama"], '--tokenizer: tokenizer must be one of "byte", "gpt2", got "llama"'],
    [["--seed", "-1"], "--seed: seed must be an integer in [0, 4294967295], got -1"],
    [["--beta2", "1"], "--beta2: beta2 must be a number in [0, 1), got 1"],
    [["--warmup", "1"], "--warmup: warmup must be a number in [0, 1), got 1"],
    [["--keep", "0"], "--keep: keep must be an integer in [1, 10000], got 0"],
    [["--eval-every", "-5"], "--eval-every: evalEvery must be an integer in [0, 100000000], got -5"],
    [["--name", "a/b"], '--name: name must be 1 to 100 characters from A-Z a-z 0-9 . _ -, got "a/b"'],
    [["--val-fraction", "0.9"], "--val-fraction: valFraction must be a number in (0, 0.5], got 0.9"],
  ];
  for (const [argv, message] of cases)
    test(argv.join(" "), () => {
      expect(configError(() => parseCommandLine(argv))).toBe(message);
    });

  test("a bad value in the config file names the file", () => {
    const file = jsonFile({ steps: -3 });
    expect(configError(() => parseCommandLine(["--config", file]))).toBe(`--config ${file}: steps must be an integer in [1, 100000000], got -3`);
  });

  test("unknown flags and fields, a flag without a value, a broken file", () => {
    expect(configError(() => parseCommandLine(["--stpes", "5"]))).toContain("unknown flag --stpes; known flags:");
    expect(configError(() => parseCommandLine(["--steps"]))).toBe("--steps needs a value (see --help)");
    expect(configError(() => parseCommandLine(["steps"]))).toContain('unexpected argument "steps"');
    const file = jsonFile({ stepz: 5 });
    expect(configError(() => parseCommandLine(["--config", file]))).toContain('unknown field "stepz"');
    expect(configError(() => parseCommandLine(["--config", jsonFile("{ nope")]))).toContain("not valid JSON");
    expect(configError(() => parseCommandLine(["--config", jsonFile([1, 2])]))).toContain("must hold a JSON object");
    expect(configError(() => parseCommandLine(["--config", "/nonexistent.json"]))).toContain("cannot read the file");
  });

  test("cross-field rules: head dim, Quartet II's multiples of 128, lr * weightDecay", () => {
    expect(configError(() => resolveConfig({}, { dModel: 128, nHeads: 3 }))).toContain("dModel (128) must be a multiple of nHeads (3)");
    expect(configError(() => resolveConfig({}, { mlpHidden: 200 }))).toBe("recipe quartet2 needs mlpHidden to be a multiple of 128 (its Hadamard dimension), got 200");
    expect(configError(() => resolveConfig({}, { batch: 3, seq: 40 }))).toContain("batch * seq (tokens per micro-batch) to be a multiple of 128, got 3 * 40 = 120");
    expect(resolveConfig({}, { batch: 3, seq: 40, recipe: "bf16" }).batch).toBe(3);
    expect(configError(() => resolveConfig({}, { lr: 1, weightDecay: 1 }))).toContain("lr * weightDecay must be < 1");
  });
});
