import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateTypes, TYPES_FILE } from '../../scripts/gen-types.ts';

describe('generated message types', () => {
  it('are up to date with schemas/v1 (run npm run gen:types)', async () => {
    const normalize = (s: string) =>
      s
        .replace(/\s+/g, '')
        .replace(/[;,()]/g, '')
        .replace(/"/g, "'");
    expect(normalize(readFileSync(TYPES_FILE, 'utf8'))).toBe(normalize(await generateTypes()));
  });
});
