import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

/**
 * Seeded random source: xoroshiro128+ from pure-rand, 53-bit uniforms, and Gaussians by the
 * polar Box–Muller method (both values of a pair are used). Same seed ⇒ same stream, bit for bit.
 */
export class Rng {
  private gen: ReturnType<typeof xoroshiro128plus>;
  private spare = 0;
  private hasSpare = false;
  readonly seed: number;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`Rng: seed must be a finite number, got ${seed}`);
    this.seed = seed;
    this.gen = xoroshiro128plus(seed | 0);
    // Mix the high part of large seeds in as well, so seeds differing only above 2^32 differ.
    const hi = Math.floor(seed / 4294967296) | 0;
    if (hi !== 0) this.gen = xoroshiro128plus((seed | 0) ^ Math.imul(hi, 0x9e3779b1));
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const a = this.gen.next() >>> 5; // 27 bits
    const b = this.gen.next() >>> 6; // 26 bits
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** Standard normal N(0, 1). */
  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    let u: number, v: number, s: number;
    do {
      u = 2 * this.uniform() - 1;
      v = 2 * this.uniform() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    this.spare = v * f;
    this.hasSpare = true;
    return u * f;
  }

  /** Fill (or create) an array with N(0, 1) draws. */
  normalArray(n: number, out?: Float64Array): Float64Array {
    const a = out ?? new Float64Array(n);
    for (let i = 0; i < n; i++) a[i] = this.normal();
    return a;
  }

  /** Integer uniform in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** An independent child stream (for per-worker / per-sequence use), derived deterministically. */
  fork(): Rng {
    return new Rng((this.gen.next() ^ Math.imul(this.gen.next(), 0x85ebca6b)) | 0);
  }
}
