/**
 * The VAE mid-block self-attention (diffusers 0.29.2 `attention_processor.py` AttnProcessor2_0
 * on `Attention(residual_connection=True)` with a GroupNorm, one head of C channels) over ALL
 * latent pixels, exactly, in bounded memory:
 *   1. per chunk of tokens (pixels): q, k, v = to_q/k/v(groupnorm(x)) with the image-wide
 *      statistics, stored token-major;
 *   2. per chunk of queries: out = x + to_out(softmax(q·kᵀ/√C)·v). The score block is
 *      [queries × keys]; when all keys do not fit the budget with the smallest query chunk,
 *      keys come in bands whose softmax results o_b and row log-sum-exps lse_b are merged on
 *      the host in float64 (o = Σ_b exp(lse_b − LSE)·o_b, the blockwise softmax).
 * Our IR has no ReduceMax, so lse_b comes from the normalised softmax p itself:
 * Σ_j p_j·(s_j − log p_j) = lse exactly when p = softmax(s).
 *
 * The cost is the model's, tiled or not: about 4·N²·C flops for N latent pixels (SD's VAE,
 * C = 512: 0.55 TFLOP for a 1024² image, 8.8 TFLOP at 2048²); what changes is the memory,
 * nq·N scores instead of N².
 */
import { Graph } from '../ir/graph.ts';
import type { SpatialSelfAttention } from '../models/autoencoders/vae.ts';
import { Tensor } from '../ops/tensor.ts';
import type { HostTensor } from '../runtime/session.ts';
import type { GraphCache } from './graph-cache.ts';
import type { FeatureMap, GroupStats, MapPool } from './tiled-vae-maps.ts';
import { normWith } from './tiled-vae-segments.ts';

const f32 = (shape: number[], data: Float32Array): HostTensor => ({ dtype: 'float32', shape, data });
const input = (g: Graph, name: string, shape: number[]) => new Tensor(g, g.addInput(name, { dtype: 'float32', shape }));

function traceProject(a: SpatialSelfAttention, key: string, c: number, n: number): Graph {
  const g = new Graph(`tiled_vae_${key}_qkv_${n}`);
  const tokens = normWith(g, a.group_norm, input(g, 'x', [1, n, c]), 2);
  g.setOutputs({ q: a.to_q.forward(tokens).value, k: a.to_k.forward(tokens).value, v: a.to_v.forward(tokens).value });
  return g;
}

/** x + to_out(o) with o, x [1, n, C] → [1, n, C] */
function finish(a: SpatialSelfAttention, o: Tensor, x: Tensor): Tensor {
  return x.add(a.to_out.items.reduce((t, m) => m.forward(t), o));
}

/** All keys at once: q [1, nq, C], k, v [1, N, C], x [1, nq, C] → out [1, nq, C]. */
function traceWhole(a: SpatialSelfAttention, key: string, c: number, nq: number, n: number): Graph {
  const g = new Graph(`tiled_vae_${key}_attn_${nq}x${n}`);
  const q = input(g, 'q', [1, nq, c]), k = input(g, 'k', [1, n, c]), v = input(g, 'v', [1, n, c]);
  const o = q.matmul(k.mT()).mul(a.scale).softmax(-1).matmul(v);
  g.setOutputs({ out: finish(a, o, input(g, 'x', [1, nq, c])).value });
  return g;
}

/** One key band: softmax over the band's keys, o [1, nq, C] and lse [1, nq]. */
function traceBand(a: SpatialSelfAttention, key: string, c: number, nq: number, nk: number): Graph {
  const g = new Graph(`tiled_vae_${key}_band_${nq}x${nk}`);
  const q = input(g, 'q', [1, nq, c]), k = input(g, 'k', [1, nk, c]), v = input(g, 'v', [1, nk, c]);
  const s = q.matmul(k.mT()).mul(a.scale); // [1, nq, nk]
  const p = s.softmax(-1);
  g.setOutputs({ o: p.matmul(v).value, lse: p.mul(s.sub(p.clip(1e-30, 1).log())).sum([-1]).value });
  return g;
}

function traceFinish(a: SpatialSelfAttention, key: string, c: number, nq: number): Graph {
  const g = new Graph(`tiled_vae_${key}_out_${nq}`);
  g.setOutputs({ out: finish(a, input(g, 'o', [1, nq, c]), input(g, 'x', [1, nq, c])).value });
  return g;
}

export interface AttentionRun {
  readonly attn: SpatialSelfAttention;
  /** Graph cache key prefix, unique per attention layer. */
  readonly key: string;
  readonly cache: GraphCache;
  readonly pool: MapPool;
  /** Memory budget (see attentionChunks). */
  readonly budgetBytes: number;
}

