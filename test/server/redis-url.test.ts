/**
 * `--queue` URLs: credentials from the URL or PASD_REDIS_PASSWORD, never in the display form;
 * bad URLs are usage errors (exit 2) naming the option, for both commands.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { parseQueueUrl } from '../../src/server/redis-url.ts';

test('parseQueueUrl: host, port, db, user and password; the display form has no credentials', () => {
  const a = parseQueueUrl('redis://worker:s%40cret@10.0.0.5:6380/2', {});
  assert.deepEqual(a.options, { host: '10.0.0.5', port: 6380, db: 2, username: 'worker', password: 's@cret' });
  assert.equal(a.display, 'redis://10.0.0.5:6380/2');
  const b = parseQueueUrl('rediss://cache.example', { PASD_REDIS_PASSWORD: 'from-env' });
  assert.deepEqual(b.options, { host: 'cache.example', port: 6379, db: 0, password: 'from-env', tls: { servername: 'cache.example' } });
  assert.equal(b.display, 'rediss://cache.example/0');
  assert.equal(parseQueueUrl('redis://[::1]:7000', {}).options.host, '::1');
  for (const [url, msg] of [
    ['localhost:6379', /expected a redis:\/\/ or rediss:\/\/ URL/],
    ['http://localhost', /expected a redis:\/\/ or rediss:\/\/ URL, got http:/],
    ['redis://h/zero', /the path is the database number/],
    ['redis://h/0?password=x', /no query/],
    ['not a url', /expected redis:\/\//],
  ] as const) assert.throws(() => parseQueueUrl(url, {}), msg, url);
});

test('pasd worker / serve: a missing or bad --queue is a usage error (2) that never echoes a password', () => {
  const env = { ...process.env };
  delete env.PASD_QUEUE;
  const run = (...args: string[]) => spawnSync(process.execPath, ['bin/pasd.js', ...args], { encoding: 'utf8', env, timeout: 30_000 });
  const cases: [string[], RegExp][] = [
    [['worker', '--queue', 'http://u:hunter22@h'], /--queue: expected a redis:\/\/ or rediss:\/\/ URL/],
    [['serve', '--results-dir', 'out'], /--results-dir goes with --queue/],
  ];
  for (const [args, msg] of cases) {
    const r = run(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.doesNotMatch(r.stderr + r.stdout, /hunter22/);
  }
});
