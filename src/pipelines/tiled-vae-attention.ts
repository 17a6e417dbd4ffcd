/**
 * The VAE mid-block self-attention (diffusers 0.29.2 `attention_processor.py` AttnProcessor2_0
 * on `Attention(residual_connection=True)` with a GroupNorm, one head of C channels) over ALL
 * latent pixels, exactly, in bounded memory:
 *   1. per band of rows: q, k, v = to_q/k/v(groupnorm(x)) with the image-wide statistics;
 *   2. per (query band, key band): softmax(q·kᵀ/√C) restricted to the key band, its values
 *      o_b and the row log-sum-exp lse_b; the bands are merged on the host in float64 as
 *      o = Σ_b exp(lse_b − LSE)·o_b (the usual blockwise softmax; one key band = plain softmax);
 *   3. per query band: out = x + to_out(o).
 * There is no ReduceMax op in our IR, so lse_b comes from the normalised softmax p itself:
 * Σ_j p_j·(s_j − log p_j) = lse exactly when p = softmax(s).
 */
import { Graph } from '../ir/graph.ts';
import type { SpatialSelfAttention } from '../models/autoencoders/vae.ts';
import { Tensor } from '../ops/tensor.ts';
import type { GraphCache } from './graph-cache.ts';
import type { FeatureMap, GroupStats, MapPool } from './tiled-vae-maps.ts';
import { normWith } from './tiled-vae-segments.ts';

const f32 = (shape: number[]) => ({ dtype: 'float32' as const, shape });

function traceProject(a: SpatialSelfAttention, key: string, c: number, n: number): Graph {
  const g = new Graph(`tiled_vae_${key}_qkv_${n}`);
  const x = new Tensor(g, g.addInput('x', f32([1, c, n])));
  const tokens = normWith(g, a.group_norm, x).transpose([0, 2, 1]); // [1, n, C]
  g.setOutputs({ q: a.to_q.forward(tokens).value, k: a.to_k.forward(tokens).value, v: a.to_v.forward(tokens).value });
  return g;
}

function traceBlock(a: SpatialSelfAttention, key: string, c: number, nq: number, nk: number): Graph {
  const g = new Graph(`tiled_vae_${key}_attn_${nq}x${nk}`);
  const q = new Tensor(g, g.addInput('q', f32([1, nq, c])));
  const k = new Tensor(g, g.addInput('k', f32([1, nk, c])));
  const v = new Tensor(g, g.addInput('v', f32([1, nk, c])));
  const s = q.matmul(k.mT()).mul(a.scale); // [1, nq, nk]
  const p = s.softmax(-1);
  const lse = p.mul(s.sub(p.clip(1e-30, 1).log())).sum([-1]); // [1, nq]
  g.setOutputs({ o: p.matmul(v).value, lse: lse.value });
  return g;
}

function traceFinish(a: SpatialSelfAttention, key: string, c: number, n: number): Graph {
  const g = new Graph(`tiled_vae_${key}_out_${n}`);
  const o = new Tensor(g, g.addInput('o', f32([1, n, c])));
  const x = new Tensor(g, g.addInput('x', f32([1, c, n])));
  const y = a.to_out.items.reduce((t, m) => m.forward(t), o).transpose([0, 2, 1]); // [1, C, n]
  g.setOutputs({ out: x.add(y).value });
  return g;
}

export interface AttentionRun {
  readonly attn: SpatialSelfAttention;
  /** Graph cache key prefix, unique per attention layer. */
  readonly key: string;
  readonly cache: GraphCache;
  readonly pool: MapPool;
  /** Largest score block, in elements (query tokens × key tokens). */
  readonly maxScores: number;
}

/** Rows per query band and per key band for an h × w map within `maxScores`. */
export function attentionBands(h: number, w: number, maxScores: number): { qRows: number; kRows: number } {
  const n = h * w;
  if (n * n <= maxScores) return { qRows: h, kRows: h };
  const qRows = Math.max(1, Math.min(h, Math.floor(Math.sqrt(maxScores) / w)));
  const kRows = Math.max(1, Math.min(h, Math.floor(maxScores / (qRows * w * w))));
  return { qRows, kRows };
}

