/**
 * Parity with diffusers 0.29.2 on the `schedulers` group of ../shared/fixtures (see the
 * fixtures README, "schedulers"): timesteps, init_noise_sigma, sigmas and whole 20/50-step
 * trajectories of UniPC, DDIM, DPM-Solver++, Euler and LCM; DDPM add_noise / get_velocity; and
 * PASD's latent initialisation with UniPC (`prepare_latents_unipc_*`). The procedures live in
 * the parity runner's `schedulers` handler (src/parity/groups/schedulers.ts); tolerances are
 * the manifest's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FixtureSet } from '../../src/parity/fixture-set.ts';
import { describeWorst, notPassing, runCase } from '../../src/parity/runner.ts';
import { UniPCMultistepScheduler } from '../../src/schedulers/index.ts';
import { FIXTURES, SD15_SCHEDULER_CONFIG } from './fixture.ts';

const fixtures = FixtureSet.open(FIXTURES);
const cases = fixtures.cases.filter((c) => c.group === 'schedulers');

test('the manifest lists every scheduler case we expect', () => {
  const trajectories = cases.filter((c) => c.tensors.some((t) => t.name === 'input.x_T'));
  const names = new Set(trajectories.map((c) => c.scheduler_class));
  assert.deepEqual([...names].sort(), ['DDIMScheduler', 'DPMSolverMultistepScheduler', 'EulerDiscreteScheduler', 'LCMScheduler', 'UniPCMultistepScheduler']);
  assert.equal(trajectories.length, 10);
});

for (const c of cases) {
  test(`${c.name}: every output within the manifest tolerance`, async (t) => {
    const rows = await runCase(fixtures, c);
    assert.deepEqual(notPassing(rows), []);
    t.diagnostic(describeWorst(rows));
  });
}

test('UniPC add_noise at a level outside the schedule uses the last sigma (the quirk prepare_latents_* record)', () => {
  for (const c of cases.filter((x) => typeof x.added_noise_level === 'number')) {
    const s = new UniPCMultistepScheduler(SD15_SCHEDULER_CONFIG, () => {});
    s.setTimesteps(c.num_inference_steps as number);
    const level = c.added_noise_level as number;
    assert.ok(!s.timesteps.includes(level));
    assert.equal(c.sigma_index_used_for_added_noise, s.timesteps.length - 1);
    const x = new Float32Array([1]), n = new Float32Array([1]);
    assert.deepEqual(s.addNoise(x, n, level), s.addNoise(x, n, s.timesteps[s.timesteps.length - 1]));
  }
});
