/**
 * Weights for parameters a training run does not load: torch's default initialisation
 * (nn.Conv2d / nn.Linear `reset_parameters`: kaiming_uniform(a=√5) → U(±1/√fan_in) for the
 * weight and the bias; norms: weight 1, bias 0; embeddings N(0, 0.02) as transformers' CLIP
 * `_init_weights`), and diffusers' `zero_module` for the ControlNet's zero convolutions
 * (diffusers `controlnet.py`, PASD `controlnet.py` for the conditioning embedding's conv_out).
 */
import { StateDictError } from '../core/errors.ts';
import type { RandomSource } from '../core/random.ts';
import { numel } from '../core/shape.ts';
import type { Module, Parameter, StoredTensor } from '../nn/module.ts';

/** ControlNet sub-modules that diffusers / PASD create with `zero_module`. */
export const CONTROLNET_ZERO_MODULES = Object.freeze(['controlnet_down_blocks.', 'controlnet_mid_block.', 'controlnet_cond_embedding.conv_out.']);

/** Values for one parameter by torch's default rule (`key`: its state-dict key within `all`). */
function initialValues(key: string, p: Parameter, all: ReadonlyMap<string, Parameter>, rng: RandomSource, zero: readonly string[]): Float32Array {
  const n = numel(p.shape);
  const out = new Float32Array(n);
  if (zero.some((z) => key.startsWith(z))) return out;
  const leaf = key.slice(key.lastIndexOf('.') + 1);
  const uniform = (bound: number) => { for (let i = 0; i < n; i++) out[i] = (2 * rng.uniform() - 1) * bound; };
  if (p.shape.length >= 2) {
    if (key.endsWith('embedding.weight')) { const z = rng.randn(n); for (let i = 0; i < n; i++) out[i] = 0.02 * z[i]; }
    else uniform(1 / Math.sqrt(numel(p.shape.slice(1))));
    return out;
  }
  const weight = all.get(`${key.slice(0, key.length - leaf.length)}weight`);
  if (leaf === 'bias' && weight && weight.shape.length >= 2) uniform(1 / Math.sqrt(numel(weight.shape.slice(1))));
  else if (leaf === 'weight') out.fill(1); // LayerNorm / GroupNorm scale
  return out; // norm biases
}

/**
 * Binds the parameters of `m` found in `weights` (same shape required) and initialises the
 * rest in host memory. `mayInit(key)` says which keys may be missing from `weights`; any other
 * missing key, and any mis-shaped one, is reported (all at once). Returns the initialised keys.
 */
export function bindOrInit(m: Module, weights: ReadonlyMap<string, StoredTensor>, rng: RandomSource, o: { what: string; mayInit: (key: string) => boolean; zero?: readonly string[] }): string[] {
  const params = m.namedParameters();
  const byKey = new Map(params);
  const bad: string[] = [], inited: string[] = [];
  for (const [k, p] of params) {
    const w = weights.get(k);
    if (w && w.shape.join() === p.shape.join()) { p.source = w.source; continue; }
    if (w) { bad.push(`${k}: model [${p.shape}], weights [${w.shape}]`); continue; }
    if (!o.mayInit(k)) { bad.push(`${k}: missing`); continue; }
    p.source = { kind: 'host', data: initialValues(k, p, byKey, rng, o.zero ?? []), dtype: 'float32' };
    inited.push(k);
  }
  if (bad.length) throw new StateDictError(`${o.what}: ${bad.length} weights do not fit the model config: ${bad.slice(0, 12).join('; ')}${bad.length > 12 ? '; …' : ''}`);
  return inited;
}
