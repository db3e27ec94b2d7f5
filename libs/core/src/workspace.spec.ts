import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromWorkspace, workspaceRoot } from './workspace';

describe('workspaceRoot', () => {
  const root = mkdtempSync(join(tmpdir(), 'lumen-ws-'));
  const nested = join(root, 'apps', 'deep', 'er');
  mkdirSync(nested, { recursive: true });
  writeFileSync(join(root, 'nx.json'), '{}');

  it('finds the nearest folder holding nx.json above a subfolder', () => {
    expect(workspaceRoot(nested)).toBe(root);
    expect(workspaceRoot(root)).toBe(root);
  });

  it('falls back to the starting folder outside any workspace', () => {
    const outside = mkdtempSync(join(tmpdir(), 'lumen-nows-'));
    expect(workspaceRoot(outside)).toBe(outside);
  });

  it('resolves relative paths under the root and keeps absolute ones', () => {
    expect(fromWorkspace('data/digits', nested)).toBe(join(root, 'data', 'digits'));
    expect(fromWorkspace('/srv/data', nested)).toBe('/srv/data');
  });
});
