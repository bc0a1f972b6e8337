// Validates real HTTP responses against DigitalOcean's OpenAPI 3.0 spec with ajv: the
// response schema for path + method + status (falling back to `default`), and the
// rate-limit headers the spec declares on every response.
//
// OpenAPI 3.0 schema objects are almost JSON Schema draft-07: `nullable` is supported by
// ajv natively, siblings of `$ref` are ignored by OpenAPI 3.0 (dropped here: the bundled
// spec keeps example data there), and `example`/`discriminator` are annotations.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import type { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

type Json = Record<string, unknown>;

const SPEC_ID = 'do-openapi';

/** DigitalOcean's spec (subset), kept beside the emulator so the tests need nothing else. */
export function defaultSpecPath(): string {
  return fileURLToPath(new URL('./spec/openapi.yaml', import.meta.url));
}

/** OpenAPI 3.0: a `$ref` object's other keys are ignored, so drop them before ajv sees them. */
function dropRefSiblings(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(dropRefSiblings);
  if (node === null || typeof node !== 'object') return node;
  const obj = node as Json;
  if (typeof obj.$ref === 'string') return { $ref: obj.$ref };
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, dropRefSiblings(v)]));
}

const pointerSegment = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

export interface SpecValidator {
  /** Errors for this response; empty when it conforms. `path` may be concrete or a template, with or without a query. */
  validateResponse(method: string, path: string, status: number, body: unknown, headers?: Headers | Record<string, string>): string[];
  /** Errors of `value` against `components/schemas/<name>`, e.g. `error` for paths outside the spec. */
  validateSchema(name: string, value: unknown): string[];
  /** The spec's path template for a concrete path, e.g. `/v2/reserved_ips/{reserved_ip}`. */
  templateFor(path: string): string | undefined;
  /** `METHOD template` of the spec operation serving this request, if the spec has one. */
  operationFor(method: string, path: string): string | undefined;
  /** Every `METHOD template` the spec defines. */
  operations(): string[];
}

export function createSpecValidator(specPath = defaultSpecPath()): SpecValidator {
  const spec = parse(readFileSync(specPath, 'utf8')) as { openapi: string; paths: Json; components: Json };
  if (!spec.openapi.startsWith('3.0.')) throw new Error(`expected an OpenAPI 3.0 spec, got ${spec.openapi}`);
  const components = dropRefSiblings(spec.components) as Json;
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema({ $id: SPEC_ID, components }, SPEC_ID);
  const compiled = new Map<string, ValidateFunction>();
  const templates = Object.keys(spec.paths).map((t) => ({
    template: t,
    pattern: new RegExp(`^${t.replace(/\{\w+\}/g, '[^/]+')}$`),
  }));

  function templateFor(path: string): string | undefined {
    const bare = path.split('?')[0] ?? path;
    return templates.find((t) => t.template === bare || t.pattern.test(bare))?.template;
  }

  function validatorFor(ref: string): ValidateFunction {
    let v = compiled.get(ref);
    if (v === undefined) {
      v = ajv.compile({ $ref: `${SPEC_ID}${ref}` });
      compiled.set(ref, v);
    }
    return v;
  }

  function validateResponse(method: string, path: string, status: number, body: unknown, headers?: Headers | Record<string, string>): string[] {
    const template = templateFor(path);
    if (template === undefined) return [`${path}: no such path in the spec`];
    const operation = (spec.paths[template] as Json)[method.toLowerCase()] as { responses: Json } | undefined;
    if (operation === undefined) return [`${method} ${template}: no such operation in the spec`];
    const code = String(status) in operation.responses ? String(status) : 'default';
    const declared = operation.responses[code] as Json | undefined;
    if (declared === undefined) return [`${method} ${template}: status ${status} not in the spec and no default`];
    // Every response in this spec is a $ref to components/responses; resolve it by name.
    const refName = typeof declared.$ref === 'string' ? declared.$ref.split('/').pop() : undefined;
    const responsePointer = refName === undefined ? undefined : `#/components/responses/${pointerSegment(refName)}`;
    const response = (refName === undefined ? declared : (components.responses as Json)[refName]) as Json | undefined;
    if (response === undefined || responsePointer === undefined) return [`${method} ${template} ${code}: inline responses are not supported`];
    const where = `${method} ${template} ${status} (${refName})`;
    const errors: string[] = [];
    for (const name of Object.keys((response.headers as Json | undefined) ?? {})) {
      const value = headers instanceof Headers ? headers.get(name) : headers?.[name];
      if (headers !== undefined && (value === null || value === undefined || !/^\d+$/.test(value))) {
        errors.push(`${where}: header ${name} must be an integer, got ${String(value)}`);
      }
    }
    const content = response.content as Json | undefined;
    if (content === undefined) {
      if (body !== undefined && body !== null && body !== '') errors.push(`${where}: the spec declares no body, got one`);
      return errors;
    }
    if (!('application/json' in content)) return [...errors, `${where}: no application/json content in the spec`];
    const validate = validatorFor(`${responsePointer}/content/application~1json/schema`);
    if (!validate(body)) {
      for (const e of validate.errors ?? []) errors.push(`${where}: ${e.instancePath || '/'} ${e.message ?? 'invalid'} (${e.schemaPath})`);
    }
    return errors;
  }

  function validateSchema(name: string, value: unknown): string[] {
    const validate = validatorFor(`#/components/schemas/${pointerSegment(name)}`);
    if (validate(value)) return [];
    return (validate.errors ?? []).map((e) => `schema ${name}: ${e.instancePath || '/'} ${e.message ?? 'invalid'}`);
  }

  function operationFor(method: string, path: string): string | undefined {
    const template = templateFor(path);
    if (template === undefined || !(method.toLowerCase() in (spec.paths[template] as Json))) return undefined;
    return `${method.toUpperCase()} ${template}`;
  }

  function operations(): string[] {
    const methods = ['get', 'put', 'post', 'delete', 'patch'];
    return Object.entries(spec.paths).flatMap(([template, item]) =>
      Object.keys(item as Json).filter((m) => methods.includes(m)).map((m) => `${m.toUpperCase()} ${template}`),
    );
  }

  return { validateResponse, validateSchema, templateFor, operationFor, operations };
}

let shared: SpecValidator | undefined;

/** The validator of the default spec, created once (compiling the spec takes a moment). */
export function specValidator(): SpecValidator {
  shared ??= createSpecValidator();
  return shared;
}

/** Convenience over the shared validator; empty when the response conforms. */
export function validateResponse(method: string, path: string, status: number, body: unknown, headers?: Headers | Record<string, string>): string[] {
  return specValidator().validateResponse(method, path, status, body, headers);
}
