/**
 * `pasd serve`: the HTTP API and the web page on Node's own http module.
 *
 *   POST   /v1/jobs               image (multipart `image` + `options` JSON, or raw body + ?options=) → 202 {id}
 *   GET    /v1/jobs/:id           state, progress (phase/step/tile), ETA
 *   GET    /v1/jobs/:id/events    the same as Server-Sent Events until the job is final
 *   GET    /v1/jobs/:id/result    the PNG
 *   DELETE /v1/jobs/:id           cancel (queued or running) or forget a finished job
 *   GET    /v1/health, /v1/models
 *   GET    /, /index.html, …      the page (web/), from memory
 *
 * Jobs live in a JobBackend (./backend.ts): this process's queue and worker thread, or Redis
 * (`--queue`), where any number of these servers share them with `pasd worker` processes.
 *
 * Safety: binds loopback by default; with a token every route needs it (`Authorization:
 * Bearer`, `?token=`, or the cookie set when the page is opened with `?token=`);
 * cross-origin requests (an `Origin` other than the server) are refused so another site
 * cannot queue jobs from a visitor's browser, and on loopback the `Host` must be a loopback
 * name (DNS rebinding).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { schedulerConfigs } from '../pipelines/load.ts';
import { DEFAULTS } from '../pipelines/options.ts';
import { DEFAULT_MAX_WORK_PIXELS, workSizeProblem } from '../pipelines/sizes.ts';
import { HttpError } from './errors.ts';
import { type JobBackend, MemoryJobs } from './backend.ts';
import { DEFAULT_STORE_LIMITS, JobQueue, type JobView, type StoreLimits, isFinal } from './jobs.ts';
import { DEFAULT_OPTION_LIMITS, type ModelOptions, type OptionLimits, parseJobOptions } from './options.ts';
import { type Runner, type WorkerModel, WorkerRunner } from './runner.ts';
import { SITE_PREFIX, type StaticFile, loadStaticFiles } from './static.ts';
import { DEFAULT_UPLOAD_TIMING, UploadBudget, type UploadTiming, decodeUpload, parseUpload, readBody } from './upload.ts';

export interface ServerConfig {
  /** Models offered; the first is the default. */
  models: WorkerModel[];
  host?: string;
  port?: number;
  /** Bearer token required on every route when set. */
  token?: string;
  maxUploadBytes?: number;
  /** Input pixel cap, checked from the image header. */
  maxPixels?: number;
  /** Output pixel cap (input × scale²). */
  maxOutputPixels?: number;
  /** Cap on the pixels the network runs at (the process size can make them far more than the output's). */
  maxWorkPixels?: number;
  /** Per-connection upload bounds (stall, minimum rate). */
  uploadTiming?: UploadTiming;
  optionLimits?: OptionLimits;
  store?: Partial<StoreLimits>;
  threads?: number;
  /** Default: the worker thread; tests may pass their own. */
  runner?: Runner;
  /** Where jobs live; default: this process (a JobQueue with `runner` and `store`). */
  jobs?: JobBackend;
  staticFiles?: Map<string, StaticFile>;
  log?: (line: string) => void;
}

export const SERVER_DEFAULTS = { host: '127.0.0.1', port: 7860, maxUploadBytes: 32 * 1024 * 1024, maxPixels: 2048 * 2048, maxOutputPixels: 8192 * 8192, maxWorkPixels: DEFAULT_MAX_WORK_PIXELS };
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SSE_HEARTBEAT_MS = 15_000;
/**
 * Uploads parsed and decoded at once (after their bodies have arrived; reading a body never
 * holds a slot, so a stalled client delays nobody); the others wait, so decoded pixels are
 * bounded by this × the pixel cap. Bodies in memory are bounded by the UploadBudget,
 * UPLOAD_BUDGET_UPLOADS × the upload cap.
 */
const UPLOAD_SLOTS = 2;
const UPLOAD_BUDGET_UPLOADS = 4;
const PAGE_CSP = "default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'";
/**
 * The browser build (/local/): WebAssembly compiles ('wasm-unsafe-eval'), protobufjs builds its
 * ONNX encoders with Function() ('unsafe-eval'; scripts still come from this origin only), the
 * result is a blob: URL, and cross-origin isolation lets onnxruntime-web use threads.
 */
