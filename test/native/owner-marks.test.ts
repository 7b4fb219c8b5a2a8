/**
 * csrc/owner_marks.c's exit() handler on its own, from C
 * (test/native/owner_marks_exit.c): it lets the marks go at exit(), only in
 * the process that made them (not in a child forked or cloned into a pid
 * namespace of its own, where it may have the owner's pid 1), and never
 * hangs the exit (exit() from a signal handler that interrupted
 * ik_mark_hold() on the same thread, the mutex held).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { needContainers, skipUnless } from '../helpers/caps';
import { TEMP_PREFIX } from '../helpers/leaks';

const root = join(__dirname, '..', '..', '..');

describe('owner marks at exit(), from C', function () {
  this.timeout(60_000);
  let dir: string;
  let bin: string;

  before(function () {
    skipUnless(this, spawnSync('gcc', ['--version']).status === 0 ? null : 'no gcc to build the checker');
    dir = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
    bin = join(dir, 'owner_marks_exit');
    execFileSync('gcc', ['-std=gnu11', '-O1', '-Wall', '-Wextra', '-pthread', '-I', join(root, 'csrc'), '-o', bin,
      join(root, 'test', 'native', 'owner_marks_exit.c'), join(root, 'csrc', 'owner_marks.c')]);
  });
  after(function () {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function run(mode: string) {
    const marks = mkdtempSync(join(dir, `${mode}-`));
    const r = spawnSync(bin, [mode, marks], { encoding: 'utf8', timeout: 5000, killSignal: 'SIGKILL' });
    return { ...r, mark: join(marks, 'a.owner') };
  }

  it('should remove the marks at exit()', function () {
    const r = run('plain');
    expect(r.status, r.stderr).to.equal(0);
    expect(existsSync(r.mark)).to.equal(false);
  });

  it('should not hang when exit() comes from a signal handler that interrupted ik_mark_hold()', function () {
    const r = run('handler');
    expect(r.signal, 'still hanging after 5 s').to.equal(null);
    expect(r.status, r.stderr).to.equal(0);
  });

  it('should leave no mark when the fd table is full (the mark made, its open refused)', function () {
    const r = run('emfile');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('hold: EMFILE; mark: gone\n');
  });

  it("should keep the owner's mark when a forked child calls exit()", function () {
    const r = run('fork');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/mark after the child: present/);
  });

  it("should keep pid 1's mark when a child cloned into a new pid namespace (pid 1 there too) calls exit()", function () {
    needContainers(this); // root: pid namespaces
    const r = run('newpid');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^owner pid 1; mark after the child: present/);
  });
});
