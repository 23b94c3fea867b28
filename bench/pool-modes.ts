// The three ways the pool benchmark runs python `print(1)`, each checked for its output:
// bare (a plain docker exec in one already-running hardened container), cold (create, start,
// exec, remove per job) and the runner's SandboxPool. All containers carry the bench's runner
// label, so one sweep by label removes whatever a failure or Ctrl-C left.

import type { DockerSandbox, SandboxContainerSpec } from '../runner/docker/docker-sandbox.js';
import type { SandboxPool } from '../runner/pool/sandbox-pool.js';
import type { LanguageSpec } from '../shared/languages.js';

export const CODE = 'print(1)';
const EXPECTED = '1\n';

export class BenchModes {
  private readonly docker: DockerSandbox;
  private readonly pool: SandboxPool;
  private readonly spec: SandboxContainerSpec;
  private readonly argv: string[];
  private bareId: string | null = null;
  private jobs = 0;

  constructor(docker: DockerSandbox, pool: SandboxPool, language: LanguageSpec) {
    this.docker = docker;
    this.pool = pool;
    // The very container the pool makes: same image, hardening, limits and labels.
    this.spec = pool.containerSpec(language);
    this.argv = ['python3', '-c', CODE];
  }

  /** Start the bare mode's container (once). */
  async startBare(): Promise<void> {
    this.bareId ??= await this.docker.createAndStart(this.spec);
  }

  async bare(): Promise<void> {
    if (this.bareId === null) throw new Error('startBare() first');
    await this.plainExec(this.bareId);
  }

  async cold(): Promise<void> {
    const id = await this.docker.createAndStart(this.spec);
    try {
      await this.plainExec(id);
    } finally {
      await this.docker.remove(id);
    }
  }

  async pooled(): Promise<void> {
    const job = {
      id: `bench-${++this.jobs}`,
      lang: 'python',
      code: CODE,
      stdin: null,
      args: [],
      limits: null,
    };
    const result = await this.pool.execute(job, () => {});
    if (result.stdout !== EXPECTED || result.exit_code !== 0) {
      throw new Error(`pool job ended ${result.reason} ${result.exit_code}: ${result.output.slice(0, 200)}`);
    }
  }

  private async plainExec(containerId: string): Promise<void> {
    let stdout = '';
    const code = await this.docker.exec(containerId, {
      argv: this.argv,
      input: null,
      onOutput: (stream, data) => {
        if (stream === 'stdout') stdout += data.toString('utf8');
      },
    });
    if (code !== 0 || stdout !== EXPECTED)
      throw new Error(`exec ended ${code} with ${JSON.stringify(stdout)}`);
  }
}
