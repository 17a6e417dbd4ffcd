/**
 * The signature of an ONNX image model (a classifier, an ultralytics detector) read from its
 * bytes before a session is made: its one [1, 3, H, W] float32 input, its first output and
 * its metadata, so a wrong file is refused naming the model, the tensor and the shapes.
 */
import { ConfigError } from '../core/errors.ts';
import { ModelProto } from '../onnx/schema.ts';

/** A dimension of a graph input/output: its size, or null when symbolic (e.g. "batch"). */
type Dim = number | null;

export interface ImageModelSignature {
  readonly input: string;
  readonly inputDims: readonly Dim[];
  readonly output: string;
  readonly outputDims: readonly Dim[] | null;
  /** The model's metadata_props (ultralytics writes its class names, stride and imgsz there). */
  readonly metadata: Readonly<Record<string, string>>;
}

interface LongLike { toNumber(): number }
interface DimMsg { dimValue?: number | LongLike | null; dimParam?: string | null }
interface ValueInfoMsg { name: string; type?: { tensorType?: { elemType?: number; shape?: { dim?: DimMsg[] } } } }
interface ModelMsg { metadataProps?: { key: string; value: string }[]; graph?: { input?: ValueInfoMsg[]; output?: ValueInfoMsg[]; initializer?: { name: string }[] } }

const FLOAT = 1;

function dimsOf(v: ValueInfoMsg): Dim[] | null {
  const dims = v.type?.tensorType?.shape?.dim;
  if (!dims) return null;
  // Decoded messages read unset fields from prototype defaults (dimValue 0), so only an own
  // dimValue is a size; dim_param (e.g. "batch") or nothing is symbolic.
  return dims.map((d) => (!Object.hasOwn(d, 'dimValue') || d.dimValue == null ? null : typeof d.dimValue === 'number' ? d.dimValue : d.dimValue.toNumber()));
}

export const fmtDims = (dims: readonly Dim[] | null) => (dims ? `[${dims.map((d) => d ?? '?').join(', ')}]` : 'unknown');

/**
 * Reads the graph's input and output signature from the ONNX bytes, without copying the
 * weights (protobufjs decodes `raw_data` as views). Initializers listed as inputs (older
 * exporters do that) are not inputs.
 */
export function imageModelSignature(bytes: Uint8Array, what: string, role: string): ImageModelSignature {
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
  if (inputs.length !== 1) throw new ConfigError(`${what}: an ${role} takes one input, this graph takes ${inputs.length} (${inputs.map((v) => v.name).join(', ')})`);
  const outputs = g.output ?? [];
  if (!outputs.length) throw new ConfigError(`${what}: the graph has no output`);
  const [inp] = inputs;
  const inputDims = dimsOf(inp);
  const ok = inputDims && inputDims.length === 4 && (inputDims[0] ?? 1) === 1 && (inputDims[1] ?? 3) === 3;
  if (!ok) throw new ConfigError(`${what}: input "${inp.name}" has shape ${fmtDims(inputDims)}; an ${role} here takes one RGB image, [1, 3, H, W]`);
  const elem = inp.type?.tensorType?.elemType;
  if (elem !== FLOAT) throw new ConfigError(`${what}: input "${inp.name}" must be float32 (ONNX elem_type 1), got elem_type ${elem}`);
  const metadata = Object.fromEntries((m.metadataProps ?? []).map((e) => [e.key, e.value]));
  return { input: inp.name, inputDims, output: outputs[0].name, outputDims: dimsOf(outputs[0]), metadata };
}
