import { KERNELS_WASM_BASE64 } from './wasm-bytes.js';

/**
 * Numeric kernels over one flat f64 "heap" (docs/decisions.md, "Kernels"): the sums of outer products
 * behind every moment pass (docs/method.md §5) as a small GEMM, plus the packed symmetric Kronecker rows of
 * the Hermite S2 / mixed-score products.
 *
 * Two backends with one API and bit-identical results:
 * - 'wasm': kernels.wat compiled to WebAssembly with 128-bit SIMD (≈ 5× the scalar JavaScript loops);
 *   the heap is the module's linear memory (shared, so growing it detaches nothing).
 * - 'js': the same loops in plain JavaScript over a growable Float64Array (the fallback when the engine
 *   has no WebAssembly SIMD, and the reference the tests compare the WebAssembly against).
 * Both compute every output entry as (Σ_k a_k·b_k in increasing k, multiply then add) and add that to
 * the output, so they agree bit for bit (test/kernels.test.ts).
 *
 * Usage: allocate all regions first (`alloc` may grow the heap, which replaces `heap`), then read
 * `heap` once and fill/read the regions by their element offsets; `mark`/`release` free scratch in
 * stack order. Offsets and strides are in f64 elements. Arenas are per thread (one per worker).
 */
export type KernelBackend = 'wasm' | 'js';

const ALIGN = 4; // elements (32 bytes): keeps SIMD rows aligned when leading dimensions are multiples of 4
const MAX_ELEMENTS = 2 ** 29 - 1; // 4 GiB of f64 (wasm32 address space); plenty for dims we support

/** Smallest multiple of 4 ≥ n: leading dimensions padded to it let the 4×4 SIMD tiles cover a block. */
export function pad4(n: number): number {
  return (n + 3) & ~3;
}

export abstract class KernelArena {
  abstract readonly backend: KernelBackend;
  /** Elements in use (bump pointer). */
  protected used = 0;
  /** The whole heap as f64; re-read after every `alloc` (growing replaces the view). */
  abstract get heap(): Float64Array;
  protected abstract capacity(): number;
  protected abstract grow(minElements: number): void;

