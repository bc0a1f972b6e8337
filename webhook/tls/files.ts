// Certificate files (cert-manager, or a mounted Secret), hot-reloaded. The kubelet updates a
// Secret volume by swapping a `..data` symlink in the directory, so the directory is watched
// rather than the files; fs.watch can miss events on some filesystems, so a poll backs it up.
// A half-written pair (new cert, old key) fails createSecureContext and is retried later.
import type { FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
// Builtins come from process.getBuiltinModule, not `import`: see eslint.config.js (footprint).
const { readFileSync, watch } = process.getBuiltinModule('node:fs');

export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
}

/** Reads and checks a cert/key pair; throws an Error naming the file on any problem. */
export function readTlsFiles(certPath: string, keyPath: string): TlsMaterial {
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(`cannot read TLS ${what} ${path}: ${(err as Error).message}`, { cause: err });
    }
  };
  const material = { cert: read(certPath, 'certificate'), key: read(keyPath, 'key') };
  try {
    createSecureContext(material);
  } catch (err) {
    throw new Error(`TLS certificate ${certPath} and key ${keyPath} do not form a usable pair: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return material;
}

export interface TlsFileWatch {
  /** re-read now (also what every watch event and poll tick does) */
  check(): void;
  close(): void;
}

export function watchTlsFiles(opts: {
  certPath: string;
  keyPath: string;
  /** the pair currently served; only a different, valid pair is reported */
  current: TlsMaterial;
  onChange: (material: TlsMaterial) => void;
  onError: (err: Error) => void;
  pollMs?: number;
  debounceMs?: number;
}): TlsFileWatch {
  let current = opts.current;
  let lastError = '';
  let debounce: NodeJS.Timeout | undefined;

  const check = () => {
    let next: TlsMaterial;
    try {
      next = readTlsFiles(opts.certPath, opts.keyPath);
    } catch (err) {
      // Report each distinct problem once, not on every poll tick.
      if ((err as Error).message !== lastError) opts.onError(err as Error);
      lastError = (err as Error).message;
      return;
    }
    lastError = '';
    if (next.cert === current.cert && next.key === current.key) return;
    current = next;
    opts.onChange(next);
  };
  const soon = () => {
    clearTimeout(debounce);
    debounce = setTimeout(check, opts.debounceMs ?? 100);
    debounce.unref();
  };

  const watchers: FSWatcher[] = [];
  for (const dir of new Set([dirname(opts.certPath), dirname(opts.keyPath)])) {
    try {
      const w = watch(dir, { persistent: false }, soon);
      w.on('error', () => undefined); // the poll still covers this directory
      watchers.push(w);
    } catch {
      // no inotify (or the directory vanished): polling alone
    }
  }
  const poll = setInterval(check, opts.pollMs ?? 10_000);
  poll.unref();

  return {
    check,
    close() {
      clearInterval(poll);
      clearTimeout(debounce);
      for (const w of watchers) w.close();
    },
  };
}
