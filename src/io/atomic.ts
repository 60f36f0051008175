// Whole-file writes that a reader or a crash never sees half done: write a temporary file beside the target,
// fsync it, rename it over the target, then fsync the directory (which makes the rename itself durable).

import * as fs from 'node:fs';

export async function writeFileAtomic(file: string, text: string, mode = 0o644): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  const fh = await fs.promises.open(tmp, 'w', mode);
  try {
    await fh.writeFile(text, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.promises.rename(tmp, file);
}

export async function syncDir(dir: string): Promise<void> {
  const fh = await fs.promises.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
