/** Counter-based randomness for the data pipeline and sampling: every draw is a pure function of its key
 * (seed, epoch, index, ...), so a run resumed from a checkpoint sees exactly the draws of an uninterrupted
 * one without saving any generator state. The mixer is MurmurHash3's (x86_32) block and finalizer steps. */

function mixBlock(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finalize(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit hash of a key of unsigned 32-bit words (non-integers and values >= 2^32 are reduced mod 2^32). */
export function hash32(...key: number[]): number {
  let h = 0x51a7_2e11;
  for (const w of key) h = mixBlock(h, w >>> 0);
  return finalize(h, key.length * 4);
}

/** A uniform double in [0, 1) with 53 random bits, keyed like hash32. */
export function uniform(...key: number[]): number {
  const hi = hash32(...key, 0x0a11ce) >>> 5; // 27 bits
  const lo = hash32(...key, 0x0b0b) >>> 6; // 26 bits
  return (hi * 67108864 + lo) / 9007199254740992;
}

/** A pseudo-random permutation of [0, n) keyed by `key`: a 4-round Feistel network on the smallest even
 * power-of-two domain >= n, with cycle walking back into [0, n). O(1) per lookup, no table. */
export class KeyedPermutation {
  readonly n: number;
  readonly #half: number;
  readonly #mask: number;
  readonly #key: number[];

  constructor(n: number, key: number[]) {
    if (!Number.isSafeInteger(n) || n <= 0 || n > 2 ** 30) throw new RangeError(`KeyedPermutation: n must be in [1, 2^30], got ${n}`);
    this.n = n;
    let bits = 0;
    while (2 ** bits < n) ++bits;
    this.#half = Math.max(1, Math.ceil(bits / 2));
    this.#mask = 2 ** this.#half - 1;
    this.#key = key;
  }

  at(i: number): number {
    if (!Number.isSafeInteger(i) || i < 0 || i >= this.n) throw new RangeError(`KeyedPermutation.at: index ${i} is not in [0, ${this.n})`);
    let x = i;
    do x = this.#encrypt(x);
    while (x >= this.n);
    return x;
  }

  #encrypt(x: number): number {
    let left = x >>> this.#half;
    let right = x & this.#mask;
    for (let round = 0; round < 4; ++round) {
      const next = (left ^ hash32(...this.#key, round, right)) & this.#mask;
      left = right;
      right = next;
    }
    return left * 2 ** this.#half + right;
  }
}

/** A 32-bit fingerprint of a token array (for checking that a resumed run reads the same data). */
export function fingerprintTokens(tokens: Uint16Array): string {
  let h = 0x7a11_0c3d;
  const n = tokens.length;
  for (let i = 0; i + 1 < n; i += 2) h = mixBlock(h, tokens[i]! | (tokens[i + 1]! << 16));
  if (n % 2 === 1) h = mixBlock(h, tokens[n - 1]!);
  return finalize(h, n).toString(16).padStart(8, "0");
}
