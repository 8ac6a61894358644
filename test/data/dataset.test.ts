/** The training sampler (keyed shuffled windows addressed by a cursor), the validation batches, the keyed
 * permutation, and the unigram baselines. */
import { describe, expect, test } from "bun:test";
import { unigramCrossEntropy, unigramEntropy, validationBatches, WindowSampler } from "../../src/data/dataset.ts";
import { hash32, KeyedPermutation, uniform } from "../../src/data/keyed_random.ts";

const stream = (n: number) => Uint16Array.from({ length: n }, (_, i) => i % 65536);

describe("KeyedPermutation", () => {
  test("is a bijection of [0, n) for awkward n, and depends on the key", () => {
    for (const n of [1, 2, 3, 17, 1000, 4097]) {
      const p = new KeyedPermutation(n, [7, 1]);
      const seen = new Set<number>();
      for (let i = 0; i < n; ++i) seen.add(p.at(i));
      expect(seen.size).toBe(n);
      expect(Math.min(...seen)).toBe(0);
      expect(Math.max(...seen)).toBe(n - 1);
    }
    const a = new KeyedPermutation(1000, [1]), b = new KeyedPermutation(1000, [2]);
    let same = 0;
    for (let i = 0; i < 1000; ++i) if (a.at(i) === b.at(i)) ++same;
    expect(same).toBeLessThan(20);
  });

  test("hash32 and uniform are pure functions of the key", () => {
    expect(hash32(1, 2, 3)).toBe(hash32(1, 2, 3));
    expect(hash32(1, 2, 3)).not.toBe(hash32(1, 2, 4));
    const u = uniform(5, 6);
    expect(u).toBeGreaterThanOrEqual(0);
    expect(u).toBeLessThan(1);
    let mean = 0;
    for (let i = 0; i < 10000; ++i) mean += uniform(9, i) / 10000;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
  });
});

describe("WindowSampler", () => {
  test("targets are the inputs shifted by one, and every window lies inside the data", () => {
    const tokens = stream(10_000);
    const s = new WindowSampler(tokens, 64, 3);
    const b = s.batch(0, 4);
    for (let r = 0; r < 4; ++r)
      for (let t = 0; t < 64; ++t) expect(b.targets[r * 64 + t]).toBe(((b.tokens[r * 64 + t]! + 1) % 65536));
    for (let k = 0; k < 3 * s.windows; ++k) {
      const start = s.windowStart(k);
      expect(start).toBeGreaterThanOrEqual(0);
      expect(start + 64).toBeLessThanOrEqual(tokens.length - 1);
    }
  });

  test("one epoch visits every window once; epochs differ in order and alignment", () => {
    const s = new WindowSampler(stream(64 * 50 + 10), 64, 11);
    const epoch = (e: number) => Array.from({ length: s.windows }, (_, i) => s.windowStart(e * s.windows + i));
    const e0 = epoch(0), e1 = epoch(1);
    expect(new Set(e0.map((x) => Math.floor(x / 64))).size).toBe(s.windows);
    expect(e0).not.toEqual(e1);
    expect(new Set(e0.map((x) => x % 64)).size).toBe(1);
  });

  test("batches depend only on (seed, cursor): a fresh sampler reproduces them", () => {
    const tokens = stream(50_000);
    const a = new WindowSampler(tokens, 32, 5), b = new WindowSampler(tokens, 32, 5), c = new WindowSampler(tokens, 32, 6);
    const seqA: number[] = [];
    for (let cur = 0; cur < 100; cur += 4) seqA.push(...a.batch(cur, 4).tokens);
    expect(Array.from(b.batch(40, 4).tokens)).toEqual(seqA.slice(40 * 32, 44 * 32));
    expect(Array.from(c.batch(40, 4).tokens)).not.toEqual(seqA.slice(40 * 32, 44 * 32));
  });

  test("too little data is refused with the sizes", () => {
    expect(() => new WindowSampler(stream(100), 128, 0)).toThrow("100 tokens: too few for one sequence of 128");
  });
});

describe("validation batches and unigram baselines", () => {
  test("consecutive windows from the start, capped by maxBatches and by the data", () => {
    const val = stream(1000);
    const v = validationBatches(val, 10, 4, 100);
    expect(v.length).toBe(Math.floor(99 / 4));
    expect(Array.from(v[1]!.tokens.subarray(0, 3))).toEqual([40, 41, 42]);
    expect(validationBatches(val, 10, 4, 2).length).toBe(2);
    expect(() => validationBatches(stream(20), 10, 4, 2)).toThrow("too few for one batch of 4 x 10");
  });

  test("unigram entropy of a uniform stream over 4 ids is ln 4; cross-entropy with add-one smoothing", () => {
    const t = Uint16Array.from({ length: 4000 }, (_, i) => i % 4);
    expect(unigramEntropy(t)).toBeCloseTo(Math.log(4), 12);
    expect(unigramCrossEntropy(t, Uint16Array.of(0, 1), 4)).toBeCloseTo(-Math.log(1001 / 4004), 12);
  });
});
