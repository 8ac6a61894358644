/**
 * Determinism: the same (seed, step, tag) gives the same bytes, another one gives other draws, and the CPU
 * thread count never changes a result.
 *
 * Spec map:
 *   numerics.md §2 (Philox keyed by (seed, step), indexed by logical position and tag, never by thread)
 *     -> "same key, same bytes", "another key, other draws"
 *   numerics.md §5.6 step 6 (MS-EDEN codes do not depend on the random draw) -> "another key, other draws"
 *   contract.md §3 (bit-identical results; "never by thread or launch shape") -> "thread count"
 */
import { afterAll, describe, expect, test } from "bun:test";
import { cpuThreads, dequantize, nvfp4Gemm, quantize, requantize, rht, rhtSigns, setCpuThreads, type QuantizeOptions } from "../../src/index.ts";
import { bytesOf, f32 } from "../helpers/quartet.ts";
import { gaussian } from "../helpers/random.ts";
import { bytesEqual, hex } from "../helpers/reference.ts";

const R = 256, K = 1024;
const x = gaussian(R * K, 500);
const X = f32(x, R, K);
const signs = rhtSigns(1, 1, 1);

const RANDOM_CASES: { name: string; opts: QuantizeOptions }[] = [
  { name: "sr", opts: { rounding: "sr" } },
  { name: "sr-4/6", opts: { rounding: "sr-4/6" } },
  { name: "eden-a", opts: { rounding: "eden-a", rht: { dim: 128, signs } } },
  { name: "eden-b", opts: { rounding: "eden-b", rht: { dim: 128, signs } } },
  { name: "mxfp4 sr-rm", opts: { format: "mxfp4", rounding: "sr-rm", rht: { dim: 32, signs } } },
];

const snap = (o: QuantizeOptions) => bytesOf(quantize(X, o));

describe("same key, same bytes (§2)", () => {
  for (const c of RANDOM_CASES)
    test(c.name, () => {
      const a = snap({ ...c.opts, seed: 7, step: 8, tag: 9 });
      const b = snap({ ...c.opts, seed: 7, step: 8, tag: 9 });
      expect(bytesEqual(a.codes, b.codes) && bytesEqual(a.scales, b.scales) && a.g === b.g).toBe(true);
    });
});

describe("another key, other draws (§2)", () => {
  const differs = (a: Uint8Array, b: Uint8Array) => {
    let n = 0;
    for (let i = 0; i < a.length; ++i) n += a[i] !== b[i] ? 1 : 0;
    return n / a.length;
  };
  for (const c of RANDOM_CASES)
    test(c.name, () => {
      const base = snap({ ...c.opts, seed: 7, step: 8, tag: 9 });
      const eden = c.name.startsWith("eden");
      for (const other of [{ seed: 8, step: 8, tag: 9 }, { seed: 7, step: 9, tag: 9 }, { seed: 7, step: 8, tag: 10 }]) {
        const o = snap({ ...c.opts, ...other });
        if (eden) {
          // the SR acts on the block scales only: codes are identical, a good fraction of scales move
          // (P(scale differs) = 2 p (1 - p) per block with p the rounding probability; the average over
          // blocks is far above 5% for Gaussian data)
          expect(hex(o.codes)).toBe(hex(base.codes));
          expect(differs(o.scales, base.scales)).toBeGreaterThan(0.05);
        } else {
          expect(differs(o.codes, base.codes)).toBeGreaterThan(0.05);
        }
      }
    });
});

describe("thread count (contract §3)", () => {
  const saved = cpuThreads();
  afterAll(() => setCpuThreads(saved));

  test("1 vs 2 threads: identical quantizer, RHT, dequantize, requantize and CPU GEMM bytes", () => {
    const run = () => {
      const out: string[] = [];
      for (const c of [...RANDOM_CASES, { name: "rtn", opts: { rounding: "rtn" } }, { name: "4/6", opts: { rounding: "4/6" } },
        { name: "quest", opts: { format: "mxfp4", rounding: "quest" } }, { name: "rtn-16x16", opts: { rounding: "rtn-16x16" } },
      ] as { name: string; opts: QuantizeOptions }[]) {
        const q = quantize(X, { ...c.opts, seed: 3, step: 4, tag: 5 });
        const b = bytesOf(q);
        out.push(`${c.name} ${Bun.hash(b.codes)} ${Bun.hash(b.scales)} ${b.g} ${q.mask ? Bun.hash(q.mask.toBytes()) : ""}`);
        out.push(`${c.name} deq ${Bun.hash(dequantize(q).toBytes())}`);
      }
      const fwd = quantize(X, { rounding: "4/6" });
      const rq = requantize(fwd, { rounding: "eden-b", rht: { dim: 128, signs }, seed: 3, step: 4 });
      out.push(`requant ${Bun.hash(rq.codes.toBytes())} ${Bun.hash(rq.scales.toBytes())} ${rq.tensorScaleValue()}`);
      out.push(`rht ${Bun.hash(rht(X, { dim: 128, signs }).toBytes())}`);
      const qa = quantize(f32(x.subarray(0, 96 * K), 96, K)), qb = quantize(f32(x.subarray(96 * K, 256 * K), 160, K));
      out.push(`gemm ${Bun.hash(nvfp4Gemm(qa, qb, { outDtype: "f32" }).toBytes())}`);
      return out;
    };
    setCpuThreads(1);
    expect(cpuThreads()).toBe(1);
    const one = run();
    setCpuThreads(2);
    expect(cpuThreads()).toBe(2);
    const two = run();
    expect(two).toEqual(one);
  });
});
