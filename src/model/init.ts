/** Seeded parameter initialization: N(0, std^2) samples from xoshiro128** (seeded through splitmix32) and
 * Box-Muller in float64, rounded once to float32. Each parameter draws from its own stream (initSeed, index),
 * so its values do not depend on which other parameters exist or in what order they are made. */

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Fills `out` with N(0, std^2) samples of the stream (seed, stream). */
export function fillNormal(out: Float32Array, std: number, seed: number, stream: number): Float32Array {
  const st = { s: (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(stream | 0, 0x85ebca77)) | 0 };
  let a = splitmix32(st), b = splitmix32(st), c = splitmix32(st), d = splitmix32(st);
  const next = (): number => {
    const r = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return r;
  };
  // uniform in (0, 1] with 53 bits, so that log() stays finite
  const uniform = (): number => ((next() >>> 5) * 67108864 + (next() >>> 6) + 1) / 9007199254740992;
  for (let i = 0; i < out.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const phi = 2 * Math.PI * uniform();
    out[i] = std * r * Math.cos(phi);
    if (i + 1 < out.length) out[i + 1] = std * r * Math.sin(phi);
  }
  return out;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
