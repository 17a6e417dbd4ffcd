/**
 * Parity with diffusers 0.29.2 on the `schedulers` group of ../shared/fixtures (see the
 * fixtures README, "schedulers"): timesteps, init_noise_sigma, sigmas and whole 20/50-step
 * trajectories of UniPC, DDIM, DPM-Solver++, Euler and LCM; DDPM add_noise / get_velocity; and
 * PASD's latent initialisation with UniPC (`prepare_latents_unipc_*`). Tolerances are the
 * manifest's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RandomSource } from '../../src/core/random.ts';
import { DDPMScheduler, SCHEDULERS, type SchedulerName, UniPCMultistepScheduler } from '../../src/schedulers/index.ts';
import { SCHEDULER_CASES, SD15_SCHEDULER_CONFIG, maxAbsDiff, openCase, runTrajectory, tolerance } from './fixture.ts';

/** Hands out the fixture's stored draws in order, like the torch generator did during the fixture run. */
class ReplayRandom implements RandomSource {
  used = 0;
  constructor(private readonly draws: Float32Array, private readonly size: number) {}
  randn(n: number): Float32Array {
    assert.equal(n, this.size, 'draw size');
    assert.ok((this.used + 1) * n <= this.draws.length, 'the scheduler drew more noise than the fixture recorded');
    return this.draws.slice(this.used++ * n, this.used * n);
  }
  uniform(): number {
    throw new Error('not used by schedulers');
  }
  randint(): number {
    throw new Error('not used by schedulers');
  }
}

function slice(a: Float32Array, i: number, n: number): Float32Array {
  return a.subarray(i * n, (i + 1) * n);
}

const trajectoryCases = SCHEDULER_CASES.filter((c) => c.name.startsWith('scheduler_'));

test('the manifest lists every scheduler case we expect', () => {
  const names = new Set(trajectoryCases.map((c) => c.scheduler_class));
  assert.deepEqual([...names].sort(), ['DDIMScheduler', 'DPMSolverMultistepScheduler', 'EulerDiscreteScheduler', 'LCMScheduler', 'UniPCMultistepScheduler']);
  assert.equal(trajectoryCases.length, 10);
});

for (const c of trajectoryCases) {
  test(`${c.name}: timesteps, sigmas and the ${c.num_inference_steps}-step trajectory`, (t) => {
    const f = openCase(c);
    const warnings: string[] = [];
    const s = new SCHEDULERS[c.scheduler_class as SchedulerName](SD15_SCHEDULER_CONFIG, (m) => warnings.push(m));
    assert.deepEqual(warnings, [], 'the SD1.5 config has only keys of the scheduler family');
    const xT = f.f32('input.x_T');
    const n = xT.length;
    const draws = f.has('input.step_noise') ? f.f32('input.step_noise') : new Float32Array(0);
    const gen = new ReplayRandom(draws, n);
    const run = runTrajectory(s, xT, c.num_inference_steps!, () => ({ generator: gen }));

    // Euler's timesteps are float32 (946.42…); the fixture stores them cast to int64.
    assert.deepEqual(s.timesteps.map(Math.trunc), f.ints('output.timesteps'));
    assert.equal(s.initNoiseSigma, f.f32('output.init_noise_sigma')[0]);
    assert.equal(gen.used * n, draws.length, 'every recorded noise draw is consumed, in order');
    if (f.has('output.sigmas')) {
      const d = maxAbsDiff((s as { sigmas: Float64Array }).sigmas, f.f32('output.sigmas'));
      t.diagnostic(`sigmas max |diff| ${d.toExponential(2)}`);
      assert.ok(d <= tolerance(c, 'output.sigmas'), `sigmas differ by ${d}`);
    }
    const latents = f.f32('output.latents_per_step');
    const eps = f.f32('output.model_output_per_step');
    assert.equal(run.latents.length, latents.length / n);
    let worstX = 0;
    let worstE = 0;
    run.latents.forEach((x, i) => {
      worstX = Math.max(worstX, maxAbsDiff(x, slice(latents, i, n)));
      worstE = Math.max(worstE, maxAbsDiff(run.eps[i], slice(eps, i, n)));
    });
    t.diagnostic(`latents max |diff| ${worstX.toExponential(2)} (tol ${tolerance(c, 'output.latents_per_step')}), model output ${worstE.toExponential(2)}`);
    assert.ok(worstX <= tolerance(c, 'output.latents_per_step'), `latents differ by ${worstX}`);
    assert.ok(worstE <= tolerance(c, 'output.model_output_per_step'), `model outputs differ by ${worstE}`);
  });
}

test('ddpm_add_noise_get_velocity: DDPM add_noise / get_velocity with per-sample timesteps', (t) => {
  const c = SCHEDULER_CASES.find((x) => x.name === 'ddpm_add_noise_get_velocity')!;
  const f = openCase(c);
  const s = new DDPMScheduler(SD15_SCHEDULER_CONFIG, () => {});
  const x0 = f.f32('input.original_samples');
  const noise = f.f32('input.noise');
  const ts = f.ints('input.timesteps');
  const dA = maxAbsDiff(s.alphasCumprod, f.f32('output.alphas_cumprod'));
  const dN = maxAbsDiff(s.addNoise(x0, noise, ts), f.f32('output.noisy_samples'));
  const dV = maxAbsDiff(s.getVelocity(x0, noise, ts), f.f32('output.velocity'));
  t.diagnostic(`alphas_cumprod ${dA.toExponential(2)}, noisy ${dN.toExponential(2)}, velocity ${dV.toExponential(2)}`);
  assert.ok(dA <= tolerance(c, 'output.alphas_cumprod'), `alphas_cumprod differ by ${dA}`);
  assert.ok(dN <= tolerance(c, 'output.noisy_samples'), `noisy samples differ by ${dN}`);
  assert.ok(dV <= tolerance(c, 'output.velocity'), `velocity differs by ${dV}`);
});

for (const c of SCHEDULER_CASES.filter((x) => x.name.startsWith('prepare_latents_unipc_'))) {
  test(`${c.name}: PASD latent initialisation (noise at timesteps[0], then at added_noise_level)`, (t) => {
    const f = openCase(c);
    const s = new UniPCMultistepScheduler(SD15_SCHEDULER_CONFIG, () => {});
    s.setTimesteps(c.num_inference_steps!);
    assert.deepEqual(s.timesteps, f.ints('output.timesteps'));
    const level = c.added_noise_level!;
    // The quirk the fixture records: the level is not in the schedule, so the last sigma is used.
    assert.ok(!s.timesteps.includes(level));
    assert.equal(c.sigma_index_used_for_added_noise, s.timesteps.length - 1);
    const first = s.addNoise(f.f32('input.init_latents'), f.f32('input.noise'), s.timesteps[0]);
    const x = s.addNoise(first, f.f32('input.added_noise'), level).map((v) => v * s.initNoiseSigma);
    const d1 = maxAbsDiff(first, f.f32('output.after_first_add_noise'));
    const d2 = maxAbsDiff(x, f.f32('output.latents'));
    t.diagnostic(`after first add_noise ${d1.toExponential(2)}, latents ${d2.toExponential(2)}`);
    assert.ok(d1 <= tolerance(c, 'output.after_first_add_noise'));
    assert.ok(d2 <= tolerance(c, 'output.latents'));
  });
}

