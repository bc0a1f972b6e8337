// What tests read from a child process and from refused API calls: the JSON log lines a
// process prints (non-JSON lines kept as { msg }), its stderr, its exit; and the status and
// message of an API call that was denied.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ApiException } from '@kubernetes/client-node';

export interface ChildOutput {
  readonly lines: Record<string, unknown>[];
  stderr(): string;
  readonly exited: Promise<number | null>;
}

export function collectOutput(child: ChildProcess): ChildOutput {
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  if (child.stdout) {
    createInterface(child.stdout).on('line', (line) => {
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        lines.push({ msg: line });
      }
    });
  }
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { lines, stderr: () => stderr, exited };
}

/** The HTTP status and Status message of a failed API call (throws if it succeeded). */
export async function rejection(call: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await call;
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    const body: unknown = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
    return { code: err.code, message: (body as { message?: string }).message ?? '' };
  }
  throw new Error('the request was admitted');
}