const SITE_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' blob: data:; connect-src 'self' blob:; style-src 'self'; script-src 'self' 'unsafe-eval' 'wasm-unsafe-eval'; worker-src 'self' blob:; frame-ancestors 'none'",
  'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp',
};

const digest = (s: string) => createHash('sha256').update(s).digest();

export class PasdServer {
  readonly http: Server;
  readonly queue: JobBackend;
  private readonly files: Map<string, StaticFile>;
  private readonly tokenDigest: Buffer | null;
  private readonly modelOptions: Map<string, ModelOptions>;
  private readonly limits: Required<Pick<ServerConfig, 'host' | 'port' | 'maxUploadBytes' | 'maxPixels' | 'maxOutputPixels' | 'maxWorkPixels' | 'uploadTiming'>>;
  private readonly uploadBudget: UploadBudget;
  private readonly started = Date.now();
  private closing = false;
  private uploadsActive = 0;
  private readonly uploadsWaiting: (() => void)[] = [];

  constructor(private readonly config: ServerConfig) {
    if (!config.models.length) throw new HttpError(500, 'the server needs at least one model');
    this.limits = {
      host: config.host ?? SERVER_DEFAULTS.host, port: config.port ?? SERVER_DEFAULTS.port,
      maxUploadBytes: config.maxUploadBytes ?? SERVER_DEFAULTS.maxUploadBytes, maxPixels: config.maxPixels ?? SERVER_DEFAULTS.maxPixels,
      maxOutputPixels: config.maxOutputPixels ?? SERVER_DEFAULTS.maxOutputPixels, maxWorkPixels: config.maxWorkPixels ?? SERVER_DEFAULTS.maxWorkPixels,
      uploadTiming: config.uploadTiming ?? DEFAULT_UPLOAD_TIMING,
    };
    this.uploadBudget = new UploadBudget(UPLOAD_BUDGET_UPLOADS * this.limits.maxUploadBytes);
    this.modelOptions = new Map(config.models.map((m) => [m.name, { defaults: m.defaults, schedulers: schedulerConfigs(m.paths), highLevel: Object.keys(m.highLevel ?? {}) }]));
    this.tokenDigest = config.token ? digest(config.token) : null;
    this.files = config.staticFiles ?? loadStaticFiles(undefined, config.optionLimits);
    this.queue = config.jobs ?? new MemoryJobs(new JobQueue(config.runner ?? new WorkerRunner(config.models, { threads: config.threads }), { ...DEFAULT_STORE_LIMITS, ...config.store }, Date.now, config.log));
    this.http = createServer({ requestTimeout: 120_000, headersTimeout: 20_000 }, (req, res) => {
      this.handle(req, res).catch((e: Error) => this.fail(res, e));
    });
  }

