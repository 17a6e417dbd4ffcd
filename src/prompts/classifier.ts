/**
 * Classification as high-level information (yangxy/PASD `test_pasd.py`,
 * `--high_level_info classification`): an ImageNet classifier looks at the input, and its
 * top-1 class joins the prompt when softmax gives it p ≥ 0.1. Any ONNX image classifier with
 * one [1, 3, H, W] float input and one output of class scores (logits) works, with its labels
 * in output order.
 */
import { ConfigError } from '../core/errors.ts';
import type { Image } from '../image/image.ts';
import { ModelProto } from '../onnx/schema.ts';
import type { Session } from '../runtime/session.ts';
import { type ClassifierPreprocess, classifierInput } from './preprocess.ts';
import type { PromptProvider } from './provider.ts';

/** test_pasd.py keeps the class when `score >= 0.1`. */
export const CLASS_THRESHOLD = 0.1;

export interface Classification {
  readonly index: number;
  readonly label: string;
  readonly probability: number;
}

/** A dimension of a graph input/output: its size, or null when symbolic (e.g. "batch"). */
type Dim = number | null;

export interface ClassifierSignature {
  readonly input: string;
  readonly inputDims: readonly Dim[];
  readonly output: string;
  readonly outputDims: readonly Dim[] | null;
}

interface LongLike { toNumber(): number }
interface DimMsg { dimValue?: number | LongLike | null; dimParam?: string | null }
interface ValueInfoMsg { name: string; type?: { tensorType?: { elemType?: number; shape?: { dim?: DimMsg[] } } } }
interface ModelMsg { graph?: { input?: ValueInfoMsg[]; output?: ValueInfoMsg[]; initializer?: { name: string }[] } }

const FLOAT = 1;

function dimsOf(v: ValueInfoMsg): Dim[] | null {
  const dims = v.type?.tensorType?.shape?.dim;
  if (!dims) return null;
  // Decoded messages read unset fields from prototype defaults (dimValue 0), so only an own
  // dimValue is a size; dim_param (e.g. "batch") or nothing is symbolic.
  return dims.map((d) => (!Object.hasOwn(d, 'dimValue') || d.dimValue == null ? null : typeof d.dimValue === 'number' ? d.dimValue : d.dimValue.toNumber()));
}

const fmt = (dims: readonly Dim[] | null) => (dims ? `[${dims.map((d) => d ?? '?').join(', ')}]` : 'unknown');

/**
 * Reads the graph's input and output signature from the ONNX bytes, without copying the
 * weights (protobufjs decodes `raw_data` as views). Initializers listed as inputs (older
 * exporters do that) are not inputs.
 */
export function classifierSignature(bytes: Uint8Array, what = 'model.onnx'): ClassifierSignature {
  let m: ModelMsg;
  try {
    m = ModelProto.decode(bytes) as unknown as ModelMsg;
  } catch (e) {
    throw new ConfigError(`${what} is not an ONNX model (${(e as Error).message})`, { cause: e });
  }
  const g = m.graph;
  if (!g) throw new ConfigError(`${what} is not an ONNX model: it has no graph`);
  const inits = new Set((g.initializer ?? []).map((t) => t.name));
  const inputs = (g.input ?? []).filter((v) => !inits.has(v.name));
  if (inputs.length !== 1) throw new ConfigError(`${what}: an image classifier takes one input, this graph takes ${inputs.length} (${inputs.map((v) => v.name).join(', ')})`);
  const outputs = g.output ?? [];
  if (!outputs.length) throw new ConfigError(`${what}: the graph has no output`);
  const [inp] = inputs;
  const inputDims = dimsOf(inp);
  const ok = inputDims && inputDims.length === 4 && (inputDims[0] ?? 1) === 1 && (inputDims[1] ?? 3) === 3;
  if (!ok) throw new ConfigError(`${what}: input "${inp.name}" has shape ${fmt(inputDims)}; a classifier here takes one RGB image, [1, 3, H, W]`);
  const elem = inp.type?.tensorType?.elemType;
  if (elem !== FLOAT) throw new ConfigError(`${what}: input "${inp.name}" must be float32 (ONNX elem_type 1), got elem_type ${elem}`);
  return { input: inp.name, inputDims, output: outputs[0].name, outputDims: dimsOf(outputs[0]) };
}

/**
 * Checks that the model, the labels and the transform fit together before anything runs:
 * a static H/W must be the crop size, a static class count must be the number of labels.
 */
export function checkClassifier(sig: ClassifierSignature, labels: readonly string[], p: ClassifierPreprocess, what = 'model.onnx'): void {
  const [, , h, w] = sig.inputDims;
  if ((h !== null && h !== p.crop) || (w !== null && w !== p.crop))
    throw new ConfigError(`${what}: input "${sig.input}" is ${fmt(sig.inputDims)} but the crop is ${p.crop}×${p.crop}: set "crop" (and "size") in preprocess.json to the model's input size`);
  const out = sig.outputDims;
  if (out && out.every((d) => d !== null)) {
    const classes = out.reduce((a, d) => a * d!, 1);
    if (classes !== labels.length)
      throw new ConfigError(`${what}: output "${sig.output}" ${fmt(out)} scores ${classes} classes but labels.txt has ${labels.length} labels (one per line, in output order)`);
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

/** An ONNX image classifier as a prompt provider: its top-1 label when p ≥ `threshold`. */
export class ImageClassifier implements PromptProvider {
  constructor(
    private readonly session: Session,
    readonly signature: ClassifierSignature,
    readonly labels: readonly string[],
    readonly preprocess: ClassifierPreprocess,
    readonly threshold = CLASS_THRESHOLD,
  ) {}

  async classify(image: Image): Promise<Classification> {
    const out = (await this.session.run({ [this.signature.input]: classifierInput(image, this.preprocess) }))[this.signature.output];
    // A symbolic output shape could only be checked now.
    if (out.data.length !== this.labels.length)
      throw new ConfigError(`classifier output "${this.signature.output}" has ${out.data.length} scores but labels.txt has ${this.labels.length} labels`);
    const { index, probability } = softmaxTop1(out.data as ArrayLike<number>);
    return { index, label: this.labels[index], probability };
  }

  async describe(image: Image): Promise<string | null> {
    const c = await this.classify(image);
    return c.probability >= this.threshold ? c.label : null;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
