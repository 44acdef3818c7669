'use strict';
/*
 * kannel.js - runs a real Kannel SMS gateway (Debian's `kannel` and `kannel-extras`) on loopback
 * for black-box tests: bearerbox, smsbox and Kannel's own fake SMS centre, fakesmsc.
 *
 * Every instance gets its own temporary directory (kannel.conf, logs, the message store) and its
 * own free loopback ports; /etc/kannel and the Debian service are never used. Processes and
 * directories are cleaned up by stop(), by the test's after hook when startKannel() is given the
 * test context, and in any case when the test file's process exits.
 *
 * How the pieces talk (found by reading Kannel 1.4.5's test/fakesmsc.c and gw/smsc/smsc_fake.c):
 *   - bearerbox's `smsc = fake` LISTENS on `port`; fakesmsc is the client and CONNECTS to it
 *     (-H host -r port). The fake SMSC serves one fakesmsc at a time. fakesmsc exits when
 *     bearerbox closes the connection (and panics at start if nothing listens).
 *   - fakesmsc started without message arguments is "interactive": every line on its stdin is
 *     one MO message, "sender receiver type data", type `text` (the rest of the line, raw) or
 *     `ucs2` (URL-encoded UTF-16BE). It reads stdin with fgets() into a 256-byte buffer, so a
 *     line must stay under 255 bytes, and lines must be written one at a time: a second line
 *     that fgets() buffered along with the first is not seen by its select() until more input
 *     comes. sendMo() therefore waits for fakesmsc's "sent message N" log line before the next.
 *   - fakesmsc logs every MT it gets on stderr as `DEBUG: Got message N: <line>`, the line being
 *     "sender receiver text <raw text>", "sender receiver ucs-2 <URL-encoded UTF-16BE>",
 *     "sender receiver data <URL-encoded bytes>" or, for a part of a concatenated message,
 *     "sender receiver udh <URL-encoded UDH> data <URL-encoded bytes>" (the coding of the
 *     parts is not printed; see decodeParts()). URL encoding is Kannel's: a space is "+".
 *     fakesmsc only reads the socket between stdin polls (1 s), so an MT shows up to ~1 s late.
 *   - fakesmsc aborts with a double free when it exits normally after having sent a message in
 *     interactive mode (EOF on stdin or on the socket): it is always stopped with SIGTERM
 *     before bearerbox, and runs in the temporary directory in case it dumps core.
 *   - smsbox exits when bearerbox shuts down; it does not reconnect.
 */

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const BEARERBOX = process.env.KANNEL_BEARERBOX || '/usr/sbin/bearerbox';
const SMSBOX = process.env.KANNEL_SMSBOX || '/usr/sbin/smsbox';
const FAKESMSC = process.env.KANNEL_FAKESMSC || '/usr/lib/kannel/test/fakesmsc';

const START_TIMEOUT_MS = 15000;
const STOP_TIMEOUT_MS = 10000;
const MAX_LOG_LINES = 2000;

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
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    cleanupEverythingSync();
    process.kill(process.pid, signal);
  });
}

function kannelMissing() {
  for (const file of [BEARERBOX, SMSBOX, FAKESMSC]) {
    try {
      fs.accessSync(file, fs.constants.X_OK);
    } catch (_) {
      return `${file} is missing (apt-get install kannel kannel-extras)`;
    }
  }
  return null;
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function idleDelay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/* Free loopback ports: all are held open at once so that they differ from one another. */
async function freePorts(count) {
  const servers = [];
  try {
    for (let i = 0; i < count; i += 1) {
      const server = net.createServer();
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
      servers.push(server);
    }
    return servers.map((server) => server.address().port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

function randomSecret() {
  return crypto.randomBytes(12).toString('hex');
}

/* Kannel's URL decoding: "+" is a space, %XX a byte. */
function kannelUrlDecode(text) {
  const bytes = [];
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (c === '+') {
      bytes.push(0x20);
    } else if (c === '%' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(c, 'utf8'));
    }
  }
  return Buffer.from(bytes);
}

function decodeUcs2(buffer) {
  const swapped = Buffer.from(buffer.subarray(0, buffer.length - (buffer.length % 2)));
  swapped.swap16();
  return swapped.toString('utf16le');
}

function isValidUtf8(buffer) {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buffer);
    return true;
  } catch (_) {
    return false;
  }
}

