/**
 * Shared types of the parity runner: the fixture manifest's entries (../shared/fixtures
 * README, "Layout"), what a group handler receives and returns, and one result row per
 * expected output.
 */
import type { SafetensorsFile } from '../checkpoint/safetensors.ts';
import type { RuntimeChoice } from '../engine/compile.ts';
import type { FixtureSet } from './fixture-set.ts';

/** One tensor of a case as the manifest lists it. */
export interface ManifestTensor {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly meaning?: string;
  readonly tolerance_max_abs?: number;
  readonly f32_vs_f64_max_abs?: number;
  readonly [k: string]: unknown;
}

/** One case: its group, file, the models it names and a procedure described by free fields. */
export interface ManifestCase {
  readonly name: string;
  readonly group: string;
  readonly file: string;
  readonly models?: readonly string[];
  readonly procedure?: string;
  readonly tensors: readonly ManifestTensor[];
  readonly [k: string]: unknown;
}

export interface ManifestModel {
  readonly folder: string;
  /** The original's Python class, e.g. `pasd.models.pasd_light.controlnet.ControlNetModel`. */
  readonly class_name?: string;
  readonly [k: string]: unknown;
}

export interface Manifest {
  readonly cases: readonly ManifestCase[];
  readonly models?: Readonly<Record<string, ManifestModel>>;
  readonly conventions?: Readonly<Record<string, unknown>>;
  readonly [k: string]: unknown;
}

/** A value a handler computed for one output; `shape`, when given, must equal the manifest's. */
export interface Produced {
  readonly data: ArrayLike<number> | BigInt64Array;
  readonly shape?: readonly number[];
  /**
   * The bound, where the output's own `tolerance_max_abs` is not the one the procedure is
   * checked with (the pipeline's teacher-forced steps, an image decoded from given final
   * latents): one value, or one per index of the first axis (per step, per tile). `kind`
   * names the manifest field it comes from. `where`, when given (one entry per value), applies
   * this bound to the values whose entry is nonzero only, and the output's own tolerance to
   * the others: a tighter bound the manifest states for part of an output (`updated.*` where
   * |clipped grad| > 1e-6).
   */
  readonly tolerance?: { readonly value: number | readonly number[]; readonly kind: string; readonly where?: Uint8Array };
}

/**
 * Output name (`output.x`, or any non-input tensor name) → computed value, or the error that
 * stopped this one output (an UnsupportedError makes it "not supported", anything else fails it).
 */
export type OutputValue = Produced | ArrayLike<number> | BigInt64Array | Error;
export type CaseOutputs = Map<string, OutputValue>;

/** What a handler gets for one case. */
export interface CaseContext {
  readonly fixtures: FixtureSet;
  readonly meta: ManifestCase;
  readonly file: SafetensorsFile;
  /** Provider, precision and intra-op threads for the handlers' onnxruntime sessions (empty: CPU, fp32, onnxruntime's threads). */
  readonly runtime: RuntimeChoice;
  has(name: string): boolean;
  shape(name: string): readonly number[];
  /** A float (or `_u8`) tensor as float32. */
  f32(name: string): Float32Array;
  /** An integer tensor as numbers. */
  ints(name: string): number[];
  /** The manifest entries the handler must produce (every non-`input.` tensor of the case). */
  outputs(): ManifestTensor[];
  /** The case-file tensors an entry stands for: itself, or every match of a `<…>` template. */
  expand(t: ManifestTensor): string[];
}

/**
 * Runs one case and returns the outputs it can compute. It throws UnsupportedError when the
 * case (its procedure or a model class) is outside what it handles; any other error fails the case.
 */
export type GroupHandler = (ctx: CaseContext) => Promise<CaseOutputs>;

export type RowStatus = 'pass' | 'fail' | 'not supported';

export interface Row {
  readonly case: string;
  readonly group: string;
  readonly output: string;
  readonly status: RowStatus;
  /** max |ours − expected| (Infinity for NaN); absent when nothing was compared. */
  readonly maxAbsDiff?: number;
  /** How many values differ at all, of `count` compared (for `_u8` images and rounding ties). */
  readonly mismatched?: number;
  readonly count?: number;
  /** The bound used, and how it was chosen (`tolerance_max_abs`, `exact`, `±1 (_u8)`). */
  readonly tolerance?: number;
  readonly toleranceKind?: string;
  readonly note?: string;
}

export interface Summary {
  readonly passed: number;
  readonly failed: number;
  readonly notSupported: number;
}
