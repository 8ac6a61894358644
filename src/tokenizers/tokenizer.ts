/** The tokenizer contract of the trainer: text <-> token ids. Token ids must fit in uint16 (llm.c shards). */
export const TOKENIZER_NAMES = ["byte", "gpt2"] as const;
export type TokenizerName = (typeof TOKENIZER_NAMES)[number];

export interface Tokenizer {
  readonly name: TokenizerName;
  /** number of distinct ids the tokenizer can emit (ids are 0 .. vocabSize-1) */
  readonly vocabSize: number;
  /** the id that separates documents, or null when documents are joined with plain text */
  readonly eot: number | null;
  encode(text: string): Uint16Array;
  decode(ids: ArrayLike<number>): string;
}
