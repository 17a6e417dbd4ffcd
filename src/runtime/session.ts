/** The runtime boundary: what the rest of the code knows about running a compiled graph. */
import type { DType, HostArray } from '../core/dtype.ts';
import type { Shape } from '../core/shape.ts';

export interface HostTensor {
  readonly dtype: DType;
  readonly shape: Shape;
  readonly data: HostArray;
}

/** Where graphs run, in the order the doors list them (the first is the default). */
export const PROVIDERS = ['cpu', 'webgpu', 'cuda'] as const;
export type Provider = (typeof PROVIDERS)[number];

export interface SessionOptions {
  provider?: Provider;
  /** Intra-op threads (default: onnxruntime's choice, i.e. all physical cores). */
  threads?: number;
  /** onnxruntime graph optimisation level (default 'all'). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Write onnxruntime's per-op profile (Chrome trace JSON) with this path prefix; see `Session.endProfiling`. */
  profilePrefix?: string;
}

/** A model ready to load: ONNX bytes plus the folder its external data is relative to. */
export interface ModelArtifact {
  readonly bytes: Uint8Array;
  readonly externalFolder: string | null;
  /** The weight files the external-data locations (relative to `externalFolder`) point into; the web adapter hands their bytes to onnxruntime-web (Node maps them itself). */
  readonly externalFiles?: readonly string[];
}

export interface Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Readonly<Record<string, HostTensor>>): Promise<Record<string, HostTensor>>;
  release(): Promise<void>;
  /** Stops profiling (when `profilePrefix` was set) and writes the trace file. */
  endProfiling(): void;
}
