/** safetensors files (layout, round trip, errors), atomic checkpoint folders, keeping the newest N, and finding
 * the checkpoint --resume means. */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CHECKPOINT_FORMAT, CHECKPOINT_VERSION, listCheckpoints, loadCheckpoint, resolveResume, saveCheckpoint, type CheckpointState } from "../../src/train/checkpoint.ts";
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from "../../src/train/safetensors.ts";

const f32 = (values: number[], shape: number[]): NamedTensor => ({ dtype: "F32", shape, data: new Uint8Array(Float32Array.from(values).buffer) });

function state(step: number): CheckpointState {
  return {
    format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, step, seed: 1, config: { lr: 1 }, dataCursor: step * 8,
    data: { description: "d", tokenizer: "byte", fingerprint: { train: "a", val: "b" } }, optimizer: { t: step },
    guards: { losses: [], norms: [] }, modelState: null, elapsedSeconds: 1, createdAt: "now",
  };
}

describe("safetensors", () => {
  test("layout: u64 header length, JSON header padded to 8 bytes, data in order", () => {
    const bytes = encodeSafetensors(new Map([["a", f32([1, 2], [2])], ["b", f32([3], [1, 1])]]), { k: "v" });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header).toEqual({ __metadata__: { k: "v" }, a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [1, 1], data_offsets: [8, 12] } });
    expect(Array.from(new Float32Array(bytes.slice(8 + n).buffer))).toEqual([1, 2, 3]);
    const back = decodeSafetensors(bytes, "x");
    expect(back.metadata).toEqual({ k: "v" });
    expect(Array.from(new Float32Array(back.tensors.get("b")!.data.buffer))).toEqual([3]);
  });

  test("inconsistent tensors and broken files are refused", () => {
    expect(() => encodeSafetensors(new Map([["a", f32([1, 2], [3])]]))).toThrow("8 bytes for shape [3] F32 (expected 12)");
    const good = encodeSafetensors(new Map([["a", f32([1, 2], [2])]]));
    expect(() => decodeSafetensors(good.subarray(0, good.length - 4), "m.safetensors")).toThrow("m.safetensors: tensor a");
    expect(() => decodeSafetensors(new Uint8Array(4), "m.safetensors")).toThrow("not a safetensors file");
  });
});

describe("checkpoints", () => {
  test("saved atomically into step-N folders; only the newest `keep` stay; stale temporaries are removed", () => {
    const run = mkdtempSync(join(tmpdir(), "quartet-ck-"));
    mkdirSync(join(run, "checkpoints", ".tmp-step-00000001-999999999"), { recursive: true });
    const weights = new Map([["w", f32([1, 2, 3], [3])]]);
    const moments = { m: new Map([["w", new Uint8Array(12)]]), v: new Map([["w", new Uint8Array(12)]]) };
    for (const step of [10, 20, 30]) saveCheckpoint(run, state(step), weights, moments, 2);
    expect(readdirSync(join(run, "checkpoints")).sort()).toEqual(["step-00000020", "step-00000030"]);
    const ck = loadCheckpoint(join(run, "checkpoints", "step-00000030"));
    expect(ck.state.step).toBe(30);
    expect(ck.weights.get("w")!.shape).toEqual([3]);
    expect(ck.moments.m.get("w")!.length).toBe(12);
  });

  test("--resume finds the newest complete checkpoint of a run, a checkpoints/ folder or a step folder", () => {
    const run = mkdtempSync(join(tmpdir(), "quartet-ck-"));
    const w = new Map([["w", f32([1], [1])]]);
    const mo = { m: new Map([["w", new Uint8Array(4)]]), v: new Map([["w", new Uint8Array(4)]]) };
    saveCheckpoint(run, state(5), w, mo, 5);
    saveCheckpoint(run, state(7), w, mo, 5);
    mkdirSync(join(run, "checkpoints", "step-00000009")); // incomplete: no state.json
    expect(listCheckpoints(join(run, "checkpoints")).map((c) => c.step)).toEqual([5, 7]);
    expect(resolveResume(true, run)).toBe(join(run, "checkpoints", "step-00000007"));
    expect(resolveResume(join(run, "checkpoints"), "unused")).toBe(join(run, "checkpoints", "step-00000007"));
    expect(resolveResume(join(run, "checkpoints", "step-00000005"), "unused")).toBe(join(run, "checkpoints", "step-00000005"));
    const empty = mkdtempSync(join(tmpdir(), "quartet-ck-"));
    expect(() => resolveResume(true, empty)).toThrow("no checkpoint in");
    expect(() => resolveResume(join(empty, "nope"), "x")).toThrow("no such folder");
    writeFileSync(join(empty, "state.json"), "{}");
    expect(() => loadCheckpoint(empty)).toThrow(`not a ${CHECKPOINT_FORMAT} version 1 state`);
    expect(existsSync(join(run, "checkpoints", "step-00000007", "state.json"))).toBe(true);
  });
});
