/**
 * The PasdError hierarchy. Every error names what was wrong (argument, op, key, module path)
 * and, where possible, what to do about it. Doors (CLI, server) map these to exit codes / HTTP.
 */
export class PasdError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A config.json / option value that is missing, malformed or unsupported. */
export class ConfigError extends PasdError {}

/** A weight file that cannot be read: bad header, truncated data, refused pickle content. */
export class CheckpointError extends PasdError {}

/** A state dict that does not fit a module: missing, unexpected or mis-shaped keys. */
export class StateDictError extends PasdError {}

/** Shapes or dtypes that an op does not accept. */
export class ShapeError extends PasdError {}

/** A feature or value the implementation deliberately does not support. */
export class UnsupportedError extends PasdError {}

/** onnxruntime failures: missing provider, session creation, run errors. */
export class RuntimeBackendError extends PasdError {}

/**
 * An execution provider that cannot run here (no GPU adapter, missing CUDA binaries, a
 * precision it does not offer). `provider` names it; the message says why and what to do.
 */
export class ProviderError extends RuntimeBackendError {
  constructor(readonly provider: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A computation that produced NaN or infinite values (broken weights, an overflow). */
export class NumericError extends PasdError {}

/** Invalid user input (images, CLI arguments, request options). */
export class InputError extends PasdError {}
