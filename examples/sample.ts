/** Text from a trained checkpoint: greedy by default, top-k sampling with --top-k K (and --temperature).
 *
 *   bun examples/sample.ts --checkpoint runs/tiny-quartet2-s0 --prompt "The state of the Union" --tokens 300
 *
 * --checkpoint takes a run folder (its newest checkpoint), a checkpoints/ folder or one step-N folder. */
import { cudaAvailable } from "../src/info.ts";
import { createLlama } from "../src/model/llama.ts";
import { loadTokenizer, type TokenizerName } from "../src/tokenizers/index.ts";
import { loadCheckpoint, resolveResume } from "../src/train/checkpoint.ts";
import { generate, modelFromCheckpoint } from "../src/train/sample.ts";
import { modelVocab } from "../src/train/trainer.ts";

const USAGE = `usage: bun examples/sample.ts --checkpoint PATH [--prompt TEXT] [--tokens N] [--top-k K] [--temperature T] [--seed S] [--device cpu|cuda]`;

function parse(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const known = ["--checkpoint", "--prompt", "--tokens", "--top-k", "--temperature", "--seed", "--device"];
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i]!;
    if (a === "--help" || a === "-h") throw new Error(USAGE);
    if (!known.includes(a)) throw new Error(`unknown argument ${a}\n${USAGE}`);
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${a} needs a value\n${USAGE}`);
    out[a.slice(2)] = v;
    ++i;
  }
  if (!out.checkpoint) throw new Error(`--checkpoint is required\n${USAGE}`);
  return out;
}

function number(args: Record<string, string>, key: string, fallback: number, ok: (n: number) => boolean, range: string): number {
  if (args[key] === undefined) return fallback;
  const n = Number(args[key]);
  if (!Number.isFinite(n) || !ok(n)) throw new Error(`--${key} must be ${range}, got ${JSON.stringify(args[key])}`);
  return n;
}

try {
  const args = parse(process.argv.slice(2));
  const dir = resolveResume(args.checkpoint!, args.checkpoint!);
  const ck = loadCheckpoint(dir);
  const tokenizer = await loadTokenizer(ck.state.data.tokenizer as TokenizerName);
  const device = args.device === "cuda" || (args.device === undefined && cudaAvailable()) ? "cuda" : "cpu";
  const maxNewTokens = number(args, "tokens", 200, (n) => Number.isInteger(n) && n >= 1 && n <= 100000, "an integer in [1, 100000]");
  const topK = number(args, "top-k", 1, (n) => Number.isInteger(n) && n >= 1, "an integer >= 1");
  const temperature = number(args, "temperature", 1, (n) => n > 0 && n <= 100, "a number in (0, 100]");
  const seed = number(args, "seed", 0, (n) => Number.isInteger(n) && n >= 0 && n < 2 ** 32, "an integer in [0, 2^32)");
  const model = modelFromCheckpoint(ck, createLlama, { device, vocabSize: modelVocab(tokenizer.vocabSize) });
  const prompt = Array.from(tokenizer.encode(args.prompt ?? ""));
  if (tokenizer.eot !== null) prompt.unshift(tokenizer.eot);
  const ids = generate(model, prompt, {
    maxNewTokens,
    topK,
    temperature,
    seed,
    vocabSize: tokenizer.vocabSize,
    padToken: tokenizer.eot ?? 32,
    stopToken: tokenizer.eot,
  });
  model[Symbol.dispose]();
  process.stdout.write(`${args.prompt ?? ""}${tokenizer.decode(ids.filter((t) => t !== tokenizer.eot))}\n`);
  process.stderr.write(`(${dir}, step ${ck.state.step}, ${topK === 1 ? "greedy" : `top-${topK} at temperature ${temperature}, seed ${seed}`})\n`);
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exitCode = 2;
}
