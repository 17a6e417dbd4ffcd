/**
 * One optimisation step of train_pasd.py against the `train` fixture group: VAE latents,
 * noisy latents, text embeddings, to-RGB outputs, model_pred, every loss term, the gradients
 * before clipping (stored subset + per-parameter norms and sums of all), the global norm and
 * clip coefficient, and the AdamW-updated parameters — each within the manifest tolerance.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SD15_SCHEDULER_CONFIG } from '../../src/pipelines/load.ts';
import { DDPMScheduler } from '../../src/schedulers/ddpm.ts';
import { ADAMW_DEFAULTS, AdamW, clipGradNorm } from '../../src/train/optimizer.ts';
import { parameterValues } from '../../src/train/params.ts';
import { trainableParameters } from '../../src/train/step-graph.ts';
import { StepRunner } from '../../src/train/step.ts';
import { loadTrainModels } from '../../src/train/models.ts';
import { type ManifestTensor, assertClose, casesOf, fixtureCase, modelDir } from '../parity/fixtures.ts';

const cases = casesOf('train');

test('train group has the three documented cases', () => {
  assert.deepEqual(cases.map((c) => c.name).sort(), ['train_pasd_b2_64x64', 'train_pasd_light_b2_48x64', 'train_pasd_light_grayscale_b1_64x48']);
});

for (const c of cases) {
  test(`${c.name}: loss terms, gradients, clipping and AdamW step`, async (t) => {
    const fx = fixtureCase(c.name);
    const settings = c.settings as { control_type: 'realisr' | 'grayscale'; learning_rate: number; max_grad_norm: number; adam_beta1: number; adam_beta2: number; adam_epsilon: number; adam_weight_decay: number };
    const [unetName, ctrlName] = c.models!;
    const models = loadTrainModels({ unet: modelDir(unetName), controlnet: modelDir(ctrlName), vae: modelDir('vae'), textEncoder: modelDir('text_encoder') });
    const params = trainableParameters(models.controlnet, models.unet);
    const order = c.trainable_parameters as string[];
    assert.deepEqual(params.map((p) => p.name).sort(), [...order].sort(), 'trainable parameter set');
    const values = parameterValues(params);
    const scheduler = new DDPMScheduler(SD15_SCHEDULER_CONFIG, () => {});
    const runner = new StepRunner(models, params, scheduler, { cache: false, threads: 2, optimization: 'disabled', controlType: settings.control_type });
    const f = fx.file;
    const [b, , h, w] = f.tensors.get('input.pixel_values')!.shape;
    try {
      const r = await runner.run({
        pixelValues: f.readF32('input.pixel_values'), cond: f.readF32('input.conditioning_pixel_values'),
        inputIds: f.read('input.input_ids') as BigInt64Array, batch: b, height: h, width: w,
        posteriorNoise: f.readF32('input.posterior_noise'), noise: f.readF32('input.noise'),
        timesteps: Array.from(f.read('input.timesteps') as BigInt64Array, Number),
      }, values);
      const report: string[] = [];
      const check = (name: string, got: ArrayLike<number>) => {
        const tol = fx.tol(`output.${name}`);
        const d = assertClose(got, f.readF32(`output.${name}`), tol, `${c.name} ${name}`);
        report.push(`${name} ${d.toExponential(1)}/${tol}`);
      };
      check('latents', r.latents);
      check('noisy_latents', r.noisyLatents);
      check('encoder_hidden_states', r.encoderHiddenStates.data as Float32Array);
      r.rgbs.forEach((x, i) => check(`rgbs.${i}`, x.data as Float32Array));
      check('model_pred', r.modelPred);
      check('loss_mse', [r.lossMse]);
      r.lossL1.forEach((x, i) => check(`loss_l1.${i}`, [x]));
      if (settings.control_type === 'grayscale') check('colorful_loss_sum', [r.colorfulLossSum!]);
      check('loss', [r.loss]);

      // Gradients before clipping: the stored subset, then norms and sums of all.
      const byName = new Map(params.map((p, i) => [p.name, i]));
      const gradMeta = c.tensors.find((x) => x.name === 'grad.<parameter>') as ManifestTensor;
      let worstGrad = 0, stored = 0;
      for (const key of f.tensors.keys()) {
        if (!key.startsWith('grad.')) continue;
        const g = r.grads[byName.get(key.slice(5))!];
        assert.ok(g, `${key}: the original has a gradient, ours does not reach the loss`);
        worstGrad = Math.max(worstGrad, assertClose(g, f.readF32(key), gradMeta.tolerance_max_abs!, `${c.name} ${key}`));
        stored++;
      }
      assert.equal(stored, gradMeta.count);
      report.push(`grad.* (${stored}) ${worstGrad.toExponential(1)}/${gradMeta.tolerance_max_abs}`);
      const perParam = (fn: (g: Float32Array) => number) => order.map((n) => { const g = r.grads[byName.get(n)!]; return g ? fn(g) : 0; });
      check('grad_norm_per_param', perParam((g) => Math.sqrt(g.reduce((s, x) => s + x * x, 0))));
      check('grad_sum_per_param', perParam((g) => g.reduce((s, x) => s + x, 0)));

      const grads = r.grads.map((g) => g && g.slice());
      const { totalNorm, clipCoef } = clipGradNorm(grads, settings.max_grad_norm);
      check('grad_global_norm', [totalNorm]);
      const coefWant = f.readF32('output.clip_coef')[0];
      assert.ok(Math.abs(clipCoef - coefWant) <= 1e-6 * coefWant, `clip_coef ${clipCoef} vs ${coefWant}`);

      const before = values.map((v) => v.slice());
      const opt = new AdamW(values.map((v) => v.length), {
        ...ADAMW_DEFAULTS, beta1: settings.adam_beta1, beta2: settings.adam_beta2, eps: settings.adam_epsilon, weightDecay: settings.adam_weight_decay,
      });
      opt.update(values, grads, settings.learning_rate);
      check('update_sum_per_param', order.map((n) => { const i = byName.get(n)!; return values[i].reduce((s, x, j) => s + (x - before[i][j]), 0); }));
      const upMeta = c.tensors.find((x) => x.name === 'updated.<parameter>') as ManifestTensor & { tolerance_where_abs_clipped_grad_gt_1em6: number };
      let worstUp = 0, nUp = 0;
      for (const key of f.tensors.keys()) {
        if (!key.startsWith('updated.')) continue;
        const i = byName.get(key.slice(8))!;
        const want = f.readF32(key), g = grads[i]!;
        for (let j = 0; j < want.length; j++) {
          if (Math.abs(g[j]) <= 1e-6) continue;
          const d = Math.abs(values[i][j] - want[j]);
          worstUp = Math.max(worstUp, d);
          assert.ok(d <= upMeta.tolerance_where_abs_clipped_grad_gt_1em6, `${key}[${j}]: ${values[i][j]} vs ${want[j]}`);
        }
        nUp++;
      }
      assert.equal(nUp, upMeta.count);
      report.push(`updated.* (${nUp}) ${worstUp.toExponential(1)}/${upMeta.tolerance_where_abs_clipped_grad_gt_1em6}`);
      t.diagnostic(report.join('; '));
    } finally {
      await runner.release();
    }
  });
}
