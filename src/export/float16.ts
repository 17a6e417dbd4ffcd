/**
 * fp16 compute for an exported graph, applied to the ONNX graph right before it is encoded
 * (the IR and the lowering stay float32; only the emitted model changes):
 * - float32 graph inputs keep their type and get a Cast to float16; float32 outputs are
 *   computed in float16 and Cast back, so callers feed and read float32 as before;
 * - float32 weight initializers in weight files stay where they are, followed by a Cast to
 *   float16: onnxruntime's constant folding turns that pair into an fp16 initializer when
 *   the session is created, so weight files are never rewritten or copied on disk;
 * - inline float32 constants (scalars, norm units) are converted in place;
 * - Cast nodes to float32 now cast to float16; float64 values (and their Casts) are untouched;
 * - what is computed from integer inputs and constants alone (the timestep embedding) stays
 *   float32, cast to float16 once where the rest reads it.
 * Normalisation `stash_type` attributes stay float32: the statistics are still accumulated
 * in float32 (LayerNormalization and GroupNormalization allow it; InstanceNormalization,
 * used by the float32 GroupNorm lowering, has no such attribute).
 *
 * Only ops whose float inputs are all of the one type T are accepted; an op with an input
 * ONNX pins to float32 lists that input in FLOAT32_INPUTS. Any other op is refused, so a new
 * lowering cannot silently produce a mixed-type model.
 *
 * onnxruntime 1.30's WebGPU provider (kernels read from its library) has fp16 kernels for
 * every op below except Sign (no WebGPU kernel at all: it falls back to CPU, where fp16 must
 * then exist) and the ONNX-domain GroupNormalization (only emitted for non-float32 graphs,
 * so never reached here). Transpose is registered for opsets up to 20 only in the upstream
 * sources we read, so a Transpose-21 node may run on CPU; the device bench shows it.
 */
import { PasdError, UnsupportedError } from '../core/errors.ts';
import { attr } from '../onnx/encode.ts';
import { OnnxDataType } from '../onnx/schema.ts';
import type { OnnxGraph, OnnxNode, OnnxTensor } from '../onnx/types.ts';

/** Compute precisions, in the order the doors list them (the first is the default). */
export const PRECISIONS = ['fp32', 'fp16'] as const;
export type Precision = (typeof PRECISIONS)[number];

/** Ops the transform accepts, with the input positions that must stay float32 (ONNX: `scales` of Resize). */
const FLOAT32_INPUTS: Readonly<Record<string, readonly number[]>> = {
  Add: [], Sub: [], Mul: [], Div: [], Pow: [], Greater: [], Sqrt: [], Exp: [], Log: [], Neg: [], Abs: [], Sign: [],
  Sin: [], Cos: [], Erf: [], Sigmoid: [], Tanh: [], Relu: [], LeakyRelu: [], Clip: [], Where: [], Cast: [],
  MatMul: [], Gemm: [], Conv: [], ConvTranspose: [], GroupNormalization: [], InstanceNormalization: [], LayerNormalization: [],
  ReduceSum: [], ReduceMean: [], Softmax: [], Resize: [2], Pad: [], Reshape: [], Transpose: [], Concat: [], Slice: [],
  Split: [], Gather: [], Expand: [], Identity: [], MultiHeadAttention: [],
};

const FLOAT = OnnxDataType.FLOAT;
const FLOAT16 = OnnxDataType.FLOAT16;
const suffix = '::float16';

