// The files of a job as they go into the sandbox: the main file (`code`, under the language's file
// name) and the request's other files, decoded and checked. A bad name or size is the user's input
// error (invalid_request), found before anything runs.
import { CodeexecError } from '../../shared/errors.js';
import type { FileInput } from '../../shared/job.js';
import { INPUT_FILE_LIMITS } from '../../shared/limits.js';
import { fileNameProblem } from './file-name.js';
import type { SandboxFile } from './tar.js';

// Strict base64: Buffer.from(…, 'base64') silently skips what it does not understand.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// MIME-style line breaks are allowed inside base64 content.
const BASE64_WHITESPACE = /[\r\n\t ]/g;

function invalid(message: string, name?: string): CodeexecError {
  return new CodeexecError('invalid_request', message, name === undefined ? undefined : { file: name });
}

function decode(file: FileInput): Buffer {
  if (file.encoding !== 'base64') return Buffer.from(file.content, 'utf8');
  const compact = file.content.replace(BASE64_WHITESPACE, '');
  if (!BASE64.test(compact))
    throw invalid(`file ${JSON.stringify(file.name)}: content is not valid base64`, file.name);
  return Buffer.from(compact, 'base64');
}

/** Every directory a name implies: `a/b/c.txt` → `a`, `a/b`. */
function parents(name: string): string[] {
  const segments = name.split('/');
  return segments.slice(1).map((_, i) => segments.slice(0, i + 1).join('/'));
}

/**
 * The sandbox files of a job, main file first. Throws CodeexecError('invalid_request') for a name
 * that could leave /workspace or is not what it prints as, a duplicate (or the main file's name),
 * a name used both as a file and as a directory, bad base64, or too many bytes.
 */
export function jobFiles(mainName: string, code: string, extra: readonly FileInput[] = []): SandboxFile[] {
  if (extra.length > INPUT_FILE_LIMITS.files) {
    throw invalid(`a job may have at most ${INPUT_FILE_LIMITS.files} files besides the main one`);
  }
  const files: SandboxFile[] = [{ name: mainName, content: Buffer.from(code, 'utf8') }];
  const names = new Set([mainName]);
  for (const file of extra) {
    const problem = fileNameProblem(file.name);
    if (problem !== null) throw invalid(`file name ${JSON.stringify(file.name)} ${problem}`, file.name);
    if (names.has(file.name)) {
      const what =
        file.name === mainName ? `the main file's name (${mainName})` : 'already used by another file';
      throw invalid(`file name ${JSON.stringify(file.name)} is ${what}`, file.name);
    }
    names.add(file.name);
    files.push({ name: file.name, content: decode(file) });
  }
  for (const name of names) {
    const clash = parents(name).find((dir) => names.has(dir));
    if (clash !== undefined) {
      throw invalid(
        `file name ${JSON.stringify(name)} needs ${JSON.stringify(clash)} to be a directory`,
        name,
      );
    }
  }
  const total = files.reduce((sum, file) => sum + file.content.length, 0);
  if (total > INPUT_FILE_LIMITS.total_bytes) {
    throw invalid(`the job's files are ${total} bytes; at most ${INPUT_FILE_LIMITS.total_bytes} are allowed`);
  }
  return files;
}
