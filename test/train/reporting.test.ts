/** What a user sees besides the log: the progress line without a terminal, the SVG loss plot, the MFU
 * arithmetic, and greedy / top-k token choice. */
import { describe, expect, test } from "bun:test";
import { trainingFlopsPerToken } from "../../src/train/mfu.ts";
import { lossPlotSvg, smooth } from "../../src/train/plot.ts";
import { formatDuration, Progress } from "../../src/train/progress.ts";
import { argmax, pickToken } from "../../src/train/sample.ts";
import { presetValues } from "../../src/train/presets.ts";

describe("progress", () => {
  test("without a terminal: one line every logEvery steps, on evaluation steps, and at the end", () => {
    let out = "";
    const p = new Progress({ total: 10, tty: false, logEvery: 4, write: (t) => void (out += t) });
    for (let s = 1; s <= 10; ++s) p.update({ step: s, loss: 1, lr: 1e-3, tokensPerS: 1500, etaS: 10 - s, valLoss: s === 5 ? 0.9 : undefined });
    p.finish();
    expect(out.trim().split("\n").map((l) => l.split(" | ")[0])).toEqual(["step  4/10", "step  5/10", "step  8/10", "step 10/10"]);
    expect(out).toContain("| 1.5k tok/s | ETA 6s");
    expect(formatDuration(3725)).toBe("1h02m");
    expect(formatDuration(75)).toBe("1m15s");
  });
});

describe("loss plot", () => {
  test("an SVG with the train curve, validation points and the reference line", () => {
    const train = Array.from({ length: 100 }, (_, i) => ({ step: i + 1, loss: 3 - i / 50 }));
    const svg = lossPlotSvg({ title: "t <1>", train, val: [{ step: 50, loss: 2.1 }, { step: 100, loss: 1.2 }], reference: { label: "unigram", value: 3 } });
    expect(svg.startsWith("<svg xmlns")).toBe(true);
    expect(svg.trim().endsWith("</svg>")).toBe(true);
    expect(svg).toContain("t &lt;1&gt;");
    expect(svg.match(/<circle /g)!.length).toBe(2);
    expect(svg).toContain("stroke-dasharray");
    expect(svg).not.toContain("NaN");
    // degenerate inputs still give a valid picture
    expect(lossPlotSvg({ title: "x", train: [{ step: 1, loss: Number.NaN }], val: [] })).not.toContain("NaN");
    expect(smooth([1, 1, 1])).toEqual([1, 1, 1]);
  });
});

describe("MFU and sampling", () => {
  test("FLOPs per token: 6 (N + V d) + 12 L T d", () => {
    const p = presetValues("30M", "quartet2");
    expect(trainingFlopsPerToken(p, 512, 32000)).toBe(6 * (30_482_560 + 32000 * 640) + 12 * 6 * 512 * 640);
  });

  test("greedy picks the argmax (lowest id on ties); top-k stays within the k best and follows u", () => {
    const logits = Float32Array.of(0.1, 2, 2, -1, 1.5);
    expect(argmax(logits)).toBe(1);
    expect(pickToken(logits, 5, 1, 1, 0.99)).toBe(1);
    const picks = new Set<number>();
    for (let u = 0; u < 1; u += 0.01) picks.add(pickToken(logits, 5, 3, 1, u));
    expect([...picks].sort()).toEqual([1, 2, 4]);
    expect(pickToken(logits, 5, 3, 1, 0)).toBe(1);
    expect(pickToken(logits, 3, 5, 1, 0.999)).toBe(0);
  });
});
