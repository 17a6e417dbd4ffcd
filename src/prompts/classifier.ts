/**
 * Classification as high-level information (yangxy/PASD `test_pasd.py`,
 * `--high_level_info classification`): an ImageNet classifier looks at the input, and its
 * top-1 class joins the prompt when softmax gives it p ≥ 0.1. Any ONNX image classifier with
 * one [1, 3, H, W] float input and one output of class scores (logits) works, with its labels
 * in output order; it runs on our onnxruntime session, with torchvision's transform
 * (./preprocess.ts), as the original's ResNet-50 does.
 */
import { ConfigError } from '../core/errors.ts';
import type { Image } from '../image/image.ts';
import type { Session } from '../runtime/session.ts';
import { type ClassifierPreprocess, classifierInput } from './preprocess.ts';
import type { Description, PromptProvider } from './provider.ts';
import { type ImageModelSignature, fmtDims } from './signature.ts';

export interface Classification {
  readonly index: number;
  readonly label: string;
  readonly probability: number;
}

/**
 * Checks that the model, the labels and the transform fit together before anything runs:
 * a static H/W must be the crop size, a static class count must be the number of labels.
 */
export function checkClassifier(sig: ImageModelSignature, labels: readonly string[], p: ClassifierPreprocess, what = 'model.onnx'): void {
  const [, , h, w] = sig.inputDims;
  if ((h !== null && h !== p.crop) || (w !== null && w !== p.crop))
    throw new ConfigError(`${what}: input "${sig.input}" is ${fmtDims(sig.inputDims)} but the crop is ${p.crop}×${p.crop}: set "crop" (and "size") in preprocess.json to the model's input size`);
  const out = sig.outputDims;
  if (out && out.every((d) => d !== null)) {
    const classes = out.reduce((a, d) => a * d!, 1);
    if (classes !== labels.length)
      throw new ConfigError(`${what}: output "${sig.output}" ${fmtDims(out)} scores ${classes} classes but labels.txt has ${labels.length} labels (one per line, in output order)`);
  }
}

function softmaxTop1(logits: ArrayLike<number>): { index: number; probability: number } {
  let index = 0;
  // First maximum, as torch.argmax.
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[index]) index = i;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - logits[index]);
  return { index, probability: 1 / sum };
}

/** An ONNX image classifier as a prompt provider: its top-1 label and probability (the prompt rule keeps it when p ≥ 0.1). */
export class ImageClassifier implements PromptProvider {
  readonly kind = 'classification';

  constructor(
    private readonly session: Session,
    readonly signature: ImageModelSignature,
    readonly labels: readonly string[],
    readonly preprocess: ClassifierPreprocess,
  ) {}

  async classify(image: Image): Promise<Classification> {
    const out = (await this.session.run({ [this.signature.input]: classifierInput(image, this.preprocess) }))[this.signature.output];
    // A symbolic output shape could only be checked now.
    if (out.data.length !== this.labels.length)
      throw new ConfigError(`classifier output "${this.signature.output}" has ${out.data.length} scores but labels.txt has ${this.labels.length} labels`);
    const { index, probability } = softmaxTop1(out.data as ArrayLike<number>);
    return { index, label: this.labels[index], probability };
  }

  async describe(image: Image): Promise<Description> {
    const { label, probability } = await this.classify(image);
    return { kind: 'classification', label, probability };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
