import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = path.resolve(import.meta.dirname, '../..');
const APPS = path.join(REPO, 'test', 'consumers');

/** The fenced code blocks of the README, in order. */
async function readmeBlocks(): Promise<string[]> {
  const readme = await readFile(path.join(REPO, 'README.md'), 'utf8');
  return [...readme.matchAll(/^```(?:ts|js)\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);
}

/** A line as code: comments and surrounding blanks removed; '' when nothing is left. */
function code(line: string): string {
  return line.replace(/\/\*.*?\*\//g, '').replace(/\s\/\/.*$/, '').replace(/^\s*\/\/.*$/, '').replace(/\s*\/\*\*.*\*\/\s*$/, '').replace(/\s+([\]),])/g, '$1').trim();
}

/** Module specifiers imported by a block or file. */
function specifiers(text: string): string[] {
  return [...text.matchAll(/^import .* from '([^']+)';$/gm)].map((match) => match[1]!);
}

// Each README example is checked against the consumer app that runs it (npm run test:consumers):
// every line of code in the block appears in the app, and every module it imports, the app imports.
const EXAMPLES: Array<[string, string, string[]]> = [
  ['the DataSource', 'const dataSource = new DataSource({', ['cjs-ts/src/app.ts', 'esm-ts/src/app.ts']],
  ['the entity with declare fields', '@hasOneAttached() declare avatar: AttachedOne;', ['esm-ts/src/app.ts']],
  ['the plain JavaScript entity', 'hasOneAttached()(User.prototype', ['esm-js/app.js']],
  ['the Nest module', 'AttacheModule.forRootAsync({', ['nest/src/app.module.ts']],
  ['the Nest controller', 'export class UsersController {', ['nest/src/users.controller.ts']],
  ['the Memory app test', "memoryServices('local', 'archive')", ['vitest/app.test.ts']],
];

describe('README examples are what the consumer apps run', () => {
  it.each(EXAMPLES)('%s', async (_label, marker, files) => {
    const block = (await readmeBlocks()).find((candidate) => candidate.includes(marker));
    expect(block, `no README block contains ${marker}`).toBeDefined();
    const apps = await Promise.all(files.map((file) => readFile(path.join(APPS, file), 'utf8')));
    for (const app of apps) {
      const lines = new Set(app.split('\n').map(code));
      const missing = block!.split('\n').filter((line) => !line.startsWith('import ')).map(code).filter((line) => line !== '' && !lines.has(line));
      expect(missing).toEqual([]);
      expect(specifiers(block!).filter((specifier) => !specifiers(app).includes(specifier))).toEqual([]);
    }
  });
});
