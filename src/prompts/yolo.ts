/**
 * Detection as high-level information with an ultralytics YOLOv8 ONNX export, as the original
 * runs yolov8n (yangxy/PASD `annotator/yolo`: `YOLO(...).predict(image, imgsz=640)`), with
 * ultralytics' predict defaults (ultralytics/cfg/default.yaml: conf 0.25 for predict, iou 0.7,
 * max_det 300, class-aware NMS):
 * - LetterBox: scale by r = min(640/h, 640/w), cv2.resize INTER_LINEAR to round(w·r)×round(h·r),
 *   pad with 114 split round(d−0.1)/round(d+0.1). A fixed-size export pads to its input size;
 *   a dynamic one pads to the next multiple of the stride (`auto`, what the original's .pt model
 *   gets);
 * - RGB, ÷255, float32 [1, 3, H, W];
 * - raw output [1, 4 + nc, anchors] (cx, cy, w, h, class scores) → `non_max_suppression`: best
 *   class per anchor above conf, boxes offset by class × 7680 so classes never suppress each
 *   other, torchvision NMS (suppress IoU > iou), the first max_det kept, by falling score.
 */
import { ConfigError } from '../core/errors.ts';
import { roundHalfEven } from '../core/round.ts';
import { cvResizeLinear } from '../image/cv-resize.ts';
import { type Image, asRgb } from '../image/image.ts';
import type { HostTensor, Session } from '../runtime/session.ts';
import type { Description, PromptProvider } from './provider.ts';
import type { ImageModelSignature } from './signature.ts';

export interface YoloSettings {
  /** Letterbox side (predict's imgsz). */
  readonly imgsz: number;
  readonly conf: number;
  readonly iou: number;
  readonly maxDet: number;
}

/** test_pasd.py's imgsz=640 with ultralytics' predict defaults. */
export const YOLO_PREDICT: YoloSettings = Object.freeze({ imgsz: 640, conf: 0.25, iou: 0.7, maxDet: 300 });

/** ultralytics `max_wh`: the per-class box offset of class-aware NMS. */
const MAX_WH = 7680;
/** ultralytics `max_nms`: boxes into NMS at most. */
const MAX_NMS = 30000;
const PAD = 114;

/**
 * The `names` metadata ultralytics writes into its exports, a Python dict repr:
 * "{0: 'person', 1: 'bicycle', 2: \"cat's toy\"}" → names by class index.
 */
export function parseYoloNames(text: string, what = 'names'): string[] {
  const body = text.trim();
  if (!body.startsWith('{') || !body.endsWith('}')) throw new ConfigError(`${what}: expected ultralytics' class names as a dict, e.g. "{0: 'person', 1: 'bicycle'}", got ${JSON.stringify(text.slice(0, 80))}`);
  const names: string[] = [];
  const entry = /\s*(\d+)\s*:\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*(,|$)/y;
  const inner = body.slice(1, -1);
  entry.lastIndex = 0;
  while (entry.lastIndex < inner.length) {
    const m = entry.exec(inner);
    if (!m) throw new ConfigError(`${what}: cannot read the class names near ${JSON.stringify(inner.slice(entry.lastIndex, entry.lastIndex + 40))}`);
    const i = Number(m[1]);
    if (i !== names.length) throw new ConfigError(`${what}: class indices must run 0, 1, 2, …; got ${i} after ${names.length - 1}`);
    names.push((m[2] ?? m[3]).replace(/\\(.)/g, '$1'));
  }
  if (!names.length) throw new ConfigError(`${what}: no class names`);
  return names;
}

