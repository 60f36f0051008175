// The checkpoint path must be a regular file (or not exist yet): a symlink, FIFO or device there is refused
// with a clear error when the tailer starts, and is never read (a FIFO would block) nor replaced.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, promises as fsp, readFileSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { openTailer } from '../../src/tail';
import { captureLog, scratchDir } from '../env/tail-helpers';

test('a checkpoint path that is a symlink, a FIFO or a device is refused at start-up and left as it is', async () => {
  const dir = scratchDir('tail-cp-special');
  const file = path.join(dir, 'audit.log');
  await fsp.writeFile(file, 'type=SECCOMP msg=audit(1800000000.000:1): pid=1\n');
  const target = path.join(dir, 'elsewhere.json');
  await fsp.writeFile(target, 'precious\n');
  const link = path.join(dir, 'cp-link.json');
  await fsp.symlink(target, link);
  const fifo = path.join(dir, 'cp-fifo');
  execFileSync('mkfifo', [fifo]);
  const dev = path.join(dir, 'cp-dev');
  execFileSync('mknod', [dev, 'c', '1', '3']); // like /dev/null

  for (const [p, what] of [
    [link, /symbolic link/],
    [fifo, /FIFO/],
    [dev, /device/],
    ['/dev/null', /device/],
  ] as const) {
    await assert.rejects(
      openTailer({ path: file, checkpointPath: p, startAt: 'start' }, captureLog().log),
      (e: Error) => what.test(e.message) && e.message.includes(p) && /refusing/.test(e.message),
      `checkpoint path ${p}`,
    );
  }
  assert.equal(readlinkSync(link), target, 'the symlink is still a symlink');
  assert.equal(readFileSync(target, 'utf8'), 'precious\n', 'its target is untouched');
  assert.ok(lstatSync(fifo).isFIFO());
  assert.ok(lstatSync(dev).isCharacterDevice());
  // a regular file (and a missing one) is fine, written 0600
  const ok = path.join(dir, 'state', 'cp.json');
  const t = await openTailer({ path: file, checkpointPath: ok, startAt: 'start' }, captureLog().log);
  await t.close();
  assert.equal(lstatSync(ok).mode & 0o777, 0o600);
  assert.equal((JSON.parse(readFileSync(ok, 'utf8')) as { source: string }).source, file);
});
