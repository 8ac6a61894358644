/** The trainer's configuration: defaults from a preset, then a JSON config file, then command-line flags, all
 * validated by one zod schema. A bad value is refused with the field's name, the allowed range and the source
 * that set it (e.g. `--steps 0: steps must be an integer in [1, 100000000], got 0`). */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { RECIPES, type Recipe } from "../linear.ts";
import { TOKENIZER_NAMES } from "../tokenizers/tokenizer.ts";
import { PRESET_NAMES, presetValues, type PresetName } from "./presets.ts";

export const SCHEDULES = ["onecycle", "cosine", "constant"] as const;
export type ScheduleName = (typeof SCHEDULES)[number];
export const DEVICES = ["auto", "cpu", "cuda"] as const;

const U32_MAX = 2 ** 32 - 1;

/** One rule per field: the schema and the words used when a value breaks it. */
interface Rule<S extends z.ZodType = z.ZodType> {
  schema: S;
  allowed: string;
  flag: string;
  help: string;
}

const int = (min: number, max: number) => z.number().int().min(min).max(max);
const intRule = (min: number, max: number, flag: string, help: string): Rule<ReturnType<typeof int>> => ({
  schema: int(min, max),
  allowed: `an integer in [${min}, ${max}]`,
  flag,
  help,
});
const enumText = (values: readonly string[]) => values.map((v) => JSON.stringify(v)).join(", ");

