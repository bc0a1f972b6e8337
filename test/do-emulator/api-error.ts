// A refusal in DigitalOcean's error shape. Thrown by the state rules and the routes; the
// server turns it into `{id, message, request_id}` with the status code.

export class ApiFailure extends Error {
  readonly status: number;
  readonly id: string;
  constructor(status: number, id: string, message: string) {
    super(message);
    this.status = status;
    this.id = id;
  }
}

export const notFound = (message = 'The resource you were accessing could not be found.') =>
  new ApiFailure(404, 'not_found', message);

export const unprocessable = (message: string) => new ApiFailure(422, 'unprocessable_entity', message);

export const badRequest = (message: string) => new ApiFailure(400, 'bad_request', message);

/** The `id` DigitalOcean puts in error bodies for a status without a more specific one. */
export function errorIdForStatus(status: number): string {
  const ids: Record<number, string> = {
    400: 'bad_request',
    401: 'unauthorized',
    403: 'forbidden',
    404: 'not_found',
    409: 'conflict',
    422: 'unprocessable_entity',
    429: 'too_many_requests',
    500: 'server_error',
    502: 'bad_gateway',
    503: 'service_unavailable',
    504: 'gateway_timeout',
  };
  return ids[status] ?? 'unexpected_error';
}
