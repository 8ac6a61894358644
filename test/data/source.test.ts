/** Data sources and tokenizers: the embedded corpus, text files and folders, llm.c shard folders, the byte and
 * GPT-2 tokenizers, and `bun run pretokenize` writing shards the trainer reads back to the same split. */
import { describe, expect, test, setDefaultTimeout } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { embeddedCorpus, textCorpus } from "../../src/data/corpus.ts";
import { writeShard } from "../../src/data/shards.ts";
import { loadTokenData, splitDocuments, tokenizeDocuments } from "../../src/data/source.ts";
import { ByteTokenizer, GPT2_EOT, loadTokenizer } from "../../src/tokenizers/index.ts";
import { parsePretokenizeArgs, pretokenize } from "../../scripts/pretokenize.ts";

// Reading and tokenizing whole corpora on a loaded 2-core machine can pass bun's 5 s default.
setDefaultTimeout(300_000);

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "quartet-data-"));
}

function textFolder(docs: number): string {
  const dir = tempDir();
  mkdirSync(join(dir, "sub"));
  for (let i = 0; i < docs; ++i)
    writeFileSync(join(dir, i % 2 ? "sub" : ".", `doc${String(i).padStart(2, "0")}.txt`), `Document ${i}: ${"the quick brown fox jumps over the lazy dog. ".repeat(20)}`);
  writeFileSync(join(dir, "ignored.bin.txt.json"), "not text");
  return dir;
}

describe("tokenizers", () => {
  test("byte: UTF-8 bytes, lossless", async () => {
    const t = await loadTokenizer("byte");
    expect(Array.from(t.encode("aé"))).toEqual([97, 0xc3, 0xa9]);
    expect(t.decode(t.encode("State of the Union — 2021"))).toBe("State of the Union — 2021");
    expect(t.vocabSize).toBe(256);
    expect(() => t.decode([300])).toThrow("not in [0, 255]");
  });

  test("gpt2: GPT-2's r50k ids, <|endoftext|> in the text stays text", async () => {
    const t = await loadTokenizer("gpt2");
    expect(Array.from(t.encode("Hello world"))).toEqual([15496, 995]);
    expect(t.vocabSize).toBe(50257);
    expect(t.eot).toBe(GPT2_EOT);
    const ids = t.encode("a<|endoftext|>b");
    expect(Array.from(ids)).not.toContain(GPT2_EOT);
    expect(t.decode(ids)).toBe("a<|endoftext|>b");
  });
});

