// Builds the tar of a job's files. The tar is extracted INSIDE the sandbox (tar -x as the sandbox
// user), so nothing host-side ever opens a path in a container; names are checked here anyway so
// an entry can never land outside /workspace.
import { pack } from 'tar-stream';
import { fileNameProblem } from './file-name.js';

export interface SandboxFile {
  /** Relative path under /workspace, '/'-separated. */
  name: string;
  content: string | Buffer;
}

/** Regular files only (no links, devices or directories), mode 0644, owned by the sandbox user. */
export async function packFiles(files: readonly SandboxFile[]): Promise<Buffer> {
  // The caller checked the names already (job-files.ts); this is the last line of defence.
  for (const file of files) {
    const problem = fileNameProblem(file.name);
    if (problem !== null) throw new Error(`Unsafe file name in job: ${JSON.stringify(file.name)} ${problem}`);
  }
  const archive = pack();
  const chunks: Buffer[] = [];
  const collected = new Promise<Buffer>((resolve, reject) => {
    archive.on('data', (chunk: unknown) => {
      chunks.push(chunk as Buffer);
    });
    archive.on('end', () => resolve(Buffer.concat(chunks)));
    archive.on('error', reject);
  });
  const mtime = new Date();
  for (const file of files) {
    const body = typeof file.content === 'string' ? Buffer.from(file.content, 'utf8') : file.content;
    await new Promise<void>((resolve, reject) => {
      archive.entry(
        { name: file.name, type: 'file', mode: 0o644, uid: 10001, gid: 10001, mtime, size: body.length },
        body,
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }
  archive.finalize();
  return collected;
}
