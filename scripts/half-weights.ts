/**
 * Rewrites safetensors weight files with their float32 tensors stored as float16 (other
 * dtypes and the metadata kept): `node --import tsx scripts/half-weights.ts FILE.safetensors…`.
 * Used for the shipped mini model (models/pasd-mini, MODEL_CARD.md): half the bytes; at load
 * time each F16 weight is cast to float32 once (src/export/export.ts), so compute stays fp32.
 * It halves the files, not the memory: at SD1.5 scale on CPU the step time is unchanged and peak
 * RSS grows (6.7 → 10.3 GB for the 64² step; `bench/lowering.ts f16-storage`), so it is for
 * shipping small models, not a default for large ones.
 * Each file is replaced atomically (written beside it, then renamed).
 */
import { renameSync, statSync } from 'node:fs';
import { openSafetensors } from '../src/checkpoint/safetensors.ts';
import { writeSafetensorsStreaming } from '../src/checkpoint/safetensors-write.ts';
import { toFloat16Bits } from '../src/export/float16.ts';

for (const path of process.argv.slice(2)) {
  const file = openSafetensors(path);
  const entries = [...file.tensors.values()];
  const specs = entries.map((e) => ({ name: e.name, dtype: e.dtype === 'float32' ? 'float16' as const : e.dtype, shape: e.shape }));
  const before = statSync(path).size;
  const tmp = `${path}.tmp-${process.pid}`;
  writeSafetensorsStreaming(tmp, specs, (spec) => {
    const data = file.read(spec.name);
    return spec.dtype === 'float16' && data instanceof Float32Array ? Uint16Array.from(data, toFloat16Bits) : data;
  }, file.metadata);
  renameSync(tmp, path);
  console.log(`${path}: ${(before / 1e6).toFixed(1)} MB → ${(statSync(path).size / 1e6).toFixed(1)} MB`);
}
