/**
 * src/image: host-side image handling that runs anywhere (Node and browser). Decoding and
 * encoding through sharp live in codec-node.ts, imported separately so that browser bundles
 * never pull sharp in.
 */
export { makeImage, asRgb, toTensor, fromTensor, type Image, type RgbImage, type ImageTensor, type QuantizeMode } from './image.ts';
export { resize, torchvisionResize, torchvisionResizeSize, type ResampleFilter } from './resample.ts';
export { cvResizeLinear } from './cv-resize.ts';
export { rgbToGray, grayToRgb, rgbToYuv, yuvToRgb, mergeLumaChroma } from './color.ts';
export {
  colorFix, waveletColorFix, adainColorFix, waveletDecomposition, waveletReconstruction, adaptiveInstanceNormalization,
  type ColorFix,
} from './colorfix.ts';
export { gaussianTileWeights } from './tile-weights.ts';
