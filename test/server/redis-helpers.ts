/**
 * For the queue tests: a real `redis-server` (Debian's package) on a free loopback port with its
 * own temp folder, and `pasd serve` / `pasd worker` child processes whose output is kept, so a
 * test can wait for a line, count lines, and kill a process the hard way.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Why the queue tests cannot run here, or null when they can. */
export const NO_REDIS: string | null = spawnSync('redis-server', ['--version']).error
  ? 'redis-server is not installed (Debian: apt-get install redis-server; .ci/run installs it)'
  : null;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A child process and everything it printed so far. */
export class Child {
  readonly proc: ChildProcess;
  output = '';
  private readonly exited: Promise<number | null>;

  constructor(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
    this.proc = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const s of [this.proc.stdout!, this.proc.stderr!]) s.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => this.proc.once('exit', (code) => resolve(code)));
  }

  /** Resolves with the first match of `re` in the output; rejects when the process exits first or after `ms`. */
  async waitFor(re: RegExp, ms = 60_000): Promise<RegExpMatchArray> {
    const t0 = Date.now();
    for (;;) {
      const m = this.output.match(re);
      if (m) return m;
      if (this.proc.exitCode !== null || Date.now() - t0 > ms) throw new Error(`no ${re} in the output of ${this.proc.spawnargs.join(' ')}:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Sends `signal` (if it still runs) and resolves with the exit code. */
  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    return this.exited;
  }
}

/** `redis-server` on 127.0.0.1:<free port>, data in its own temp folder; `restart` keeps port and folder. */
export class RedisServer {
  readonly dir = mkdtempSync(join(tmpdir(), 'pasd-redis-'));
  private child: Child | null = null;
  private constructor(readonly port: number, private readonly extra: string[]) {}

  static async start(extra: string[] = []): Promise<RedisServer> {
    const r = new RedisServer(await freePort(), extra);
    await r.restart();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async restart(): Promise<void> {
    this.child = new Child('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', ...this.extra]);
    await this.child.waitFor(/Ready to accept connections/, 20_000);
  }

  /** SIGKILL: no shutdown save; what survives is what the append-only file already holds. */
  async kill(): Promise<void> {
    await this.child?.stop('SIGKILL');
  }

  async close(): Promise<void> {
    await this.child?.stop('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `pasd <args>` as a child process with PASD_TOKEN unset. */
export function pasd(args: string[], env: Record<string, string> = {}): Child {
  const e = { ...process.env, ...env };
  delete e.PASD_TOKEN;
  return new Child(process.execPath, ['bin/pasd.js', ...args], e);
}
