/** `bun run pretokenize`: tokenizes text (the embedded corpus, a text file or a folder of text) into llm.c
 * token shards that `bun run train --data DIR` reads directly:
 *
 *   bun run pretokenize --tokenizer gpt2                      # embedded corpus -> runs/shards/sotu_gpt2/
 *   bun run pretokenize --data books/ --out shards/books --shard-tokens 50000000
 *
 * Output: <out>/<name>_val_000000.bin (the validation documents) and <out>/<name>_train_000001.bin, ... (the
 * training documents, at most --shard-tokens tokens each), the same split the trainer makes from the text. */
import { mkdirSync } from "node:fs";
import { basename, join } from "node:path";
import { EMBEDDED, loadTokenData } from "../src/data/source.ts";
import { writeShard } from "../src/data/shards.ts";
import { TOKENIZER_NAMES, type TokenizerName } from "../src/tokenizers/index.ts";

const USAGE =
  "usage: bun run pretokenize [--data embedded|PATH] [--tokenizer byte|gpt2] [--out DIR] [--name NAME] " +
  "[--shard-tokens N] [--val-fraction F]";

interface Options {
  data: string;
  tokenizer: TokenizerName;
  out: string | null;
  name: string | null;
  shardTokens: number;
  valFraction: number;
}

export function parsePretokenizeArgs(argv: readonly string[]): Options {
  const o: Options = { data: EMBEDDED, tokenizer: "byte", out: null, name: null, shardTokens: 100_000_000, valFraction: 0.05 };
  for (let i = 0; i < argv.length; ++i) {
    const flag = argv[i]!;
    if (flag === "--help" || flag === "-h") throw new Error(USAGE);
    const v = argv[i + 1];
    if (v === undefined || v.startsWith("--")) throw new Error(`${flag} needs a value\n${USAGE}`);
    ++i;
    switch (flag) {
      case "--data":
        o.data = v;
        break;
      case "--tokenizer":
        if (!(TOKENIZER_NAMES as readonly string[]).includes(v)) throw new Error(`--tokenizer must be one of ${TOKENIZER_NAMES.join(", ")}, got ${JSON.stringify(v)}`);
        o.tokenizer = v as TokenizerName;
        break;
      case "--out":
        o.out = v;
        break;
      case "--name":
        if (!/^[A-Za-z0-9._-]{1,100}$/.test(v)) throw new Error(`--name must be 1 to 100 characters from A-Z a-z 0-9 . _ -, got ${JSON.stringify(v)}`);
        o.name = v;
        break;
      case "--shard-tokens": {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1024 || n > 2 ** 31 - 1) throw new Error(`--shard-tokens must be an integer in [1024, 2147483647], got ${JSON.stringify(v)}`);
        o.shardTokens = n;
        break;
      }
      case "--val-fraction": {
        const n = Number(v);
        if (!(n > 0 && n <= 0.5)) throw new Error(`--val-fraction must be a number in (0, 0.5], got ${JSON.stringify(v)}`);
        o.valFraction = n;
        break;
      }
      default:
        throw new Error(`unknown flag ${flag}\n${USAGE}`);
    }
  }
  return o;
}

/** Writes the shards; returns their paths. */
export async function pretokenize(o: Options, log: (s: string) => void = () => {}): Promise<string[]> {
  const data = await loadTokenData({ data: o.data, tokenizer: o.tokenizer, valFraction: o.valFraction });
  const name = o.name ?? (o.data === EMBEDDED ? "sotu" : basename(o.data).replace(/\.[^.]*$/, "").replace(/[^A-Za-z0-9._-]/g, "_") || "data");
  const out = o.out ?? join("runs", "shards", `${name}_${data.tokenizer.name}`);
  mkdirSync(out, { recursive: true });
  const files: string[] = [];
  const write = (split: string, index: number, tokens: Uint16Array) => {
    const path = join(out, `${name}_${split}_${String(index).padStart(6, "0")}.bin`);
    writeShard(path, tokens, data.tokenizer.name);
    files.push(path);
    log(`wrote ${path} (${tokens.length.toLocaleString("en-US")} tokens)`);
  };
  write("val", 0, data.val);
  for (let i = 0, shard = 1; i < data.train.length; i += o.shardTokens, ++shard) write("train", shard, data.train.subarray(i, i + o.shardTokens));
  log(`${data.description}\n${files.length} shards in ${out}; train with: bun run train --data ${out}`);
  return files;
}

if (import.meta.main) {
  try {
    await pretokenize(parsePretokenizeArgs(process.argv.slice(2)), (s) => console.log(s));
  } catch (e) {
    console.error((e as Error).message);
    process.exitCode = 2;
  }
}
