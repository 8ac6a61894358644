/** The loss curve of a run as a self-contained SVG: training loss (raw, faint, and smoothed), validation loss
 * (points joined by a line), and an optional dashed reference line (the corpus's unigram entropy). */

export interface LossPlotInput {
  title: string;
  train: { step: number; loss: number }[];
  val: { step: number; loss: number }[];
  reference?: { label: string; value: number };
  width?: number;
  height?: number;
}

function niceStep(span: number, target: number): number {
  const raw = span / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

function ticks(lo: number, hi: number, target: number): number[] {
  if (!(hi > lo)) return [lo];
  const step = niceStep(hi - lo, target);
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Exponential moving average with a bias correction (as TensorBoard's smoothing). */
export function smooth(values: number[], weight = 0.9): number[] {
  const out: number[] = [];
  let ema = 0, n = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) {
      out.push(out.length > 0 ? out[out.length - 1]! : Number.NaN);
      continue;
    }
    ema = weight * ema + (1 - weight) * v;
    n += 1;
    out.push(ema / (1 - weight ** n));
  }
  return out;
}

export function lossPlotSvg(input: LossPlotInput): string {
  const W = input.width ?? 800, H = input.height ?? 480;
  const m = { left: 64, right: 24, top: 44, bottom: 52 };
  const pw = W - m.left - m.right, ph = H - m.top - m.bottom;
  const train = input.train.filter((p) => Number.isFinite(p.loss));
  const val = input.val.filter((p) => Number.isFinite(p.loss));
  const steps = [...train, ...val].map((p) => p.step);
  const xMin = steps.length ? Math.min(...steps) : 0;
  const xMax = steps.length ? Math.max(...steps, xMin + 1) : 1;
  // The y range covers the data without the first steps' spike dominating: 2nd percentile to the 99th + margin.
  const ys = [...train.map((p) => p.loss), ...val.map((p) => p.loss)];
  if (input.reference) ys.push(input.reference.value);
  const sorted = [...ys].sort((a, b) => a - b);
  const q = (f: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(f * (sorted.length - 1)))]! : 0);
  let yLo = Math.min(q(0), ...(val.length ? val.map((p) => p.loss) : [q(0)]));
  let yHi = Math.max(q(0.99), ...(val.length ? val.map((p) => p.loss) : [q(0.99)]), input.reference?.value ?? -Infinity);
  if (!(yHi > yLo)) [yLo, yHi] = [yLo - 1, yLo + 1];
  const pad = (yHi - yLo) * 0.05;
  yLo -= pad;
  yHi += pad;
  const X = (s: number) => m.left + ((s - xMin) / (xMax - xMin)) * pw;
  const Y = (l: number) => m.top + (1 - (Math.min(Math.max(l, yLo), yHi) - yLo) / (yHi - yLo)) * ph;
  const path = (pts: { step: number; loss: number }[]) =>
    pts.map((p, i) => `${i === 0 ? "M" : "L"}${X(p.step).toFixed(1)},${Y(p.loss).toFixed(1)}`).join(" ");
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(input.title)}</text>`);
  for (const t of ticks(yLo, yHi, 6)) {
    const y = Y(t).toFixed(1);
    out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${t}</text>`);
  }
  for (const t of ticks(xMin, xMax, 8)) {
    const x = X(t).toFixed(1);
    out.push(`<line x1="${x}" x2="${x}" y1="${m.top}" y2="${m.top + ph}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${x}" y="${m.top + ph + 18}" text-anchor="middle">${t}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="${H - 12}" text-anchor="middle">step</text>`);
  out.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">loss (nats/token)</text>`);
  if (input.reference) {
    const y = Y(input.reference.value).toFixed(1);
    out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${y}" y2="${y}" stroke="#888" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${m.left + pw - 6}" y="${Number(y) - 6}" text-anchor="end" fill="#666">${escapeXml(input.reference.label)}</text>`);
  }
  if (train.length) {
    out.push(`<path d="${path(train)}" fill="none" stroke="#9ecae1" stroke-width="1"/>`);
    const sm = smooth(train.map((p) => p.loss));
    out.push(`<path d="${path(train.map((p, i) => ({ step: p.step, loss: sm[i]! })))}" fill="none" stroke="#1f77b4" stroke-width="2"/>`);
  }
  if (val.length) {
    out.push(`<path d="${path(val)}" fill="none" stroke="#d62728" stroke-width="2"/>`);
    for (const p of val) out.push(`<circle cx="${X(p.step).toFixed(1)}" cy="${Y(p.loss).toFixed(1)}" r="3.5" fill="#d62728"/>`);
  }
  const lx = m.left + pw - 170, ly = m.top + 14;
  out.push(`<rect x="${lx - 10}" y="${ly - 12}" width="176" height="${val.length ? 44 : 26}" fill="white" fill-opacity="0.85" stroke="#ccc"/>`);
  out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly}" y2="${ly}" stroke="#1f77b4" stroke-width="2"/><text x="${lx + 30}" y="${ly + 4}">train (smoothed)</text>`);
  if (val.length)
    out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly + 18}" y2="${ly + 18}" stroke="#d62728" stroke-width="2"/><text x="${lx + 30}" y="${ly + 22}">validation</text>`);
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
