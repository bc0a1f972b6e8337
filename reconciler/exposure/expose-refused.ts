// A Service write of floatip's that the API server refused (an admission policy that forbids
// spec.externalIPs, RBAC...): its own outcome, reported with the API server's own sentence.
/** A Service write the API server refused: the Service and why. */
export class ExposeRefused extends Error {
  override readonly name = 'ExposeRefused';
  readonly service: string;
  constructor(service: string, cause: unknown) {
    super(refusalOf(cause), { cause });
    this.service = service;
  }
}

/** The API server's own sentence (an ApiException carries it in its JSON body), bounded. */
function refusalOf(err: unknown): string {
  const body = (err as { body?: unknown } | null)?.body;
  let message: unknown;
  try {
    message = typeof body === 'string' ? (JSON.parse(body) as { message?: unknown }).message : (body as { message?: unknown } | undefined)?.message;
  } catch {
    message = undefined;
  }
  const text = typeof message === 'string' ? message : err instanceof Error ? err.message.split('\n')[0] : String(err);
  return (text ?? '').slice(0, 300);
}
