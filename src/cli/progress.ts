/** A one-line progress bar on stderr (TTY), or sparse plain lines when piped. */
import type { Progress } from '../pipelines/pasd.ts';

export class ProgressBar {
  private readonly start = Date.now();
  private lastPlain = 0;
  constructor(private readonly label: string, private readonly out: NodeJS.WriteStream = process.stderr, private readonly quiet = false) {}

  update(p: Progress): void {
    if (this.quiet) return;
    const total = Math.max(1, p.steps * Math.max(1, p.tiles));
    const done = p.phase === 'decode' || p.phase === 'done' ? total : p.phase === 'denoise' ? (p.step - 1) * Math.max(1, p.tiles) + p.tile : 0;
    const frac = Math.min(1, done / total);
    const elapsed = (Date.now() - this.start) / 1000;
    const eta = frac > 0 && frac < 1 ? ` ETA ${Math.round((elapsed / frac) * (1 - frac))}s` : '';
    const what = p.phase === 'denoise' ? `step ${p.step}/${p.steps}${p.tiles > 1 ? ` tile ${p.tile}/${p.tiles}` : ''}` : p.phase;
    if (this.out.isTTY) {
      const w = 24;
      const bar = '█'.repeat(Math.round(frac * w)).padEnd(w, '░');
      this.out.write(`\r${this.label} ${bar} ${(frac * 100).toFixed(0).padStart(3)}% ${what} ${elapsed.toFixed(0)}s${eta}\x1b[K`);
      if (p.phase === 'done') this.out.write('\n');
    } else if (p.phase !== 'denoise' || Date.now() - this.lastPlain > 5000) {
      this.lastPlain = Date.now();
      this.out.write(`${this.label}: ${what} (${(frac * 100).toFixed(0)}%, ${elapsed.toFixed(1)}s)\n`);
    }
  }
}
