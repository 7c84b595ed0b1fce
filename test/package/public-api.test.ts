import { describe, expect, it } from 'vitest';
import { checkPublicApi } from '../../scripts/api-check.ts';

const ROOT = 'src/index.ts';
const SUBPATHS = ['src/client/index.ts', 'src/testing/index.ts', 'src/nest/index.ts', 'src/jobs/pg-boss/index.ts'];

describe('the public API (issue 9: curated, typed)', () => {
  it.each([ROOT, ...SUBPATHS])('%s has no `any`, and every type of ours it mentions is exported', (entry) => {
    expect(checkPublicApi(entry, entry === ROOT ? [] : [ROOT])).toEqual([]);
  }, 60_000);
});
