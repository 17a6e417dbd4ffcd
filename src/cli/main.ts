/**
 * `pasd` command line. Subcommands are added as their issues land; errors of the PasdError
 * hierarchy become a one-line message and a non-zero exit code.
 */
import { PasdError } from '../core/errors.ts';

const USAGE = `pasd — Pixel-Aware Stable Diffusion super-resolution

usage:
  pasd upscale <image> -o <dir>     upscale an image (needs a model; none is bundled yet)
  pasd --help                       this text
`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case undefined:
      case '-h':
      case '--help':
        process.stdout.write(USAGE);
        return 0;
      case 'upscale':
        void rest;
        process.stderr.write('pasd upscale: no model yet — the PASD pipeline has not landed (see issue 5); nothing was written.\n');
        return 2;
      default:
        process.stderr.write(`pasd: unknown command "${cmd}"\n\n${USAGE}`);
        return 64;
    }
  } catch (e) {
    if (e instanceof PasdError) {
      process.stderr.write(`pasd: ${e.name}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
