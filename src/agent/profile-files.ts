// The node's profile directory: <kubeletDir>/seccomp/operator/<name>.json, what kubelet resolves for
// `localhostProfile: operator/<name>.json`. Names come from the API, so every path is derived from a
// validated name and checked to stay inside the directory; files appear atomically (src/io/atomic.ts: temp
// file, fsync, rename), so a container starting at that moment reads the old or the new profile, never half of one.

import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { syncDir, writeFileAtomic } from '../io/atomic';
import { invalidProfileName } from '../profile/names';

/** Relative to the kubelet directory, as kubelet's `localhostProfile` root is `<kubeletDir>/seccomp`. */
export const SECCOMP_OPERATOR_SUBDIR = path.join('seccomp', 'operator');
const NAME_MAX = 255;

export class InvalidNameError extends Error {}

/** Why `name` cannot be installed as `<name><ext>`, or undefined. */
export function invalidInstallName(name: string, ext = '.json'): string | undefined {
  const bad = invalidProfileName(name);
  if (bad) return bad;
  if (Buffer.byteLength(name + ext) > NAME_MAX) return `name is ${name.length} characters long: "${ext}" files are limited to ${NAME_MAX - ext.length}`;
  return undefined;
}

export class ProfileDir {
  readonly root: string;

  constructor(
    root: string,
    private readonly ext = '.json',
  ) {
    this.root = path.resolve(root);
  }

  /** The file of `name`; throws InvalidNameError for anything that is not a plain, valid name. */
  pathFor(name: string): string {
    const bad = invalidInstallName(name, this.ext);
    if (bad) throw new InvalidNameError(`profile name ${JSON.stringify(name.slice(0, 300))}: ${bad}`);
    const p = path.join(this.root, name + this.ext);
    // Redundant with the name check, and meant to be: nothing is ever written outside the root.
    if (path.dirname(p) !== this.root) throw new InvalidNameError(`profile name ${JSON.stringify(name)} leaves ${this.root}`);
    return p;
  }

  async read(name: string): Promise<string | undefined> {
    try {
      return await fsp.readFile(this.pathFor(name), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** Writes `content` unless the file already holds exactly it. Returns whether the file changed. */
  async write(name: string, content: string): Promise<boolean> {
    const target = this.pathFor(name);
    if ((await this.read(name)) === content) return false;
    await fsp.mkdir(this.root, { recursive: true, mode: 0o755 });
    // src/io/atomic.ts: O_EXCL|O_NOFOLLOW temp file, mode 0644 whatever the umask, fsync, rename, directory
    // fsync. A symlink planted at the target is replaced, never written through (the root is ours alone).
    await writeFileAtomic(target, content, { mode: 0o644, replaceSymlink: true });
    return true;
  }

  /** Removes the file of `name`; returns whether there was one. */
  async remove(name: string): Promise<boolean> {
    try {
      await fsp.unlink(this.pathFor(name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    await this.syncDir();
    return true;
  }

  private syncDir(): Promise<void> {
    return syncDir(this.root);
  }
}
