/**
 * Stand-in for `sharp` in the device bundle (bench/device/pack.sh aliases it): the parity
 * runner's image-file groups and the CLI's codecs import sharp, whose native libvips would
 * not fit the device's 64 MiB transfer; the cases carried there never call it.
 */
import { UnsupportedError } from '../../src/core/errors.ts';

export default function sharp(): never {
  throw new UnsupportedError('sharp (image files) is not in the device bundle; run image cases with the repository\'s own node_modules');
}
