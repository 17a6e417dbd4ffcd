/**
 * The loss terms of train_pasd.py (yangxy/PASD), traced into the training graph:
 * `F.mse_loss` / `F.l1_loss` with reduction 'mean', and `colorful_loss` of
 * `pasd/myutils/img_util.py` (the colourfulness metric of Hasler & Süsstrunk, used as a
 * penalty when training colorization).
 */
import { ShapeError } from '../core/errors.ts';
import type { Tensor } from '../ops/tensor.ts';

const allAxes = (t: Tensor) => [...t.shape.keys()];

export function mseLoss(pred: Tensor, target: Tensor): Tensor {
  const d = pred.sub(target);
  return d.mul(d).mean(allAxes(d));
}

export function l1Loss(pred: Tensor, target: Tensor): Tensor {
  const d = pred.sub(target);
  return d.abs().mean(allAxes(d));
}

/**
 * Σ over the batch of 1 − (√(std(rg)² + std(yb)²) + 0.3·√(mean(rg)² + mean(yb)²)) with
 * rg = |R − G|, yb = |(R + G)/2 − B| over each image's pixels, std unbiased (torch.std).
 * std² is written as the unbiased variance itself (the same number, without a √ to undo).
 */
export function colorfulLoss(rgb: Tensor): Tensor {
  const [b, c, h, w] = rgb.shape;
  if (rgb.rank !== 4 || c !== 3) throw new ShapeError(`colorfulLoss: expected [B, 3, H, W], got [${rgb.shape.join(', ')}]`);
  const n = h * w;
  if (n < 2) throw new ShapeError(`colorfulLoss: an unbiased std needs at least 2 pixels, got ${h}×${w}`);
  const [r, g, bl] = rgb.split(1, [1, 1, 1]).map((t) => t.reshape([b, n]));
  const rg = r.sub(g).abs();
  const yb = r.add(g).mul(0.5).sub(bl).abs();
  const stats = (x: Tensor) => {
    const mean = x.mean([1], true); // [B, 1]
    const d = x.sub(mean);
    return { mean: mean.reshape([b]), variance: d.mul(d).sum([1]).div(n - 1) };
  };
  const a = stats(rg), y = stats(yb);
  const stdRoot = a.variance.add(y.variance).sqrt();
  const meanRoot = a.mean.mul(a.mean).add(y.mean.mul(y.mean)).sqrt();
  return stdRoot.add(meanRoot.mul(0.3)).neg().add(1).sum([0]);
}
