/**
 * `pasd` command line. Subcommands are added as their issues land; errors of the PasdError
 * hierarchy become a one-line message and a non-zero exit code.
 */
import { PasdError } from '../core/errors.ts';
import { parityMain } from '../parity/main.ts';
import { UsageError } from './args.ts';
import { degradeCommand } from './degrade.ts';
import { evalCommand } from './eval.ts';
import { trainCommand } from './train.ts';
import { serveCommand } from './serve.ts';
import { upscaleCommand } from './upscale.ts';

const USAGE = `pasd — Pixel-Aware Stable Diffusion super-resolution

usage:
  pasd upscale <images|dirs> -o <dir> [--model <dir> --base <dir>] [options]
                                    restore and upscale images; the bundled mini model
                                    without --model/--base (pasd upscale --help)
  pasd degrade <hr images|dirs> -o <dir> [--scale 4 --seed N --config yml]
                                    make LR images with Real-ESRGAN degradations (pasd degrade --help)
  pasd eval --hr <dir> [--sr <dir> | --model <dir> --base <dir>] [options]
                                    PSNR/SSIM/LPIPS/NIQE with a bicubic baseline (pasd eval --help)
  pasd train --data <dir> --base <dir> --out <dir> [--init-from <dir>] [--resume]
                                    train PASD (pasd train --help)
  pasd serve [--port N] [--model <dir> --base <dir>] [--token T]
                                    HTTP API with a job queue and a web page (pasd serve --help)
  pasd worker --queue redis://host:port [--model <dir> --base <dir>]
                                    run the jobs of "pasd serve --queue" (pasd worker --help)
  pasd parity <fixture dir> [--group g] [--case s] [--json] [--provider NAME] [--precision P]
                                    parity with the original PyTorch code on a fixture set
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
      case 'parity':
        return await parityMain(rest);
      case 'upscale':
        return await upscaleCommand(rest);
      case 'degrade':
        return await degradeCommand(rest);
      case 'train':
        return await trainCommand(rest);
      case 'eval':
        return await evalCommand(rest);
      case 'serve':
        return await serveCommand(rest);
      case 'worker': // loaded on demand, as BullMQ: the other commands never need them
        return await (await import('./worker.ts')).workerCommand(rest);
      default:
        process.stderr.write(`pasd: unknown command "${cmd}"\n\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`pasd ${cmd}: ${(e as Error).message}\n(run "pasd ${cmd} --help" for the options)\n`);
      return 2;
    }
    if (e instanceof PasdError) {
      process.stderr.write(`pasd: ${e.name}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
