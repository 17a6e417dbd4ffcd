/**
 * `--queue redis://[user:pass@]host:port[/db]` (or `rediss://` for TLS) → connection options.
 * The password may come from the URL or from `PASD_REDIS_PASSWORD` (which keeps it out of
 * `ps` and shell history); it is never printed: logs and errors show `display`, the URL
 * without its credentials.
 */
import type { RedisOptions } from 'ioredis';
import { InputError } from '../core/errors.ts';

export interface QueueConnection {
  /** For ioredis (BullMQ's connection option). */
  options: RedisOptions;
  /** `redis://host:port/db`: safe to log. */
  display: string;
}

export function parseQueueUrl(url: string, env: NodeJS.ProcessEnv = process.env): QueueConnection {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InputError('--queue: expected redis://[user:password@]host:port[/db] (or rediss:// for TLS)');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new InputError(`--queue: expected a redis:// or rediss:// URL, got ${u.protocol}//…`);
  if (!u.hostname) throw new InputError('--queue: the URL names no host');
  const path = u.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d+$/.test(path)) throw new InputError(`--queue: the path is the database number (redis://host:port/0), got "/${path}"`);
  if (u.search || u.hash) throw new InputError('--queue: the URL takes no query or fragment');
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = u.port ? Number(u.port) : 6379;
  const db = path ? Number(path) : 0;
  const password = u.password ? decodeURIComponent(u.password) : env.PASD_REDIS_PASSWORD || undefined;
  const options: RedisOptions = { host, port, db, ...(u.username ? { username: decodeURIComponent(u.username) } : {}), ...(password ? { password } : {}) };
  if (u.protocol === 'rediss:') options.tls = { servername: host };
  return { options, display: `${u.protocol}//${u.host}/${db}` };
}
