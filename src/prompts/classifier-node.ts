/**
 * Loads an image classifier from a local folder (never from the network):
 *   model.onnx       one input [1, 3, H, W] float32, one output of class scores; external
 *                    data files, if any, beside it
 *   labels.txt       one label per line, in the model's output order
 *   preprocess.json  optional {size, crop, mean, std}; default: torchvision's ResNet-50 transform
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../core/errors.ts';
import { createSession } from '#runtime';
import type { SessionOptions } from '../runtime/session.ts';
import { ImageClassifier, checkClassifier } from './classifier.ts';
import { imageModelSignature } from './signature.ts';
import { type ClassifierPreprocess, RESNET50_PREPROCESS, parsePreprocess } from './preprocess.ts';

const HOWTO = 'a classifier folder holds model.onnx, labels.txt and optionally preprocess.json (see README "High-level information")';

function required(dir: string, name: string): string {
  const p = join(dir, name);
  if (!existsSync(p)) throw new ConfigError(`classifier folder ${dir}: ${name} is missing; ${HOWTO}`);
  return p;
}

/** labels.txt → labels; trailing blank lines are ignored, a blank label elsewhere is an error. */
export function parseLabels(text: string, what = 'labels.txt'): string[] {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  while (lines.length && lines[lines.length - 1].trim() === '') lines.pop();
  if (!lines.length) throw new ConfigError(`${what} is empty: write one label per line, in the model's output order`);
  const blank = lines.findIndex((l) => l.trim() === '');
  if (blank >= 0) throw new ConfigError(`${what}: line ${blank + 1} is blank; every class needs a label`);
  return lines.map((l) => l.trim());
}

function readPreprocess(dir: string): ClassifierPreprocess {
  const p = join(dir, 'preprocess.json');
  if (!existsSync(p)) return RESNET50_PREPROCESS;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${p}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  return parsePreprocess(json, p);
}

/** The classifier in `dir`, checked (shapes, label count) before its session is created. */
export async function loadClassifier(dir: string, opts: SessionOptions = {}): Promise<ImageClassifier> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ConfigError(`classifier folder ${dir} does not exist; ${HOWTO}`);
  const modelPath = required(dir, 'model.onnx');
  const labels = parseLabels(readFileSync(required(dir, 'labels.txt'), 'utf8'), join(dir, 'labels.txt'));
  const preprocess = readPreprocess(dir);
  const bytes = readFileSync(modelPath);
  const signature = imageModelSignature(bytes, modelPath, 'image classifier');
  checkClassifier(signature, labels, preprocess, modelPath);
  // External-data locations are relative to the model's folder (onnxruntime wants it canonical).
  const session = await createSession({ bytes, externalFolder: realpathSync(dir) }, opts);
  return new ImageClassifier(session, signature, labels, preprocess);
}
