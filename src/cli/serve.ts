/**
 * `pasd serve`: the HTTP API and web page (src/server) on loopback. The models are checked
 * and the default one loaded before the port opens, so a bad folder is an exit code, not a
 * failing first job. SIGINT/SIGTERM shut down gracefully (a second signal exits at once).
 */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PasdError } from '../core/errors.ts';
import { familyOfUNetFolder, modelPaths } from '../pipelines/families/index.ts';
import { defaultModelOptions, defaultModelPaths, schedulerConfigs } from '../pipelines/load.ts';
import { HIGH_LEVEL_MODEL_FLAGS, resolveOptions } from '../pipelines/options.ts';
import type { RedisJobs } from '../server/redis-jobs.ts';
import { type WorkerModel, WorkerRunner } from '../server/runner.ts';
import { PasdServer, SERVER_DEFAULTS } from '../server/server.ts';
import { DEFAULT_OPTION_LIMITS } from '../server/options.ts';
import { DEFAULT_STORE_LIMITS } from '../server/jobs.ts';
import { RUNTIME_ARGS, THREADS_RANGE, UsageError, num, probeGpuOrExit, runtimeChoiceOf, runtimeUsage } from './args.ts';
import { HIGH_LEVEL_ARGS, highLevelFolders } from './high-level.ts';
import { queueOf } from './queue-args.ts';

export const SERVE_USAGE = `usage: pasd serve [--port N] [--model <pasd-dir> --base <sd15-dir>] [options]

Serves the HTTP API (/v1/...) and the web page on http://127.0.0.1:<port>/.
models (default: the bundled mini model, models/pasd-mini, with its defaults.json):
  --model DIR --base DIR  a PASD (SD1.5) or PASD-SDXL checkpoint folder and its base folder, as for "pasd upscale"; the bundled
                          mini model is offered as a second choice
  --name NAME             the model's name in the API and on the page (default: the --model folder's name)
options:
  --port N                port (default ${SERVER_DEFAULTS.port}; 0 picks a free one, printed on stdout)
  --host ADDR             address to bind (default ${SERVER_DEFAULTS.host}); anything else exposes the server
                          beyond this machine: use it with --token
  --token T               require "Authorization: Bearer T" (or ?token=T) on every route; default: $PASD_TOKEN
  --threads N             CPU threads of the worker (default: all cores)
  --captioner DIR, --detector DIR, --classifier DIR
                          local high-level models, as for "pasd upscale": jobs choose with highLevelInfo (the page's
                          "High-level info"); with one of them given, it is the default
  --queue URL             jobs, progress and results live in Redis (redis://[user:password@]host:port[/db],
                          rediss:// for TLS; default: $PASD_QUEUE; the password may come from
                          $PASD_REDIS_PASSWORD): any number of "pasd serve" processes share them and
                          "pasd worker" processes run them; this process loads no model
  --results-dir DIR       with --queue: the folder the workers write results to (pasd worker --results-dir)
${runtimeUsage(26)}
  --max-upload BYTES      largest request body (default ${SERVER_DEFAULTS.maxUploadBytes})
  --max-pixels N          largest input image, width × height (default ${SERVER_DEFAULTS.maxPixels})
  --max-output-pixels N   largest output image (default ${SERVER_DEFAULTS.maxOutputPixels})
  --max-work-pixels N     largest size the network may run at, width × height (default ${SERVER_DEFAULTS.maxWorkPixels},
                          ≈3.5 GB): the process size lifts the shorter side, so a thin image can need far more
                          than its output
  --max-queue N           jobs waiting behind the running one; more get 429 (default ${DEFAULT_STORE_LIMITS.maxQueued})
  --max-steps N           largest "steps" a job may ask for (default ${DEFAULT_OPTION_LIMITS.maxSteps})
  --result-ttl S          seconds a finished job and its result are kept (default ${DEFAULT_STORE_LIMITS.ttlMs / 1000})
  --grace S               on shutdown, seconds the running job may take to finish before it is canceled (default 10)
  -q, --quiet             no log lines
exit codes: 0 shut down cleanly, 1 cannot listen, 2 usage error, 3 models could not be loaded or the provider could not start`;