export const RULES = {
  preset: { schema: z.enum(PRESET_NAMES), allowed: `one of ${enumText(PRESET_NAMES)}`, flag: "--preset", help: "model size and training defaults" },
  name: {
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/),
    allowed: "1 to 100 characters from A-Z a-z 0-9 . _ -",
    flag: "--name",
    help: "run name: the run is written to <out>/<name>/ (default <preset>-<recipe>-s<seed>)",
  },
  out: { schema: z.string().min(1), allowed: "a non-empty path", flag: "--out", help: "folder holding the runs (default runs)" },
  recipe: { schema: z.enum(RECIPES), allowed: `one of ${enumText(RECIPES)}`, flag: "--recipe", help: "linear-layer recipe (quartet2 = Quartet II)" },
  edenVariant: { schema: z.enum(["A", "B"]), allowed: 'one of "A", "B"', flag: "--eden-variant", help: "quartet2: MS-EDEN variant of the backward (B = post-hoc range alignment, A = the paper's form)" },
  amax: { schema: z.enum(["current", "delayed"]), allowed: 'one of "current", "delayed"', flag: "--amax", help: "quartet2 with --eden-variant A: current or previous step's abs-max of E and E^T (kept in checkpoints)" },
  device: { schema: z.enum(DEVICES), allowed: `one of ${enumText(DEVICES)}`, flag: "--device", help: "auto = cuda when a GPU is present, else cpu" },
  threads: intRule(0, 1024, "--threads", "CPU threads of the native library (0 = all cores)"),
  seed: intRule(0, U32_MAX, "--seed", "seeds the initialization, the data order and every quantizer draw"),
  dModel: intRule(16, 65536, "--d-model", "model width"),
  nLayers: intRule(1, 1024, "--layers", "number of transformer blocks"),
  nHeads: intRule(1, 1024, "--heads", "attention heads (head dim = d-model / heads)"),
  mlpHidden: intRule(16, 262144, "--mlp-hidden", "SwiGLU hidden size"),
  seq: intRule(8, 65536, "--seq", "sequence length (tokens)"),
  batch: intRule(1, 65536, "--batch", "micro-batch size (sequences per forward/backward)"),
  gradAccum: intRule(1, 65536, "--grad-accum", "micro-batches per optimizer step"),
  steps: intRule(1, 100_000_000, "--steps", "optimizer steps"),
  lr: { schema: z.number().gt(0).max(1), allowed: "a number in (0, 1]", flag: "--lr", help: "peak learning rate" },
  schedule: { schema: z.enum(SCHEDULES), allowed: `one of ${enumText(SCHEDULES)}`, flag: "--schedule", help: "onecycle = the papers' (LR/100 -> cosine warm-up -> cosine to LR/10); cosine = linear warm-up + cosine" },
  warmup: { schema: z.number().min(0).lt(1), allowed: "a number in [0, 1)", flag: "--warmup", help: "warm-up length as a fraction of the steps (default 0.1)" },
  minLrRatio: { schema: z.number().min(0).max(1), allowed: "a number in [0, 1]", flag: "--min-lr-ratio", help: "final LR / peak LR (default 0.1)" },
  startLrRatio: { schema: z.number().min(0).max(1), allowed: "a number in [0, 1]", flag: "--start-lr-ratio", help: "onecycle: initial LR / peak LR (default 0.01)" },
  beta1: { schema: z.number().min(0).lt(1), allowed: "a number in [0, 1)", flag: "--beta1", help: "AdamW beta1 (default 0.9)" },
  beta2: { schema: z.number().min(0).lt(1), allowed: "a number in [0, 1)", flag: "--beta2", help: "AdamW beta2 (default 0.95)" },
  eps: { schema: z.number().gt(0).max(1), allowed: "a number in (0, 1]", flag: "--eps", help: "AdamW epsilon (default 1e-8)" },
  weightDecay: { schema: z.number().min(0).max(1), allowed: "a number in [0, 1]", flag: "--weight-decay", help: "decoupled weight decay on linear weights (default 0.1)" },
  clip: { schema: z.number().min(0).max(1e6), allowed: "a number in [0, 1000000] (0 = off)", flag: "--clip", help: "gradient clipping by global norm (default 1.0)" },
  evalEvery: intRule(0, 100_000_000, "--eval-every", "validation loss every N steps (0 = at the end only)"),
  evalBatches: intRule(1, 100_000, "--eval-batches", "validation batches per evaluation"),
  checkpointEvery: intRule(0, 100_000_000, "--checkpoint-every", "checkpoint every N steps (0 = at the end only)"),
  keep: intRule(1, 10_000, "--keep", "checkpoints kept (the newest N)"),
  logEvery: intRule(1, 1_000_000, "--log-every", "progress line every N steps when stdout is not a terminal"),
  data: { schema: z.string().min(1), allowed: 'a path or "embedded"', flag: "--data", help: "embedded | text file | folder of text | .bin shard | folder of shards" },
  tokenizer: {
    schema: z.enum(TOKENIZER_NAMES).nullable(),
    allowed: `one of ${enumText(TOKENIZER_NAMES)}`,
    flag: "--tokenizer",
    help: "byte (built in) or gpt2 (gpt-tokenizer); default: byte for text, the shards' own",
  },
  valFraction: { schema: z.number().gt(0).max(0.5), allowed: "a number in (0, 0.5]", flag: "--val-fraction", help: "share of the data held out for validation" },
  outlierZ: { schema: z.number().min(0).max(1e6), allowed: "a number in [0, 1000000] (0 = off)", flag: "--outlier-z", help: "skip a step whose loss or gradient-norm z-score exceeds this" },
  outlierWindow: intRule(4, 100_000, "--outlier-window", "steps in the outlier statistics"),
  maxBadSteps: intRule(1, 100_000, "--max-bad-steps", "consecutive non-finite steps before the run stops"),
  sampleTokens: intRule(0, 100_000, "--sample-tokens", "tokens of the greedy sample printed at the end (0 = none)"),
} satisfies Record<string, Rule>;

export type ConfigKey = keyof typeof RULES;

export const TrainConfigSchema = z
  .object(Object.fromEntries(Object.entries(RULES).map(([k, r]) => [k, r.schema])) as { [K in ConfigKey]: (typeof RULES)[K]["schema"] })
  .strict();
export type TrainConfig = z.infer<typeof TrainConfigSchema>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Defaults shared by every preset. */
const COMMON_DEFAULTS = {
  out: "runs",
  recipe: "quartet2" as Recipe,
  edenVariant: "B" as const,
  amax: "current" as const,
  device: "auto" as const,
  threads: 0,
  seed: 0,
  warmup: 0.1,
  minLrRatio: 0.1,
  startLrRatio: 0.01,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  weightDecay: 0.1,
  clip: 1.0,
  keep: 3,
  data: "embedded",
  valFraction: 0.05,
  outlierZ: 8,
  outlierWindow: 50,
  maxBadSteps: 5,
  sampleTokens: 200,
};

