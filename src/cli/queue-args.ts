/** `--queue` of `pasd serve` and `pasd worker`: the Redis URL from the flag or `$PASD_QUEUE`. */
import { InputError } from '../core/errors.ts';
import { type QueueConnection, parseQueueUrl } from '../server/redis-url.ts';
import { UsageError } from './args.ts';

/** The parsed connection; undefined when neither the flag nor `$PASD_QUEUE` is set. */
export function queueOf(flag: string | undefined): QueueConnection | undefined {
  const url = flag ?? (process.env.PASD_QUEUE || undefined);
  if (url === undefined) return undefined;
  try {
    return parseQueueUrl(url);
  } catch (e) {
    throw e instanceof InputError ? new UsageError(e.message) : e;
  }
}
