import type { TestProject } from 'vitest/node';
import { adminQuery, buildTemplate, type TemplateInfo } from './template';

declare module 'vitest' {
  export interface ProvidedContext {
    dbTemplate: TemplateInfo;
  }
}

export default async function setup(project: TestProject) {
  const template = await buildTemplate((m) => console.error(`[tests] ${m}`), project.name);
  project.provide('dbTemplate', template);
  return async () => {
    if (template.engine === 'postgres' && process.env.DATABASE_URL) {
      await adminQuery(process.env.DATABASE_URL, `DROP DATABASE IF EXISTS "${template.ref}"`);
    }
  };
}
