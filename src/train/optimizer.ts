/**
 * Host-side optimisation on float32 arrays, as train_pasd.py does it through accelerate:
 * `clip_grad_norm_` (torch 1.13 `torch/nn/utils/clip_grad.py`) and `torch.optim.AdamW`
 * (torch 1.13 `_single_tensor_adamw`). Arithmetic is float64 rounded to float32 at every
 * point where torch stores a float32 tensor, so one step matches torch to about one ulp.
 */
import { InputError } from '../core/errors.ts';

const f = Math.fround;

export interface ClipResult {
  /** ‖(‖g_p‖₂)_p‖₂ before clipping. */
  totalNorm: number;
  /** min(1, max/(total + 1e-6)): what every gradient was multiplied by. */
  clipCoef: number;
}

/** Scales the gradients in place so that their global L2 norm is at most `maxNorm`. Null gradients are skipped. */
export function clipGradNorm(grads: readonly (Float32Array | null)[], maxNorm: number): ClipResult {
  let sq = 0;
  for (const g of grads) {
    if (!g) continue;
    let s = 0;
    for (let i = 0; i < g.length; i++) s += g[i] * g[i];
    const n = f(Math.sqrt(s)); // torch.norm of each gradient is a float32 tensor
    sq += n * n;
  }
  const totalNorm = f(Math.sqrt(sq));
  const clipCoef = Math.min(1, f(maxNorm / f(totalNorm + 1e-6)));
  // torch 1.13 multiplies even when the coefficient is clamped to 1 (a no-op in float32).
  if (clipCoef < 1) for (const g of grads) if (g) for (let i = 0; i < g.length; i++) g[i] = f(g[i] * clipCoef);
  return { totalNorm, clipCoef };
}

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** train_pasd.py's argparse defaults. */
export const ADAMW_DEFAULTS: Readonly<AdamWOptions> = Object.freeze({ beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2 });

/** AdamW state: step count and the two moments per parameter (allocated on first update). */
export class AdamW {
  step = 0;
  readonly expAvg: Float32Array[];
  readonly expAvgSq: Float32Array[];

  constructor(readonly sizes: readonly number[], readonly options: AdamWOptions = ADAMW_DEFAULTS) {
    for (const [k, v] of Object.entries(options)) if (!Number.isFinite(v) || v < 0) throw new InputError(`AdamW: ${k} must be a finite number ≥ 0, got ${v}`);
    if (options.beta1 >= 1 || options.beta2 >= 1) throw new InputError(`AdamW: betas must be < 1, got (${options.beta1}, ${options.beta2})`);
    this.expAvg = sizes.map((n) => new Float32Array(n));
    this.expAvgSq = sizes.map((n) => new Float32Array(n));
  }

  /**
   * One step at learning rate `lr` on `params` (in place). A parameter whose gradient is null
   * is left untouched: torch skips parameters with `grad is None` (no decay either).
   */
  update(params: readonly Float32Array[], grads: readonly (Float32Array | null)[], lr: number): void {
    if (params.length !== this.sizes.length || grads.length !== this.sizes.length)
      throw new InputError(`AdamW.update: expected ${this.sizes.length} parameters and gradients, got ${params.length} and ${grads.length}`);
    this.step++;
    const { beta1: b1, beta2: b2, eps, weightDecay: wd } = this.options;
    const decay = f(1 - lr * wd);
    const bc1 = 1 - b1 ** this.step;
    const bc2Sqrt = Math.sqrt(1 - b2 ** this.step);
    const stepSize = f(lr / bc1);
    const [a1, c1, a2, c2] = [f(b1), f(1 - b1), f(b2), f(1 - b2)];
    const bc2f = f(bc2Sqrt), epsf = f(eps);
    params.forEach((p, k) => {
      const g = grads[k];
      if (!g) return;
      if (p.length !== this.sizes[k] || g.length !== this.sizes[k]) throw new InputError(`AdamW.update: parameter ${k} has ${p.length} values and gradient ${g.length}, expected ${this.sizes[k]}`);
      const m = this.expAvg[k], v = this.expAvgSq[k];
      for (let i = 0; i < p.length; i++) {
        const gi = g[i];
        const pi = f(p[i] * decay);
        m[i] = f(f(m[i] * a1) + f(gi * c1));
        v[i] = f(f(v[i] * a2) + f(f(gi * gi) * c2));
        const denom = f(f(Math.sqrt(v[i]) / bc2f) + epsf);
        p[i] = f(pi - f(stepSize * f(m[i] / denom)));
      }
    });
  }
}
