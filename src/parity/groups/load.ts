/**
 * What the model-running handlers share: building a fixture model from its folder (once per
 * fixture set), recognising the original's class, feeding case tensors and running a traced
 * graph for the case's shapes.
 */
import { loadModelFolder } from '../../checkpoint/folder.ts';
import { UnsupportedError } from '../../core/errors.ts';
import { type RuntimeChoice, compileGraph } from '../../engine/compile.ts';
import { storedTensors } from '../../engine/weights.ts';
import type { Graph } from '../../ir/graph.ts';
import type { Module } from '../../nn/module.ts';
import type { HostTensor } from '../../runtime/session.ts';
import type { FixtureModel, FixtureSet } from '../fixture-set.ts';
import type { CaseContext } from '../types.ts';

const built = new WeakMap<FixtureSet, Map<string, Module>>();

/** The fixture model `m` built by `build` from its config.json with its weights bound in place; cached per set. */
export function loadModel<M extends Module>(set: FixtureSet, m: FixtureModel, build: (config: Readonly<Record<string, unknown>>) => M): M {
  let cache = built.get(set);
  if (!cache) built.set(set, (cache = new Map()));
  const hit = cache.get(m.name);
  if (hit) return hit as M;
  const folder = loadModelFolder(m.dir);
  const model = build(folder.config).nameTree();
  model.loadWeights(storedTensors(...folder.weightFiles), { what: m.name });
  cache.set(m.name, model);
  return model;
}

/**
 * The package of the original's class (manifest `class_name`): `pasd` for
 * `pasd.models.pasd.…`, `pasd_light` for `pasd.models.pasd_light.…`, else its first segment
 * (`diffusers`, `transformers`).
 */
export function packageOf(m: FixtureModel): string | undefined {
  const c = m.className;
  if (c === undefined) return undefined;
  const pasd = /^pasd\.models\.([a-z_]+)\./.exec(c);
  return pasd ? pasd[1] : c.split('.')[0];
}

/** The case's models whose config class is `configClass`; throws UnsupportedError unless exactly one. */
export function theModel(ctx: CaseContext, configClass: string): FixtureModel {
  const found = (ctx.meta.models ?? []).map((n) => ctx.fixtures.model(n)).filter((m) => m.configClass === configClass);
  if (found.length !== 1) throw new UnsupportedError(`${ctx.meta.name}: expected one ${configClass} among its models, found ${found.length}`);
  return found[0];
}

/** A case tensor as a runtime feed: int64 stays int64, everything else float32. */
export function feedOf(ctx: CaseContext, name: string): HostTensor {
  const e = ctx.file.tensors.get(name);
  if (!e) throw new UnsupportedError(`${ctx.meta.name}: the case has no ${name}`);
  return e.dtype === 'int64' ? { dtype: 'int64', shape: e.shape, data: ctx.file.read(name) } : { dtype: 'float32', shape: e.shape, data: ctx.f32(name) };
}

/** Compiles a traced graph (no cache: shapes are per case), runs it once and releases it. */
export async function runGraph(g: Graph, feeds: Readonly<Record<string, HostTensor>>, runtime: RuntimeChoice): Promise<Record<string, HostTensor>> {
  const session = await compileGraph(g, { ...runtime, cache: false });
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

/** Records `fn`'s error against each of `names`, so other outputs of the case still count. */
export async function settle(out: Map<string, unknown>, names: readonly string[], fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    for (const n of names) if (!out.has(n)) out.set(n, err);
  }
}
