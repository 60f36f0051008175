// The rig's scripts and sources are found from the compiled test (dist/test/env/…) by walking up to the checkout.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The first `rel` found in this directory or above it; throws naming `rel` when there is none. */
export function findUp(rel: string): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const p = path.join(dir, rel);
    if (fs.existsSync(p)) return p;
    if (path.dirname(dir) === dir) throw new Error(`${rel} not found above ${__dirname}`);
  }
}
