import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';

const HR = resolve(process.cwd(), '../shared/data/eval/Set5/HR');

function pasd(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/pasd.js', 'degrade', ...args], { encoding: 'utf8' });
  return { code: r.status, stderr: r.stderr };
}

test('pasd degrade: ×4 LR images with their parameters, reproducible by seed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pasd-degrade-'));
  try {
    const a = join(dir, 'a'), b = join(dir, 'b'), c = join(dir, 'c');
    const inputs = [join(HR, 'baby.png'), join(HR, 'head.png')];
    assert.equal(pasd(...inputs, '-o', a, '--seed', '5', '--save-params').code, 0);
    assert.equal(pasd(...inputs, '-o', b, '--seed', '5').code, 0);
    assert.equal(pasd(...inputs, '-o', c, '--seed', '6').code, 0);
    assert.deepEqual(readdirSync(a).sort(), ['baby.json', 'baby.png', 'head.json', 'head.png']);
    const hr = await sharp(join(HR, 'baby.png')).metadata();
    const lr = await sharp(join(a, 'baby.png')).metadata();
    assert.deepEqual([lr.width, lr.height], [hr.width! / 4, hr.height! / 4]);
    assert.deepEqual(readFileSync(join(a, 'baby.png')), readFileSync(join(b, 'baby.png')), 'same seed, same bytes');
    assert.notDeepEqual(readFileSync(join(a, 'baby.png')), readFileSync(join(c, 'baby.png')), 'another seed differs');
    const params = JSON.parse(readFileSync(join(a, 'baby.json'), 'utf8'));
    assert.ok(params && typeof params === 'object' && Object.keys(params).length > 0);

    writeFileSync(join(dir, 'bad.png'), 'nope');
    const r = pasd(join(dir, 'bad.png'), join(HR, 'bird.png'), '-o', join(dir, 'd'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.png/);
    assert.deepEqual(readdirSync(join(dir, 'd')), ['bird.png'], 'the good image is still written');
    assert.equal(pasd(join(HR, 'bird.png'), '-o', dir, '--jpeg', 'png').code, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
