/**
 * Modules mirror checkpoints: a module's fields are its state-dict segments (`conv_in`,
 * `to_out`), `ModuleList` keeps upstream indices, optional parts are `X | null`. Parameters
 * get their full key when the tree is named (`nameTree`), are bound to weights that stay in
 * their files (`loadWeights`), and become graph parameters when traced.
 */
import type { DType } from '../core/dtype.ts';
import { StateDictError } from '../core/errors.ts';
import { type Shape, fmtShape, shapeEq } from '../core/shape.ts';
import type { Graph, WeightSource } from '../ir/graph.ts';
import { Tensor } from '../ops/tensor.ts';

export class Parameter {
  /** Full state-dict key, set by `nameTree`. */
  name = '';
  source: WeightSource | null = null;
  trainable = false;
  constructor(readonly shape: Shape, readonly dtype: DType = 'float32') {}

  /** This parameter as a value of graph `g`. */
  tensor(g: Graph): Tensor {
    if (!this.source) throw new StateDictError(`parameter "${this.name}" has no weights: load a state dict before tracing`);
    return new Tensor(g, g.addParam(this.name, { dtype: this.dtype, shape: this.shape }, this.source));
  }
}

/** A stored tensor as a module sees it: its shape and where its bytes are. */
export interface StoredTensor {
  readonly shape: Shape;
  readonly source: WeightSource;
  /** Where it came from, for error messages (file path). */
  readonly origin?: string;
}

export abstract class Module {
  /** Full module path, set by `nameTree` (root: ''). */
  path = '';

  /** Own children in declaration order: parameters and modules (null fields skipped). */
  children(): [string, Module | Parameter][] {
    const out: [string, Module | Parameter][] = [];
    for (const [k, v] of Object.entries(this)) if (v instanceof Module || v instanceof Parameter) out.push([k, v]);
    return out;
  }

  /** Parameters with their keys relative to this module (its own state-dict keys). */
  namedParameters(): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    const walk = (m: Module, prefix: string) => {
      for (const [k, v] of m.children()) {
        const key = prefix ? `${prefix}.${k}` : k;
        if (v instanceof Parameter) out.push([key, v]);
        else walk(v, key);
      }
    };
    walk(this, '');
    return out;
  }

  /**
   * Assigns full paths to every module and parameter below (call once on the root). A root
   * `prefix` (e.g. `unet`, `controlnet`) keeps parameter names unique when several models
   * are traced into one graph; state-dict keys (`namedParameters`) stay relative.
   */
  nameTree(prefix = ''): this {
    this.path = prefix;
    for (const [k, v] of this.children()) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (v instanceof Parameter) v.name = key;
      else v.nameTree(key);
    }
    return this;
  }

  /** {key: shape} of every parameter, as diffusers' state_dict() lists them. */
  stateShapes(): Map<string, Shape> {
    return new Map(this.namedParameters().map(([k, p]) => [k, p.shape]));
  }

  /**
   * Binds every parameter to `weights[key]`. Reports every missing, unexpected and
   * mis-shaped key at once. `allowUnexpected` accepts extra keys (e.g. a full checkpoint
   * loaded into one sub-model).
   */
  loadWeights(weights: ReadonlyMap<string, StoredTensor>, opts: { what?: string; allowUnexpected?: boolean } = {}): void {
    const params = this.namedParameters();
    const missing: string[] = [], misshaped: string[] = [];
    for (const [k, p] of params) {
      const w = weights.get(k);
      if (!w) missing.push(k);
      else if (!shapeEq(w.shape, p.shape)) misshaped.push(`${k}: expected ${fmtShape(p.shape)}, found ${fmtShape(w.shape)}${w.origin ? ` in ${w.origin}` : ''}`);
    }
    const known = new Set(params.map(([k]) => k));
    const unexpected = opts.allowUnexpected ? [] : [...weights.keys()].filter((k) => !known.has(k));
    if (missing.length || misshaped.length || unexpected.length) {
      const list = (title: string, xs: string[]) => (xs.length ? `\n  ${title} (${xs.length}): ${xs.slice(0, 20).join(', ')}${xs.length > 20 ? ', …' : ''}` : '');
      throw new StateDictError(`${opts.what ?? 'model'}: the weights do not fit the model config${list('missing keys', missing)}${list('mis-shaped keys', misshaped)}${list('unexpected keys', unexpected)}`);
    }
    for (const [k, p] of params) p.source = weights.get(k)!.source;
  }

  /** Runs `fn` with this module's path as the scope of the nodes it adds (for errors). */
  protected scoped<T>(g: Graph, fn: () => T): T {
    return g.withScope(this.path, fn);
  }
}

/** A list whose children are named by index, as torch.nn.ModuleList. */
export class ModuleList<T extends Module> extends Module {
  constructor(readonly items: T[]) {
    super();
  }
  override children(): [string, Module | Parameter][] {
    return this.items.map((m, i) => [String(i), m]);
  }
  get length(): number { return this.items.length; }
  at(i: number): T { return this.items[i]; }
}