/** x [C, H, W] with its GroupNorm statistics → x + attention(x) written to a new map (with `outStats`). */
export async function runAttention(r: AttentionRun, x: FeatureMap, stats: GroupStats, outStats: GroupStats): Promise<FeatureMap> {
  const { attn, key, cache, pool } = r;
  const { c, h, w } = x;
  const n = h * w;
  const { qRows, kRows } = attentionBands(h, w, r.maxScores);
  const { mean, rstd } = stats.meanRstd(n, attn.group_norm.eps);
  const norm = { mean: { dtype: 'float32' as const, shape: [1, c, 1], data: mean }, rstd: { dtype: 'float32' as const, shape: [1, c, 1], data: rstd } };

  // 1. q, k, v as token-major maps [1, N, C] (a key band is then one contiguous read).
  const qkv = { q: pool.create(1, n, c), k: pool.create(1, n, c), v: pool.create(1, n, c) };
  try {
    const bandRows = Math.min(h, Math.max(qRows, kRows));
    const project = await cache.get(`${key}/qkv/${bandRows * w}`, () => traceProject(attn, key, c, bandRows * w));
    for (let y = 0; y < h; y += bandRows) {
      const out = await project.run({ x: { dtype: 'float32', shape: [1, c, bandRows * w], data: x.read(y, bandRows, 0, w) }, ...norm });
      for (const name of ['q', 'k', 'v'] as const) qkv[name].write(out[name].data as Float32Array, y * w, bandRows * w, 0, c, null);
    }

    // 2–3. Blockwise softmax per query band, then the output projection and residual.
    const out = pool.create(c, h, w);
    const nq = qRows * w;
    const finish = await cache.get(`${key}/out/${nq}`, () => traceFinish(attn, key, c, nq));
    for (let yq = 0; yq < h; yq += qRows) {
      const q = qkv.q.read(yq * w, nq, 0, c);
      const acc = new Float64Array(nq * c);
      const lse = new Float64Array(nq).fill(-Infinity);
      for (let yk = 0; yk < h; yk += kRows) {
        const nk = Math.min(kRows, h - yk) * w;
        const block = await cache.get(`${key}/attn/${nq}x${nk}`, () => traceBlock(attn, key, c, nq, nk));
        const res = await block.run({
          q: { dtype: 'float32', shape: [1, nq, c], data: q },
          k: { dtype: 'float32', shape: [1, nk, c], data: qkv.k.read(yk * w, nk, 0, c) },
          v: { dtype: 'float32', shape: [1, nk, c], data: qkv.v.read(yk * w, nk, 0, c) },
        });
        mergeBlock(acc, lse, res.o.data as Float32Array, res.lse.data as Float32Array, c);
      }
      const res = await finish.run({
        o: { dtype: 'float32', shape: [1, nq, c], data: Float32Array.from(acc) },
        x: { dtype: 'float32', shape: [1, c, nq], data: x.read(yq, qRows, 0, w) },
      });
      out.write(res.out.data as Float32Array, yq, qRows, 0, w, outStats);
    }
    return out;
  } finally {
    for (const m of Object.values(qkv)) m.release();
  }
}

/** acc, lse ← the softmax-weighted merge of the running result with block (o, lseB). */
function mergeBlock(acc: Float64Array, lse: Float64Array, o: Float32Array, lseB: Float32Array, c: number): void {
  for (let i = 0; i < lse.length; i++) {
    const m = Math.max(lse[i], lseB[i]);
    const wa = Math.exp(lse[i] - m), wb = Math.exp(lseB[i] - m);
    const total = wa + wb;
    const ka = wa / total, kb = wb / total;
    for (let j = i * c; j < (i + 1) * c; j++) acc[j] = acc[j] * ka + o[j] * kb;
    lse[i] = m + Math.log(total);
  }
}
