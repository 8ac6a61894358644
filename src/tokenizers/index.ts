/** Tokenizers: byte-level (built in) and GPT-2 BPE (through gpt-tokenizer, loaded on demand). */
import { ByteTokenizer } from "./byte.ts";
import { Gpt2Tokenizer } from "./gpt2.ts";
import { TOKENIZER_NAMES, type Tokenizer, type TokenizerName } from "./tokenizer.ts";

export { ByteTokenizer } from "./byte.ts";
export { Gpt2Tokenizer, GPT2_EOT, GPT2_VOCAB_SIZE } from "./gpt2.ts";
export { TOKENIZER_NAMES, type Tokenizer, type TokenizerName } from "./tokenizer.ts";

export async function loadTokenizer(name: TokenizerName, opts: { codecOptional?: boolean } = {}): Promise<Tokenizer> {
  switch (name) {
    case "byte":
      return new ByteTokenizer();
    case "gpt2":
      return Gpt2Tokenizer.load(opts);
    default:
      throw new Error(`unknown tokenizer ${JSON.stringify(name)}: expected one of ${TOKENIZER_NAMES.join(", ")}`);
  }
}
