import { Matrix } from '../linalg/matrix.js';
import { KernelArena } from '../linalg/kernels/arena.js';
import { InputModel } from './model.js';

/**
 * First-order scores of a whole chunk through the precision blocks, on the kernel arena (docs/method.md §3):
 *   s_t = Σ_{|u−t| ≤ p} Λ_{t,u} c_u,   c = x − μ,
 * and linear maps of them (e.g. the projected scores p_t = Fᵀ s_t of docs/method.md §5 step 5), as
 *   out_t += Σ_u c_u · T(Λ_{t,u})          (T(B) a dx × ldo matrix, e.g. Bᵀ or Bᵀ[F | G]).
 * Consecutive steps of a sequence share their block objects (InputModel.precisionBlock returns the same
 * object for equal blocks), so the steps with the same blocks form one GEMM whose A operand is a sliding
 * window over the centred rows: a VAR(1) sequence costs one GEMM for its interior (K = 3·dx) and three
 * one-row GEMMs per boundary step instead of L·3 matrix-vector products.
 *
 * `c` and `out` are element offsets of rows×dx and rows×ldo regions of `K` (out is accumulated into);
 * `fill(B, H, off)` writes T(B) into H[off .. off + dx·ldo) row-major. Allocates block scratch above the
 * current mark and releases it before returning; re-read `K.heap` afterwards.
 */
export function applyPrecisionBlocks(
  K: KernelArena,
  model: InputModel,
  lengths: Int32Array,
  c: number,
  out: number,
  ldo: number,
  fill: (B: Matrix, H: Float64Array, off: number) => void,
): void {
  const dx = model.dx, p = model.order, width = 2 * p + 1;
  const mark = K.mark();
  try {
    // T(B) per distinct block, and the stacked [T(B_−p); …; T(B_p)] ((2p+1)·dx × ldo) per distinct tuple of
    // blocks, so that a run of steps with all 2p+1 blocks present (the interior of a sequence) is ONE GEMM
    // with K = (2p+1)·dx over the contiguous window of rows t−p..t+p (si = dx, sk = 1).
    const ids = new Map<Matrix, number>(), single: number[] = [], stacked = new Map<string, number>();
    const idOf = (B: Matrix): number => {
      let id = ids.get(B);
      if (id === undefined) {
        id = ids.size;
        ids.set(B, id);
        const off = K.alloc(dx * ldo);
        fill(B, K.heap, off);
        single.push(off);
      }
      return id;
    };
    // The runs of a sequence depend only on its length L (precisionBlock is a function of t, u, L), so they are
    // found once per distinct L: [start, end, the 2p+1 blocks (null: none)] per run. A sequence with more distinct
    // blocks than a Markov model should have (a model handing out fresh objects, or a truly time-varying one)
    // gets null: it is processed step by step through one reused block region, so memory stays bounded.
    const MAX_DISTINCT = 8 * width + 8;
    // Per run, the block ids and the stacked block's offset are filled in at first use (valid until a cache reset,
    // which clears runsByL too), so the per-sequence loop allocates nothing.
    type BlockRun = { t0: number; t1: number; blocks: (Matrix | null)[]; complete: boolean; tuple?: number[]; stacked?: number };
    const runsByL = new Map<number, BlockRun[] | null>();
    const runsOf = (L: number) => {
      if (runsByL.has(L)) return runsByL.get(L)!;
      const runs: BlockRun[] = [];
      const distinct = new Set<Matrix>();
      const at = (t: number): (Matrix | null)[] => {
        const out: (Matrix | null)[] = [];
        for (let d = -p; d <= p; d++) {
          const B = t + d >= 0 && t + d < L ? model.precisionBlock(t, t + d, L) : null;
          if (B !== null) distinct.add(B);
          out.push(B);
        }
        return out;
      };
      let t = 0, cur = L > 0 ? at(0) : [];
      while (t < L) {
        let t1 = t + 1, nxt = cur;
        for (; t1 < L; t1++) {
          nxt = at(t1);
          if (nxt.some((B, i) => B !== cur[i])) break;
        }
        if (distinct.size > MAX_DISTINCT) {
          runsByL.set(L, null);
          return null;
        }
        runs.push({ t0: t, t1, blocks: cur, complete: cur.every((B) => B !== null) });
        t = t1;
        cur = nxt;
      }
      runsByL.set(L, runs);
      return runs;
    };
    let scratch = -1; // one block region for the step-by-step path
    let row = 0;
    for (let k = 0; k < lengths.length; k++) {
      const L = lengths[k];
      // Caches grow with the distinct blocks seen; drop them between sequences once large (blocks are cheap to
      // rebuild; well-behaved models never get here).
      if (ids.size >= 64) {
        K.release(mark);
        ids.clear();
        single.length = 0;
        stacked.clear();
        runsByL.clear();
        scratch = -1;
      }
      const runs = runsOf(L);
      if (runs === null) {
        if (scratch < 0) scratch = K.alloc(dx * ldo);
        for (let t = 0; t < L; t++)
          for (let d = -p; d <= p; d++) {
            if (t + d < 0 || t + d >= L) continue;
            const B = model.precisionBlock(t, t + d, L);
            if (B === null) continue;
            fill(B, K.heap, scratch);
            K.gemm(1, ldo, dx, c + (row + t + d) * dx, dx, 1, scratch, ldo, out + (row + t) * ldo, ldo);
          }
        row += L;
        continue;
      }
      for (const run of runs) {
        const { t0, t1, complete } = run;
        const m = t1 - t0, o = out + (row + t0) * ldo;
        const tuple = (run.tuple ??= run.blocks.map((B) => (B === null ? -1 : idOf(B))));
        if (complete && width > 1) {
          if (run.stacked === undefined) {
            const key = tuple.join(',');
            let st = stacked.get(key);
            if (st === undefined) {
              st = K.alloc(width * dx * ldo);
              const H = K.heap;
              for (let i = 0; i < width; i++) H.copyWithin(st + i * dx * ldo, single[tuple[i]], single[tuple[i]] + dx * ldo);
              stacked.set(key, st);
            }
            run.stacked = st;
          }
          K.gemm(m, ldo, width * dx, c + (row + t0 - p) * dx, dx, 1, run.stacked, ldo, o, ldo);
        } else {
          for (let i = 0; i < width; i++) {
            if (tuple[i] < 0) continue;
            K.gemm(m, ldo, dx, c + (row + t0 + i - p) * dx, dx, 1, single[tuple[i]], ldo, o, ldo);
          }
        }
      }
      row += L;
    }
  } finally {
    K.release(mark);
  }
}

/** T(B) = Bᵀ in a dx × ldo block (columns ≥ dx stay zero): with it, applyPrecisionBlocks computes the scores. */
export function fillTranspose(dx: number, ldo: number): (B: Matrix, H: Float64Array, off: number) => void {
  return (B, H, off) => {
    const d = B.data;
    for (let b = 0; b < dx; b++) for (let a = 0; a < dx; a++) H[off + b * ldo + a] = d[a * dx + b];
  };
}
