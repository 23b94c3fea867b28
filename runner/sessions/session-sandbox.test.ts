// The session's in-sandbox commands, host-side: what the probe's text means, and the stop script's
// argv. Their effect inside a real container is tested in pool-session.test.ts.
import { describe, expect, it } from 'vitest';
import {
  agentArgv,
  agentStopLine,
  parseAgentOom,
  parseOomKills,
  parseProbe,
  stopArgv,
} from './session-sandbox.js';

const V1_OOM_CONTROL = 'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n';
const V2_EVENTS = 'low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n';

function stat(pid: number, comm: string, ppid: number): string {
  return `${pid} (${comm}) S ${ppid} ${pid} ${pid} 0 -1 4194560 86 0 0 0 0 0 0 0 20 0 1 0 417`;
}

describe('parseProbe', () => {
  it('finds the one child of the init and the OOM counter', () => {
    const text = [
      stat(1, 'docker-init', 0),
      stat(7, 'sleep', 1),
      stat(9, 'bash', 0),
      stat(21, 'sh', 0),
      '---',
      V1_OOM_CONTROL,
    ].join('\n');
    expect(parseProbe(text)).toEqual({ keepAlivePid: 7, oomKills: 3 });
  });

  it('reads a process name with spaces and parentheses by its last ") "', () => {
    const text = [stat(1, 'docker-init', 0), stat(8, 'a) 1 (b', 1), '---', V2_EVENTS].join('\n');
    expect(parseProbe(text)).toEqual({ keepAlivePid: 8, oomKills: 2 });
  });

  it.each([
    ['no child of the init', [stat(1, 'docker-init', 0), stat(9, 'bash', 0)], /found 0/],
    ['two children of the init', [stat(7, 'sleep', 1), stat(12, 'python3', 1)], /found 2/],
  ])('refuses a sandbox with %s', (_name, lines, message) => {
    expect(() => parseProbe([...lines, '---', V1_OOM_CONTROL].join('\n'))).toThrow(message);
  });

  it('leaves the OOM counter unknown when no cgroup file was readable', () => {
    expect(parseProbe([stat(7, 'sleep', 1), '---', ''].join('\n')).oomKills).toBeNull();
  });
});

describe('parseOomKills', () => {
  it.each([
    [V1_OOM_CONTROL, 3],
    [V2_EVENTS, 2],
    ['cat: /sys/fs/cgroup/memory.events: No such file or directory\n', null],
  ])('reads %j as %s', (text, expected) => {
    expect(parseOomKills(text)).toBe(expected);
  });

  it('does not take oom_group_kill or oom for oom_kill', () => {
    expect(parseOomKills('oom 5\noom_group_kill 4\n')).toBeNull();
  });
});

describe('stopArgv', () => {
  it('passes the keep-alive pid as a parameter, never inside the script', () => {
    const argv = stopArgv(7);
    expect(argv.slice(0, 2)).toEqual(['sh', '-c']);
    expect(argv.slice(3)).toEqual(['sh', '7']);
    expect(argv[2]).not.toContain('7');
  });

  it.each([0, 1, -5, 1.5, Number.NaN])('refuses %s as a keep-alive pid (pid 1 is the init)', (pid) => {
    expect(() => stopArgv(pid)).toThrow(/keep-alive/);
  });
});

describe('the stop agent', () => {
  it('is perl with a constant script: nothing variable in its argv', () => {
    const argv = agentArgv();
    expect(argv.slice(0, 2)).toEqual(['perl', '-e']);
    expect(argv).toHaveLength(3);
  });

  it('takes the keep-alive pid as a request line, and refuses what is not one', () => {
    expect(agentStopLine(7)).toBe('stop 7\n');
    for (const pid of [0, 1, -5, 1.5, Number.NaN]) expect(() => agentStopLine(pid)).toThrow(/keep-alive/);
  });

  it.each([
    ['oom 3', 3],
    ['oom 0', 0],
    ['oom -', null],
    ['stopped', null],
  ])('reads the OOM answer %j as %s', (line, expected) => {
    expect(parseAgentOom(line)).toBe(expected);
  });
});