describe("sources", () => {
  test("the embedded corpus: 233 speeches; 11 held out by document", async () => {
    const c = embeddedCorpus();
    expect(c.documents.length).toBe(233);
    expect(c.documents[0]!.name).toBe("1790_george_washington_n");
    expect(c.documents[0]!.text.startsWith("Fellow-Citizens of the Senate")).toBe(true);
    const split = splitDocuments(c.documents, 0.05)!;
    expect(split.val.length).toBe(11);
    const d = await loadTokenData({ data: "embedded", tokenizer: null, valFraction: 0.05 });
    expect(d.tokenizer.name).toBe("byte");
    expect(d.train.length).toBeGreaterThan(10_000_000);
    expect(d.val.length).toBeGreaterThan(400_000);
  });

  test("a folder of text: sorted recursive documents; a single file splits on tokens", async () => {
    const dir = textFolder(12);
    const c = textCorpus(dir);
    expect(c.documents.map((d) => d.name)).toEqual([
      "doc00.txt", "doc02.txt", "doc04.txt", "doc06.txt", "doc08.txt", "doc10.txt",
      "sub/doc01.txt", "sub/doc03.txt", "sub/doc05.txt", "sub/doc07.txt", "sub/doc09.txt", "sub/doc11.txt",
    ]);
    const folder = await loadTokenData({ data: dir, tokenizer: "byte", valFraction: 0.25 });
    expect(folder.description).toContain("3 of 12 documents held out");
    const one = await loadTokenData({ data: join(dir, "doc00.txt"), tokenizer: null, valFraction: 0.1 });
    const n = one.train.length + one.val.length;
    expect(one.val.length).toBe(Math.floor(n * 0.1));
    expect(new ByteTokenizer().decode(one.train.subarray(0, 10))).toBe("Document 0");
  });

  test("documents are separated by the tokenizer's end-of-text id, or a blank line", async () => {
    const docs = [{ name: "a", text: "x" }, { name: "b", text: "y" }];
    expect(Array.from(tokenizeDocuments(docs, new ByteTokenizer()))).toEqual([120, 10, 10, 121, 10, 10]);
    const gpt2 = await loadTokenizer("gpt2");
    expect(Array.from(tokenizeDocuments(docs, gpt2))).toEqual([GPT2_EOT, 87, GPT2_EOT, 88]);
  });

  test("a shard folder: *val* shards are the validation split; the tokenizer comes from the header", async () => {
    const dir = tempDir();
    writeShard(join(dir, "x_val_000000.bin"), Uint16Array.of(1, 2, 3), "byte");
    writeShard(join(dir, "x_train_000001.bin"), Uint16Array.of(4, 5), "byte");
    writeShard(join(dir, "x_train_000002.bin"), Uint16Array.of(6), "byte");
    const d = await loadTokenData({ data: dir, tokenizer: null, valFraction: 0.05 });
    expect(Array.from(d.train)).toEqual([4, 5, 6]);
    expect(Array.from(d.val)).toEqual([1, 2, 3]);
    expect(d.tokenizer.name).toBe("byte");
    await expect(loadTokenData({ data: dir, tokenizer: "gpt2", valFraction: 0.05 })).rejects.toThrow("written with the byte tokenizer");
  });

  test("llm.c shards without a tag default to gpt2; ids past the vocabulary are refused", async () => {
    const dir = tempDir();
    writeShard(join(dir, "fineweb_train_000001.bin"), Uint16Array.of(50256, 10, 20, 30), null);
    const d = await loadTokenData({ data: join(dir, "fineweb_train_000001.bin"), tokenizer: null, valFraction: 0.25 });
    expect(d.tokenizer.name).toBe("gpt2");
    expect(Array.from(d.val)).toEqual([30]);
    writeShard(join(dir, "big_train_000001.bin"), Uint16Array.of(300), null);
    await expect(loadTokenData({ data: join(dir, "big_train_000001.bin"), tokenizer: "byte", valFraction: 0.25 })).rejects.toThrow(
      "token id 300 is outside the byte vocabulary",
    );
  });

  test("missing paths and empty folders are refused with the path", async () => {
    await expect(loadTokenData({ data: "/nonexistent/corpus", tokenizer: null, valFraction: 0.05 })).rejects.toThrow("--data /nonexistent/corpus: no such file or folder");
    const empty = tempDir();
    await expect(loadTokenData({ data: empty, tokenizer: null, valFraction: 0.05 })).rejects.toThrow("holds no text files");
  });
});

describe("pretokenize", () => {
  test("writes shards that load back to exactly the split made from the text", async () => {
    const src = textFolder(20);
    const out = join(tempDir(), "shards");
    const files = await pretokenize(parsePretokenizeArgs(["--data", src, "--out", out, "--shard-tokens", "1024", "--tokenizer", "gpt2"]));
    expect(files[0]!.endsWith("_val_000000.bin")).toBe(true);
    expect(files.length).toBeGreaterThan(2);
    const fromText = await loadTokenData({ data: src, tokenizer: "gpt2", valFraction: 0.05 });
    const fromShards = await loadTokenData({ data: out, tokenizer: null, valFraction: 0.05 });
    expect(fromShards.tokenizer.name).toBe("gpt2");
    expect(fromShards.fingerprint).toEqual(fromText.fingerprint);
    expect(fromShards.train).toEqual(fromText.train);
  });

  test("bad flags are refused with the allowed values", () => {
    expect(() => parsePretokenizeArgs(["--tokenizer", "llama"])).toThrow("--tokenizer must be one of byte, gpt2");
    expect(() => parsePretokenizeArgs(["--shard-tokens", "10"])).toThrow("--shard-tokens must be an integer in [1024");
    expect(() => parsePretokenizeArgs(["--bogus", "1"])).toThrow("unknown flag --bogus");
  });
});
