/**
 * Behaviour beyond the trajectory fixtures: per-image state never leaks between images, the
 * colorization (zero terminal SNR, trailing) UniPC config against the pipeline_colorization
 * fixture, config validation, and explicit step noise.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, InputError } from '../../src/core/errors.ts';
import { Random } from '../../src/core/random.ts';
import {
  DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler, LCMScheduler,
  SCHEDULERS, type SchedulerName, UniPCMultistepScheduler, createScheduler,
} from '../../src/schedulers/index.ts';
import type { FloatArray, Scheduler } from '../../src/schedulers/common.ts';
import { FIXTURES, SD15_SCHEDULER_CONFIG, maxAbsDiff, openCase } from './fixture.ts';

/** The fixture procedure without setTimesteps (so only reset() can clear state); `stopAfter` aborts early. */
function denoise(s: Scheduler, xT: Float32Array, seed: number, stopAfter = Infinity): FloatArray {
  const gen = new Random(seed);
  let x: FloatArray = xT.map((v) => v * s.initNoiseSigma);
  for (const [i, t] of s.timesteps.entries()) {
    if (i >= stopAfter) break;
    const inp: FloatArray = s.scaleModelInput(x, t);
    const eps: Float32Array = Float32Array.from(inp, (v: number) => 0.3 * v + (0.01 * t) / 1000);
    x = s.step(eps, t, x, { generator: gen }).prevSample;
  }
  return x;
}

const image1 = new Random(1).randn(4 * 8 * 8);
const image2 = new Random(2).randn(4 * 8 * 8);

for (const name of Object.keys(SCHEDULERS) as SchedulerName[]) {
  test(`${name}: one instance reused for a second image equals a fresh instance`, () => {
    const fresh = createScheduler(name, SD15_SCHEDULER_CONFIG, () => {});
    fresh.setTimesteps(10);
    const expected = denoise(fresh, image2, 7);

    const reused = createScheduler(name, SD15_SCHEDULER_CONFIG, () => {});
    reused.setTimesteps(10);
    denoise(reused, image1, 3, 4); // an image abandoned after 4 steps: history is mid-way
    reused.reset();
    assert.deepEqual(denoise(reused, image2, 7), expected, 'after reset()');
    reused.reset();
    denoise(reused, image1, 3, 6);
    reused.setTimesteps(10);
    assert.deepEqual(denoise(reused, image2, 7), expected, 'after setTimesteps()');
  });
}

test('without reset() the multistep history does leak (so the reset test can fail)', () => {
  const s = new UniPCMultistepScheduler(SD15_SCHEDULER_CONFIG, () => {});
  s.setTimesteps(10);
  const expected = denoise(s, image2, 7);
  s.reset();
  denoise(s, image1, 3, 4);
  // The step index carries on from step 4 and runs past the schedule.
  assert.throws(() => denoise(s, image2, 7), (e: unknown) => e instanceof InputError && /reset\(\)/.test(e.message));
  s.reset();
  assert.deepEqual(denoise(s, image2, 7), expected);
});

test('pipeline_colorization: zero-terminal-SNR, trailing UniPC (timesteps, ᾱ_T = 2^-24, sigmas, teacher-forced steps)', (t) => {
  const manifest = JSON.parse(readFileSync(path.join(FIXTURES, 'manifest.json'), 'utf8')) as { cases: { name: string; file: string; settings: { scheduler: { class_name: string; config: unknown } }; tensors: { name: string; per_step_f32_vs_f64_teacher_forced?: number[] }[] }[] };
  const c = manifest.cases.find((x) => x.name === 'pipeline_colorization')!;
  const f = openCase(c);
  const warnings: string[] = [];
  const s = createScheduler(c.settings.scheduler.class_name, c.settings.scheduler.config, (m) => warnings.push(m)) as UniPCMultistepScheduler;
  assert.deepEqual(warnings, []);
  const steps = f.ints('output.timesteps').length;
  s.setTimesteps(steps);
  assert.deepEqual(s.timesteps, f.ints('output.timesteps'));
  assert.deepEqual(s.timesteps, [999, 749, 499, 249]);
  assert.equal(s.alphasCumprod[999], f.f32('output.alphas_cumprod_last')[0]);
  const refSigmas = f.f32('output.sigmas');
  s.sigmas.forEach((v, i) => assert.ok(Math.abs(v - refSigmas[i]) <= 1e-6 * Math.max(1, refSigmas[i]), `sigma ${i}: ${v} vs ${refSigmas[i]}`));

  // Teacher forcing: feed the recorded input latents and guided noise of each step; our own history.
  const inputs = f.f32('output.latents_per_step_input');
  const preds = f.f32('output.noise_pred_per_step');
  const outputs = f.f32('output.latents_per_step_output');
  const f32vs64 = c.tensors.find((x) => x.name === 'output.latents_per_step_output')!.per_step_f32_vs_f64_teacher_forced!;
  const n = inputs.length / steps;
  s.timesteps.forEach((ts, i) => {
    const out = s.step(preds.subarray(i * n, (i + 1) * n), ts, inputs.slice(i * n, (i + 1) * n)).prevSample;
    const d = maxAbsDiff(out, outputs.subarray(i * n, (i + 1) * n));
    t.diagnostic(`step ${i}: max |diff| ${d.toExponential(2)} (float32 vs float64 in diffusers: ${f32vs64[i].toExponential(2)})`);
    // Latents reach ~1.9e4 here; our float64 steps may differ from diffusers' float32 by what
    // its own float64 run differs, plus float32 rounding of the output.
    assert.ok(d <= 2 * f32vs64[i], `step ${i}: ${d}`);
  });
});

