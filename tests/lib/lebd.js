'use strict';
/*
 * lebd.js - starts the real lebd binary for black-box tests.
 *
 * Every instance gets its own temporary directory (the SQLite database lives there), its own
 * free loopback port (--listen 127.0.0.1:0; the URL is read from the "listening" log line) and
 * its own random secrets. Nothing of the caller's LEB_* environment leaks into lebd: only what
 * the test asks for. Processes and directories are cleaned up by close(), by the test's
 * after hook when startLebd() is given the test context, and in any case when the test file's
 * process exits.
 *
 * When LEB_TEST_SANITIZED is set, lebd is an AddressSanitizer + UndefinedBehaviorSanitizer
 * build: time-outs are longer, and a sanitizer report anywhere in its stderr fails the test.
 */

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const SANITIZED = Boolean(process.env.LEB_TEST_SANITIZED);
/* Sanitized builds run several times slower: every wait in the suite is scaled by this. */
const TIME_SCALE = SANITIZED ? 4 : 1;
const START_TIMEOUT_MS = 20000 * (SANITIZED ? 3 : 1);
const STOP_TIMEOUT_MS = 15000 * (SANITIZED ? 2 : 1);
const LEBD_DEFAULT = path.join(__dirname, '../../build/lebd');

const SANITIZER_PATTERNS = [
  'ERROR: AddressSanitizer',
  'ERROR: LeakSanitizer',
  'runtime error:',
];

/* Everything started by this process, so that nothing survives the test file. */
const liveProcesses = new Set();
const liveDirs = new Set();
function cleanupEverythingSync() {
  for (const child of liveProcesses) {
    try {
      child.kill('SIGKILL');
    } catch (_) {
      /* already gone */
    }
  }
  for (const dir of liveDirs) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch (_) {
      /* best effort on exit */
    }
  }
}
process.on('exit', cleanupEverythingSync);
/* A test file interrupted by a signal (Ctrl-C, the runner's time-out) does not run "exit"
 * handlers: clean up, then die of the same signal. */
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    cleanupEverythingSync();
    process.kill(process.pid, signal);
  });
}

function randomSecret() {
  return crypto.randomBytes(18).toString('base64url');
}

function lebdPath() {
  return process.env.LEBD || LEBD_DEFAULT;
}

/* The environment lebd runs with: the caller's, less every LEB_* variable (the Makefile
 * sets LEB_TEST_SANITIZED, which lebd would read as an unknown [test] section), plus ours. */
function buildEnv(run, extraEnv) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('LEB_') && key !== 'LEBD' && key !== 'LEBCTL') env[key] = value;
  }
  if (run.adminPassword !== null) env.LEB_ADMIN_PASSWORD = run.adminPassword;
  if (run.sandboxSecret !== null) env.LEB_SANDBOX_SECRET = run.sandboxSecret;
  if (run.smsKey !== null) env.LEB_SMS_KEY = run.smsKey;
  if (SANITIZED) {
    env.ASAN_OPTIONS = 'abort_on_error=1:detect_leaks=1';
    env.UBSAN_OPTIONS = 'halt_on_error=1:print_stacktrace=1';
  }
  for (const [key, value] of Object.entries(extraEnv || {})) {
    if (value === null || value === undefined) delete env[key];
    else env[key] = String(value);
  }
  return env;
}

function tail(lines, count = 40) {
  return lines.slice(-count).join('\n');
}

function sanitizerReport(lines) {
  return lines.find((line) => SANITIZER_PATTERNS.some((pattern) => line.includes(pattern)));
}

/*
 * Starts one lebd process of "run" (the state shared across restarts: directory, secrets,
 * options) and resolves once it logged "listening".
 */
