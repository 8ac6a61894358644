/**
 * Random numbers: Philox4x32-10 and the logical counter layout.
 *
 * Spec map (shared/spec/numerics.md):
 *   §2 Philox4x32-10 known answers (TV-9)          -> "TV-9 Philox"
 *   §2 counter layout, u24, RHT signs               -> "counter layout"
 *   §9.3 exact-mean SR: P(up) = f from Philox u24    -> "SR with Philox uniforms"
 * (Which index each quantizer draws from is checked in quantizers.test.ts.)
 */
import { describe, expect, test } from "bun:test";
import { formats, rhtSigns } from "../../src/index.ts";
import { fl } from "../helpers/reference.ts";

const hexWords = (w: Uint32Array) => Array.from(w, (x) => x.toString(16).padStart(8, "0")).join(" ");

describe("TV-9 Philox4x32-10 (§2)", () => {
  test("Random123 known-answer vectors", () => {
    const kat = (ctr: number[], key: number[]) => hexWords(formats.philox4x32(Uint32Array.from(ctr), Uint32Array.from(key)));
    expect(kat([0, 0, 0, 0], [0, 0])).toBe("6627e8d5 e169c58d bc57ac4c 9b00dbd8");
    const f = 0xffffffff;
    expect(kat([f, f, f, f], [f, f])).toBe("408f276d 41c83b0e a20bc7c6 6d5451fd");
    expect(kat([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])).toBe(
      "d16cfe09 94fdcceb 5001e420 24126ea1",
    );
  });
});

describe("counter layout (§2)", () => {
  test("u24 of logical index i = word[i & 3] >> 8 of ctr (lo32(i>>2), hi32(i>>2), stream, tag), key (seed, step)", () => {
    const seed = 0x1234abcd, step = 77, stream = 2, tag = (5 << 8) | 3;
    // includes indices beyond 2^34 so that hi32(i >> 2) is non-zero
    for (const first of [0, 5, 1001, 2 ** 34 - 3, 2 ** 40 + 1]) {
      const n = 9;
      const got = formats.uniformU24(seed, step, stream, tag, first, n);
      for (let t = 0; t < n; ++t) {
        const i = first + t;
        const q = Math.floor(i / 4);
        const w = formats.philox4x32(
          Uint32Array.from([q % 2 ** 32, Math.floor(q / 2 ** 32), stream, tag]),
          Uint32Array.from([seed, step]),
        );
        expect(got[t]).toBe(w[i % 4]! >>> 8);
      }
    }
  });

  test("RHT signs = one Philox call with ctr (0, 0, 3, layer << 8), key (seed, step)", () => {
    for (const [seed, step, layer] of [[0, 0, 0], [42, 1000, 7], [0xffffffff, 3, 0xffffff]] as const) {
      const want = formats.philox4x32(Uint32Array.from([0, 0, 3, (layer << 8) >>> 0]), Uint32Array.from([seed, step]));
      expect(Array.from(rhtSigns(seed, step, layer))).toEqual(Array.from(want));
    }
    // different steps and layers give different signs
    expect(hexWords(rhtSigns(1, 1, 0))).not.toBe(hexWords(rhtSigns(1, 2, 0)));
    expect(hexWords(rhtSigns(1, 1, 0))).not.toBe(hexWords(rhtSigns(1, 1, 1)));
  });
});

describe("SR with Philox uniforms (§9.3 exact-mean recipe)", () => {
  // 10^6 draws per value; bound from the binomial standard deviation: |p_hat - f| < 5 sqrt(f(1-f)/n) + 2^-24
  test("P(up) = f on a grid of f", () => {
    const n = 1_000_000;
    const u = formats.uniformU24(7, 3, 1, 0x105, 0, n);
    for (const f of [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99]) {
      const v = fl(2 + f); // neighbours 2 and 3 (step 1): P(3) = f (exact: f has < 24 fractional bits)
      const fe = v - 2;
      const codes = formats.srE2M1(new Float32Array(n).fill(v), u);
      let up = 0;
      for (let i = 0; i < n; ++i) up += codes[i] === 0x5 ? 1 : 0;
      const p = up / n;
      expect(Math.abs(p - fe)).toBeLessThan(5 * Math.sqrt((fe * (1 - fe)) / n) + 2 ** -24);
    }
  });
});
