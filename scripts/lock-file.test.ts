// `npm ci` must work on a clean clone on any platform: it refuses a lock file that names a
// dependency (optional ones included: esbuild's, rollup's and biome's per-platform binaries) it
// holds no entry for — which npm writes when it updates a lock from an installed tree on one
// platform. Every dependency named anywhere in package-lock.json must resolve to an entry.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

interface LockEntry {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const lock = JSON.parse(readFileSync(new URL('../package-lock.json', import.meta.url), 'utf8')) as {
  packages: Record<string, LockEntry>;
};
const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** Node's lookup: the package's own node_modules, then each enclosing one up to the root. */
function resolves(from: string, dep: string): boolean {
  let base = from;
  for (;;) {
    if (lock.packages[`${base ? `${base}/` : ''}node_modules/${dep}`]) return true;
    if (!base) return false;
    const i = base.lastIndexOf('/node_modules/');
    base = i === -1 ? '' : base.slice(0, i);
  }
}

describe('package-lock.json', () => {
  it('holds an entry for every dependency it names, on every platform', () => {
    const missing: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      for (const dep of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) {
        if (!resolves(path, dep)) missing.push(`${dep} (needed by ${path || 'the root'})`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('holds every platform binary of the tools that ship them', () => {
    const names = Object.keys(lock.packages);
    for (const platform of ['linux-x64', 'linux-arm64', 'darwin-arm64', 'darwin-x64', 'win32-x64']) {
      expect(names.some((name) => name.endsWith(`@esbuild/${platform}`))).toBe(true);
      expect(names.some((name) => name.endsWith(`@biomejs/cli-${platform}`))).toBe(true);
    }
  });

  it('is in step with package.json', () => {
    const root = lock.packages[''] as LockEntry & { devDependencies?: Record<string, string> };
    expect(root.dependencies).toEqual(manifest.dependencies);
    expect(root.devDependencies).toEqual(manifest.devDependencies);
  });
});
