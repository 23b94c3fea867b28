// Session mode lists the files kept in the session's workspace after each run. The protocol has no
// frame for that; a session runs only its own language, so the listing is a small program in that
// language, run in the session like the user's: it prints `<size>\t<path>` per regular file under
// /workspace (its working directory). Its main file replaces the user's (main.py, Main.java…),
// which the next run writes again, so the language's main file is left out of the list.
import { LANGUAGES } from '../../shared/languages.js';

/** The `task_id` of listing jobs, so they can be told apart from the user's in GET /execute. */
export const LISTING_TASK_ID = 'playground:list-files';

const LISTERS: Readonly<Record<string, string>> = {
  python: `import os
for root, dirs, files in os.walk("."):
    for name in files:
        path = os.path.join(root, name)
        if os.path.isfile(path) and not os.path.islink(path):
            print(f"{os.path.getsize(path)}\\t{path[2:]}")
`,
  javascript: `const fs = require("node:fs");
const walk = (dir) => {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const path = dir === "." ? entry.name : dir + "/" + entry.name;
    if (entry.isDirectory()) walk(path);
    else if (entry.isFile()) console.log(fs.statSync(path).size + "\\t" + path);
  }
};
walk(".");
`,
  typescript: `import * as fs from "fs";
const walk = (dir: string): void => {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const path = dir === "." ? entry.name : dir + "/" + entry.name;
    if (entry.isDirectory()) walk(path);
    else if (entry.isFile()) console.log(fs.statSync(path).size + "\\t" + path);
  }
};
walk(".");
`,
  ruby: `Dir.glob("**/*", File::FNM_DOTMATCH).each do |path|
  puts "#{File.size(path)}\\t#{path}" if File.file?(path) && !File.symlink?(path)
end
`,
  bash: `find . -type f -printf '%s\\t%P\\n'
`,
  c: `#define _XOPEN_SOURCE 500
#include <ftw.h>
#include <stdio.h>

static int visit(const char *path, const struct stat *st, int type, struct FTW *at) {
    (void)at;
    if (type == FTW_F && S_ISREG(st->st_mode)) printf("%lld\\t%s\\n", (long long)st->st_size, path + 2);
    return 0;
}

int main(void) { return nftw(".", visit, 16, FTW_PHYS) == 0 ? 0 : 1; }
`,
  cpp: `#include <cstdio>
#include <ftw.h>

static int visit(const char *path, const struct stat *st, int type, struct FTW *) {
    if (type == FTW_F && S_ISREG(st->st_mode)) std::printf("%lld\\t%s\\n", (long long)st->st_size, path + 2);
    return 0;
}

int main() { return nftw(".", visit, 16, FTW_PHYS) == 0 ? 0 : 1; }
`,
  go: `package main

import (
	"fmt"
	"io/fs"
	"path/filepath"
)

func main() {
	filepath.WalkDir(".", func(path string, entry fs.DirEntry, err error) error {
		if err == nil && entry.Type().IsRegular() {
			if info, err := entry.Info(); err == nil {
				fmt.Printf("%d\\t%s\\n", info.Size(), path)
			}
		}
		return nil
	})
}
`,
  rust: `use std::fs;
use std::path::Path;

fn walk(dir: &Path) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(_) => return,
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => walk(&path),
            Ok(kind) if kind.is_file() => {
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                println!("{}\\t{}", size, path.strip_prefix("./").unwrap_or(&path).display());
            }
            _ => {}
        }
    }
}

fn main() {
    walk(Path::new("."));
}
`,
  java: `import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

public class Main {
    public static void main(String[] args) throws IOException {
        Path root = Path.of(".");
        try (Stream<Path> paths = Files.walk(root)) {
            paths.filter(p -> Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)).forEach(p -> {
                try {
                    System.out.println(Files.size(p) + "\\t" + root.relativize(p).toString().replace('\\\\', '/'));
                } catch (IOException e) {
                    // Gone since the walk saw it.
                }
            });
        }
    }
}
`,
};

/** The listing program for `lang`, or null when there is none (a language added since). */
export function listerFor(lang: string): string | null {
  return LISTERS[lang] ?? null;
}

export interface WorkspaceFile {
  path: string;
  size: number;
}

/**
 * The files a lister printed, sorted by path, without `lang`'s main file. Lines that are not
 * `<size>\t<path>` are skipped (a name with a newline in it, say).
 */
export function parseListing(lang: string, stdout: string): WorkspaceFile[] {
  const main = LANGUAGES.find((spec) => spec.name === lang)?.file;
  const files: WorkspaceFile[] = [];
  for (const line of stdout.split('\n')) {
    const match = /^(\d+)\t(.+)$/.exec(line);
    if (!match?.[1] || !match[2] || match[2] === main) continue;
    files.push({ path: match[2], size: Number(match[1]) });
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** "12 B", "3.4 KiB", "1.2 MiB". */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