/**
 * Query chunk and key band sizes (tokens) for n tokens of c channels: score blocks of at
 * most `budget / 16` elements (scores and softmax: half the budget) and, to take all keys at
 * once (nk = n), their keys and values held whole within a quarter of it.
 */
export function attentionChunks(n: number, c: number, budgetBytes: number): { nq: number; nk: number } {
  const maxScores = Math.max(1, Math.floor(budgetBytes / 16));
  // Query chunks of at least 64 tokens keep q·kᵀ compute-bound (each chunk reads all keys).
  const minQ = Math.min(n, 64);
  if (minQ * n <= maxScores && 8 * n * c <= budgetBytes / 4) return { nq: Math.min(n, Math.floor(maxScores / n)), nk: n };
  const nq = Math.max(1, Math.min(n, Math.floor(Math.sqrt(maxScores))));
  return { nq, nk: Math.max(1, Math.floor(maxScores / nq)) };
}

/** x [H, W, C] with its GroupNorm statistics → x + attention(x) in a new map (with `outStats`). */
export async function runAttention(r: AttentionRun, x: FeatureMap, stats: GroupStats, outStats: GroupStats): Promise<FeatureMap> {
  const { attn, key, cache, pool } = r;
  const c = x.c, n = x.h * x.w;
  const { nq, nk } = attentionChunks(n, c, r.budgetBytes);
  const { mean, rstd } = stats.meanRstd(n, attn.group_norm.eps);
  const tokens = x.flat(); // [1, N, C]

  const qkv = { q: pool.create(c, 1, n), k: pool.create(c, 1, n), v: pool.create(c, 1, n) };
  const out = pool.create(c, x.h, x.w);
  try {
    const project = await cache.get(`${key}/qkv/${nq}`, () => traceProject(attn, key, c, nq));
    for (let t = 0; t < n; t += nq) {
      const res = await project.run({ x: f32([1, nq, c], tokens.read(0, 1, t, nq)), mean: f32([1, 1, c], mean), rstd: f32([1, 1, c], rstd) });
      for (const name of ['q', 'k', 'v'] as const) qkv[name].write(res[name].data as Float32Array, 0, 1, t, nq, null);
    }
    const outTokens = out.flat();
    const whole = nk === n ? { k: qkv.k.all(), v: qkv.v.all() } : null;
    for (let t = 0; t < n; t += nq) {
      const q = f32([1, nq, c], qkv.q.read(0, 1, t, nq)), xs = f32([1, nq, c], tokens.read(0, 1, t, nq));
      let res;
      if (whole) {
        const g = await cache.get(`${key}/whole/${nq}x${n}`, () => traceWhole(attn, key, c, nq, n));
        res = await g.run({ q, k: f32([1, n, c], whole.k), v: f32([1, n, c], whole.v), x: xs });
      } else {
        const o = await keyBands(r, qkv.k, qkv.v, q, nq, nk, n, c);
        res = await (await cache.get(`${key}/out/${nq}`, () => traceFinish(attn, key, c, nq))).run({ o: f32([1, nq, c], o), x: xs });
      }
      outTokens.write(res.out.data as Float32Array, 0, 1, t, nq, outStats);
    }
    return out;
  } catch (e) {
    out.release();
    throw e;
  } finally {
    for (const m of Object.values(qkv)) m.release();
  }
}

/** softmax(q·kᵀ)·v for one query chunk with the keys in bands, merged in float64. */
async function keyBands(r: AttentionRun, k: FeatureMap, v: FeatureMap, q: HostTensor, nq: number, nk: number, n: number, c: number): Promise<Float32Array> {
  const acc = new Float64Array(nq * c);
  const lse = new Float64Array(nq).fill(-Infinity);
  for (let u = 0; u < n; u += nk) {
    const len = Math.min(nk, n - u);
    const g = await r.cache.get(`${r.key}/band/${nq}x${len}`, () => traceBand(r.attn, r.key, c, nq, len));
    const res = await g.run({ q, k: f32([1, len, c], k.read(0, 1, u, len)), v: f32([1, len, c], v.read(0, 1, u, len)) });
    const o = res.o.data as Float32Array, lseB = res.lse.data as Float32Array;
    for (let i = 0; i < nq; i++) {
      const m = Math.max(lse[i], lseB[i]);
      const wa = Math.exp(lse[i] - m), wb = Math.exp(lseB[i] - m);
      const ka = wa / (wa + wb), kb = wb / (wa + wb);
      for (let j = i * c; j < (i + 1) * c; j++) acc[j] = acc[j] * ka + o[j] * kb;
      lse[i] = m + Math.log(wa + wb);
    }
  }
  return Float32Array.from(acc);
}