/** float32 → IEEE half bits, round to nearest even (overflow → ±Infinity, NaN kept). */
export function toFloat16Bits(x: number): number {
  const f = new Float32Array([x]);
  const bits = new Uint32Array(f.buffer)[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal
    const m = mant | 0x800000; // implicit leading 1
    const shift = 14 - e;
    const half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // Rounding up may carry into the exponent (and to Infinity): that is the correct result.
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
}

function toFloat16Data(t: OnnxTensor): Uint8Array {
  const raw = t.rawData!;
  const src = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = toFloat16Bits(src[i]);
  return new Uint8Array(out.buffer);
}

function castNode(input: string, output: string, to: number): OnnxNode {
  return { opType: 'Cast', input: [input], output: [output], attribute: [attr('to', to)] };
}

/** Element type of a node's outputs from its inputs' (the accepted ops keep their input's type but these). */
function outputType(n: OnnxNode, inputs: readonly (number | undefined)[]): number | undefined {
  if (n.opType === 'Cast') return n.attribute.find((a) => a.name === 'to')?.i;
  if (n.opType === 'Greater') return OnnxDataType.BOOL;
  if (n.opType === 'Where') return inputs[1];
  return inputs[0];
}

/** The graph computing in float16 with float32 inputs and outputs (see the file comment). */
export function toFloat16(g: OnnxGraph): OnnxGraph {
  for (const n of g.node) {
    if (n.domain && n.domain !== 'com.microsoft') throw new UnsupportedError(`fp16: op ${n.domain}.${n.opType} is not handled; add it to FLOAT32_INPUTS in src/export/float16.ts`);
    if (!Object.hasOwn(FLOAT32_INPUTS, n.opType)) throw new UnsupportedError(`fp16: op ${n.opType} is not handled; add it to FLOAT32_INPUTS in src/export/float16.ts (with the inputs ONNX pins to float32)`);
  }
  const type = new Map<string, number | undefined>([...g.input.map((v) => [v.name, v.type.tensorType.elemType] as const), ...g.initializer.map((t) => [t.name, t.dataType] as const)]);
  const isFloat32Input = new Set(g.input.filter((v) => v.type.tensorType.elemType === FLOAT).map((v) => v.name));
  const float32Inits = new Map(g.initializer.filter((t) => t.dataType === FLOAT).map((t) => [t.name, t]));
  const float32Outputs = new Set(g.output.filter((v) => v.type.tensorType.elemType === FLOAT).map((v) => v.name));

  // Nodes reached from a float32 graph input compute in float16. The others (the timestep
  // embedding: integer input → Cast → ·freq → Sin/Cos → MLP) stay float32 as in diffusers'
  // get_timestep_embedding: t·freq reaches ~1000, where float16's step is 0.5 radian.
  const inHalf = new Set<OnnxNode>();
  const fromInput = new Set(isFloat32Input);
  const keptFloat32 = new Set<string>(); // float32 values computed by the float32 part
  for (const n of g.node) {
    const t = outputType(n, n.input.map((i) => type.get(i)));
    const reached = n.input.some((i) => fromInput.has(i));
    if (reached) inHalf.add(n);
    for (const o of n.output) {
      type.set(o, t);
      if (reached) fromInput.add(o);
      else if (t === FLOAT) keptFloat32.add(o);
    }
  }
  const readByHalf = new Set(g.node.filter((n) => inHalf.has(n)).flatMap((n) => n.input.filter((_, i) => !FLOAT32_INPUTS[n.opType].includes(i))));

  // Sources read as float16 under a new name; `keptUse` records initializers still read as float32.
  const renamed = new Set<string>();
  const keptUse = new Set<string>();
  const nodes: OnnxNode[] = [];
  for (const n of g.node) {
    if (!inHalf.has(n)) {
      n.input.forEach((name) => float32Inits.has(name) && keptUse.add(name));
      nodes.push(n);
      // A float32 value of this part read by the float16 part is cast once, right here.
      for (const o of n.output) if (keptFloat32.has(o) && readByHalf.has(o)) nodes.push(castNode(o, o + suffix, FLOAT16));
      continue;
    }
    const pinned = FLOAT32_INPUTS[n.opType];
    const input = n.input.map((name, i) => {
      if (float32Outputs.has(name)) return name + suffix; // read the float16 value, not the cast-back output
      if (!isFloat32Input.has(name) && !float32Inits.has(name) && !keptFloat32.has(name)) return name;
      if (pinned.includes(i)) {
        if (float32Inits.has(name)) keptUse.add(name);
        return name;
      }
      renamed.add(name);
      return name + suffix;
    });
    const output = n.output.map((name) => (float32Outputs.has(name) ? name + suffix : name));
    const attribute = n.opType === 'Cast' ? n.attribute.map((a) => (a.name === 'to' && a.i === FLOAT ? { ...a, i: FLOAT16 } : a)) : n.attribute;
    nodes.push({ ...n, input, output, attribute });
  }

  const head: OnnxNode[] = [];
  const initializer: OnnxTensor[] = [];
  for (const t of g.initializer) {
    if (!float32Inits.has(t.name) || !renamed.has(t.name)) {
      initializer.push(t);
      continue;
    }
    if (t.rawData === undefined) {
      // Weight-file data: cast once after the initializer (folded to fp16 at session creation).
      initializer.push(t);
      head.push(castNode(t.name, t.name + suffix, FLOAT16));
    } else {
      if (keptUse.has(t.name)) initializer.push(t);
      initializer.push({ ...t, name: t.name + suffix, dataType: FLOAT16, rawData: toFloat16Data(t) });
    }
  }
  for (const name of isFloat32Input) if (renamed.has(name)) head.push(castNode(name, name + suffix, FLOAT16));
  const produced = new Set(nodes.flatMap((n) => n.output));
  const tail: OnnxNode[] = [];
  for (const name of float32Outputs) {
    if (produced.has(name)) continue; // computed by the float32 part
    if (!produced.has(name + suffix)) throw new PasdError(`fp16: output "${name}" is not produced by a node (the exporter adds an Identity for such outputs)`);
    tail.push(castNode(name + suffix, name, FLOAT));
  }
  return { ...g, node: [...head, ...nodes, ...tail], initializer };
}
