/** Resolves the trainer's --data into train and validation token arrays: the embedded corpus, a text file or
 * folder, or llm.c .bin shards (a file, or a folder whose *val* shards are the validation split). */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadTokenizer, type Tokenizer, type TokenizerName } from "../tokenizers/index.ts";
import { embeddedCorpus, textCorpus, type Corpus, type Document } from "./corpus.ts";
import { fingerprintTokens } from "./keyed_random.ts";
import { readShard } from "./shards.ts";

export const EMBEDDED = "embedded";

export interface TokenData {
  train: Uint16Array;
  val: Uint16Array;
  tokenizer: Tokenizer;
  description: string;
  /** fingerprints of the two splits, recorded in checkpoints */
  fingerprint: { train: string; val: string };
}

export interface DataSpec {
  /** "embedded", a text file or folder, a .bin shard, or a folder of shards */
  data: string;
  /** null = the source's default (byte for text, the shard header's, else gpt2, for shards) */
  tokenizer: TokenizerName | null;
  /** share of the data held out for validation (by document when there are >= 10 documents) */
  valFraction: number;
}

/** The documents of the validation split: every k-th document (k = round(1 / valFraction)), spread evenly
 * over the corpus; null when there are too few documents for that (the split is then made on tokens). */
export function splitDocuments(docs: Document[], valFraction: number): { train: Document[]; val: Document[] } | null {
  const k = Math.max(2, Math.round(1 / valFraction));
  if (docs.length < 10 || docs.length < k) return null;
  const train: Document[] = [], val: Document[] = [];
  docs.forEach((d, i) => (i % k === k - 1 ? val : train).push(d));
  return { train, val };
}

/** Tokens of the documents, each preceded by the tokenizer's end-of-text id (llm.c's layout) or, for
 * tokenizers without one, followed by a blank line. */
export function tokenizeDocuments(docs: Document[], tokenizer: Tokenizer): Uint16Array {
  const parts: Uint16Array[] = [];
  let total = 0;
  for (const d of docs) {
    const ids = tokenizer.eot === null ? tokenizer.encode(`${d.text}\n\n`) : tokenizer.encode(d.text);
    if (tokenizer.eot !== null) {
      parts.push(Uint16Array.of(tokenizer.eot));
      total += 1;
    }
    parts.push(ids);
    total += ids.length;
  }
  const out = new Uint16Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Splits one token array: the last valFraction of it is the validation split. */
export function splitTokens(tokens: Uint16Array, valFraction: number): { train: Uint16Array; val: Uint16Array } {
  const nVal = Math.max(1, Math.floor(tokens.length * valFraction));
  return { train: tokens.subarray(0, tokens.length - nVal), val: tokens.subarray(tokens.length - nVal) };
}

function concat(arrays: Uint16Array[]): Uint16Array {
  const out = new Uint16Array(arrays.reduce((n, a) => n + a.length, 0));
  let off = 0;
  for (const a of arrays) {
    out.set(a, off);
    off += a.length;
  }
  return out;
}

function isShardPath(path: string): boolean {
  if (!existsSync(path)) return false;
  if (statSync(path).isDirectory()) return readdirSync(path).some((f) => f.endsWith(".bin"));
  return path.endsWith(".bin");
}

async function fromCorpus(corpus: Corpus, spec: DataSpec): Promise<TokenData> {
  const tokenizer = await loadTokenizer(spec.tokenizer ?? "byte");
  const byDoc = splitDocuments(corpus.documents, spec.valFraction);
  const split = byDoc
    ? { train: tokenizeDocuments(byDoc.train, tokenizer), val: tokenizeDocuments(byDoc.val, tokenizer) }
    : splitTokens(tokenizeDocuments(corpus.documents, tokenizer), spec.valFraction);
  const how = byDoc ? `${byDoc.val.length} of ${corpus.documents.length} documents held out` : `last ${spec.valFraction} of tokens held out`;
  return finish(split.train, split.val, tokenizer, `${corpus.description}; ${tokenizer.name} tokens; ${how}`);
}

async function fromShards(path: string, spec: DataSpec): Promise<TokenData> {
  const isDir = statSync(path).isDirectory();
  const files = isDir ? readdirSync(path).filter((f) => f.endsWith(".bin")).sort().map((f) => join(path, f)) : [path];
  const shards = files.map((f) => ({ file: f, ...readShard(f) }));
  const recorded = new Set(shards.map((s) => s.tokenizer).filter((t) => t !== null));
  if (recorded.size > 1) throw new Error(`--data ${path}: the shards were written by different tokenizers (${[...recorded].join(", ")})`);
  const fromHeader = ([...recorded][0] as TokenizerName | undefined) ?? null;
  if (spec.tokenizer && fromHeader && spec.tokenizer !== fromHeader)
    throw new Error(`--tokenizer ${spec.tokenizer} does not match the shards of ${path}, written with the ${fromHeader} tokenizer`);
  // shards are already tokens: the BPE package is needed only to decode samples
  const tokenizer = await loadTokenizer(spec.tokenizer ?? fromHeader ?? "gpt2", { codecOptional: true });
  for (const s of shards) {
    let max = 0;
    for (let i = 0; i < s.tokens.length; ++i) if (s.tokens[i]! > max) max = s.tokens[i]!;
    if (s.tokens.length > 0 && max >= tokenizer.vocabSize)
      throw new Error(`${s.file}: token id ${max} is outside the ${tokenizer.name} vocabulary (size ${tokenizer.vocabSize}); pass the right --tokenizer`);
  }
  const isVal = (f: string) => /(^|[^a-z])val/i.test(f.slice(f.lastIndexOf("/") + 1));
  const valShards = shards.filter((s) => isVal(s.file));
  const trainShards = shards.filter((s) => !isVal(s.file));
  let split: { train: Uint16Array; val: Uint16Array };
  let how: string;
  if (valShards.length > 0 && trainShards.length > 0) {
    split = { train: concat(trainShards.map((s) => s.tokens)), val: concat(valShards.map((s) => s.tokens)) };
    how = `${trainShards.length} train + ${valShards.length} val shards`;
  } else {
    split = splitTokens(concat(shards.map((s) => s.tokens)), spec.valFraction);
    how = `${shards.length} shard${shards.length === 1 ? "" : "s"}, last ${spec.valFraction} of tokens held out`;
  }
  return finish(split.train, split.val, tokenizer, `llm.c shards: ${path} (${how}); ${tokenizer.name} tokens`);
}

function finish(train: Uint16Array, val: Uint16Array, tokenizer: Tokenizer, description: string): TokenData {
  return { train, val, tokenizer, description, fingerprint: { train: fingerprintTokens(train), val: fingerprintTokens(val) } };
}

/** Loads and tokenizes the data of a run. */
export async function loadTokenData(spec: DataSpec): Promise<TokenData> {
  if (spec.data === EMBEDDED) return fromCorpus(embeddedCorpus(), spec);
  if (!existsSync(spec.data)) throw new Error(`--data ${spec.data}: no such file or folder`);
  if (isShardPath(spec.data)) return fromShards(spec.data, spec);
  return fromCorpus(textCorpus(spec.data), spec);
}
