/** The `bun run train` command: flags -> config -> train(), with --resume taking the run's own configuration
 * from its checkpoint (flags given on the command line still win, e.g. more --steps). Errors in the
 * configuration print one line naming the field and its range, and exit with status 2. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { LanguageModel, ModelConfig } from "../model/types.ts";
import { resolveResume } from "./checkpoint.ts";
import { ConfigError, helpText, parseFlags, readConfigFile, resolveConfig, type TrainConfig } from "./config.ts";
import { train, type TrainHooks } from "./trainer.ts";

/** Fields a resumed run cannot change: the weights, the data order or the batches would no longer fit. */
const FIXED_ON_RESUME = ["dModel", "nLayers", "nHeads", "mlpHidden", "seq", "batch", "gradAccum", "data", "tokenizer", "valFraction"] as const;
/** Fields whose change makes the resumed trajectory differ from an uninterrupted run (allowed, with a note). */
const TRAJECTORY = ["recipe", "seed", "steps", "lr", "schedule", "warmup", "minLrRatio", "startLrRatio", "beta1", "beta2", "eps", "weightDecay", "clip", "outlierZ", "outlierWindow"] as const;

export interface ResolvedRun {
  config: TrainConfig;
  /** the checkpoint folder to resume from, or null */
  resumeDir: string | null;
  notes: string[];
}

/** Resolves the command line into a config and, with --resume, the checkpoint folder. */
export function resolveRun(argv: readonly string[]): ResolvedRun | "help" {
  const f = parseFlags(argv);
  if (f.help) return "help";
  const fileName = f.configFile ? `--config ${f.configFile}` : "config file";
  const fileConfig = f.configFile ? readConfigFile(f.configFile) : {};
  const fresh = resolveConfig(fileConfig, f.values, fileName);
  if (f.resume === null) return { config: fresh, resumeDir: null, notes: [] };
  const resumeDir = resolveResume(f.resume, join(fresh.out, fresh.name));
  const saved = (JSON.parse(readFileSync(join(resumeDir, "state.json"), "utf8")) as { config: Record<string, unknown> }).config;
  const config = resolveConfig({ ...saved, ...fileConfig }, f.values, fileName);
  const notes: string[] = [];
  for (const k of FIXED_ON_RESUME)
    if (JSON.stringify(config[k]) !== JSON.stringify(saved[k]))
      throw new ConfigError(`--resume ${resumeDir}: ${k} was ${JSON.stringify(saved[k])} in the checkpoint and cannot change (asked: ${JSON.stringify(config[k])})`);
  const changed = TRAJECTORY.filter((k) => JSON.stringify(config[k]) !== JSON.stringify(saved[k]));
  if (changed.length)
    notes.push(`note: resuming with changed ${changed.map((k) => `${k} ${JSON.stringify(saved[k])} -> ${JSON.stringify(config[k])}`).join(", ")}: the trajectory will differ from an uninterrupted run`);
  return { config, resumeDir, notes };
}

/** Runs the command; returns the exit status. */
export async function main(argv: readonly string[], createModel: (c: ModelConfig) => LanguageModel, hooks: Partial<TrainHooks> = {}): Promise<number> {
  const err = (t: string) => void process.stderr.write(t);
  let run: ResolvedRun | "help";
  try {
    run = resolveRun(argv);
  } catch (e) {
    if (e instanceof ConfigError || (e instanceof Error && e.message.startsWith("--resume"))) {
      err(`error: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (run === "help") {
    process.stdout.write(`${helpText()}\n`);
    return 0;
  }
  for (const n of run.notes) err(`${n}\n`);
  try {
    await train(run.config, run.resumeDir, { createModel, ...hooks });
    return 0;
  } catch (e) {
    // Every failure a user can cause (data, device, divergence) carries a message that says what to do;
    // QUARTET_DEBUG=1 adds the stack for the rest.
    if (!(e instanceof Error)) throw e;
    err(`error: ${e.message}\n${process.env.QUARTET_DEBUG === "1" && e.stack ? `${e.stack}\n` : ""}`);
    return 1;
  }
}
