/**
 * File-level door of the degradation pipeline (what `pasd degrade` calls): decode an HR image,
 * degrade it, write the LQ image and, optionally, the record of random choices as JSON.
 */
import { writeFileAtomic } from '../core/atomic.ts';
import { InputError } from '../core/errors.ts';
import type { RandomSource } from '../core/random.ts';
import { readImage, writeImage } from '../image/codec-node.ts';
import { fromTensor, toTensor } from '../image/image.ts';
import { imageBatch } from './batch.ts';
import { type DegradationRecord, type DegradeOptions, degradeImage } from './pipeline.ts';

export interface DegradeFileOptions extends Omit<DegradeOptions, 'name'> {
  /** Where to write the DegradationRecord as JSON (none if absent). */
  readonly paramsPath?: string;
}

/**
 * Reads `inputPath` (PNG/JPEG/WebP/GIF/TIFF; alpha is dropped), degrades it with draws from
 * `rng`, and writes the LQ image to `outputPath` (format from its extension). Returns the record.
 * Throws InputError naming the file for unreadable, non-image or too-small inputs.
 */
export async function degradeFile(inputPath: string, outputPath: string, rng: RandomSource, options: DegradeFileOptions = {}): Promise<DegradationRecord> {
  const { rgb } = await readImage(inputPath);
  const t = toTensor(rgb);
  const hr = imageBatch(t.data, 1, 3, rgb.height, rgb.width, inputPath);
  const { lq, record } = await degradeImage(hr, rng, { ...options, name: inputPath });
  // The LQ holds exact multiples of 1/255, so rounding recovers the 8-bit levels.
  await writeImage(outputPath, fromTensor({ shape: [1, 3, lq.h, lq.w], data: lq.data }, 'round'));
  if (options.paramsPath !== undefined) writeFileAtomic(options.paramsPath, [Buffer.from(`${JSON.stringify(record, null, 2)}\n`)], InputError);
  return record;
}
