/**
 * `schedulers` group (fixtures README, "schedulers"): the case's `scheduler_class` is built
 * from the SD1.5 config of `conventions.scheduler_config` (plus the case's own
 * `scheduler_config` when that is an object), then one of three procedures runs, chosen by
 * the case's inputs:
 * - `input.x_T`: set_timesteps(num_inference_steps) and the fake-model trajectory of the
 *   `procedure` text (`eps = a·inp + b·t/c`), with stored step noise replayed in order;
 * - `input.original_samples`: add_noise / get_velocity at per-sample `input.timesteps`;
 * - `input.init_latents`: PASD's prepare_latents (noise at timesteps[0], then at
 *   `added_noise_level`, then × init_noise_sigma).
 */
import { ConfigError, UnsupportedError } from '../../core/errors.ts';
import type { RandomSource } from '../../core/random.ts';
import { type FloatArray, type Scheduler, SCHEDULERS, createScheduler } from '../../schedulers/index.ts';
import type { CaseContext, CaseOutputs, GroupHandler } from '../types.ts';

/** Hands out a case's stored draws in order, as the torch generator did when the fixture was made. */
export class ReplayRandom implements RandomSource {
  used = 0;
  constructor(private readonly draws: Float32Array, private readonly size: number) {}
  get available(): number {
    return this.size === 0 ? 0 : this.draws.length / this.size;
  }
  randn(n: number): Float32Array {
    if (n !== this.size) throw new ConfigError(`replayed noise: a draw of ${n} values was asked for, the fixture stores draws of ${this.size}`);
    if (this.used >= this.available) throw new ConfigError(`replayed noise: draw ${this.used + 1} asked for, the fixture recorded ${this.available}`);
    return this.draws.slice(this.used * n, ++this.used * n);
  }
  uniform(): number {
    throw new UnsupportedError('replayed noise: the fixture stores Gaussian draws only');
  }
  randint(): number {
    throw new UnsupportedError('replayed noise: the fixture stores Gaussian draws only');
  }
}

function field<T>(ctx: CaseContext, key: string, type: 'string' | 'number'): T {
  const v = ctx.meta[key];
  if (typeof v !== type) throw new UnsupportedError(`${ctx.meta.name}: the manifest entry has no ${type} "${key}"`);
  return v as T;
}

export function schedulerFor(ctx: CaseContext): Scheduler {
  const cls = field<string>(ctx, 'scheduler_class', 'string');
  if (!Object.hasOwn(SCHEDULERS, cls)) throw new UnsupportedError(`scheduler class "${cls}" is not implemented`);
  const base = ctx.fixtures.conventions('scheduler_config');
  const own = ctx.meta.scheduler_config;
  const config = { ...(typeof base === 'object' ? base : {}), ...(own !== null && typeof own === 'object' ? own : {}) };
  return createScheduler(cls, config, () => {});
}

/** The fake model of the procedure text, `eps = a*inp + b*t/c`. */
export function fakeModel(procedure: string | undefined): (inp: FloatArray, t: number) => Float32Array {
  const num = String.raw`([-+]?\d*\.?\d+(?:e[-+]?\d+)?)`;
  const m = new RegExp(String.raw`eps\s*=\s*${num}\s*\*\s*inp\s*\+\s*${num}\s*\*\s*t\s*/\s*${num}`).exec(procedure ?? '');
  if (!m) throw new UnsupportedError(`scheduler procedure without a fake model of the form "eps = a*inp + b*t/c": ${JSON.stringify(procedure)}`);
  const [a, b, c] = m.slice(1).map(Number);
  return (inp, t) => {
    const e = new Float32Array(inp.length);
    for (let j = 0; j < e.length; j++) e[j] = a * inp[j] + (b * t) / c;
    return e;
  };
}

function concat(parts: readonly FloatArray[]): Float32Array {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out = new Float32Array(n);
  let o = 0;
  for (const p of parts) out.set(p, (o += p.length) - p.length);
  return out;
}

function trajectory(ctx: CaseContext, s: Scheduler): CaseOutputs {
  const steps = field<number>(ctx, 'num_inference_steps', 'number');
  const model = fakeModel(ctx.meta.procedure);
  const xT = ctx.f32('input.x_T');
  const gen = new ReplayRandom(ctx.has('input.step_noise') ? ctx.f32('input.step_noise') : new Float32Array(0), xT.length);
  s.setTimesteps(steps);
  let x: FloatArray = xT.map((v) => v * s.initNoiseSigma);
  const eps: Float32Array[] = [];
  const latents: FloatArray[] = [];
  for (const t of s.timesteps) {
    const e = model(s.scaleModelInput(x, t), t);
    x = s.step(e, t, x, { generator: gen }).prevSample;
    eps.push(e);
    latents.push(x);
  }
  if (gen.used !== gen.available) throw new ConfigError(`${ctx.meta.name}: the scheduler drew ${gen.used} step noises, the fixture recorded ${gen.available}`);
  const out: CaseOutputs = new Map();
  // torch's int64 cast of float timesteps (Euler) truncates.
  out.set('output.timesteps', s.timesteps.map(Math.trunc));
  out.set('output.init_noise_sigma', [s.initNoiseSigma]);
  const sigmas = (s as { sigmas?: Float64Array }).sigmas;
  if (sigmas instanceof Float64Array) out.set('output.sigmas', sigmas);
  out.set('output.latents_per_step', concat(latents));
  out.set('output.model_output_per_step', concat(eps));
  return out;
}

function addNoiseAndVelocity(ctx: CaseContext, s: Scheduler): CaseOutputs {
  const x0 = ctx.f32('input.original_samples');
  const noise = ctx.f32('input.noise');
  const ts = ctx.ints('input.timesteps');
  const out: CaseOutputs = new Map([['output.noisy_samples', s.addNoise(x0, noise, ts)]]);
  const withVelocity = s as Scheduler & { getVelocity?: (x: FloatArray, n: FloatArray, t: readonly number[]) => FloatArray };
  if (typeof withVelocity.getVelocity === 'function') out.set('output.velocity', withVelocity.getVelocity(x0, noise, ts));
  const acp = (s as { alphasCumprod?: Float64Array }).alphasCumprod;
  if (acp instanceof Float64Array) out.set('output.alphas_cumprod', acp);
  return out;
}

function prepareLatents(ctx: CaseContext, s: Scheduler): CaseOutputs {
  s.setTimesteps(field<number>(ctx, 'num_inference_steps', 'number'));
  const level = field<number>(ctx, 'added_noise_level', 'number');
  const first = s.addNoise(ctx.f32('input.init_latents'), ctx.f32('input.noise'), s.timesteps[0]);
  const latents = s.addNoise(first, ctx.f32('input.added_noise'), level).map((v) => v * s.initNoiseSigma);
  return new Map<string, ArrayLike<number>>([
    ['output.timesteps', s.timesteps.map(Math.trunc)],
    ['output.after_first_add_noise', first],
    ['output.latents', latents],
  ]);
}

export const schedulers: GroupHandler = async (ctx) => {
  const s = schedulerFor(ctx);
  if (ctx.has('input.x_T')) return trajectory(ctx, s);
  if (ctx.has('input.original_samples')) return addNoiseAndVelocity(ctx, s);
  if (ctx.has('input.init_latents')) return prepareLatents(ctx, s);
  throw new UnsupportedError(`${ctx.meta.name}: no known scheduler procedure for inputs ${ctx.meta.tensors.filter((t) => t.name.startsWith('input.')).map((t) => t.name).join(', ') || '(none)'}`);
};
