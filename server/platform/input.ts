/**
 * Input at the edge, before any handler sees it:
 *
 * - Validation by location. A JSON body carries real numbers and booleans, so it is validated
 *   without coercion: `"lat": "45"` is a string, not a latitude. A query string and path parameters
 *   are text, so they are coerced to the schema's types — and every number that comes out of that
 *   coercion must be finite ("Infinity" and "1e400" coerce to Infinity, which Ajv's bounds skip).
 * - Control characters. NUL and the other C0 controls (and DEL) are refused in every string of a
 *   parsed JSON body, a query and path parameters, keys included; a body's text may hold line breaks
 *   and tabs (a multi-line description), a query or path may not. The guard covers each part a route
 *   declares a schema for, and path parameters always: a route that reads its input raw (OsmAnd
 *   decodes its own query and text body) declares none and is left alone.
 */
import Ajv, { type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from './errors';

/** Fastify's own defaults for its Ajv (useDefaults fills `limit`'s default), and no stripping of unknown keys. */
const COMMON: Options = { useDefaults: true, removeAdditional: false, allErrors: false, addUsedSchema: false, strictNumbers: true };

/** Bodies: JSON types as sent. */
const BODY_OPTIONS: Options = { ...COMMON, coerceTypes: false };
/** Query strings, path parameters and headers: text, read as the schema's type. */
const TEXT_OPTIONS: Options = { ...COMMON, coerceTypes: true };

type HttpPart = 'body' | 'querystring' | 'params' | 'headers';

function newAjv(options: Options): Ajv {
  const ajv = new Ajv(options);
  addFormats(ajv);
  return ajv;
}

/** The first number in a value (walked without recursion) that is not finite, as a JSON pointer. */
function nonFinite(value: unknown): string | null {
  const stack: [unknown, string][] = [[value, '']];
  while (stack.length > 0) {
    const [v, at] = stack.pop()!;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return at;
    } else if (v !== null && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) stack.push([child, `${at}/${k}`]);
    }
  }
  return null;
}

/** A validator that also refuses any non-finite number the coercion produced. */
function finiteAfterCoercion(validate: ValidateFunction): ValidateFunction {
  const wrapped = function (this: unknown, data: unknown, ctx?: unknown) {
    const ok = (validate as (this: unknown, d: unknown, c?: unknown) => boolean).call(this, data, ctx);
    if (!ok) {
      wrapped.errors = validate.errors;
      return false;
    }
    const at = nonFinite(data);
    if (at !== null) {
      const error: ErrorObject = { instancePath: at, schemaPath: '#', keyword: 'type', params: { type: 'finite number' }, message: 'must be a finite number' };
      wrapped.errors = [error];
      return false;
    }
    wrapped.errors = null;
    return true;
  } as ValidateFunction;
  // Fastify passes the parent when the validator has a schema environment (lets Ajv replace a root value).
  Object.assign(wrapped, { schema: validate.schema, schemaEnv: validate.schemaEnv });
  return wrapped;
}

/**
 * Sets the app's validator compiler: one Ajv for bodies (no coercion), one for query, params and
 * headers (coercion, then finite numbers only). Call before any route is registered.
 */
export function useEdgeValidation(app: FastifyInstance): void {
  const body = newAjv(BODY_OPTIONS);
  const text = newAjv(TEXT_OPTIONS);
  const compile = (ajv: Ajv, schema: object): ValidateFunction => {
    const id = (schema as { $id?: unknown }).$id;
    if (typeof id === 'string') {
      const known = ajv.getSchema(id);
      if (known) return known;
    }
    return ajv.compile(schema);
  };
  app.setValidatorCompiler(({ schema, httpPart }) => {
    if ((httpPart as HttpPart | undefined) === 'body') return compile(body, schema);
    return finiteAfterCoercion(compile(text, schema));
  });
}

/** C0 controls and DEL; a body's text may keep tab, line feed and carriage return. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;
// eslint-disable-next-line no-control-regex -- as above
const CONTROL_IN_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** Where a value (walked without recursion, keys included) holds a forbidden character, as a JSON pointer. */
export function controlCharacterAt(value: unknown, forbidden: RegExp): string | null {
  const stack: [unknown, string][] = [[value, '']];
  while (stack.length > 0) {
    const [v, at] = stack.pop()!;
    if (typeof v === 'string') {
      if (forbidden.test(v)) return at || '/';
    } else if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) {
      for (const [k, child] of Object.entries(v)) {
        const path = `${at}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`;
        if (forbidden.test(k)) return path.replace(new RegExp(CONTROL.source, 'g'), '?');
        stack.push([child, path]);
      }
    }
  }
  return null;
}

function refuse(part: string, at: string): never {
  throw new AppError('VALIDATION_FAILED', `${part}${at === '/' ? '' : at} must not contain control characters.`);
}

/** The guard against control characters, as one preValidation hook for every route of the app. */
export function guardControlCharacters(app: FastifyInstance): void {
  app.addHook('preValidation', async (request: FastifyRequest) => {
    const schema = request.routeOptions.schema;
    const params = controlCharacterAt(request.params, CONTROL);
    if (params !== null) refuse('params', params);
    if (schema?.querystring) {
      const at = controlCharacterAt(request.query, CONTROL);
      if (at !== null) refuse('querystring', at);
    }
    // A parsed JSON body only: a text or binary body (a form, a photo) is the route's to read.
    const body: unknown = request.body;
    if (schema?.body && body !== null && typeof body === 'object' && !Buffer.isBuffer(body)) {
      const at = controlCharacterAt(body, CONTROL_IN_TEXT);
      if (at !== null) refuse('body', at);
    }
  });
}
