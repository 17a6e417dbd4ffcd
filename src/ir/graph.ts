/**
 * The graph IR: values with static types, nodes naming an op of the registry in src/ops,
 * graph inputs and parameters (weights living in files or host memory). Constants are
 * `Constant` nodes.
 * A graph is built by tracing (see tensor.ts) and is immutable in spirit: passes build new
 * node lists rather than editing values in place.
 */
import { type DType, type HostArray } from '../core/dtype.ts';
import { type Shape, fmtShape } from '../core/shape.ts';

export interface TensorType {
  readonly dtype: DType;
  readonly shape: Shape;
}

/** Where a parameter's bytes are: a range of a weight file, or host memory. */
export type WeightSource =
  | { readonly kind: 'file'; readonly path: string; readonly offset: number; readonly byteLength: number; readonly dtype: DType }
  | { readonly kind: 'host'; readonly data: HostArray; readonly dtype: DType };

export type ValueKind = 'input' | 'param' | 'node';

export class Value {
  producer: Node | null = null;
  constructor(
    readonly id: number,
    readonly type: TensorType,
    readonly kind: ValueKind,
    /** Inputs and params: their public name (params: the state-dict key). */
    readonly name: string | null = null,
    /** Params: where the weights are. */
    readonly source: WeightSource | null = null,
  ) {}
  get shape(): Shape { return this.type.shape; }
  get dtype(): DType { return this.type.dtype; }
}

export interface Node {
  readonly id: number;
  readonly op: string;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  readonly attrs: Readonly<Record<string, unknown>>;
  /** Module path at trace time, e.g. `up_blocks.1.attentions.0`, for error messages. */
  readonly scope: string;
}

export class Graph {
  readonly inputs: Value[] = [];
  readonly params: Value[] = [];
  private readonly paramByName = new Map<string, Value>();
  readonly nodes: Node[] = [];
  outputs: Value[] = [];
  outputNames: string[] = [];
  /**
   * Training: parameters whose name this accepts are traced as graph INPUTS (fed every step,
   * differentiable), the others stay initializers. Set before tracing.
   */
  paramAsInput: ((name: string) => boolean) | null = null;
  private nextId = 0;
  private scopeStack: string[] = [];

  constructor(readonly name = 'graph') {}

  newValue(type: TensorType, kind: ValueKind, name: string | null = null, source: WeightSource | null = null): Value {
    return new Value(this.nextId++, type, kind, name, source);
  }

  addInput(name: string, type: TensorType): Value {
    if (this.inputs.some((v) => v.name === name)) throw new Error(`graph input "${name}" defined twice`);
    const v = this.newValue(type, 'input', name);
    this.inputs.push(v);
    return v;
  }

  addParam(name: string, type: TensorType, source: WeightSource): Value {
    const existing = this.paramByName.get(name);
    if (existing) {
      if (existing.kind === 'param' && !sameSource(existing.source!, source))
        throw new Error(`graph "${this.name}": two different parameters are named "${name}"; give each model its own root prefix (Module.nameTree(prefix))`);
      return existing;
    }
    if (this.paramAsInput?.(name)) {
      const input = this.addInput(name, type);
      this.paramByName.set(name, input);
      return input;
    }
    const v = this.newValue(type, 'param', name, source);
    this.params.push(v);
    this.paramByName.set(name, v);
    return v;
  }

  addNode(op: string, inputs: readonly Value[], outTypes: readonly TensorType[], attrs: Record<string, unknown>): Node {
    const outputs = outTypes.map((t) => this.newValue(t, 'node'));
    const node: Node = { id: this.nextId++, op, inputs, outputs, attrs, scope: this.scope };
    for (const o of outputs) o.producer = node;
    this.nodes.push(node);
    return node;
  }

  setOutputs(named: Record<string, Value>): void {
    this.outputNames = Object.keys(named);
    this.outputs = Object.values(named);
  }

  /** The module path of the innermost `withScope`. */
  get scope(): string { return this.scopeStack.length ? this.scopeStack[this.scopeStack.length - 1] : ''; }

  /** Runs `fn` with `path` (a full module path) as the scope of new nodes and errors. */
  withScope<T>(path: string, fn: () => T): T {
    this.scopeStack.push(path);
    try {
      return fn();
    } finally {
      this.scopeStack.pop();
    }
  }
}

function sameSource(a: WeightSource, b: WeightSource): boolean {
  if (a.kind === 'file' && b.kind === 'file') return a.path === b.path && a.offset === b.offset && a.dtype === b.dtype;
  return a.kind === 'host' && b.kind === 'host' && a.data === b.data;
}

/** `float32[1,4,8,8]` */
export function fmtType(t: TensorType): string {
  return `${t.dtype}${fmtShape(t.shape)}`;
}
