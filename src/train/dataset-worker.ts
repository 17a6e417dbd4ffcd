/** Worker thread of the data loader: makes samples by index and posts them back (buffers transferred). */
import { parentPort, workerData } from 'node:worker_threads';
import { type DatasetOptions, loadSample } from './dataset.ts';

const { files, options } = workerData as { files: string[]; options: DatasetOptions };
parentPort!.on('message', async (m: { index: number; file: number }) => {
  try {
    const s = await loadSample(files[m.file], m.index, options);
    parentPort!.postMessage({ index: m.index, sample: s }, [s.pixelValues.buffer as ArrayBuffer, s.cond.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort!.postMessage({ index: m.index, error: `${(e as Error).name}: ${(e as Error).message}` });
  }
});
