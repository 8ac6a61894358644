/** Training data: the embedded corpus, text files and folders, llm.c token shards, and batching. */
export { embeddedCorpus, textCorpus, EMBEDDED_CORPUS_PACKAGE, type Corpus, type Document } from "./corpus.ts";
export { loadTokenData, splitDocuments, tokenizeDocuments, EMBEDDED, type TokenData, type DataSpec } from "./source.ts";
export { readShard, writeShard, encodeShard, decodeShard, SHARD_MAGIC, SHARD_VERSION, type Shard } from "./shards.ts";
export { WindowSampler, validationBatches, unigramEntropy, unigramCrossEntropy, type Batch } from "./dataset.ts";
export { KeyedPermutation, hash32, uniform } from "./keyed_random.ts";