export async function serveCommand(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      model: { type: 'string' }, base: { type: 'string' }, name: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' },
      token: { type: 'string' }, threads: { type: 'string' }, 'max-upload': { type: 'string' }, 'max-pixels': { type: 'string' },
      'max-output-pixels': { type: 'string' }, 'max-work-pixels': { type: 'string' }, 'max-queue': { type: 'string' }, 'max-steps': { type: 'string' }, 'result-ttl': { type: 'string' },
      grace: { type: 'string' }, queue: { type: 'string' }, 'results-dir': { type: 'string' }, quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' }, ...RUNTIME_ARGS, ...HIGH_LEVEL_ARGS,
    },
  });
  if (v.help) {
    process.stdout.write(SERVE_USAGE + '\n');
    return 0;
  }
  if (!v.model !== !v.base) throw new UsageError('--model <PASD checkpoint folder> and --base <SD1.5 folder> go together (leave both out for the bundled mini model)');
  const token = v.token ?? (process.env.PASD_TOKEN || undefined);
  if (token !== undefined && token.length < 8) throw new UsageError('--token / PASD_TOKEN: use at least 8 characters');
  const host = v.host ?? SERVER_DEFAULTS.host;
  const log = v.quiet ? undefined : (line: string) => process.stderr.write(`pasd serve: ${line}\n`);
  const runtime = runtimeChoiceOf(v, num(v.threads, 'threads', THREADS_RANGE));
  // Every option is checked before the (slow) model load.
  const config = {
    host, token, log,
    port: num(v.port, 'port', { int: true, min: 0, max: 65535 }),
    maxUploadBytes: num(v['max-upload'], 'max-upload', { int: true, min: 1 }),
    maxPixels: num(v['max-pixels'], 'max-pixels', { int: true, min: 1 }),
    maxOutputPixels: num(v['max-output-pixels'], 'max-output-pixels', { int: true, min: 1 }),
    maxWorkPixels: num(v['max-work-pixels'], 'max-work-pixels', { int: true, min: 1 }),
    optionLimits: { ...DEFAULT_OPTION_LIMITS, maxSteps: num(v['max-steps'], 'max-steps', { int: true, min: 1 }) ?? DEFAULT_OPTION_LIMITS.maxSteps },
    store: {
      maxQueued: num(v['max-queue'], 'max-queue', { int: true, min: 0 }) ?? DEFAULT_STORE_LIMITS.maxQueued,
      ttlMs: (num(v['result-ttl'], 'result-ttl', { min: 1 }) ?? DEFAULT_STORE_LIMITS.ttlMs / 1000) * 1000,
    },
  };
  const grace = (num(v.grace, 'grace', { min: 0 }) ?? 10) * 1000;
  const queue = queueOf(v.queue);
  if (v['results-dir'] !== undefined && !queue) throw new UsageError('--results-dir goes with --queue (the in-process queue keeps results in memory)');
  if (host !== SERVER_DEFAULTS.host)
    process.stderr.write(`pasd serve: warning: binding to ${host} instead of ${SERVER_DEFAULTS.host}; other machines may reach this server${token ? '' : ' and no --token is set'}\n`);

  const highLevel = highLevelFolders(v);
  const kinds = Object.keys(highLevel) as (keyof typeof highLevel)[];
  if (kinds.length && queue) throw new UsageError(`--${HIGH_LEVEL_MODEL_FLAGS[kinds[0]]} goes without --queue: "pasd worker" does not load high-level models yet`);
  let models: WorkerModel[];
  try {
    models = modelsOf(v.model, v.base, v.name).map((m) => ({ ...m, highLevel, defaults: kinds.length === 1 ? { ...m.defaults, highLevelInfo: kinds[0] } : m.defaults }));
    // A scheduler config that cannot sample fails here, not in every job.
    for (const m of models) resolveOptions(m.defaults, schedulerConfigs(m.paths));
  } catch (e) {
    if (!(e instanceof PasdError) || e instanceof UsageError) throw e;
    process.stderr.write(`pasd serve: cannot load the models: ${e.message}\n`);
    return 3;
  }
  let backend: { jobs: RedisJobs } | { runner: WorkerRunner };
  if (queue) {
    log?.(`jobs in ${queue.display} (pasd worker processes run them)`);
    const { RedisJobs } = await import('../server/redis-jobs.ts'); // BullMQ only when asked for
    backend = { jobs: new RedisJobs({ connection: queue, models: models.map((m) => m.name), maxQueued: config.store.maxQueued, ttlMs: config.store.ttlMs, resultsDir: v['results-dir'], log }) };
  } else {
    const probe = await probeGpuOrExit(runtime, 'pasd serve');
    if (probe !== null) return probe;
    const runner = new WorkerRunner(models, runtime);
    try {
      log?.(`loading model "${models[0].name}"…`);
      await runner.load(models[0].name);
    } catch (e) {
      process.stderr.write(`pasd serve: cannot load the models: ${(e as Error).message}\n`);
      await runner.close();
      return 3;
    }
    backend = { runner };
  }
  const server = new PasdServer({ ...config, models, ...backend });
  let url: string;
  try {
    url = await server.listen();
  } catch (e) {
    process.stderr.write(`pasd serve: cannot listen on ${host}:${config.port ?? SERVER_DEFAULTS.port}: ${(e as Error).message}\n`);
    await server.close(0);
    return 1;
  }
  process.stdout.write(`pasd serve: listening on ${url}/${token ? ' (token required)' : ''}\n`);

  await new Promise<void>((done) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      if (++signals > 1) process.exit(130);
      log?.(`${sig}: shutting down (the running job has ${grace / 1000}s to finish)`);
      server.close(grace).then(done, done);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  log?.('stopped');
  return 0;
}

/** The served models: --model/--base first (if given), then the bundled mini model (when installed). */
export function modelsOf(model: string | undefined, base: string | undefined, name: string | undefined): WorkerModel[] {
  const models: WorkerModel[] = [];
  // A PASD-SDXL checkpoint lists its family's defaults (test_pasd_sdxl.py's); SD1.5 PASD has none beyond the pipeline's own.
  if (model && base) models.push({ name: name ?? basename(resolve(model)), paths: modelPaths(model, base), defaults: { ...familyOfUNetFolder(join(model, 'unet')).defaults } });
  else if (name) throw new UsageError('--name names the --model folder; give --model and --base');
  const mini = defaultModelPaths();
  if (existsSync(mini.unet) && !models.some((m) => m.name === 'pasd-mini')) models.push({ name: 'pasd-mini', paths: mini, defaults: defaultModelOptions() });
  if (!models.length) throw new UsageError('no model: the bundled mini model is not installed; give --model <PASD folder> --base <SD1.5 folder>');
  return models;
}