/*
 * The coding of a concatenated message's parts is not in fakesmsc's output: the bytes are
 * UCS-2 when they have a NUL high byte anywhere (every digit, space or Latin letter in UCS-2
 * has one, and no text or 8-bit data that LEB sends has a NUL) or are not UTF-8; otherwise text.
 */
function decodeParts(buffer) {
  let ucs2 = buffer.length % 2 === 0 && !isValidUtf8(buffer);
  for (let i = 0; i + 1 < buffer.length && !ucs2; i += 2) {
    if (buffer[i] === 0 && buffer.length % 2 === 0) ucs2 = true;
  }
  return ucs2
    ? { coding: 'ucs-2', text: decodeUcs2(buffer) }
    : { coding: 'text', text: buffer.toString('utf8') };
}

/* The UDH of a concatenated-message part: { ref, total, seq } or null. */
function parseConcatUdh(udh) {
  let i = 1;
  while (i + 1 < udh.length && i <= udh[0]) {
    const iei = udh[i];
    const len = udh[i + 1];
    const data = udh.subarray(i + 2, i + 2 + len);
    if (iei === 0x00 && len === 3) return { ref: data[0], total: data[1], seq: data[2] };
    if (iei === 0x08 && len === 4) {
      return { ref: data.readUInt16BE(0), total: data[2], seq: data[3] };
    }
    i += 2 + len;
  }
  return null;
}

/*
 * One MT line as fakesmsc prints it (without "Got message N: <" and ">") into
 * { from, to, coding, text, raw, udh, line }.
 */
function parseMtLine(line) {
  const match = /^(\S*) (\S*) (text|data|ucs-2|udh) (.*)$/s.exec(line);
  if (!match) return null;
  const [, from, to, type, rest] = match;
  const mt = { from, to, coding: type, text: null, raw: null, udh: null, line };
  if (type === 'text') {
    mt.raw = Buffer.from(rest, 'latin1');
    mt.text = rest;
  } else if (type === 'ucs-2') {
    mt.raw = kannelUrlDecode(rest);
    mt.text = decodeUcs2(mt.raw);
  } else if (type === 'data') {
    mt.raw = kannelUrlDecode(rest);
    mt.text = mt.raw.toString('utf8');
  } else {
    const udhMatch = /^(\S*) data (.*)$/s.exec(rest);
    if (!udhMatch) return null;
    mt.udh = kannelUrlDecode(udhMatch[1]);
    mt.raw = kannelUrlDecode(udhMatch[2]);
    const decoded = decodeParts(mt.raw);
    mt.coding = decoded.coding;
    mt.text = decoded.text;
  }
  return mt;
}

function tail(lines, count = 40) {
  return lines.slice(-count).join('\n');
}

/* A child process with its stderr/stdout lines kept (bounded) and its exit as a promise. */
function spawnLogged(name, binary, args, options, onLine) {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  liveProcesses.add(child);
  const proc = { name, child, lines: [], exitInfo: null };
  proc.exited = new Promise((resolve) => {
    const done = (code, signal) => {
      if (proc.exitInfo === null) proc.exitInfo = { code, signal };
      liveProcesses.delete(child);
      resolve(proc.exitInfo);
    };
    child.on('exit', done);
    child.on('error', (error) => {
      proc.lines.push(`${name}: cannot start ${binary}: ${error.message}`);
      done(null, null);
    });
  });
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    readline.createInterface({ input: stream }).on('line', (line) => {
      proc.lines.push(line);
      if (proc.lines.length > MAX_LOG_LINES) proc.lines.splice(0, proc.lines.length - MAX_LOG_LINES);
      if (onLine) onLine(line);
    });
  }
  proc.running = () => proc.exitInfo === null;
  return proc;
}