  /** Current top of the bump allocator, to `release` back to. */
  mark(): number {
    return this.used;
  }
  /** Free everything allocated after `mark` (regions handed out after it must not be used again). */
  release(mark: number): void {
    if (mark < 0 || mark > this.used) throw new RangeError(`kernel arena: release(${mark}) outside [0, ${this.used}]`);
    this.used = mark;
  }
  /** A region of n f64, 32-byte aligned and zero-filled (unless `zero` is false: for regions written in full); returns its element offset. */
  alloc(n: number, zero = true): number {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`kernel arena: cannot allocate ${n} elements`);
    const off = Math.ceil(this.used / ALIGN) * ALIGN;
    const end = off + n;
    if (end > MAX_ELEMENTS) {
      throw new RangeError(`kernel arena: ${((end * 8) / 2 ** 30).toFixed(1)} GiB of workspace needed, more than the 4 GiB a WebAssembly memory can hold (use smaller chunks or the projected moments)`);
    }
    if (end > this.capacity()) this.grow(end);
    this.used = end;
    if (zero) this.zero(off, n);
    return off;
  }

  /**
   * C[i·ldc + j] += Σ_{k<K} A(i,k) · B[k·ldb + j] for i < m, j < n, with A(i,k) = heap[a + i·si + k·sk]
   * (si = 1, sk = lda: A stored transposed, one row per sample; si = lda, sk = 1: plain row-major; si = dx,
   * sk = 1 over consecutive rows of a sequence: sliding windows). B rows are contiguous. Full SIMD speed
   * when m and n are multiples of 4 (pad the buffers with `pad4`); the edges run one entry at a time.
   */
  gemm(m: number, n: number, K: number, a: number, si: number, sk: number, b: number, ldb: number, c: number, ldc: number): void {
    if (m <= 0 || n <= 0 || K <= 0) return;
    this.check('gemm A', a + Math.max(0, (m - 1) * si) + Math.max(0, (K - 1) * sk), a);
    this.check('gemm B', b + (K - 1) * ldb + n - 1, b);
    this.check('gemm C', c + (m - 1) * ldc + n - 1, c);
    // Column panels small enough that the K×panel block of B stays in L2 while every row tile of C
    // passes over it (otherwise a wide B, e.g. the dx(dx+1)/2 = 1275 products at dx = 50, is re-read
    // from memory for every 4 rows of C). Splitting columns does not change any entry's summation order.
    const panel = Math.max(4, Math.floor(16384 / K) & ~3);
    for (let j0 = 0; j0 < n; j0 += panel) this.gemmImpl(m, Math.min(panel, n - j0), K, a, si, sk, b + j0, ldb, c + j0, ldc);
  }

  /**
   * Row k (k < K) of the output (at o + k·ldo) ← the packed products s_a·s_b, a ≤ b (a = 0: b = 0..dx−1,
   * a = 1: b = 1..dx−1, …; dx(dx+1)/2 entries) of row k of s (at s + k·lds, length dx).
   */
  symKron(K: number, s: number, lds: number, dx: number, o: number, ldo: number): void {
    if (K <= 0 || dx <= 0) return;
    const np = (dx * (dx + 1)) / 2;
    if (ldo < np) throw new RangeError(`kernel arena: symKron output rows of ${ldo} cannot hold ${np} products`);
    this.check('symKron input', s + (K - 1) * lds + dx - 1, s);
    this.check('symKron output', o + (K - 1) * ldo + np - 1, o);
    this.symKronImpl(K, s, lds, dx, o, ldo);
  }

  /** Row k (k < K) of the output (at o + k·ldo) ← y_k ⊗ s_k: entry i·dx + a = y[k,i]·s[k,a] (dy·dx entries). */
  kronRows(K: number, y: number, ldy: number, dy: number, s: number, lds: number, dx: number, o: number, ldo: number): void {
    if (K <= 0 || dx <= 0 || dy <= 0) return;
    if (ldo < dy * dx) throw new RangeError(`kernel arena: kronRows output rows of ${ldo} cannot hold ${dy}x${dx} products`);
    this.check('kronRows y', y + (K - 1) * ldy + dy - 1, y);
    this.check('kronRows s', s + (K - 1) * lds + dx - 1, s);
    this.check('kronRows output', o + (K - 1) * ldo + dy * dx - 1, o);
    this.kronRowsImpl(K, y, ldy, dy, s, lds, dx, o, ldo);
  }

  /** heap[a .. a + n) = 0 (typed-array fill is ≈ 4× slower than wasm stores on a shared memory). */
  zero(a: number, n: number): void {
    if (n <= 0) return;
    this.check('zero', a + n - 1, a);
    this.zeroImpl(a, n);
  }

  /** out[k·ldo + j] = a[k·lda + j] · b[k·ldb + j] for k < K, j < n. */
  hadamard(K: number, n: number, a: number, lda: number, b: number, ldb: number, o: number, ldo: number): void {
    if (K <= 0 || n <= 0) return;
    this.check('hadamard a', a + (K - 1) * lda + n - 1, a);
    this.check('hadamard b', b + (K - 1) * ldb + n - 1, b);
    this.check('hadamard output', o + (K - 1) * ldo + n - 1, o);
    this.hadamardImpl(K, n, a, lda, b, ldb, o, ldo);
  }

  /** out[j] += Σ_{k<K} a[k·lda + j] for j < n (column sums of a row block). */
  colSums(K: number, n: number, a: number, lda: number, o: number): void {
    if (K <= 0 || n <= 0) return;
    this.check('colSums a', a + (K - 1) * lda + n - 1, a);
    this.check('colSums output', o + n - 1, o);
    this.colSumsImpl(K, n, a, lda, o);
  }

  /** a[k·lda + j] −= v[j] for k < K, j < n (e.g. centre rows by the mean). */
  subRows(K: number, n: number, a: number, lda: number, v: number): void {
    if (K <= 0 || n <= 0) return;
    this.check('subRows a', a + (K - 1) * lda + n - 1, a);
    this.check('subRows v', v + n - 1, v);
    this.subRowsImpl(K, n, a, lda, v);
  }

  private check(what: string, last: number, first: number): void {
    if (!(first >= 0 && last < this.used)) throw new RangeError(`kernel arena: ${what} reaches element ${last} (from ${first}), outside the ${this.used} allocated`);
  }
  protected abstract gemmImpl(m: number, n: number, K: number, a: number, si: number, sk: number, b: number, ldb: number, c: number, ldc: number): void;
  protected abstract symKronImpl(K: number, s: number, lds: number, dx: number, o: number, ldo: number): void;
  protected abstract kronRowsImpl(K: number, y: number, ldy: number, dy: number, s: number, lds: number, dx: number, o: number, ldo: number): void;
  protected abstract hadamardImpl(K: number, n: number, a: number, lda: number, b: number, ldb: number, o: number, ldo: number): void;
  protected abstract colSumsImpl(K: number, n: number, a: number, lda: number, o: number): void;
  protected abstract subRowsImpl(K: number, n: number, a: number, lda: number, v: number): void;
  protected abstract zeroImpl(a: number, n: number): void;
}