function spawnInstance(run) {
  const args = ['--listen', '127.0.0.1:0', '--db', `sqlite:${run.dbPath}`];
  if (run.opts.demo !== false) args.push('--demo');
  if (run.opts.testMode) args.push('--test-mode');
  args.push(...(run.opts.args || []));

  const binary = lebdPath();
  const child = spawn(binary, args, {
    env: buildEnv(run, run.opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveProcesses.add(child);

  const logs = [];
  const stdout = [];
  let exitInfo = null;
  let resolveExited;
  const exited = new Promise((resolve) => {
    resolveExited = resolve;
  });
  const markExited = (code, signal) => {
    if (exitInfo === null) {
      exitInfo = { code, signal };
      liveProcesses.delete(child);
    }
    resolveExited(exitInfo);
  };
  child.on('exit', markExited);
  /* "close" fires once stdio is drained: wait for it so that the last log lines are in. */
  const closed = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      /* A process that never started (ENOENT) has a "close" but no "exit". */
      markExited(code, signal);
      resolve();
    });
  });
  const spawnError = new Promise((resolve) => child.on('error', resolve));

  readline.createInterface({ input: child.stdout }).on('line', (line) => stdout.push(line));
  const stderrLines = readline.createInterface({ input: child.stderr });

  const instance = {
    url: null,
    adminPassword: run.adminPassword,
    sandboxSecret: run.sandboxSecret,
    smsKey: run.smsKey,
    dbPath: run.dbPath,
    dir: run.dir,
    logs,
    stdout,
    args,
    pid: child.pid,
    process: child,
    exited,
    get running() {
      return exitInfo === null;
    },
    get exitInfo() {
      return exitInfo;
    },

    /* SIGTERM, wait for the exit; the exit code must be 0 and no sanitizer may have
     * reported anything (unless opts.allowNonZero). */
    async stop() {
      if (exitInfo === null) {
        child.kill('SIGTERM');
        const result = await Promise.race([exited, idleDelay(STOP_TIMEOUT_MS).then(() => null)]);
        if (result === null) {
          child.kill('SIGKILL');
          await exited;
          await closed;
          throw new Error(
            `lebd did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM; last log lines:\n` +
              tail(logs),
          );
        }
      }
      await closed;
      instance.checkSanitizers();
      if (!run.opts.allowNonZero) {
        assert.ok(
          exitInfo.code === 0 && exitInfo.signal === null,
          `lebd must exit 0 on SIGTERM, got code ${exitInfo.code} signal ${exitInfo.signal}; ` +
            `last log lines:\n${tail(logs)}`,
        );
      }
      return exitInfo;
    },

    /* SIGKILL, wait for the exit. The signal is sent before this returns its promise, so a
     * caller can kill at an exact point of its own event loop. */
    kill() {
      if (exitInfo === null) child.kill('SIGKILL');
      return exited.then(async (info) => {
        await closed;
        instance.checkSanitizers();
        return info;
      });
    },

    /* Starts lebd again on the same database, directory and secrets (a new port). A running
     * instance is stopped gracefully first. Resolves to a new instance of the same shape. */
    async restart(overrides = {}) {
      if (exitInfo === null) await instance.stop();
      if (overrides.env || overrides.args) {
        run.opts = {
          ...run.opts,
          env: overrides.env ? { ...run.opts.env, ...overrides.env } : run.opts.env,
          args: overrides.args || run.opts.args,
        };
      }
      const next = await spawnInstance(run);
      run.instances.push(next);
      return next;
    },

    /* Stops every instance of this run that still runs (gracefully, checking the exit code)
     * and removes the directory. Safe to call twice. */
    close() {
      return closeRun(run);
    },

    /* Kills whatever still runs and removes the directory; never throws. */
    cleanup() {
      return cleanupRun(run);
    },

    checkSanitizers() {
      if (!SANITIZED) return;
      const report = sanitizerReport(logs);
      if (report) {
        throw new Error(`sanitizer report in lebd's stderr: ${report}\n${tail(logs, 80)}`);
      }
    },
  };

  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        if (exitInfo === null && child.pid !== undefined) child.kill('SIGKILL');
        /* Wait for the process to be gone (briefly: a failed spawn has none) before the
         * caller removes its directory. */
        Promise.race([closed, idleDelay(2000)]).then(() => reject(error));
      } else {
        resolve(instance);
      }
    };
    const timer = setTimeout(() => {
      finish(
        new Error(
          `lebd (${binary} ${args.join(' ')}) did not log "listening" within ` +
            `${START_TIMEOUT_MS} ms; stderr:\n${tail(logs)}`,
        ),
      );
    }, START_TIMEOUT_MS);

    stderrLines.on('line', (line) => {
      logs.push(line);
      const password = /^lebd: demo admin password: (\S+)\s*$/.exec(line);
      if (password) {
        instance.adminPassword = password[1];
        run.adminPassword = password[1];
        return;
      }
      if (instance.url !== null) return;
      let record;
      try {
        record = JSON.parse(line);
      } catch (_) {
        return;
      }
      if (record && record.msg === 'listening' && typeof record.url === 'string') {
        instance.url = record.url.replace(/\/+$/, '');
        finish(null);
      }
    });
    spawnError.then((error) => {
      finish(new Error(`cannot start lebd at ${binary}: ${error.message} (set LEBD)`));
    });
    exited.then(async (info) => {
      await Promise.race([closed, idleDelay(1000)]);
      finish(
        new Error(
          `lebd exited before listening (code ${info.code}, signal ${info.signal}); ` +
            `stderr:\n${tail(logs)}`,
        ),
      );
    });
  });
}

