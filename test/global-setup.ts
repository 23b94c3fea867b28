// Runs once before the suite: the Docker engine must answer and the images must exist.
// `npm test` builds them first (images/build.sh); here we only check, so a missing piece
// fails the run at once with the command that fixes it instead of as a hundred timeouts.
import { execFileSync } from 'node:child_process';
import { LANGUAGES } from '../shared/index.js';

export default function setup(): void {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore' });
  } catch {
    throw new Error(
      'No Docker engine answers. Run `bash images/ensure-engine.sh` (or `npm test`, which does).',
    );
  }
  // Every language by default (npm test builds them all); CODEEXEC_TEST_LANGUAGES narrows it.
  const wanted = process.env.CODEEXEC_TEST_LANGUAGES?.split(',') ?? LANGUAGES.map((lang) => lang.name);
  const missing = LANGUAGES.filter((lang) => wanted.includes(lang.name)).filter((lang) => {
    try {
      execFileSync('docker', ['image', 'inspect', lang.image], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    const names = missing.map((lang) => lang.name).join(' ');
    throw new Error(`Missing sandbox images: ${names}. Run \`bash images/build.sh ${names}\`.`);
  }
}