interface KernelExports {
  gemm(m: number, n: number, K: number, pa: number, si: number, sk: number, pb: number, ldb: number, pc: number, ldc: number): void;
  sym_kron(K: number, ps: number, lds: number, dx: number, po: number, ldo: number): void;
  kron_rows(K: number, py: number, ldy: number, dy: number, ps: number, lds: number, dx: number, po: number, ldo: number): void;
  hadamard(K: number, n: number, pa: number, lda: number, pb: number, ldb: number, po: number, ldo: number): void;
  col_sums(K: number, n: number, pa: number, lda: number, po: number): void;
  sub_rows(K: number, n: number, pa: number, lda: number, pv: number): void;
  zero(pa: number, n: number): void;
}

let compiled: WebAssembly.Module | null | undefined;
/** The compiled kernels, or null when this engine cannot run them (no WebAssembly SIMD). */
function wasmModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    const bytes = Buffer.from(KERNELS_WASM_BASE64, 'base64');
    compiled = typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  return compiled;
}

/** Whether the WebAssembly SIMD kernels can run here. */
export function wasmKernelsAvailable(): boolean {
  return wasmModule() !== null;
}

class WasmArena extends KernelArena {
  readonly backend = 'wasm' as const;
  private readonly k: KernelExports;
  /** Shared, so that growing it never detaches a buffer (see kernels.wat). */
  private readonly memory: WebAssembly.Memory;
  private view: Float64Array;
  constructor(mod: WebAssembly.Module) {
    super();
    this.memory = new WebAssembly.Memory({ initial: 16, maximum: 65536, shared: true });
    this.k = new WebAssembly.Instance(mod, { env: { memory: this.memory } }).exports as unknown as KernelExports;
    this.view = new Float64Array(this.memory.buffer);
  }
  get heap(): Float64Array {
    // A grown shared memory hands out a new, longer buffer; views of the old one stay valid but short.
    if (this.view.length !== this.memory.buffer.byteLength / 8) this.view = new Float64Array(this.memory.buffer);
    return this.view;
  }
  protected capacity(): number {
    return this.memory.buffer.byteLength / 8;
  }
  protected grow(minElements: number): void {
    const pages = Math.ceil((minElements * 8) / 65536);
    const have = this.memory.buffer.byteLength / 65536;
    // Grow geometrically so a pass does not grow once per chunk.
    const want = Math.min(65536, Math.max(pages, Math.ceil(have * 1.5)));
    this.memory.grow(want - have);
  }
  protected gemmImpl(m: number, n: number, K: number, a: number, si: number, sk: number, b: number, ldb: number, c: number, ldc: number): void {
    this.k.gemm(m, n, K, a * 8, si, sk, b * 8, ldb, c * 8, ldc);
  }
  protected symKronImpl(K: number, s: number, lds: number, dx: number, o: number, ldo: number): void {
    this.k.sym_kron(K, s * 8, lds, dx, o * 8, ldo);
  }
  protected kronRowsImpl(K: number, y: number, ldy: number, dy: number, s: number, lds: number, dx: number, o: number, ldo: number): void {
    this.k.kron_rows(K, y * 8, ldy, dy, s * 8, lds, dx, o * 8, ldo);
  }
  protected hadamardImpl(K: number, n: number, a: number, lda: number, b: number, ldb: number, o: number, ldo: number): void {
    this.k.hadamard(K, n, a * 8, lda, b * 8, ldb, o * 8, ldo);
  }
  protected colSumsImpl(K: number, n: number, a: number, lda: number, o: number): void {
    this.k.col_sums(K, n, a * 8, lda, o * 8);
  }
  protected subRowsImpl(K: number, n: number, a: number, lda: number, v: number): void {
    this.k.sub_rows(K, n, a * 8, lda, v * 8);
  }
  protected zeroImpl(a: number, n: number): void {
    this.k.zero(a * 8, n);
  }
}

