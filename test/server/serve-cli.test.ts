/**
 * `pasd serve` argument and startup errors: a usage error (2) or a model error (3) with a
 * one-line message, before any port is opened. The running server is covered by browser.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { tinyModelFolders } from './helpers.ts';

function pasd(...args: string[]) {
  const env = { ...process.env };
  delete env.PASD_TOKEN;
  const r = spawnSync(process.execPath, ['bin/pasd.js', 'serve', ...args], { encoding: 'utf8', env, timeout: 30_000 });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

test('serve: usage errors exit 2, missing model folders exit 3, with a message naming the option', () => {
  const f = tinyModelFolders();
  try {
    const cases: [string[], number, RegExp][] = [
      [['--model', f.model], 2, /--model <PASD checkpoint folder> and --base <SD1\.5 folder> go together/],
      [['--model', f.model, '--base', f.base, '--token', 'short'], 2, /--token \/ PASD_TOKEN: use at least 8 characters/],
      [['--model', f.model, '--base', f.base, '--port', '70000'], 2, /--port: expected an integer in \[0, 65535\]/],
      [['--model', f.base, '--base', f.base, '--host', '0.0.0.0'], 3, /warning: binding to 0\.0\.0\.0 instead of 127\.0\.0\.1; other machines may reach this server and no --token is set\n.*cannot load the models: .*missing components: unet/s],
    ];
    for (const [args, code, msg] of cases) {
      const r = pasd(...args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg, args.join(' '));
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(r.stdout, '', 'never listened');
    }
  } finally {
    f.cleanup();
  }
});