/* Stops "proc" with "signal"; one that does not exit in time is killed, and that is an error
 * unless "mayKill": smsbox keeps nothing of its own (bearerbox's store holds the queue), and
 * now and then it hangs in its own shutdown with HTTP calls outstanding, which for the tests
 * of LEB is just another way for Kannel to go down. */
async function stopProcess(proc, signal = 'SIGTERM', timeoutMs = STOP_TIMEOUT_MS, { mayKill = false } = {}) {
  if (!proc || !proc.running()) return proc && proc.exitInfo;
  proc.child.kill(signal);
  const result = await Promise.race([proc.exited, idleDelay(timeoutMs).then(() => null)]);
  if (result !== null) return result;
  proc.child.kill('SIGKILL');
  const killed = await proc.exited;
  if (mayKill) {
    proc.lines.push(`${proc.name}: still running ${timeoutMs} ms after ${signal}: killed`);
    return killed;
  }
  throw new Error(`${proc.name} did not exit within ${timeoutMs} ms of ${signal}:\n${tail(proc.lines)}`);
}

/* LEB's sms-service get-url; without a lebd yet, a closed port (smsbox answers the phone with
 * its "could not fetch" text). */
function lebdGetUrl(lebdUrl, smsKey) {
  const base = lebdUrl ? String(lebdUrl).replace(/\/+$/, '') : 'http://127.0.0.1:9';
  return `${base}/api/v1/sms/inbound?from=%p&to=%P&text=%a&key=${encodeURIComponent(smsKey || '')}`;
}

function kannelConf(k) {
  const q = (value) => `"${String(value).replace(/["\\]/g, '\\$&')}"`;
  return `# Written by tests/lib/kannel.js; nothing here comes from /etc/kannel.
group = core
admin-port = ${k.ports.admin}
admin-interface = 127.0.0.1
admin-password = ${q(k.adminPassword)}
status-password = ${q(k.adminPassword)}
admin-allow-ip = "127.0.0.1"
smsbox-port = ${k.ports.smsbox}
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
log-file = ${q(path.join(k.dir, 'bearerbox.log'))}
log-level = 0
access-log = ${q(path.join(k.dir, 'bearerbox-access.log'))}
store-type = file
store-location = ${q(path.join(k.dir, 'store'))}
store-dump-freq = 1

group = smsc
smsc = fake
smsc-id = fake
host = 127.0.0.1
our-host = 127.0.0.1
port = ${k.ports.smsc}
connect-allow-ip = "127.0.0.1"

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = ${k.ports.smsbox}
sendsms-port = ${k.ports.sendsms}
sendsms-interface = 127.0.0.1
log-file = ${q(path.join(k.dir, 'smsbox.log'))}
log-level = 0
access-log = ${q(path.join(k.dir, 'smsbox-access.log'))}
# An MO in UCS-2 (Chinese) reaches the get-url as UTF-8; without this %a is UTF-16BE bytes.
mo-recode = ${k.opts.moRecode === false ? 'no' : 'yes'}
http-request-retry = ${k.opts.httpRequestRetry ?? 0}
http-queue-delay = ${k.opts.httpQueueDelay ?? 1}

group = sendsms-user
username = ${q(k.username)}
password = ${q(k.password)}
max-messages = ${k.opts.sendsmsMaxMessages ?? 3}
concatenation = yes

group = sms-service
keyword = default
catch-all = yes
max-messages = ${k.opts.maxMessages ?? 3}
concatenation = ${k.opts.concatenation === false ? 'no' : 'yes'}
omit-empty = yes
# Without it smsbox ignores the reply's X-Kannel-Coding and sends Chinese as 7-bit "?".
accept-x-kannel-headers = ${k.opts.acceptXKannelHeaders === false ? 'no' : 'yes'}
get-url = ${q(k.getUrl)}
`;
}