class JsArena extends KernelArena {
  readonly backend = 'js' as const;
  private h = new Float64Array(8192);
  get heap(): Float64Array {
    return this.h;
  }
  protected capacity(): number {
    return this.h.length;
  }
  protected grow(minElements: number): void {
    const next = new Float64Array(Math.max(minElements, Math.ceil(this.h.length * 1.5)));
    next.set(this.h.subarray(0, this.used));
    this.h = next;
  }
  protected gemmImpl(m: number, n: number, K: number, a: number, si: number, sk: number, b: number, ldb: number, c: number, ldc: number): void {
    const H = this.h;
    for (let i = 0; i < m; i++) {
      const ai = a + i * si, ci = c + i * ldc;
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0, ak = ai, bk = b + j; k < K; k++, ak += sk, bk += ldb) s += H[ak] * H[bk];
        H[ci + j] += s;
      }
    }
  }
  protected symKronImpl(K: number, s: number, lds: number, dx: number, o: number, ldo: number): void {
    const H = this.h;
    for (let k = 0; k < K; k++) {
      const sr = s + k * lds;
      let m = o + k * ldo;
      for (let p = 0; p < dx; p++) {
        const sp = H[sr + p];
        for (let q = p; q < dx; q++) H[m++] = sp * H[sr + q];
      }
    }
  }
  protected kronRowsImpl(K: number, y: number, ldy: number, dy: number, s: number, lds: number, dx: number, o: number, ldo: number): void {
    const H = this.h;
    for (let k = 0; k < K; k++) {
      const yr = y + k * ldy, sr = s + k * lds;
      let m = o + k * ldo;
      for (let i = 0; i < dy; i++) {
        const yi = H[yr + i];
        for (let a = 0; a < dx; a++) H[m++] = yi * H[sr + a];
      }
    }
  }
  protected hadamardImpl(K: number, n: number, a: number, lda: number, b: number, ldb: number, o: number, ldo: number): void {
    const H = this.h;
    for (let k = 0; k < K; k++) for (let j = 0; j < n; j++) H[o + k * ldo + j] = H[a + k * lda + j] * H[b + k * ldb + j];
  }
  protected colSumsImpl(K: number, n: number, a: number, lda: number, o: number): void {
    const H = this.h;
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += H[a + k * lda + j];
      H[o + j] += s;
    }
  }
  protected subRowsImpl(K: number, n: number, a: number, lda: number, v: number): void {
    const H = this.h;
    for (let k = 0; k < K; k++) for (let j = 0; j < n; j++) H[a + k * lda + j] -= H[v + j];
  }
  protected zeroImpl(a: number, n: number): void {
    this.h.fill(0, a, a + n);
  }
}

/** A new arena on the given backend (default: WebAssembly when available). */
export function createArena(backend: KernelBackend = wasmKernelsAvailable() ? 'wasm' : 'js'): KernelArena {
  if (backend === 'wasm') {
    const mod = wasmModule();
    if (mod === null) throw new Error('kernel arena: this JavaScript engine cannot run WebAssembly SIMD; use the js backend');
    return new WasmArena(mod);
  }
  if (backend === 'js') return new JsArena();
  throw new RangeError(`kernel arena: unknown backend '${String(backend)}' (expected 'wasm' or 'js')`);
}

let shared: KernelArena | null = null;

/**
 * This thread's arena. Backend: GLOREE_KERNELS=js|wasm in the environment, else WebAssembly when the
 * engine supports SIMD. Callers bracket their scratch with mark()/release() and never keep data in it
 * between calls, so one arena serves every moment pass of the thread.
 */
export function kernels(): KernelArena {
  if (shared === null) {
    const env = typeof process === 'object' ? process.env.GLOREE_KERNELS : undefined;
    if (env !== undefined && env !== '' && env !== 'wasm' && env !== 'js') throw new Error(`GLOREE_KERNELS must be 'wasm' or 'js', got '${env}'`);
    shared = createArena(env === 'js' || env === 'wasm' ? env : undefined);
  }
  return shared;
}

/** Switch this thread's arena to another backend (tests and benchmarks); returns the previous one. */
export function setKernelBackend(backend: KernelBackend): KernelBackend | null {
  const prev = shared?.backend ?? null;
  if (prev !== backend) shared = createArena(backend);
  return prev;
}
