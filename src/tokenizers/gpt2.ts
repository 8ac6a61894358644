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
  readonly #codec: Gpt2Codec;

  private constructor(codec: Gpt2Codec) {
    this.#codec = codec;
  }

  static async load(): Promise<Gpt2Tokenizer> {
    let codec: Gpt2Codec;
    try {
      // A variable specifier: projects that use quartet-ii without gpt-tokenizer still type-check.
      const specifier: string = GPT2_MODULE;
      codec = (await import(specifier)) as Gpt2Codec;
    } catch (e) {
      throw new Error(
        `the gpt2 tokenizer needs the npm package gpt-tokenizer (a development dependency of quartet-ii): ` +
          `run \`bun install\` in the repository, or \`bun add gpt-tokenizer\` in your project ` +
          `(${(e as Error).message})`,
      );
    }
    return new Gpt2Tokenizer(codec);
  }

  /** Special-token text inside the data is encoded as plain text, never as <|endoftext|>. */
  encode(text: string): Uint16Array {
    return Uint16Array.from(this.#codec.encode(text, { disallowedSpecial: new Set() }));
  }

  decode(ids: ArrayLike<number>): string {
    return this.#codec.decode(Array.from(ids));
  }
}