  /** Starts listening; resolves with the base URL (port 0 picks a free port). */
  listen(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.limits.port, this.limits.host, () => {
        const a = this.http.address() as AddressInfo;
        const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
        resolve(`http://${host}:${a.port}`);
      });
    });
  }

  /**
   * Graceful shutdown: refuses new connections and jobs, cancels queued jobs, gives the
   * running one `graceMs` to finish (then aborts it), closes the worker and every connection.
   */
  async close(graceMs = 10_000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const stopped = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeIdleConnections();
    await this.queue.close(graceMs);
    this.http.closeAllConnections();
    await stopped;
  }

  private log(line: string): void {
    this.config.log?.(line);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    const url = new URL(req.url ?? '/', 'http://localhost');
    this.checkOrigin(req);
    const via = this.checkToken(req, url);
    const method = req.method ?? 'GET';
    const path = url.pathname;
    if (via === 'query' && method === 'GET' && this.files.has(path)) {
      // The page opened with ?token=: keep it in an HttpOnly same-site cookie, drop it from the address bar.
      res.writeHead(303, { location: path, 'set-cookie': `pasd_session=${this.tokenDigest!.toString('hex')}; HttpOnly; SameSite=Strict; Path=/` });
      res.end();
      return;
    }
    if (!path.startsWith('/v1/')) return this.serveStatic(method, path, req, res);
    res.setHeader('cache-control', 'no-store');
    if (this.closing) throw new HttpError(503, 'the server is shutting down');
    const parts = path.split('/').slice(2); // '/v1/jobs/<id>/events' → ['jobs', '<id>', 'events']
    const allow = (...methods: string[]) => {
      if (!methods.includes(method)) throw new HttpError(405, `${method} ${path}: allowed: ${methods.join(', ')}`, undefined, { allow: methods.join(', ') });
    };
    if (path === '/v1/health') {
      allow('GET');
      return json(res, 200, { status: 'ok', uptimeSeconds: Math.round((Date.now() - this.started) / 1000), queue: { ...(await this.queue.counts()), capacity: this.queue.maxQueued } });
    }
    if (path === '/v1/models') {
      allow('GET');
      return json(res, 200, { models: this.config.models.map((m, i) => ({ name: m.name, default: i === 0, defaults: m.defaults })) });
    }
    if (path === '/v1/jobs') {
      allow('POST');
      return this.createJob(req, res, url);
    }
    if (parts[0] !== 'jobs' || parts.length > 3) throw new HttpError(404, `${path}: no such route`);
    const id = this.idOf(parts[1]);
    const sub = parts[2];
    if (sub === undefined) {
      allow('GET', 'DELETE');
      if (method === 'DELETE') {
        const v = this.found(id, await this.queue.cancel(id));
        this.log(`job ${id}: cancel requested (${v.state})`);
        return json(res, 202, v);
      }
      return json(res, 200, this.found(id, await this.queue.view(id)));
    }
    allow('GET');
    if (sub === 'events') return this.events(req, res, id);
    if (sub === 'result') {
      const body = await this.queue.result(id);
      const length = 'png' in body ? body.png.length : body.length;
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': length, 'content-disposition': `inline; filename="pasd-${id}.png"` });
      if ('png' in body) res.end(body.png);
      else body.stream.on('error', () => res.destroy()).pipe(res);
      return;
    }
    throw new HttpError(404, `${path}: no such route`);
  }

  private async createJob(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const c = await this.queue.counts();
    // Refuse before reading a body that could not be queued anyway.
    if (c.queued >= this.queue.maxQueued) throw new HttpError(429, `the queue is full (${c.queued} jobs waiting); retry later`, undefined, { 'retry-after': '10' });
    const body = await readBody(req, this.limits.maxUploadBytes, this.uploadBudget, this.limits.uploadTiming);
    let options, bytes, image;
    try {
      ({ options, bytes, image } = await this.withUploadSlot(async () => {
        const upload = await parseUpload(req.headers['content-type'], body, url.searchParams);
        const options = parseJobOptions(upload.options, this.modelOptions, this.config.optionLimits ?? DEFAULT_OPTION_LIMITS);
        return { options, bytes: upload.image, image: await decodeUpload(upload.image, this.limits.maxPixels) };
      }));
    } finally {
      this.uploadBudget.release(body.length);
    }
    const { width: w, height: h } = image.rgb;
    const s = options.upscale.upscale;
    if (w * h * s * s > this.limits.maxOutputPixels)
      throw new HttpError(413, `scale: ${w}x${h} × ${s} would be ${w * s}x${h * s}, more than the server's cap of ${this.limits.maxOutputPixels} output pixels`, 'scale');
    const processSize = options.upscale.processSize ?? DEFAULTS.processSize;
    const work = workSizeProblem(w, h, { upscale: s, processSize, colorization: options.upscale.colorize }, this.limits.maxWorkPixels);
    if (work) throw new HttpError(413, `processSize: ${work}; lower processSize or scale (the server's cap is pasd serve --max-work-pixels)`, 'processSize');
    const job = await this.queue.submit({ bytes, image }, options);
    this.log(`job ${job.id}: queued (${w}x${h}, ×${s}, model ${options.model})`);
    res.setHeader('location', `/v1/jobs/${job.id}`);
    json(res, 202, job);
  }

  /** Steps, strength and samples against the model's scheduler (e.g. LCM takes at most 50 steps): 400 before queueing. */
  private async withUploadSlot<T>(fn: () => Promise<T>): Promise<T> {
    if (this.uploadsActive >= UPLOAD_SLOTS) await new Promise<void>((resolve) => this.uploadsWaiting.push(resolve));
    this.uploadsActive++;
    try {
      return await fn();
    } finally {
      this.uploadsActive--;
      this.uploadsWaiting.shift()?.();
    }
  }

  private idOf(id: string | undefined): string {
    if (!id || !ID.test(id)) throw new HttpError(404, `job ${id}: no such job (finished jobs expire)`, 'id');
    return id;
  }

  private found(id: string, v: JobView | undefined): JobView {
    if (!v) throw new HttpError(404, `job ${id}: no such job (finished jobs expire)`, 'id');
    return v;
  }

  /** Server-Sent Events: the job's view now and at every change; the stream ends with the final state. */
  private async events(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    // Subscribed before the first look: changes that come while it is read are kept, then sent.
    const early: JobView[] = [];
    let deliver = (v: JobView) => void early.push(v);
    const unsubscribe = this.queue.subscribe(id, (v) => deliver(v));
    let now: JobView;
    try {
      now = this.found(id, await this.queue.view(id));
    } catch (e) {
      unsubscribe();
      throw e;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write('retry: 2000\n\n');
    const heartbeat = setInterval(() => res.write(': ping\n\n'), SSE_HEARTBEAT_MS).unref();
    let ended = false;
    const stop = () => {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      unsubscribe();
      res.end();
    };
    deliver = (v) => {
      if (ended) return;
      res.write(`data: ${JSON.stringify(v)}\n\n`);
      if (isFinal(v.state)) stop();
    };
    // A client going away only unsubscribes; the job goes on.
    req.on('close', stop);
    for (const v of [now, ...early]) deliver(v);
  }

  private serveStatic(method: string, path: string, req: IncomingMessage, res: ServerResponse): void {
    if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, `${method} ${path}: allowed: GET, HEAD`, undefined, { allow: 'GET, HEAD' });
    const file = this.files.get(path);
    if (!file) throw new HttpError(404, `${path}: not found`);
    const headers = { 'content-type': file.type, etag: file.etag, 'cache-control': 'no-cache', 'content-security-policy': PAGE_CSP, 'x-frame-options': 'DENY', ...(path.startsWith(SITE_PREFIX) ? SITE_HEADERS : {}) };
    if (req.headers['if-none-match'] === file.etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': file.body.length });
    res.end(method === 'HEAD' ? undefined : file.body);
  }

  private checkOrigin(req: IncomingMessage): void {
    const host = req.headers.host ?? '';
    if (LOOPBACK_HOSTS.has(this.limits.host) || this.limits.host === 'localhost') {
      const name = host.replace(/:\d+$/, '');
      if (!LOOPBACK_HOSTS.has(name)) throw new HttpError(403, `Host "${host}": this server answers loopback names only (it is bound to ${this.limits.host})`);
    }
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${host}` && origin !== `https://${host}`) throw new HttpError(403, `Origin "${origin}": cross-origin requests are refused`);
  }

  /**
   * With a token: `Authorization: Bearer`, `?token=` or the session cookie that a page load
   * with `?token=` sets (so the page's own requests, its script and EventSource carry it
   * without the token in every URL). Returns how the token came.
   */
  private checkToken(req: IncomingMessage, url: URL): 'header' | 'query' | 'cookie' | null {
    if (!this.tokenDigest) return null;
    const auth = req.headers.authorization;
    const cookie = /(?:^|;\s*)pasd_session=([0-9a-f]{64})/.exec(req.headers.cookie ?? '')?.[1];
    const query = url.searchParams.get('token');
    if (auth?.startsWith('Bearer ') && timingSafeEqual(digest(auth.slice(7)), this.tokenDigest)) return 'header';
    if (query !== null && timingSafeEqual(digest(query), this.tokenDigest)) return 'query';
    if (cookie && timingSafeEqual(Buffer.from(cookie, 'hex'), this.tokenDigest)) return 'cookie';
    throw new HttpError(401, 'a valid token is required: send "Authorization: Bearer <token>", or open the page as /?token=<token>', 'token', { 'www-authenticate': 'Bearer' });
  }

  private fail(res: ServerResponse, e: Error): void {
    const known = e instanceof HttpError;
    if (!known) this.log(`internal error: ${e.stack ?? e.message}`);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const status = known ? e.status : 500;
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...(known ? e.headers : {}) });
    res.end(JSON.stringify({ error: { status, message: known ? e.message : 'internal server error (see the server log)', ...(known && e.field ? { field: e.field } : {}) } }));
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
