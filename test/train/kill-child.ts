/**
 * Child process of resume.test.ts: trains with the options in argv[2] and, once the step-N
 * checkpoint (argv[3]) has its first weight file in the temp folder, tells the parent and
 * blocks, so that the parent's SIGKILL lands in the middle of the checkpoint write.
 */
import { train } from '../../src/train/loop.ts';

const options = JSON.parse(process.argv[2]);
const freezeAt = `.checkpoint-${process.argv[3]}.tmp`;
await train({
  ...options,
  onCheckpointFile: (path: string) => {
    if (!path.includes(freezeAt)) return;
    process.send!({ frozenAt: path });
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // block until killed
  },
});
