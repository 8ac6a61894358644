/** llm.c token shards: a 256 x int32 little-endian header (magic 20240520, version 1, token count) followed by
 * the tokens as uint16. Header word 3 is our extension (llm.c leaves it 0): the tokenizer that wrote the file,
 * 1 = byte, 2 = gpt2, 0 = not recorded (llm.c's own shards, GPT-2 by convention). */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import type { TokenizerName } from "../tokenizers/tokenizer.ts";

export const SHARD_MAGIC = 20240520;
export const SHARD_VERSION = 1;
export const SHARD_HEADER_INTS = 256;
export const SHARD_HEADER_BYTES = SHARD_HEADER_INTS * 4;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const TOKENIZER_CODE: Record<TokenizerName, number> = { byte: 1, gpt2: 2 };
const CODE_TOKENIZER: Record<number, TokenizerName> = { 1: "byte", 2: "gpt2" };

export interface Shard {
  tokens: Uint16Array;
  /** the tokenizer recorded in the header, or null (not recorded) */
  tokenizer: TokenizerName | null;
}

/** The bytes of a shard holding `tokens`. */
export function encodeShard(tokens: Uint16Array, tokenizer: TokenizerName | null): Uint8Array {
  const out = new Uint8Array(SHARD_HEADER_BYTES + tokens.length * 2);
  const view = new DataView(out.buffer);
  view.setInt32(0, SHARD_MAGIC, true);
  view.setInt32(4, SHARD_VERSION, true);
  view.setInt32(8, tokens.length, true);
  view.setInt32(12, tokenizer ? TOKENIZER_CODE[tokenizer] : 0, true);
  if (LITTLE_ENDIAN) out.set(new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.byteLength), SHARD_HEADER_BYTES);
  else for (let i = 0; i < tokens.length; ++i) view.setUint16(SHARD_HEADER_BYTES + 2 * i, tokens[i]!, true);
  return out;
}

/** Parses shard bytes; `where` names the source in errors. */
export function decodeShard(bytes: Uint8Array, where: string): Shard {
  if (bytes.length < SHARD_HEADER_BYTES)
    throw new Error(`${where}: not an llm.c token shard (${bytes.length} bytes, shorter than the 1024-byte header)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getInt32(0, true);
  const version = view.getInt32(4, true);
  const count = view.getInt32(8, true);
  if (magic !== SHARD_MAGIC)
    throw new Error(`${where}: not an llm.c token shard: header magic is ${magic}, expected ${SHARD_MAGIC}`);
  if (version !== SHARD_VERSION)
    throw new Error(`${where}: llm.c shard version ${version} is not supported (only version ${SHARD_VERSION}: uint16 tokens)`);
  const expected = SHARD_HEADER_BYTES + count * 2;
  if (count < 0 || bytes.length !== expected)
    throw new Error(`${where}: header says ${count} tokens (${expected} bytes) but the file has ${bytes.length} bytes`);
  const tokens = new Uint16Array(count);
  if (LITTLE_ENDIAN) tokens.set(new Uint16Array(bytes.slice(SHARD_HEADER_BYTES).buffer));
  else for (let i = 0; i < count; ++i) tokens[i] = view.getUint16(SHARD_HEADER_BYTES + 2 * i, true);
  const code = view.getInt32(12, true);
  return { tokens, tokenizer: CODE_TOKENIZER[code] ?? null };
}

export function readShard(path: string): Shard {
  return decodeShard(new Uint8Array(readFileSync(path)), path);
}

/** Writes a shard atomically (temporary file, then rename). */
export function writeShard(path: string, tokens: Uint16Array, tokenizer: TokenizerName | null): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, encodeShard(tokens, tokenizer));
  renameSync(tmp, path);
}
