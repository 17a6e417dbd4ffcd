/**
 * `vae` group (fixtures README, "vae"): encode `input.image` to the posterior (mean, clamped
 * logvar, std = exp(0.5·logvar)), sample it with `input.posterior_noise`, scale by the
 * config's scaling_factor, and decode both that latent (÷ scaling_factor) and
 * `input.latent_to_decode`. The model is the case's AutoencoderKL.
 */
import { parseVaeConfig } from '../../config/vae.ts';
import { UnsupportedError } from '../../core/errors.ts';
import { AutoencoderKL, samplePosterior, traceVaeDecode, traceVaeEncode } from '../../models/autoencoders/autoencoder-kl.ts';
import type { CaseContext, CaseOutputs, GroupHandler } from '../types.ts';
import { feedOf, loadModel, packageOf, runGraph, theModel } from './load.ts';

function vaeOf(ctx: CaseContext): AutoencoderKL {
  const m = theModel(ctx, 'AutoencoderKL');
  if (m.className !== undefined && packageOf(m) !== 'diffusers') throw new UnsupportedError(`VAE class ${m.className} of "${m.name}" is not implemented`);
  return loadModel(ctx.fixtures, m, (c) => new AutoencoderKL(parseVaeConfig(c, `${m.name}/config.json`)));
}

async function decode(ctx: CaseContext, vae: AutoencoderKL, shape: readonly number[], latent: Float32Array): Promise<{ data: Float32Array; shape: readonly number[] }> {
  const [batch, , height, width] = shape;
  const r = await runGraph(traceVaeDecode(vae, { batch, height, width }), { latent: { dtype: 'float32', shape, data: latent } }, ctx.runtime);
  return { data: r.image.data as Float32Array, shape: r.image.shape };
}

export const vae: GroupHandler = async (ctx) => {
  const model = vaeOf(ctx);
  const out: CaseOutputs = new Map();
  const sf = model.config.scalingFactor;
  if (ctx.has('input.image')) {
    const image = feedOf(ctx, 'input.image');
    const [batch, , height, width] = image.shape;
    const e = await runGraph(traceVaeEncode(model, { batch, height, width }), { image }, ctx.runtime);
    const mean = e.mean.data as Float32Array, logvar = e.logvar.data as Float32Array;
    out.set('output.posterior_mean', { data: mean, shape: e.mean.shape });
    out.set('output.posterior_logvar', { data: logvar, shape: e.logvar.shape });
    out.set('output.posterior_std', { data: logvar.map((x) => Math.exp(0.5 * x)), shape: e.logvar.shape });
    if (ctx.has('input.posterior_noise')) {
      const sample = samplePosterior(mean, logvar, ctx.f32('input.posterior_noise'));
      const scaled = sample.map((x) => x * sf);
      out.set('output.posterior_sample', { data: sample, shape: e.mean.shape });
      out.set('output.scaled_latent', { data: scaled, shape: e.mean.shape });
      out.set('output.decoded_roundtrip', await decode(ctx, model, e.mean.shape, scaled.map((x) => x / sf)));
    }
  }
  if (ctx.has('input.latent_to_decode'))
    out.set('output.decoded_given_latent', await decode(ctx, model, ctx.shape('input.latent_to_decode'), ctx.f32('input.latent_to_decode')));
  return out;
};
