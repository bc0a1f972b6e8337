// Paginated lists: follow `links.pages.next` one request per page, with a bound on the walk.
import type { IListResponse } from 'dots-wrapper/dist/types/index.js';
import type { Answer } from './call.ts';
import { DoApiError } from './port.ts';

/** A walk that never ends means a broken `links.pages.next`; stop rather than loop. */
const MAX_PAGES = 1000;

/** Every item of every page, mapped; items `map` rejects (null) are skipped. */
export async function allPages<D extends IListResponse, W, R>(
  route: string,
  fetchPage: (page: number) => Promise<Answer<D>>,
  items: (d: D) => readonly W[] | undefined,
  map: (w: W) => R | null,
): Promise<R[]> {
  const out: R[] = [];
  let page = 1;
  for (let pages = 1; pages <= MAX_PAGES; pages++) {
    const { data } = await fetchPage(page);
    for (const wire of items(data) ?? []) {
      const item = map(wire);
      if (item !== null) out.push(item);
    }
    const next = pageOf(data.links?.pages?.next);
    if (next === undefined || next <= page) return out;
    page = next;
  }
  throw new DoApiError('Transient', `GET ${route}: more than ${MAX_PAGES} pages; the pagination links look broken`);
}

function pageOf(link: string | undefined): number | undefined {
  if (link === undefined) return undefined;
  const page = Number(new URL(link, 'http://placeholder.invalid').searchParams.get('page'));
  return Number.isInteger(page) && page > 0 ? page : undefined;
}
