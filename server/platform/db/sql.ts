/**
 * A tiny tagged-template SQL builder: values always become parameters, fragments nest.
 *   sql`select * from regions where level = ${level} and ${scope.filter('path')}`
 * Repositories are the only place SQL is written; this keeps every query parameterised.
 */
export class Sql {
  constructor(
    readonly strings: readonly string[],
    readonly values: readonly unknown[],
  ) {}

  /** Flattens nested fragments and numbers the placeholders $1..$n. */
  toQuery(): { text: string; values: unknown[] } {
    const values: unknown[] = [];
    const text = this.render(values);
    return { text, values };
  }

  private render(values: unknown[]): string {
    let text = this.strings[0] ?? '';
    this.values.forEach((value, i) => {
      if (value instanceof Sql) text += value.render(values);
      else {
        values.push(value);
        text += `$${values.length}`;
      }
      text += this.strings[i + 1] ?? '';
    });
    return text;
  }
}

export function sql(strings: TemplateStringsArray, ...values: unknown[]): Sql {
  return new Sql(strings, values);
}

/** Trusted SQL text (identifiers, keywords chosen by code — never user input). */
export function raw(text: string): Sql {
  return new Sql([text], []);
}

/** Joins fragments with a separator, e.g. a list of conditions with ' and '. */
export function join(parts: readonly Sql[], separator: string): Sql {
  if (parts.length === 0) return raw('');
  const strings = [''];
  for (let i = 1; i < parts.length; i++) strings.push(separator);
  strings.push('');
  return new Sql(strings, parts);
}

export const empty = raw('');
