import { describe, expect, it } from 'vitest';
import { join, raw, sql } from '../../server/platform/db/sql';
import { Scope } from '../../server/platform/auth/scope';

describe('sql builder', () => {
  it('turns every value into a numbered parameter, across nested fragments', () => {
    const level = "grid'; DROP TABLE regions; --";
    const inner = sql`code = ${'140106001'}`;
    const q = sql`SELECT * FROM regions WHERE level = ${level} AND ${inner} LIMIT ${5}`.toQuery();
    expect(q.text).toBe('SELECT * FROM regions WHERE level = $1 AND code = $2 LIMIT $3');
    expect(q.values).toEqual([level, '140106001', 5]);
  });

  it('joins conditions', () => {
    const q = sql`WHERE ${join([sql`a = ${1}`, sql`b = ${2}`, raw('c IS NULL')], ' AND ')}`.toQuery();
    expect(q.text).toBe('WHERE a = $1 AND b = $2 AND c IS NULL');
    expect(q.values).toEqual([1, 2]);
  });
});

describe('jurisdiction scope', () => {
  it('matches its own subtree by path prefix, parameterised', () => {
    const scope = Scope.of('140106001', '/140106/140106001/');
    const q = sql`SELECT 1 WHERE ${scope.covers('g.path')}`.toQuery();
    expect(q.text).toBe('SELECT 1 WHERE g.path LIKE $1');
    expect(q.values).toEqual(['/140106/140106001/%']);
    expect(scope.contains('/140106/140106001/140106001001/')).toBe(true);
    expect(scope.contains('/140106/140106002/')).toBe(false);
    // A sibling whose code merely starts with the same digits is not inside.
    expect(scope.contains('/140106/1401060010/')).toBe(false);
  });

  it('escapes LIKE wildcards and rejects malformed paths', () => {
    const q = sql`${Scope.of('x', '/a_b%/').covers('path')}`.toQuery();
    expect(q.values).toEqual(['/a\\_b\\%/%']);
    expect(() => Scope.of('x', 'no-slashes')).toThrow();
  });

  it('the system scope sees everything', () => {
    expect(sql`${Scope.system().covers('path')}`.toQuery().text).toBe('true');
  });
});