async function closeRun(run) {
  if (run.closed) return;
  run.closed = true;
  try {
    for (const instance of run.instances) {
      if (instance.running) await instance.stop();
      else instance.checkSanitizers();
    }
  } finally {
    await cleanupRun(run);
  }
}

async function cleanupRun(run) {
  for (const instance of run.instances) {
    if (instance.running) {
      instance.process.kill('SIGKILL');
      await instance.exited;
    }
  }
  fs.rmSync(run.dir, { recursive: true, force: true });
  liveDirs.delete(run.dir);
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/* A delay that does not keep the process alive: for races against an exit. */
function idleDelay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/*
 * startLebd(opts) starts lebd on a throwaway database and resolves to
 * { url, adminPassword, sandboxSecret, smsKey, dbPath, dir, logs, stop(), kill(), restart(),
 *   close(), cleanup(), ... }.
 *
 * opts.demo (default true): pass --demo. opts.testMode: pass --test-mode. opts.args: more
 * arguments. opts.env: more environment (a null value removes a variable, e.g.
 * { LEB_ADMIN_PASSWORD: null } to let lebd generate one). opts.allowNonZero: stop() does not
 * insist on exit code 0. opts.t: a test context (or anything with after(fn)): its after hook
 * closes this lebd, checking the exit code.
 */
async function startLebd(opts = {}) {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'lebd-test-'));
  liveDirs.add(dir);
  const env = opts.env || {};
  /* A secret the test sets itself is the one returned; otherwise a random one. */
  const secret = (name) => {
    if (env[name] === null) return null;
    return typeof env[name] === 'string' ? env[name] : randomSecret();
  };
  const run = {
    opts: { demo: true, ...opts },
    dir,
    dbPath: path.join(dir, 'leb.db'),
    adminPassword: secret('LEB_ADMIN_PASSWORD'),
    sandboxSecret: secret('LEB_SANDBOX_SECRET'),
    smsKey: secret('LEB_SMS_KEY'),
    instances: [],
    closed: false,
  };
  if (opts.t && typeof opts.t.after === 'function') {
    opts.t.after(() => closeRun(run));
  }
  let instance;
  try {
    instance = await spawnInstance(run);
  } catch (error) {
    await cleanupRun(run);
    throw error;
  }
  run.instances.push(instance);
  return instance;
}

module.exports = {
  startLebd,
  delay,
  lebdPath,
  SANITIZED,
  TIME_SCALE,
};