/*
 * startKannel({ lebdUrl, smsKey, t, ...options }) starts fakesmsc, bearerbox and smsbox and
 * resolves once bearerbox's status page shows the fake SMSC online and an smsbox connected.
 *
 * Options: maxMessages (sms-service, default 3), concatenation (default true),
 * acceptXKannelHeaders (default true), moRecode (default true), httpRequestRetry (default 0),
 * getUrl (overrides the whole get-url).
 *
 * lebdUrl and smsKey may be left out and given later with setLebd() (lebd needs the sendsms
 * URL and password file at its start, Kannel needs lebd's URL: start Kannel first).
 *
 * Resolves to { sendsmsUrl, username, password, passwordFile, adminUrl, dir, ports, received,
 * mtLines, sendMo(from, to, text), sendsms(params), waitForMt(predicate, timeoutMs), status(),
 * setLebd({ lebdUrl, smsKey }),
 * stopSmsbox(), startSmsbox(), disconnectSmsc(), connectSmsc(), stopBearerbox(),
 * startBearerbox(), logs(), stop() }.
 */
async function startKannel(opts = {}) {
  const missing = kannelMissing();
  if (missing) throw new Error(missing);
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'kannel-test-'));
  liveDirs.add(dir);
  const [admin, smsbox, smsc, sendsms] = await freePorts(4);
  const k = {
    opts,
    dir,
    ports: { admin, smsbox, smsc, sendsms },
    adminPassword: randomSecret(),
    username: `leb${randomSecret().slice(0, 6)}`,
    password: randomSecret(),
    getUrl: opts.getUrl || lebdGetUrl(opts.lebdUrl, opts.smsKey),
  };
  const confPath = path.join(dir, 'kannel.conf');
  fs.writeFileSync(confPath, kannelConf(k));
  /* The sendsms password as lebd's [sms] password_file wants it. */
  const passwordFile = path.join(dir, 'sendsms-password');
  fs.writeFileSync(passwordFile, `${k.password}\n`, { mode: 0o600 });

  const adminUrl = `http://127.0.0.1:${admin}`;
  const received = []; /* complete MT messages, concatenated parts joined */
  const mtLines = []; /* every MT line as fakesmsc printed it, parsed */
  const pendingParts = new Map();
  const mtWaiters = new Set();
  let bearerbox = null;
  let smsboxProc = null;
  let fakesmsc = null;
  let stopped = false;

  const pushMt = (mt) => {
    received.push(mt);
    for (const waiter of mtWaiters) waiter();
  };
  const onMtLine = (line) => {
    const mt = parseMtLine(line);
    if (!mt) {
      mtLines.push({ line, unparsed: true });
      return;
    }
    mtLines.push(mt);
    const concat = mt.udh && parseConcatUdh(mt.udh);
    if (!concat) {
      pushMt(mt);
      return;
    }
    const key = `${mt.from}|${mt.to}|${concat.ref}|${concat.total}`;
    const parts = pendingParts.get(key) || [];
    parts[concat.seq - 1] = mt;
    pendingParts.set(key, parts);
    if (parts.filter(Boolean).length === concat.total) {
      pendingParts.delete(key);
      const raw = Buffer.concat(parts.map((part) => part.raw));
      const decoded = decodeParts(raw);
      pushMt({
        from: mt.from,
        to: mt.to,
        coding: decoded.coding,
        text: decoded.text,
        raw,
        parts: concat.total,
        lines: parts.map((part) => part.line),
      });
    }
  };

  /* fakesmsc's "sent message N" lines, for sendMo()'s one-line-at-a-time rule. */
  let sentCount = 0;
  let sentWaiters = [];
  const startFakesmsc = async () => {
    sentCount = 0;
    sentWaiters = [];
    const proc = spawnLogged(
      'fakesmsc',
      FAKESMSC,
      ['-H', '127.0.0.1', '-r', String(smsc), '-i', '0'],
      { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] },
      (line) => {
        const got = /Got message \d+: <(.*)>$/s.exec(line);
        if (got) {
          onMtLine(got[1]);
          return;
        }
        const sent = /fakesmsc: sent message (\d+)/.exec(line);
        if (sent) {
          sentCount = Number(sent[1]);
          sentWaiters = sentWaiters.filter((w) => !w());
        }
      },
    );
    proc.child.stdin.on('error', () => {
      /* EPIPE once it is gone: sendMo reports that */
    });
    fakesmsc = proc;
    await waitFor(
      () => statusHas(new RegExp(`FAKE:${smsc} \\(online`)),
      'the fake SMSC online (fakesmsc connected)',
      [proc],
    );
  };

  const status = async () => {
    const response = await fetch(`${adminUrl}/status.txt?password=${k.adminPassword}`);
    return response.text();
  };
  const statusHas = async (pattern) => {
    try {
      return pattern.test(await status());
    } catch (_) {
      return false;
    }
  };
  const waitFor = async (check, what, procs, timeoutMs = START_TIMEOUT_MS) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await check()) return;
      for (const proc of procs) {
        if (proc && !proc.running()) {
          throw new Error(
            `${proc.name} exited (${JSON.stringify(proc.exitInfo)}) while waiting for ${what}:\n` +
              tail(proc.lines),
          );
        }
      }
      if (Date.now() > deadline) {
        throw new Error(
          `no ${what} within ${timeoutMs} ms; last lines:\n` +
            procs.filter(Boolean).map((p) => `--- ${p.name}\n${tail(p.lines, 20)}`).join('\n'),
        );
      }
      await delay(50);
    }
  };

  const startBearerboxOnly = async () => {
    bearerbox = spawnLogged('bearerbox', BEARERBOX, ['-v', '1', confPath], { cwd: dir });
    await waitFor(() => statusHas(new RegExp(`FAKE:${smsc} `)), 'bearerbox status page', [bearerbox]);
  };
  const startSmsbox = async () => {
    if (smsboxProc && smsboxProc.running()) return;
    smsboxProc = spawnLogged('smsbox', SMSBOX, ['-v', '1', confPath], { cwd: dir });
    await waitFor(
      async () => {
        if (!(await statusHas(/smsbox:\S*, IP 127\.0\.0\.1/))) return false;
        try {
          await fetch(`http://127.0.0.1:${sendsms}/`);
          return true;
        } catch (_) {
          return false;
        }
      },
      'smsbox connected and its sendsms port answering',
      [smsboxProc, bearerbox],
    );
  };
  const stopSmsbox = async () => {
    await stopProcess(smsboxProc, 'SIGTERM', STOP_TIMEOUT_MS, { mayKill: true });
    /* bearerbox notices the box is gone */
    await waitFor(async () => !(await statusHas(/smsbox:\S*, IP/)), 'smsbox gone from status', [
      bearerbox,
    ]);
  };
  const disconnectSmsc = async () => {
    await stopProcess(fakesmsc);
    await waitFor(
      async () => !(await statusHas(new RegExp(`FAKE:${smsc} \\(online`))),
      'the fake SMSC offline',
      [bearerbox],
    );
  };

  /* Kannel as a whole, in the order that loses nothing: the SMSC side first. */
  const startAll = async () => {
    await startBearerboxOnly();
    await startSmsbox();
    await startFakesmsc();
  };
  const stopAll = async () => {
    await stopProcess(fakesmsc);
    await stopProcess(smsboxProc, 'SIGTERM', STOP_TIMEOUT_MS, { mayKill: true });
    await stopProcess(bearerbox);
  };

  let sendChain = Promise.resolve();
  const sendMo = (from, to, text) => {
    const job = sendChain.then(async () => {
      if (!fakesmsc || !fakesmsc.running()) throw new Error('fakesmsc is not running');
      const printable = /^[\x20-\x7e]*$/.test(text);
      let line;
      if (printable) {
        line = `${from} ${to} text ${text}\n`;
      } else {
        const ucs2 = Buffer.from(text, 'utf16le').swap16();
        line = `${from} ${to} ucs2 ${[...ucs2].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')}\n`;
      }
      if (Buffer.byteLength(line) > 255) {
        throw new Error(`fakesmsc reads lines of up to 255 bytes; this MO is ${Buffer.byteLength(line)}`);
      }
      const want = sentCount + 1;
      const sent = new Promise((resolve) => {
        sentWaiters.push(() => {
          if (sentCount >= want) resolve();
          return sentCount >= want;
        });
      });
      fakesmsc.child.stdin.write(line);
      const ok = await Promise.race([sent.then(() => true), idleDelay(5000).then(() => false)]);
      if (!ok) throw new Error(`fakesmsc did not send ${JSON.stringify(line)}:\n${tail(fakesmsc.lines)}`);
    });
    sendChain = job.catch(() => {});
    return job;
  };

  const waitForMt = async (predicate, timeoutMs = 10000, what = 'a matching MT') => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = received.find(predicate);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `fakesmsc got no ${what} within ${timeoutMs} ms; it got:\n` +
            received.map((mt) => `  ${mt.from} -> ${mt.to} [${mt.coding}] ${JSON.stringify(mt.text)}`).join('\n'),
        );
      }
      await new Promise((resolve) => {
        const waiter = () => {
          mtWaiters.delete(waiter);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(waiter, Math.min(left, 250));
        mtWaiters.add(waiter);
      });
    }
  };

  /* smsbox's sendsms interface; resolves to { status, text }. */
  const sendsmsUrl = `http://127.0.0.1:${sendsms}/cgi-bin/sendsms`;
  const sendsmsFn = async (params) => {
    const query = new URLSearchParams({ username: k.username, password: k.password, ...params });
    const response = await fetch(`${sendsmsUrl}?${query}`);
    return { status: response.status, text: await response.text() };
  };

  const readLog = (name) => {
    try {
      return fs.readFileSync(path.join(dir, name), 'utf8');
    } catch (_) {
      return '';
    }
  };

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      await stopAll();
    } finally {
      for (const proc of [fakesmsc, smsboxProc, bearerbox]) {
        if (proc && proc.running()) {
          proc.child.kill('SIGKILL');
          await proc.exited;
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
    }
  };
  if (opts.t && typeof opts.t.after === 'function') opts.t.after(stop);

  try {
    await startAll();
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }

  /* Points the sms-service at another lebd (or the same one on a new port): rewrites
   * kannel.conf and restarts smsbox; bearerbox keeps what arrives meanwhile. */
  const setLebd = async ({ lebdUrl, smsKey }) => {
    k.getUrl = lebdGetUrl(lebdUrl, smsKey);
    fs.writeFileSync(confPath, kannelConf(k));
    if (smsboxProc && smsboxProc.running()) {
      await stopSmsbox();
      await startSmsbox();
    }
  };

  return {
    sendsmsUrl,
    username: k.username,
    password: k.password,
    passwordFile,
    setLebd,
    adminUrl,
    adminPassword: k.adminPassword,
    dir,
    ports: k.ports,
    received,
    mtLines,
    sendMo,
    sendsms: sendsmsFn,
    waitForMt,
    status,
    stopSmsbox,
    startSmsbox,
    disconnectSmsc,
    connectSmsc: startFakesmsc,
    /* Stops the whole gateway (fakesmsc, smsbox, bearerbox; smsbox would exit with bearerbox
     * anyway); the store file keeps what was queued. */
    stopBearerbox: stopAll,
    startBearerbox: startAll,
    get getUrl() {
      return k.getUrl;
    },
    get running() {
      return Boolean(bearerbox && bearerbox.running());
    },
    logs() {
      return {
        bearerbox: readLog('bearerbox.log'),
        smsbox: readLog('smsbox.log'),
        smsboxAccess: readLog('smsbox-access.log'),
        fakesmsc: fakesmsc ? fakesmsc.lines.join('\n') : '',
      };
    },
    stop,
  };
}

module.exports = {
  startKannel,
  kannelMissing,
  parseMtLine,
  kannelUrlDecode,
  BEARERBOX,
  SMSBOX,
  FAKESMSC,
};
