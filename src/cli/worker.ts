/**
 * `pasd worker --queue redis://…`: runs the jobs that `pasd serve --queue` processes accept,
 * for one model (one BullMQ queue per model, so workers may serve different models). The
 * model is loaded before the first job is taken; SIGINT/SIGTERM stop taking jobs and give the
 * running one `--grace` seconds before it is handed back to the queue (a second signal exits).
 */
import { parseArgs } from 'node:util';
import { PasdError } from '../core/errors.ts';
import { DEFAULT_WORKER, QueueWorker } from '../server/queue-worker.ts';
import { RUNTIME_ARGS, UsageError, num, probeGpuOrExit, runtimeChoiceOf, runtimeUsage } from './args.ts';
import { queueOf } from './queue-args.ts';
import { modelsOf } from './serve.ts';

export const WORKER_USAGE = `usage: pasd worker --queue redis://[user:password@]host:port[/db] [--model <pasd-dir> --base <sd15-dir>] [options]

Takes the jobs of one model from the Redis queue that "pasd serve --queue" fills, one at a time.
Start any number, on any machines that reach Redis: a job whose worker dies goes to another.
  --queue URL            redis:// or rediss:// (TLS) URL; default $PASD_QUEUE; the password may
                         come from $PASD_REDIS_PASSWORD instead of the URL (it is never printed)
  --model DIR --base DIR the model to serve, as for "pasd serve" (default: the bundled mini model)
  --name NAME            its name in the API (default: the --model folder's name); must match pasd serve's
  --threads N            CPU threads (default: all cores)
${runtimeUsage(25)}
  --results-dir DIR      write results to this shared folder (atomically) instead of Redis; give pasd serve
                         the same folder
  --max-result-bytes N   largest result kept in Redis (default ${DEFAULT_WORKER.maxResultBytes}); larger ones fail
                         the job, saying to use --results-dir
  --lock-seconds S       the job lock, renewed every S/2 seconds; a dead worker's job is taken back after
                         about 2·S (default ${DEFAULT_WORKER.lockMs / 1000})
  --grace S              on SIGTERM, seconds the running job may take before it is handed back (default 30)
  -q, --quiet            no log lines
exit codes: 0 stopped cleanly, 2 usage error, 3 the model could not be loaded or the provider could not start`;

export async function workerCommand(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      queue: { type: 'string' }, model: { type: 'string' }, base: { type: 'string' }, name: { type: 'string' }, threads: { type: 'string' },
      'results-dir': { type: 'string' }, 'max-result-bytes': { type: 'string' }, 'lock-seconds': { type: 'string' }, grace: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' }, ...RUNTIME_ARGS,
    },
  });
  if (v.help) {
    process.stdout.write(WORKER_USAGE + '\n');
    return 0;
  }
  const connection = queueOf(v.queue);
  if (!connection) throw new UsageError('--queue redis://host:port (or $PASD_QUEUE) is required');
  if (!v.model !== !v.base) throw new UsageError('--model <PASD checkpoint folder> and --base <SD1.5 folder> go together (leave both out for the bundled mini model)');
  const runtime = runtimeChoiceOf(v, num(v.threads, 'threads', { int: true, min: 1 }));
  const maxResultBytes = num(v['max-result-bytes'], 'max-result-bytes', { int: true, min: 1 }) ?? DEFAULT_WORKER.maxResultBytes;
  const lockMs = (num(v['lock-seconds'], 'lock-seconds', { min: 1 }) ?? DEFAULT_WORKER.lockMs / 1000) * 1000;
  const grace = (num(v.grace, 'grace', { min: 0 }) ?? 30) * 1000;
  const log = v.quiet ? undefined : (line: string) => process.stderr.write(`pasd worker: ${line}\n`);
  let model;
  try {
    model = modelsOf(v.model, v.base, v.name)[0];
  } catch (e) {
    if (!(e instanceof PasdError) || e instanceof UsageError) throw e;
    process.stderr.write(`pasd worker: cannot load the model: ${e.message}\n`);
    return 3;
  }
  const probe = await probeGpuOrExit(runtime, 'pasd worker');
  if (probe !== null) return probe;
  const worker = new QueueWorker({ connection, model, runtime, resultsDir: v['results-dir'], maxResultBytes, lockMs, log });
  try {
    log?.(`loading model "${model.name}"…`);
    await worker.start();
  } catch (e) {
    process.stderr.write(`pasd worker: cannot load the model: ${(e as Error).message}\n`);
    await worker.close(0);
    return 3;
  }
  log?.(`taking "${model.name}" jobs from ${connection.display}`);
  await new Promise<void>((done) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      if (++signals > 1) process.exit(130);
      log?.(`${sig}: stopping (the running job has ${grace / 1000}s to finish, then goes back to the queue)`);
      worker.close(grace).then(done, done);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  log?.('stopped');
  return 0;
}
