/**
 * Prefetching sample loader: samples are made on a worker thread (decode, crop, Real-ESRGAN
 * degradation) while the main thread runs the step graph, `prefetch` samples ahead.
 * Sample i is fully determined by (seed, i): see dataset.ts.
 */
import { Worker } from 'node:worker_threads';
import { InputError } from '../core/errors.ts';
import { type DatasetOptions, type Sample, fileOfSample } from './dataset.ts';

type Reply = { index: number; sample?: Sample; error?: string };

export class SampleLoader {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (s: Sample) => void; reject: (e: Error) => void; promise: Promise<Sample> }>();
  private next: number;

  /** Starts at global sample `position` (a resumed run passes the saved position). */
  constructor(readonly files: readonly string[], readonly options: DatasetOptions, position: number, private readonly prefetch = 4) {
    // The worker needs the TypeScript loader the main thread runs under (loader hooks are
    // per thread and `--import` is not honoured in a worker's execArgv): register it, then import.
    const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(new URL('./dataset-worker.ts', import.meta.url).href)}); })`;
    this.worker = new Worker(boot, { eval: true, workerData: { files, options } });
    this.worker.on('message', (m: Reply) => {
      const p = this.pending.get(m.index);
      if (!p) return;
      if (m.error) p.reject(new InputError(`sample ${m.index} (${files[fileOfSample(files.length, m.index, options.seed)]}): ${m.error}`));
      else p.resolve(m.sample!);
    });
    this.worker.on('error', (e) => { for (const p of this.pending.values()) p.reject(e); });
    this.next = position;
    for (let i = 0; i < prefetch; i++) this.request(position + i);
  }

  private request(index: number): void {
    if (this.pending.has(index)) return;
    let resolve!: (s: Sample) => void, reject!: (e: Error) => void;
    const promise = new Promise<Sample>((a, b) => { resolve = a; reject = b; });
    promise.catch(() => {});
    this.pending.set(index, { resolve, reject, promise });
    this.worker.postMessage({ index, file: fileOfSample(this.files.length, index, this.options.seed) });
  }

  /** The next sample in order; keeps `prefetch` requests in flight. */
  async take(): Promise<Sample> {
    const i = this.next++;
    this.request(i);
    this.request(i + this.prefetch);
    const s = await this.pending.get(i)!.promise;
    this.pending.delete(i);
    return s;
  }

  /** Global index of the next sample `take` returns. */
  get position(): number { return this.next; }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}