type Source = "preset" | "config file" | "flag";
export type RawConfig = Record<string, unknown>;

/** What the command line asked for beyond the config itself. */
export interface Invocation {
  config: TrainConfig;
  /** --resume: a run folder or a checkpoint folder; true = this run's newest checkpoint; null = fresh run */
  resume: string | true | null;
  help: boolean;
}

const FLAG_TO_KEY: Record<string, ConfigKey> = Object.fromEntries(
  (Object.entries(RULES) as [ConfigKey, Rule][]).map(([k, r]) => [r.flag, k]),
);

function describeValue(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : v === undefined ? "nothing" : JSON.stringify(v) ?? String(v);
}

/** Parses flag values: numbers for numeric fields, null for `--tokenizer auto`, the raw string otherwise (so a
 * bad value reaches the schema and is reported with its range). */
function flagValue(key: ConfigKey, text: string): unknown {
  const numeric = RULES[key].allowed.startsWith("an integer") || RULES[key].allowed.startsWith("a number");
  if (numeric) {
    const n = Number(text);
    return text.trim() !== "" && Number.isFinite(n) ? n : text;
  }
  if (key === "tokenizer" && text === "auto") return null;
  return text;
}

/** Splits argv into config values (by flag), --config, --resume and --help. */
export function parseFlags(argv: readonly string[]): { values: RawConfig; configFile: string | null; resume: string | true | null; help: boolean } {
  const values: RawConfig = {};
  let configFile: string | null = null;
  let resume: string | true | null = null;
  let help = false;
  for (let i = 0; i < argv.length; ++i) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") {
      help = true;
      continue;
    }
    if (!arg.startsWith("--")) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)}: flags look like --steps 100 (see --help)`);
    const eq = arg.indexOf("=");
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    const inline = eq >= 0 ? arg.slice(eq + 1) : null;
    const next = () => {
      if (inline !== null) return inline;
      const v = argv[i + 1];
      if (v === undefined || v.startsWith("--")) throw new ConfigError(`${flag} needs a value (see --help)`);
      ++i;
      return v;
    };
    if (flag === "--resume") {
      if (inline !== null) resume = inline;
      else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith("--")) resume = argv[++i]!;
      else resume = true;
      continue;
    }
    if (flag === "--config") {
      configFile = next();
      continue;
    }
    const key = FLAG_TO_KEY[flag];
    if (!key) throw new ConfigError(`unknown flag ${flag}; known flags: --config, --resume, ${Object.keys(FLAG_TO_KEY).join(", ")}`);
    values[key] = flagValue(key, next());
  }
  return { values, configFile, resume, help };
}

export function readConfigFile(path: string): RawConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`--config ${path}: cannot read the file (${(e as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`--config ${path}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ConfigError(`--config ${path}: must hold a JSON object of config fields`);
  return value as RawConfig;
}

/** Merges preset < config file < flags and validates. `fileConfig` and `flags` are raw (unvalidated) objects. */
export function resolveConfig(fileConfig: RawConfig, flags: RawConfig, fileName = "config file"): TrainConfig {
  const sources = new Map<string, Source>();
  const layer = (into: RawConfig, from: RawConfig, src: Source) => {
    for (const [k, v] of Object.entries(from)) {
      into[k] = v;
      sources.set(k, src);
    }
  };
  // The preset and the recipe pick the defaults (the papers' LR depends on the recipe), so resolve them first.
  const presetName = (flags.preset ?? fileConfig.preset ?? "tiny") as PresetName;
  const recipe = (flags.recipe ?? fileConfig.recipe ?? COMMON_DEFAULTS.recipe) as Recipe;
  const base: RawConfig = {};
  const presetOk = (PRESET_NAMES as readonly string[]).includes(presetName as string);
  const recipeOk = (RECIPES as readonly string[]).includes(recipe as string);
  if (presetOk) layer(base, { ...COMMON_DEFAULTS, ...presetValues(presetName, recipeOk ? recipe : "quartet2"), preset: presetName }, "preset");
  layer(base, fileConfig, "config file");
  layer(base, flags, "flag");
  if (base.name === undefined && presetOk) {
    base.name = `${presetName}-${String(base.recipe)}-s${String(base.seed)}`;
    sources.set("name", "preset");
  }
  const parsed = TrainConfigSchema.safeParse(base);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.code === "unrecognized_keys") {
      const key = (issue as { keys: string[] }).keys[0]!;
      throw new ConfigError(`${fileName}: unknown field ${JSON.stringify(key)}; known fields: ${Object.keys(RULES).join(", ")}`);
    }
    const key = String(issue.path[0] ?? "") as ConfigKey;
    const rule = RULES[key];
    if (!rule) throw new ConfigError(`config: ${issue.message}`);
    const src = sources.get(key);
    const where = src === "flag" ? `${rule.flag}: ` : src === "config file" ? `${fileName}: ` : "";
    throw new ConfigError(`${where}${key} must be ${rule.allowed}, got ${describeValue(base[key])}`);
  }
  const c = parsed.data;
  // Cross-field rules.
  if (c.dModel % c.nHeads !== 0)
    throw new ConfigError(`dModel (${c.dModel}) must be a multiple of nHeads (${c.nHeads}): the head dim is dModel / nHeads`);
  if ((c.dModel / c.nHeads) % 2 !== 0) throw new ConfigError(`the head dim dModel / nHeads = ${c.dModel / c.nHeads} must be even (RoPE rotates pairs)`);
  if (c.amax === "delayed" && c.edenVariant !== "A")
    throw new ConfigError(`--amax delayed needs --eden-variant A (variant B has no abs-max pass), got --eden-variant ${c.edenVariant}`);
  if (c.recipe === "quartet2") {
    for (const [k, v] of [["dModel", c.dModel], ["mlpHidden", c.mlpHidden]] as const)
      if (v % 128 !== 0) throw new ConfigError(`recipe quartet2 needs ${k} to be a multiple of 128 (its Hadamard dimension), got ${v}`);
    if ((c.batch * c.seq) % 128 !== 0)
      throw new ConfigError(`recipe quartet2 needs batch * seq (tokens per micro-batch) to be a multiple of 128, got ${c.batch} * ${c.seq} = ${c.batch * c.seq}`);
  }
  if (c.lr * c.weightDecay >= 1) throw new ConfigError(`lr * weightDecay must be < 1, got ${c.lr} * ${c.weightDecay}`);
  return c;
}

/** Reads the command line: flags, --config FILE, --resume [PATH], --help. */
export function parseCommandLine(argv: readonly string[]): Invocation {
  const f = parseFlags(argv);
  const fileConfig = f.configFile ? readConfigFile(f.configFile) : {};
  return { config: resolveConfig(fileConfig, f.values, f.configFile ? `--config ${f.configFile}` : "config file"), resume: f.resume, help: f.help };
}

/** The --help text. */
export function helpText(command = "bun run train"): string {
  const rows = (Object.entries(RULES) as [ConfigKey, Rule][]).map(([k, r]) => `  ${r.flag.padEnd(20)} ${r.help}\n  ${"".padEnd(20)} (${k}: ${r.allowed})`);
  return [
    `usage: ${command} [flags]`,
    "",
    "Trains a Llama-style model with fully-quantized linear layers (default: preset tiny, recipe quartet2, the",
    "embedded corpus, CPU unless a GPU is present). Writes <out>/<name>/{metrics.jsonl, loss.svg, summary.json,",
    "checkpoints/}. Precedence: preset < --config file (JSON, same field names) < flags.",
    "",
    "  --config FILE        JSON object of config fields (camelCase names, as in parentheses below)",
    "  --resume [PATH]      continue from the newest checkpoint of this run, of a run folder, or a checkpoint folder",
    ...rows,
  ].join("\n");
}
