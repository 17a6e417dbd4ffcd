/**
 * The four models of a training run, built from their config.json files and bound to their
 * weights (kept in their files): PASD or PASD-light UNet + ControlNet (names prefixed `unet.`
 * and `controlnet.` so both trace into one graph), frozen VAE and CLIP text encoder.
 */
import { loadModelFolder, readModelConfig, type ModelFolder } from '../checkpoint/folder.ts';
import { parseClipTextConfig } from '../config/clip.ts';
import { parseControlNetConfig, parseUNetConfig } from '../config/unet.ts';
import { storedTensor } from '../engine/weights.ts';
import { buildAutoencoder, isPixelShuffleConfig } from '../models/autoencoders/index.ts';
import { CLIPTextModel } from '../models/clip/clip-text.ts';
import { ControlNetModel } from '../models/controlnets/controlnet.ts';
import { PasdLightUNet2DConditionModel } from '../models/pasd_light/unet.ts';
import { PasdUNet2DConditionModel } from '../models/unets/pasd-unet.ts';
import type { Module, StoredTensor } from '../nn/module.ts';
import type { UNetConfig } from '../config/unet.ts';
import type { ControlledUNet } from './step-graph.ts';
import type { TrainModels } from './step.ts';

export type PasdKind = 'pasd' | 'pasd_light';

export function buildUNet(config: UNetConfig, kind: PasdKind): ControlledUNet {
  return kind === 'pasd_light' ? new PasdLightUNet2DConditionModel(config) : new PasdUNet2DConditionModel(config);
}

/** PASD-light checkpoints carry `attn2_plus` keys; PASD ones `pixel_attentions`. */
export function kindOfWeights(keys: Iterable<string>): PasdKind | null {
  for (const k of keys) {
    if (k.includes('attn2_plus')) return 'pasd_light';
    if (k.includes('pixel_attentions')) return 'pasd';
  }
  return null;
}

export function folderWeights(folder: ModelFolder): Map<string, StoredTensor> {
  return new Map([...folder.tensors].map(([k, t]) => [k, storedTensor(t.file.path, t.entry)]));
}

function bound<M extends Module>(m: M, folder: ModelFolder, root: string): M {
  m.nameTree(root).loadWeights(folderWeights(folder), { what: `${root} (${folder.dir})` });
  return m;
}

/** The four models from complete component folders (every weight present). */
export function loadTrainModels(dirs: { unet: string; controlnet: string; vae: string; textEncoder: string }, warn?: (m: string) => void): TrainModels & { kind: PasdKind } {
  const uf = loadModelFolder(dirs.unet), cf = loadModelFolder(dirs.controlnet);
  const vaeRaw = readModelConfig(dirs.vae), vf = isPixelShuffleConfig(vaeRaw) ? null : loadModelFolder(dirs.vae), tf = loadModelFolder(dirs.textEncoder);
  const kind = kindOfWeights(uf.tensors.keys()) ?? 'pasd';
  return {
    kind,
    unet: bound(buildUNet(parseUNetConfig(uf.config, `${dirs.unet}/config.json`, warn), kind), uf, 'unet'),
    controlnet: bound(new ControlNetModel(parseControlNetConfig(cf.config, `${dirs.controlnet}/config.json`, warn)), cf, 'controlnet'),
    vae: vf ? bound(buildAutoencoder(vf.config, `${dirs.vae}/config.json`, warn), vf, 'vae') : buildAutoencoder(vaeRaw, `${dirs.vae}/config.json`, warn).nameTree('vae'),
    textEncoder: bound(new CLIPTextModel(parseClipTextConfig(tf.config, `${dirs.textEncoder}/config.json`, warn)), tf, 'text_encoder'),
  };
}
