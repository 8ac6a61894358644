/** llm.c token shards: the byte layout (256 int32 header: magic 20240520, version 1, count; uint16 tokens),
 * round trips, our tokenizer tag in header word 3, and clear errors for files that are not shards. */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeShard, encodeShard, readShard, SHARD_HEADER_BYTES, writeShard } from "../../src/data/shards.ts";

describe("llm.c shards", () => {
  test("the header and token bytes follow llm.c's layout", () => {
    const bytes = encodeShard(Uint16Array.of(1, 50256, 65535), "gpt2");
    expect(bytes.length).toBe(1024 + 6);
    const head = new Int32Array(bytes.buffer.slice(0, 1024));
    expect([head[0], head[1], head[2], head[3]]).toEqual([20240520, 1, 3, 2]);
    expect(Array.from(head.subarray(4)).every((x) => x === 0)).toBe(true);
    expect(Array.from(bytes.subarray(1024))).toEqual([1, 0, 0x50, 0xc4, 0xff, 0xff]);
  });

  test("write and read round-trip (file written atomically, no temporary left behind)", () => {
    const dir = mkdtempSync(join(tmpdir(), "quartet-shards-"));
    const tokens = Uint16Array.from({ length: 5000 }, (_, i) => (i * 7919) % 50257);
    writeShard(join(dir, "a_train_000001.bin"), tokens, "gpt2");
    const s = readShard(join(dir, "a_train_000001.bin"));
    expect(s.tokens).toEqual(tokens);
    expect(s.tokenizer).toBe("gpt2");
    const { readdirSync } = require("node:fs") as typeof import("node:fs");
    expect(readdirSync(dir)).toEqual(["a_train_000001.bin"]);
  });

  test("a shard without a tokenizer tag (llm.c's own) reads as unknown", () => {
    const bytes = encodeShard(Uint16Array.of(5, 6), null);
    expect(decodeShard(bytes, "x").tokenizer).toBeNull();
  });

  test("files that are not version-1 shards are refused with the reason", () => {
    const good = encodeShard(Uint16Array.of(1, 2, 3), "byte");
    expect(() => decodeShard(good.subarray(0, 100), "f.bin")).toThrow("shorter than the 1024-byte header");
    const badMagic = good.slice();
    new DataView(badMagic.buffer).setInt32(0, 1234, true);
    expect(() => decodeShard(badMagic, "f.bin")).toThrow("header magic is 1234, expected 20240520");
    const v7 = good.slice();
    new DataView(v7.buffer).setInt32(4, 7, true);
    expect(() => decodeShard(v7, "f.bin")).toThrow("version 7 is not supported");
    expect(() => decodeShard(good.subarray(0, SHARD_HEADER_BYTES + 4), "f.bin")).toThrow("header says 3 tokens");
    const dir = mkdtempSync(join(tmpdir(), "quartet-shards-"));
    writeFileSync(join(dir, "t.bin"), "hello");
    expect(() => readShard(join(dir, "t.bin"))).toThrow(join(dir, "t.bin"));
    expect(readFileSync(join(dir, "t.bin"), "utf8")).toBe("hello");
  });
});
