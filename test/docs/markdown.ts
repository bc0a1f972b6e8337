// Reading the documentation as data: the quickstart's marked shell blocks (run by
// quickstart.e2e.test.ts) and the names the prose mentions (checked by names.test.ts).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A fenced block whose preceding line is `<!-- quickstart-test: NAME [flag...] -->`. */
export interface MarkedBlock {
  readonly name: string;
  /** words after the name, e.g. expect-failure */
  readonly flags: readonly string[];
  readonly code: string;
  /** 1-based line of the opening fence */
  readonly line: number;
}

const MARKER = /^<!--\s*quickstart-test:\s*([a-z0-9-]+)((?:\s+[a-z0-9-]+)*)\s*-->\s*$/;

/** The marked blocks of a markdown text, in order; a marker not followed by a sh fence is an error. */
export function markedBlocks(markdown: string): MarkedBlock[] {
  const lines = markdown.split('\n');
  const blocks: MarkedBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = MARKER.exec(lines[i] ?? '');
    if (!m) continue;
    const fence = lines[i + 1] ?? '';
    if (!/^```(sh|bash)\s*$/.test(fence)) throw new Error(`line ${i + 1}: marker "${m[1]}" must be followed by a \`\`\`sh fence, found ${JSON.stringify(fence)}`);
    const end = lines.findIndex((l, j) => j > i + 1 && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`line ${i + 2}: the block of "${m[1]}" is not closed`);
    blocks.push({ name: m[1] ?? '', flags: (m[2] ?? '').trim().split(/\s+/).filter(Boolean), code: lines.slice(i + 2, end).join('\n'), line: i + 2 });
  }
  return blocks;
}

/** The fenced blocks (any language) and the rest of the text, separately. */
export function splitFences(markdown: string): { code: string[]; prose: string } {
  const code: string[] = [];
  const prose: string[] = [];
  let current: string[] | undefined;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) {
      if (current) {
        code.push(current.join('\n'));
        current = undefined;
      } else current = [];
      continue;
    }
    (current ?? prose).push(line);
  }
  return { code, prose: prose.join('\n') };
}

/** Inline code spans (`...`) of a text outside fenced blocks. */
export function inlineCode(prose: string): string[] {
  return [...prose.matchAll(/`([^`\n]+)`/g)].map((m) => m[1] ?? '');
}

export const readRepoFile = (path: string): string => readFileSync(`${REPO_ROOT}${path}`, 'utf8');
