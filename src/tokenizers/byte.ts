/** Byte-level tokenizer: the UTF-8 bytes of the text are the tokens (vocab 256). Lossless, needs no data, and
 * is the default of the tiny preset. Documents are separated by a blank line, not a special id. */
import type { Tokenizer } from "./tokenizer.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

export class ByteTokenizer implements Tokenizer {
  readonly name = "byte" as const;
  readonly vocabSize = 256;
  readonly eot = null;

  encode(text: string): Uint16Array {
    return Uint16Array.from(encoder.encode(text));
  }

  /** Invalid UTF-8 (e.g. a sample cut inside a multi-byte character) decodes to U+FFFD. */
  decode(ids: ArrayLike<number>): string {
    const bytes = new Uint8Array(ids.length);
    for (let i = 0; i < ids.length; ++i) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id > 255) throw new RangeError(`ByteTokenizer.decode: id ${id} at ${i} is not in [0, 255]`);
      bytes[i] = id;
    }
    return decoder.decode(bytes);
  }
}
