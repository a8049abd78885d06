/**
 * Atomic file replacement: the bytes go to a temporary file in the same directory
 * (`<path>.tmp-<pid>-<random>`), which is fsynced and renamed over `path`, and the directory is
 * fsynced (best effort) so the rename is durable. A failed write (disk full, no permission,
 * the target is a directory, …) removes the temporary file and leaves any previous file at
 * `path` untouched. An existing target's permission bits are carried over.
 * Every atomic save of sparsenn (safetensors, .spnn, ONNX, reports, timing caches) goes through here.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Largest single write call (keeps under platform I/O limits). */
const IO_CHUNK = 1 << 30;

function tempPathFor(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

function existingModeSync(path: string): number | undefined {
  if (process.platform === 'win32') return undefined;
  try {
    return statSync(path).mode & 0o7777;
  } catch {
    return undefined;
  }
}

function syncDirSync(dir: string): void {
  if (process.platform === 'win32') return;
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // durability of the directory entry is best effort; the data itself was fsynced
  }
}

/** The bytes of a file: one array, or chunks written one after the other (never concatenated). */
export type FileBytes = Uint8Array | readonly Uint8Array[];

function chunksOf(bytes: FileBytes): readonly Uint8Array[] {
  return bytes instanceof Uint8Array ? [bytes] : bytes;
}

/** Writes `bytes` to `path` atomically (see the file comment); throws the file-system error on failure. */
export function writeFileAtomicSync(path: string, bytes: FileBytes): void {
  const tmp = tempPathFor(path);
  const mode = existingModeSync(path);
  let fd: number | undefined;
  let created = false;
  try {
    fd = openSync(tmp, 'wx', 0o666);
    created = true;
    if (mode !== undefined) fchmodSync(fd, mode);
    for (const c of chunksOf(bytes)) for (let done = 0; done < c.length; ) done += writeSync(fd, c, done, Math.min(c.length - done, IO_CHUNK));
    fsyncSync(fd);
    const closing = fd;
    fd = undefined;
    closeSync(closing);
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // already failing; the original error is what matters
      }
    }
    if (created) {
      try {
        unlinkSync(tmp);
      } catch {
        // nothing more can be done
      }
    }
    throw err;
  }
  syncDirSync(dirname(path));
}

/** Asynchronous writeFileAtomicSync: the event loop stays free during the I/O. */
export async function writeFileAtomic(path: string, bytes: FileBytes): Promise<void> {
  const tmp = tempPathFor(path);
  let mode: number | undefined;
  if (process.platform !== 'win32') {
    try {
      mode = (await stat(path)).mode & 0o7777;
    } catch {
      mode = undefined;
    }
  }
  let fh: FileHandle | undefined;
  let created = false;
  try {
    fh = await open(tmp, 'wx', 0o666);
    created = true;
    if (mode !== undefined) await fh.chmod(mode);
    for (const c of chunksOf(bytes)) for (let done = 0; done < c.length; ) done += (await fh.write(c, done, Math.min(c.length - done, IO_CHUNK))).bytesWritten;
    await fh.sync();
    const closing = fh;
    fh = undefined;
    await closing.close();
    await rename(tmp, path);
  } catch (err) {
    if (fh !== undefined) await fh.close().catch(() => undefined);
    if (created) await unlink(tmp).catch(() => undefined);
    throw err;
  }
  if (process.platform === 'win32') return;
  let dirHandle: FileHandle | undefined;
  try {
    dirHandle = await open(dirname(path), 'r');
    await dirHandle.sync();
  } catch {
    // best effort, as in writeFileAtomicSync
  } finally {
    await dirHandle?.close().catch(() => undefined);
  }
}
