// The version a language reports: the first version-looking token of the first non-empty line of
// its `version` command's output (shared/languages.ts), e.g. `go version go1.19.8 linux/amd64` → 1.19.8.

const VERSION_TOKEN = /\d+(?:\.\d+)+/;

export function parseVersion(output: string): string | null {
  const line = output
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l !== '');
  if (line === undefined) return null;
  return VERSION_TOKEN.exec(line)?.[0] ?? null;
}