test('config: unsupported values throw ConfigError naming the key', () => {
  const bad: [unknown, string][] = [
    [{ beta_schedule: 'sigmoid' }, 'beta_schedule'],
    [{ prediction_type: 'x0' }, 'prediction_type'],
    [{ timestep_spacing: 'karras' }, 'timestep_spacing'],
    [{ solver_type: 'bh3' }, 'solver_type'],
    [{ solver_order: 0 }, 'solver_order'],
    [{ steps_offset: 1.5 }, 'steps_offset'],
    [{ use_karras_sigmas: 'yes' }, 'use_karras_sigmas'],
    [{ final_sigmas_type: 'denoise_to_zero' }, 'final_sigmas_type'],
    [{ solver_p: { _class_name: 'DDIMScheduler' } }, 'solver_p'],
  ];
  for (const [cfg, key] of bad) {
    assert.throws(() => new UniPCMultistepScheduler(cfg), (e: unknown) => e instanceof ConfigError && e.message.includes(`"${key}"`), key);
  }
  assert.throws(() => new DDPMScheduler({ variance_type: 'learned_range' }), (e: unknown) => e instanceof ConfigError && e.message.includes('"variance_type"'));
  assert.throws(() => new DPMSolverMultistepScheduler({ solver_order: 3, algorithm_type: 'sde-dpmsolver++' }), ConfigError);
  assert.throws(() => new DDIMScheduler({ trained_betas: [0.1, 0.2] }), (e: unknown) => e instanceof ConfigError && e.message.includes('trained_betas'));
  assert.throws(() => createScheduler('PNDMScheduler', {}), ConfigError);
  assert.throws(() => new LCMScheduler([]), ConfigError);
});

test('config: defaults per class, unknown keys warn, diffusers aliases warn, sibling keys are silent', () => {
  const warnings: string[] = [];
  const u = new UniPCMultistepScheduler({ solver_type: 'midpoint', not_a_key: 1, skip_prk_steps: true, _class_name: 'PNDMScheduler' }, (m) => warnings.push(m));
  assert.equal(u.config.solverType, 'bh2');
  assert.equal(warnings.length, 2);
  assert.match(warnings[0], /"solver_type".*"midpoint".*"bh2"/);
  assert.match(warnings[1], /"not_a_key"/);
  assert.equal(u.config.timestepSpacing, 'linspace');
  assert.equal(new DDIMScheduler({}).config.timestepSpacing, 'leading');
  assert.equal(new LCMScheduler({}).config.betaSchedule, 'scaled_linear');
  assert.ok(Object.isFrozen(u.config));
});

test('noise: DDPM / LCM / DDIM(η>0) steps need explicit noise or a generator, and use it exactly', () => {
  const s = new DDPMScheduler(SD15_SCHEDULER_CONFIG, () => {});
  s.setTimesteps(10);
  const x = new Random(5).randn(16);
  const eps = new Random(6).randn(16);
  const t = s.timesteps[0];
  assert.throws(() => s.step(eps, t, x), InputError);
  const noise = new Random(9).randn(16);
  const a = s.step(eps, t, x, { noise }).prevSample;
  const b = s.step(eps, t, x, { generator: new Random(9) }).prevSample;
  assert.deepEqual(a, b);
  const zero = s.step(eps, t, x, { noise: new Float32Array(16) }).prevSample;
  assert.notDeepEqual(a, zero);
  // The last step (t = 1 with steps_offset; DDPM adds noise for every t > 0) vs t = 0: no noise needed.
  assert.doesNotThrow(() => s.step(eps, 0, x));
  const d = new DDIMScheduler(SD15_SCHEDULER_CONFIG, () => {});
  d.setTimesteps(10);
  assert.doesNotThrow(() => d.step(eps, d.timesteps[0], x));
  assert.throws(() => d.step(eps, d.timesteps[0], x, { eta: 1 }), InputError);
});

test('Euler: float32 timesteps; Karras sigmas decrease from σ_max to σ_min then 0', () => {
  const e = new EulerDiscreteScheduler({ ...SD15_SCHEDULER_CONFIG, use_karras_sigmas: true }, () => {});
  e.setTimesteps(12);
  assert.equal(e.sigmas.length, 13);
  assert.equal(e.sigmas[12], 0);
  for (let i = 1; i < 12; i++) assert.ok(e.sigmas[i] < e.sigmas[i - 1]);
  const plain = new EulerDiscreteScheduler(SD15_SCHEDULER_CONFIG, () => {});
  plain.setTimesteps(12);
  assert.ok(Math.abs(e.sigmas[0] - plain.sigmas[0]) < 1e-5 && Math.abs(e.sigmas[11] - plain.sigmas[11]) < 1e-5);
  assert.equal(plain.timesteps[1], Math.fround(999 - 999 / 11));
});

test('UniPC bh1: the last step stays finite (diffusers gives NaN there: B(h)·0 with B(h) = −∞)', () => {
  const x = new Random(3).randn(4 * 8 * 8);
  const run = (solverType: string) => {
    const s = new UniPCMultistepScheduler({ ...SD15_SCHEDULER_CONFIG, solver_type: solverType }, () => {});
    s.setTimesteps(20);
    return denoise(s, x, 1);
  };
  const bh1 = run('bh1');
  assert.ok(bh1.every(Number.isFinite));
  // Both B(h) variants solve the same ODE: their results agree to a few percent of the latent scale.
  assert.ok(maxAbsDiff(bh1, run('bh2')) < 0.1);
});
