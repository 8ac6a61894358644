/** GPT-2 BPE (the r50k_base encoding, vocab 50257, <|endoftext|> = 50256) through the pure-JS package
 * gpt-tokenizer. It is a development dependency: loaded on demand, with a clear message when it is missing. */
import type { Tokenizer } from "./tokenizer.ts";

export const GPT2_VOCAB_SIZE = 50257;
export const GPT2_EOT = 50256;
const GPT2_MODULE = "gpt-tokenizer/encoding/r50k_base";

interface Gpt2Codec {
  encode(text: string, opts?: { allowedSpecial?: Set<string>; disallowedSpecial?: Set<string> }): number[];
  decode(ids: Iterable<number>): string;
}

export class Gpt2Tokenizer implements Tokenizer {
  readonly name = "gpt2" as const;
  readonly vocabSize = GPT2_VOCAB_SIZE;
  readonly eot = GPT2_EOT;
  readonly #codec: Gpt2Codec | null;
  readonly #missing: string;

  private constructor(codec: Gpt2Codec | null, missing = "") {
    this.#codec = codec;
    this.#missing = missing;
  }

  /** codecOptional: training on pre-tokenized shards needs only the vocabulary size, so a missing package is
   * an error only when text is encoded or decoded (e.g. on a GPU machine that carries shards, not packages). */
  static async load(opts: { codecOptional?: boolean } = {}): Promise<Gpt2Tokenizer> {
    try {
      // A variable specifier: projects that use quartet-ii without gpt-tokenizer still type-check.
      const specifier: string = GPT2_MODULE;
      return new Gpt2Tokenizer((await import(specifier)) as Gpt2Codec);
    } catch (e) {
      const message =
        `the gpt2 tokenizer needs the npm package gpt-tokenizer (a development dependency of quartet-ii): ` +
        `run \`bun install\` in the repository, or \`bun add gpt-tokenizer\` in your project ` +
        `(${(e as Error).message})`;
      if (opts.codecOptional) return new Gpt2Tokenizer(null, message);
      throw new Error(message);
    }
  }

  #need(): Gpt2Codec {
    if (!this.#codec) throw new Error(this.#missing);
    return this.#codec;
  }

  /** Special-token text inside the data is encoded as plain text, never as <|endoftext|>. */
  encode(text: string): Uint16Array {
    return Uint16Array.from(this.#need().encode(text, { disallowedSpecial: new Set() }));
  }

  decode(ids: ArrayLike<number>): string {
    return this.#need().decode(Array.from(ids));
  }
}
