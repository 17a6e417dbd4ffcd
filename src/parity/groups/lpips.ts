/**
 * `lpips` group (fixtures README, "lpips"): LPIPS v0.1 distances and per-layer terms of image
 * batches `input.<tag>_in0_u8` / `input.<tag>_in1_u8` ([N, H, W, 3] uint8) for outputs
 * `output.<tag>_<net>_{distance,per_layer}`, with the case's LPIPS model folders (their
 * config.json names the net).
 */
import { ConfigError } from '../../core/errors.ts';
import { LpipsMetric, nhwcU8ToNchw01 } from '../../metrics/lpips.ts';
import type { CaseOutputs, GroupHandler } from '../types.ts';

export const lpips: GroupHandler = async (ctx) => {
  const out: CaseOutputs = new Map();
  const byNet = new Map<string, LpipsMetric>();
  for (const name of ctx.meta.models ?? []) {
    const m = ctx.fixtures.model(name);
    byNet.set(String(m.config.lpips_net), LpipsMetric.load(m.dir, { ...ctx.runtime, cache: false }));
  }
  try {
    for (const t of ctx.outputs()) {
      const m = /^output\.(\w+)_([a-z]+)_(distance|per_layer)$/.exec(t.name);
      if (!m || out.has(t.name)) continue;
      const [, tag, net] = m;
      const metric = byNet.get(net);
      const names = [`output.${tag}_${net}_distance`, `output.${tag}_${net}_per_layer`];
      try {
        if (!metric) throw new ConfigError(`${ctx.meta.name}: no LPIPS model with lpips_net "${net}" among ${JSON.stringify(ctx.meta.models ?? [])}`);
        const a = nhwcU8ToNchw01(ctx.f32(`input.${tag}_in0_u8`), ctx.shape(`input.${tag}_in0_u8`));
        const b = nhwcU8ToNchw01(ctx.f32(`input.${tag}_in1_u8`), ctx.shape(`input.${tag}_in1_u8`));
        const r = await metric.compare(a.data, b.data, a.shape);
        out.set(names[0], { data: r.distance, shape: [a.shape[0]] });
        out.set(names[1], { data: r.perLayer, shape: [a.shape[0], 5] });
      } catch (e) {
        for (const n of names) out.set(n, e instanceof Error ? e : new Error(String(e)));
      }
    }
  } finally {
    for (const m of byNet.values()) await m.release();
  }
  return out;
};