/** ultralytics LetterBox on an RGB image → the network input [1, 3, H, W] (RGB ÷ 255). */
export function letterbox(image: Image, size: readonly [number, number], o: { auto?: boolean; stride?: number } = {}): HostTensor & { readonly data: Float32Array } {
  const img = asRgb(image, 'detector input');
  const [newH, newW] = size;
  const r = Math.min(newH / img.height, newW / img.width);
  const w = roundHalfEven(img.width * r), h = roundHalfEven(img.height * r);
  let dw = newW - w, dh = newH - h;
  if (o.auto) {
    const stride = o.stride ?? 32;
    dw %= stride;
    dh %= stride;
  }
  dw /= 2;
  dh /= 2;
  const resized = w === img.width && h === img.height ? img : cvResizeLinear(img, w, h);
  // dw, dh are whole or halves, so d ± 0.1 never lies on .5: Math.round is Python's round here.
  const top = Math.round(dh - 0.1), bottom = Math.round(dh + 0.1), left = Math.round(dw - 0.1), right = Math.round(dw + 0.1);
  const H = h + top + bottom, W = w + left + right, n = H * W;
  const data = new Float32Array(3 * n).fill(PAD / 255);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const s = (y * w + x) * 3, d = (y + top) * W + x + left;
      for (let c = 0; c < 3; c++) data[c * n + d] = resized.data[s + c] / 255;
    }
  return { dtype: 'float32', shape: [1, 3, H, W], data };
}

export interface Detection {
  readonly cls: number;
  readonly conf: number;
  /** x1, y1, x2, y2 in network-input pixels. */
  readonly box: readonly [number, number, number, number];
}

function iou(a: readonly number[], b: readonly number[]): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]), h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

/** ultralytics `non_max_suppression` on one image's raw output `[4 + nc, anchors]` (row-major). */
export function yoloDetections(raw: ArrayLike<number>, classes: number, anchors: number, s: Omit<YoloSettings, 'imgsz'> = YOLO_PREDICT): Detection[] {
  const cand: Detection[] = [];
  for (let a = 0; a < anchors; a++) {
    let cls = 0, conf = raw[4 * anchors + a];
    for (let k = 1; k < classes; k++) if (raw[(4 + k) * anchors + a] > conf) (cls = k), (conf = raw[(4 + k) * anchors + a]);
    if (!(conf > s.conf)) continue;
    const cx = raw[a], cy = raw[anchors + a], w = raw[2 * anchors + a], h = raw[3 * anchors + a];
    cand.push({ cls, conf, box: [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2] });
  }
  // A stable sort: equal scores keep anchor order.
  cand.sort((p, q) => q.conf - p.conf);
  cand.length = Math.min(cand.length, MAX_NMS);
  const shifted = cand.map((d) => d.box.map((v) => v + d.cls * MAX_WH));
  const kept: number[] = [];
  for (let i = 0; i < cand.length && kept.length < s.maxDet; i++)
    if (kept.every((j) => iou(shifted[i], shifted[j]) <= s.iou)) kept.push(i);
  return kept.map((i) => cand[i]);
}

/** An ultralytics YOLOv8 export as a prompt provider: the class names of its detections, by falling confidence. */
export class YoloDetector implements PromptProvider {
  readonly kind = 'detection';

  constructor(
    private readonly session: Session,
    readonly signature: ImageModelSignature,
    readonly names: readonly string[],
    readonly settings: YoloSettings = YOLO_PREDICT,
  ) {}

  /** The letterbox target: a fixed-size export's input size, else imgsz padded to the stride (ultralytics `auto`). */
  private inputFor(image: Image): HostTensor {
    const [, , h, w] = this.signature.inputDims;
    if (h !== null && w !== null) return letterbox(image, [h, w]);
    const stride = Number(this.signature.metadata.stride ?? 32);
    return letterbox(image, [this.settings.imgsz, this.settings.imgsz], { auto: true, stride });
  }

  async detect(image: Image): Promise<Detection[]> {
    const out = (await this.session.run({ [this.signature.input]: this.inputFor(image) }))[this.signature.output];
    const [batch, rows, anchors] = out.shape;
    if (out.shape.length !== 3 || batch !== 1 || rows !== 4 + this.names.length)
      throw new ConfigError(`detector output "${this.signature.output}" has shape [${out.shape.join(', ')}]; a YOLOv8 export with ${this.names.length} class names gives [1, ${4 + this.names.length}, anchors]`);
    return yoloDetections(out.data as ArrayLike<number>, this.names.length, anchors, this.settings);
  }

  async describe(image: Image): Promise<Description> {
    return { kind: 'detection', names: (await this.detect(image)).map((d) => this.names[d.cls]) };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
