/**
 * A near-linear starting point for the mini AutoencoderKL (scripts/train-mini-vae.ts
 * `--init linear`): the encoder's posterior mean is the 8×8 box average of R, G, B (latent
 * channels 0–2; channel 3 is 0), the decoder upsamples it by three bilinear ×2 steps (21.0 dB
 * on Set5). The latent thus holds 3 values per 8×8 block — a quarter of what the ×4 LR image
 * holds: the pipeline fixes 4 latent channels at factor 8, so no lossless (pixel-shuffle)
 * autoencoder fits.
 * Training then adds detail. Trained from torch's random init instead, the tiny VAE reached
 * only ~15 dB after 300 steps: its GroupNorms at the encoder/decoder outputs normalise away
 * each image's level and contrast, which a random net takes long to learn to carry.
 *
 * How the two GroupNorms on the main path become (almost) affine identities: channel 3 of
 * every main-path feature carries −(R + G + B) and channel 4 the constant K = 100, so each
 * norm's first group (≥ 5 channels) sums to exactly K: its mean is K/n for every image and its
 * std is K·√(n−1)/n up to a relative O((S/K)²) term (no first-order term: the signal channels
 * sum to zero). γ = that std and β = B + K/n undo the normalisation; B = 20 puts SiLU
 * in its linear range (silu(z) = z within 20·e⁻²⁰), and conv_out subtracts B again. Every
 * resnet's conv2 starts at zero (residual branches off, ready to learn), the mid block has
 * no attention, and the logvar output starts at −10 (σ ≈ 0.007).
 */
import { ConfigError } from '../src/core/errors.ts';
import type { AutoencoderKL } from '../src/models/autoencoders/autoencoder-kl.ts';
import type { Parameter } from '../src/nn/module.ts';

const K = 100, B = 20;
const BLUR = [1, 2, 1];

export function linearVaeInit(vae: AutoencoderKL): void {
  const c = vae.config;
  if (c.midBlockAddAttention || c.latentChannels < 4 || c.blockOutChannels.some((n) => n / c.normNumGroups < 5))
    throw new ConfigError('--init linear needs mid_block_add_attention false, ≥ 4 latent channels and ≥ 5 channels per norm group');
  const params = new Map(vae.namedParameters());
  const host = (key: string): { p: Parameter; d: Float32Array } => {
    const p = params.get(key);
    if (!p || p.source?.kind !== 'host') throw new ConfigError(`linear VAE init: no host parameter "${key}"`);
    return { p, d: p.source.data as Float32Array };
  };
  /** conv weight [O, I, k, k]: zero everything, then w(o, i, y, x). */
  const conv = (prefix: string, w: (o: number, i: number, y: number, x: number) => number, bias: (o: number) => number) => {
    const { p, d } = host(`${prefix}.weight`);
    const [O, I, kh, kw] = p.shape;
    for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) d[((o * I + i) * kh + y) * kw + x] = w(o, i, y, x);
    const b = host(`${prefix}.bias`).d;
    for (let o = 0; o < O; o++) b[o] = bias(o);
  };
  const centre = (k: number) => (k - 1) / 2;
  /** Channels 0–2 filtered by `tap` (default: copied), channel 3 = −Σ channels 0–2, channel 4 = K. */
  const carry = (prefix: string, k: number, tap: (y: number, x: number) => number = (y, x) => (y === centre(k) && x === centre(k) ? 1 : 0)) =>
    conv(prefix, (o, i, y, x) => (o < 3 && i === o ? tap(y, x) : o === 3 && i < 3 ? -tap(y, x) : 0), (o) => (o === 4 ? K : 0));
  const zero = (prefix: string) => conv(prefix, () => 0, () => 0);
  const identityNorm = (prefix: string, channels: number) => {
    const n = channels / c.normNumGroups;
    const w = host(`${prefix}.weight`).d, b = host(`${prefix}.bias`).d;
    for (let o = 0; o < channels; o++) { w[o] = o < 3 ? (K * Math.sqrt(n - 1)) / n : 0; b[o] = o < 3 ? B + K / n : 0; }
  };
  for (const [k] of params) {
    if (k.endsWith('conv2.weight')) zero(k.slice(0, -'.weight'.length));
    if (k.endsWith('conv_shortcut.weight')) carry(k.slice(0, -'.weight'.length), 1);
    // Encoder Downsample2D (pads right/bottom by one): the 2×2 box at the kernel's top-left.
    if (/^encoder\.down_blocks\.\d+\.downsamplers\.0\.conv\.weight$/.test(k)) carry(k.slice(0, -7), 3, (y, x) => (y < 2 && x < 2 ? 0.25 : 0));
    // Decoder Upsample2D (nearest ×2, then this conv): [1,2,1]²/16 makes it bilinear (the zero
    // padding darkens a few border pixels; kept nearest instead, the decoder's 8×8 blocks cost
    // NIQE 17.6 vs 10.3 on two degraded Set14 images through the whole pipeline).
    if (/^decoder\.up_blocks\.\d+\.upsamplers\.0\.conv\.weight$/.test(k)) carry(k.slice(0, -7), 3, (y, x) => (BLUR[y] * BLUR[x]) / 16);
  }
  carry('encoder.conv_in', 3);
  identityNorm('encoder.conv_norm_out', c.blockOutChannels[c.blockOutChannels.length - 1]);
  const L = c.latentChannels;
  conv('encoder.conv_out', (o, i, y, x) => (o < 3 && i === o && y === 1 && x === 1 ? 1 : 0), (o) => (o < 3 ? -B : 0));
  conv('quant_conv', (o, i) => (o === i ? 1 : 0), (o) => (o >= L ? -10 : 0));
  conv('post_quant_conv', (o, i) => (o === i ? 1 : 0), () => 0);
  carry('decoder.conv_in', 3);
  identityNorm('decoder.conv_norm_out', c.blockOutChannels[0]);
  conv('decoder.conv_out', (o, i, y, x) => (i === o && y === 1 && x === 1 ? 1 : 0), () => -B);
}
