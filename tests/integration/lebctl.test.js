'use strict';
/*
 * lebctl.test.js - the operator CLI, black-box: the real lebctl binary ($LEBCTL, default
 * build/lebctl) run as a child process, each test with its own $XDG_CONFIG_HOME.
 *
 * The first group needs no server: the command line (usage errors are exit 2), the help, a
 * missing login (exit 3, before anything is sent), an unreachable server (exit 6, naming its
 * URL), and the local validation of a CSV import (a bad check digit is reported with its line
 * number before anything is sent). The second group runs against the real lebd --demo
 * (tests/lib/lebd.js): login and the saved config file, card show, order show, ledger check,
 * plans, cards, and card import in batches.
 */

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const LEBCTL = process.env.LEBCTL || path.join(__dirname, '../../build/lebctl');
const SANITIZED = Boolean(process.env.LEB_TEST_SANITIZED);
const RUN_TIMEOUT_MS = 60000 * (SANITIZED ? 4 : 1);
const DEMO_CARD = '8986010000000000018';

const EXIT = { ok: 0, checkFailed: 1, usage: 2, auth: 3, notFound: 4, refused: 5, server: 6 };

/* ---------------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------------ */

/* The Luhn check digit of a string of digits. */
function luhnDigit(payload) {
  let sum = 0;
  for (let index = 0; index < payload.length; index++) {
    let digit = Number(payload[payload.length - 1 - index]);
    if (index % 2 === 0) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return String((10 - (sum % 10)) % 10);
}

function cardNo(payload18) {
  assert.equal(payload18.length, 18);
  return payload18 + luhnDigit(payload18);
}

/* The same card number with a wrong check digit. */
function breakCheckDigit(card) {
  const wrong = (Number(card[18]) + 1) % 10;
  return card.slice(0, 18) + String(wrong);
}

/* Card and phone numbers no other test of this file uses: a random prefix per run and a
 * serial per number. */
const RUN_PREFIX = String(crypto.randomInt(1000000, 9999999));
const PHONE_PREFIX = String(crypto.randomInt(100, 999));
let nextSerial = 1;
function newCards(count) {
  const cards = [];
  for (let index = 0; index < count; index++) {
    const serial = String(nextSerial++).padStart(6, '0');
    cards.push({
      card_no: cardNo(`89861${RUN_PREFIX}${serial}`),
      msisdn: `+8615${PHONE_PREFIX}${serial}`,
    });
  }
  return cards;
}

function csvOf(cards, plan = 'KEEP8', lineEnd = '\n') {
  const lines = ['card_no,msisdn,plan'];
  for (const card of cards) lines.push(`${card.card_no},${card.msisdn},${plan}`);
  return lines.join(lineEnd) + lineEnd;
}

/* A throwaway $XDG_CONFIG_HOME (and $HOME), removed when the test ends. */
function makeHome(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lebctl-test-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function configPath(home) {
  return path.join(home, 'lebctl', 'config.json');
}

/* Writes a saved login as `lebctl login` would, for tests that need one without a server. */
function writeLogin(home, server, token = 'not-a-real-token') {
  fs.mkdirSync(path.join(home, 'lebctl'), { recursive: true, mode: 0o700 });
  fs.writeFileSync(
    configPath(home),
    JSON.stringify({ server, token, role: 'operator', expires_at: '2099-01-01T00:00:00Z' }),
    { mode: 0o600 },
  );
}

/* lebctl's environment: the caller's without LEB_*, a private config directory, and "env". */
function lebctlEnv(home, env) {
  const result = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('LEB_') && key !== 'LEBD' && key !== 'LEBCTL') result[key] = value;
  }
  result.XDG_CONFIG_HOME = home;
  result.HOME = home;
  if (SANITIZED) result.ASAN_OPTIONS = 'detect_leaks=1';
  for (const [key, value] of Object.entries(env || {})) {
    if (value === null || value === undefined) delete result[key];
    else result[key] = String(value);
  }
  return result;
}

/*
 * Runs lebctl with "args"; "input" goes to its stdin (which is closed either way, so a
 * password prompt can never hang a test). Resolves to {code, signal, stdout, stderr}.
 */
function lebctl(args, { home, input = '', env } = {}) {
  assert.ok(home, 'every run of lebctl gets its own config directory');
  return new Promise((resolve, reject) => {
    const child = spawn(LEBCTL, args, {
      env: lebctlEnv(home, env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${LEBCTL}: ${error.message} (set LEBCTL)`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      for (const pattern of ['ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:']) {
        if (stderr.includes(pattern)) {
          reject(new Error(`sanitizer report from lebctl ${args.join(' ')}:\n${stderr}`));
          return;
        }
      }
      resolve({ code, signal, stdout, stderr });
    });
    /* lebctl may exit before reading its stdin: that is not an error of the test. */
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

function assertExit(result, expected, what) {
  assert.equal(
    result.code,
    expected,
    `${what}: expected exit ${expected}, got ${result.code} (signal ${result.signal})\n` +
      `stdout: ${result.stdout}\nstderr: ${result.stderr}`,
  );
}

/* A loopback URL on which nothing listens: a port bound, then released. */
async function closedServerUrl() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

/* ---------------------------------------------------------------------------------------------
 * Without a server
 * ------------------------------------------------------------------------------------------ */

describe('lebctl without a server', () => {
  let nowhere;
  before(async () => {
    nowhere = await closedServerUrl();
  });

  test('usage errors exit with 2 and print nothing on stdout', async (t) => {
    const home = makeHome(t);
    const cases = [
      [],
      ['frobnicate'],
      ['card'],
      ['card', 'frobnicate'],
      ['card', 'show'],
      ['card', 'show', DEMO_CARD, 'extra'],
      ['card', 'show', DEMO_CARD, '--bogus'],
      ['order', 'show', 'X', '--server'],
      ['plan', 'create', '--code', 'X', '--name', 'X', '--model', 'weekly'],
      ['plan', 'create', '--code', 'X', '--name', 'X', '--model', 'monthly_fee', '--min', '8.00'],
      ['plan', 'create', '--code', 'X', '--code', 'Y', '--name', 'X', '--model', 'validity'],
      ['card', 'import', 'cards.csv', '--batch-size', '0'],
      ['--server', 'ftp://example.com', 'order', 'show', 'X'],
      ['help', 'frobnicate'],
    ];
    for (const args of cases) {
      const result = await lebctl(['--server', nowhere, ...args], { home });
      assertExit(result, EXIT.usage, `lebctl ${args.join(' ')}`);
      assert.equal(result.stdout, '', `lebctl ${args.join(' ')} printed on stdout`);
      assert.match(result.stderr, /\S/, `lebctl ${args.join(' ')} said nothing on stderr`);
    }
  });

  test('--help, help COMMAND and --version exit with 0 and document the exit codes', async (t) => {
    const home = makeHome(t);
    const help = await lebctl(['--help'], { home });
    assertExit(help, EXIT.ok, 'lebctl --help');
    for (const word of ['login', 'card import', 'ledger check', 'plan create', '--json']) {
      assert.ok(help.stdout.includes(word), `--help mentions ${word}`);
    }
    for (const code of [0, 1, 2, 3, 4, 5, 6]) {
      const documented = new RegExp(`^\\s+${code}\\s+\\S`, 'm');
      assert.match(help.stdout, documented, `--help documents exit ${code}`);
    }
    const commandHelp = await lebctl(['card', 'import', '--help'], { home });
    assertExit(commandHelp, EXIT.ok, 'lebctl card import --help');
    assert.match(commandHelp.stdout, /card_no,msisdn,plan/);
    const helpCommand = await lebctl(['help', 'plan', 'create'], { home });
    assertExit(helpCommand, EXIT.ok, 'lebctl help plan create');
    assert.match(helpCommand.stdout, /fen/);
    const version = await lebctl(['--version'], { home });
    assertExit(version, EXIT.ok, 'lebctl --version');
    assert.match(version.stdout, /^lebctl \d+\.\d+\.\d+/);
  });

  test('a command that needs a login exits with 3 when not logged in', async (t) => {
    const home = makeHome(t);
    /* The server is unreachable: had lebctl tried to send, it would exit with 6. */
    for (const args of [
      ['card', 'show', DEMO_CARD],
      ['ledger', 'check'],
      ['plan', 'list'],
      ['card', 'create', '--card-no', DEMO_CARD, '--msisdn', '13800000001', '--plan', 'KEEP8'],
    ]) {
      const result = await lebctl(['--server', nowhere, ...args], { home });
      assertExit(result, EXIT.auth, `lebctl ${args.join(' ')}`);
      assert.match(result.stderr, /not logged in/);
      assert.match(result.stderr, /\(not_logged_in\)/);
    }
  });

  test('a saved login is never used against another server', async (t) => {
    const home = makeHome(t);
    writeLogin(home, 'http://127.0.0.1:9', 'token-for-another-server');
    const result = await lebctl(['--server', nowhere, 'ledger', 'check'], { home });
    assertExit(result, EXIT.auth, 'ledger check against another server');
    assert.ok(!result.stderr.includes('token-for-another-server'), 'the token is never printed');
  });

  test('an unreachable server exits with 6 and names its URL', async (t) => {
    const home = makeHome(t);
    const order = await lebctl(['--server', nowhere, 'order', 'show', 'R2026000000000001'], {
      home,
    });
    assertExit(order, EXIT.server, 'order show against a closed port');
    assert.ok(order.stderr.includes(nowhere), `the message names ${nowhere}: ${order.stderr}`);
    assert.match(order.stderr, /^lebctl: .+ \(\w+\)$/m);

    /* The server from the saved login, and from $LEB_SERVER, are used the same way. */
    writeLogin(home, nowhere);
    const saved = await lebctl(['card', 'show', DEMO_CARD], { home });
    assertExit(saved, EXIT.server, 'card show with the saved login of a dead server');
    assert.ok(saved.stderr.includes(nowhere));
    const fromEnv = await lebctl(['ledger', 'check'], { home, env: { LEB_SERVER: nowhere } });
    assertExit(fromEnv, EXIT.server, 'ledger check with $LEB_SERVER');
    assert.ok(fromEnv.stderr.includes(nowhere));
  });

  test('a card number with a wrong check digit is refused before sending (exit 5)', async (t) => {
    const home = makeHome(t);
    writeLogin(home, nowhere);
    const result = await lebctl(['card', 'show', breakCheckDigit(DEMO_CARD)], { home });
    assertExit(result, EXIT.refused, 'card show with a wrong check digit');
    assert.match(result.stderr, /check digit/);
    assert.match(result.stderr, /\(invalid_card_number\)/);
  });

  test('card import names line 7 for a bad check digit and sends nothing', async (t) => {
    const home = makeHome(t);
    writeLogin(home, nowhere);
    const cards = newCards(12);
    /* Line 1 is the header, so line 7 is the sixth card. */
    cards[5] = { ...cards[5], card_no: breakCheckDigit(cards[5].card_no) };
    const file = path.join(home, 'cards.csv');
    fs.writeFileSync(file, csvOf(cards, 'KEEP8', '\r\n'));
    /* The server is unreachable: an exit of 5 rather than 6 proves nothing was sent. */
    const result = await lebctl(['card', 'import', file], { home });
    assertExit(result, EXIT.refused, 'card import of a file with a bad row');
    assert.match(result.stderr, /line 7\b/);
    assert.ok(!/line (?!7\b)\d+/.test(result.stderr), `only line 7 is blamed: ${result.stderr}`);
    assert.match(result.stderr, /nothing was imported/);
    assert.equal(result.stdout, '');

    /* The same from stdin, with a byte order mark and quoted fields. */
    const quoted = '\ufeff' + csvOf(cards).replace(/^(\d+),/gm, '"$1",');
    const fromStdin = await lebctl(['card', 'import', '-'], { home, input: quoted });
    assertExit(fromStdin, EXIT.refused, 'card import - of a file with a bad row');
    assert.match(fromStdin.stderr, /stdin line 7\b/);
  });

  test('card import reports malformed CSV and repeated cards with their lines', async (t) => {
    const home = makeHome(t);
    writeLogin(home, nowhere);
    const [first, second] = newCards(2);
    const cases = [
      ['card_no,msisdn\n', /line 1\b.*plan/],
      [`${first.card_no},${first.msisdn},KEEP8\n`, /line 1\b.*header/],
      [`card_no,msisdn,plan\n${first.card_no},${first.msisdn}\n`, /line 2\b.*fields/],
      [`card_no,msisdn,plan\n${first.card_no},${first.msisdn},"KEEP8\n`, /never closed/],
      [
        `card_no,msisdn,plan\n${first.card_no},${first.msisdn},KEEP8\n` +
          `${second.card_no},${second.msisdn},KEEP8\n${first.card_no},${second.msisdn},KEEP8\n`,
        /line 4\b.*already on line 2/,
      ],
      [`card_no,msisdn,plan\n${first.card_no},12345,KEEP8\n`, /line 2\b.*invalid_phone_number/],
    ];
    for (const [csv, pattern] of cases) {
      const result = await lebctl(['card', 'import', '-'], { home, input: csv });
      assertExit(result, EXIT.refused, `card import of ${JSON.stringify(csv)}`);
      assert.match(result.stderr, pattern);
    }
  });
});

/* ---------------------------------------------------------------------------------------------
 * Against lebd --demo
 * ------------------------------------------------------------------------------------------ */

describe('lebctl against lebd --demo', () => {
  let lebd;
  before(async () => {
    /* Required here, not at the top: the tests above must run without lebd. */
    const { startLebd } = require('../lib/lebd.js');
    lebd = await startLebd({ demo: true });
  });
  after(async () => {
    if (lebd) await (typeof lebd.close === 'function' ? lebd.close() : lebd.stop());
  });

  async function login(home) {
    const result = await lebctl(['login', '--server', lebd.url], {
      home,
      input: `${lebd.adminPassword}\n`,
    });
    assertExit(result, EXIT.ok, 'lebctl login');
    return result;
  }

  test('login with a wrong password exits with 3 and saves nothing', async (t) => {
    const home = makeHome(t);
    const result = await lebctl(['login', '--server', lebd.url, '--username', 'admin'], {
      home,
      input: 'certainly-not-the-password\n',
    });
    assertExit(result, EXIT.auth, 'login with a wrong password');
    assert.match(result.stderr, /\(invalid_credentials\)/);
    assert.ok(!fs.existsSync(configPath(home)), 'no config file after a failed login');
  });

  test('login saves the token in a 0600 file and never prints it; logout deletes it', async (t) => {
    const home = makeHome(t);
    const result = await login(home);
    const stat = fs.statSync(configPath(home));
    assert.equal(stat.mode & 0o777, 0o600, `config mode ${(stat.mode & 0o777).toString(8)}`);
    assert.equal(fs.statSync(path.join(home, 'lebctl')).mode & 0o777, 0o700);
    const saved = JSON.parse(fs.readFileSync(configPath(home), 'utf8'));
    assert.equal(saved.server, lebd.url);
    assert.equal(typeof saved.token, 'string');
    assert.ok(saved.token.length > 0);
    assert.ok('role' in saved && 'expires_at' in saved);
    assert.ok(!result.stdout.includes(saved.token) && !result.stderr.includes(saved.token));

    /* $LEB_PASSWORD works as well, and --json does not print the token either. */
    const json = await lebctl(['login', '--server', lebd.url, '--json'], {
      home,
      env: { LEB_PASSWORD: lebd.adminPassword },
    });
    assertExit(json, EXIT.ok, 'login with $LEB_PASSWORD');
    const document = JSON.parse(json.stdout);
    assert.equal(document.server, lebd.url);
    const token = JSON.parse(fs.readFileSync(configPath(home), 'utf8')).token;
    assert.ok(!json.stdout.includes(token), 'login --json does not print the token');

    const logout = await lebctl(['logout'], { home });
    assertExit(logout, EXIT.ok, 'logout');
    assert.ok(!fs.existsSync(configPath(home)), 'logout deletes the config file');
    const after = await lebctl(['card', 'show', DEMO_CARD], { home });
    assertExit(after, EXIT.auth, 'card show after logout');
  });

  test('card show of the demo card: aligned key: value lines, or the raw JSON', async (t) => {
    const home = makeHome(t);
    await login(home);
    const human = await lebctl(['card', 'show', DEMO_CARD], { home });
    assertExit(human, EXIT.ok, 'card show');
    assert.match(human.stdout, new RegExp(`^card_no:\\s+${DEMO_CARD}$`, 'm'));
    assert.match(human.stdout, /^msisdn:\s+\+8613800000001$/m);
    assert.match(human.stdout, /^status:\s+active$/m);
    assert.match(human.stdout, /^balance:\s+-?\d+\.\d{2} CNY$/m);
    /* Aligned: every value starts in the same column. */
    const columns = human.stdout
      .trim()
      .split('\n')
      .map((line) => line.search(/(?<=:\s+)\S/));
    assert.ok(columns.every((column) => column === columns[0]), human.stdout);

    const json = await lebctl(['card', 'show', DEMO_CARD, '--json'], { home });
    assertExit(json, EXIT.ok, 'card show --json');
    const card = JSON.parse(json.stdout);
    assert.equal(card.card_no, DEMO_CARD);
    assert.equal(card.msisdn, '+8613800000001');
    assert.equal(card.currency, 'CNY');
    assert.ok(Number.isInteger(card.balance));

    /* A phone number and a spaced card number find the same card. */
    const byPhone = await lebctl(['--json', 'card', 'show', '13800000001'], { home });
    assertExit(byPhone, EXIT.ok, 'card show by phone number');
    assert.equal(JSON.parse(byPhone.stdout).card_no, DEMO_CARD);
  });

  test('order show of an unknown order exits with 4', async (t) => {
    const home = makeHome(t);
    const result = await lebctl(['--server', lebd.url, 'order', 'show', 'NO-SUCH-ORDER-42'], {
      home,
    });
    assertExit(result, EXIT.notFound, 'order show of an unknown order');
    assert.match(result.stderr, /^lebctl: .+ \(order_not_found\)$/m);
  });

  test('outbox list shows the messages a recharge wrote; resend refuses one that is not dead', async (t) => {
    const { createOrder, notify } = require('../lib/client.js');
    const home = makeHome(t);
    await login(home);
    const order = await createOrder(lebd, {
      card: DEMO_CARD,
      face_amount: 5000,
      channel: 'web',
      payment_method: 'sandbox',
    });
    assert.equal(order.status, 201);
    const paid = await notify(lebd, {
      order_no: order.body.order_no,
      trade_no: `CTL-OUTBOX-${crypto.randomInt(1e9)}`,
      amount: order.body.pay_amount,
      status: 'SUCCESS',
    });
    assert.equal(paid.status, 200);

    const listed = await lebctl(['outbox', 'list', '--kind', 'webhook'], { home });
    assertExit(listed, EXIT.ok, 'outbox list');
    assert.match(listed.stdout, /^ID\s+KIND\s+TO\s+WHAT\s+STATUS/m);
    assert.match(listed.stdout, /webhook\s+telecom\s+card\.recharged\s+pending/);
    assert.ok(!/\bsms\b/.test(listed.stdout.split('\n').slice(1).join('\n')), 'only webhooks');

    const json = await lebctl(['outbox', 'list', '--status', 'pending', '--json'], { home });
    assertExit(json, EXIT.ok, 'outbox list --json');
    const messages = JSON.parse(json.stdout).messages;
    assert.ok(messages.length >= 2);
    assert.ok(messages.every((message) => message.status === 'pending'));
    const dead = await lebctl(['outbox', 'list', '--status', 'dead'], { home });
    assertExit(dead, EXIT.ok, 'outbox list --status dead');
    assert.equal(dead.stdout.trim().split('\n').length, 1, 'only the header: no dead letters');

    const resend = await lebctl(['outbox', 'resend', String(messages[0].id)], { home });
    assertExit(resend, EXIT.refused, 'resend of a pending message');
    assert.match(resend.stderr, /\(illegal_transition\)/);
    assertExit(await lebctl(['outbox', 'resend', '999999999'], { home }), EXIT.notFound, 'unknown id');
    assertExit(await lebctl(['outbox', 'resend', 'abc'], { home }), EXIT.usage, 'not a number');
    assertExit(await lebctl(['outbox', 'list', '--status', 'lost'], { home }), EXIT.refused,
      'an unknown status is refused by the server');

    /* The SMS gateway's delivery reports: a column, and a filter. */
    const sms = await lebctl(['outbox', 'list', '--kind', 'sms'], { home });
    assertExit(sms, EXIT.ok, 'outbox list --kind sms');
    assert.match(sms.stdout, /^ID\s+KIND\s+TO\s+WHAT\s+STATUS\s+ATTEMPTS\s+NEXT\s+DELIVERY/m);
    const noReport = await lebctl(['outbox', 'list', '--kind', 'sms', '--delivery', 'none', '--json'], { home });
    assertExit(noReport, EXIT.ok, 'outbox list --delivery none');
    assert.ok(JSON.parse(noReport.stdout).messages.some((m) => m.payload.template === 'recharge_succeeded'));
    const delivered = await lebctl(['outbox', 'list', '--delivery', 'delivered', '--json'], { home });
    assertExit(delivered, EXIT.ok, 'outbox list --delivery delivered');
    assert.deepEqual(JSON.parse(delivered.stdout).messages, [], 'no report came: no gateway here');
    assertExit(await lebctl(['outbox', 'list', '--delivery', 'arrived'], { home }), EXIT.refused,
      'an unknown delivery state is refused by the server');

    /* The counts: a row per kind; SMS also by delivery report. */
    const summary = await lebctl(['outbox', 'summary'], { home });
    assertExit(summary, EXIT.ok, 'outbox summary');
    assert.match(summary.stdout, /^KIND\s+PENDING\s+DELIVERED\s+DEAD\s+QUEUED/m);
    assert.match(summary.stdout, /^sms\s+\d+\s+\d+\s+\d+/m);
    assert.match(summary.stdout, /^webhook\s+[1-9]\d*\s+0\s+0\s+-/m, 'webhooks wait: no telecom URL');
    const summaryJson = await lebctl(['outbox', 'summary', '--json'], { home });
    assertExit(summaryJson, EXIT.ok, 'outbox summary --json');
    assert.ok(JSON.parse(summaryJson.stdout).kinds.sms.pending >= 1);
  });

  test('order list --status review and order resolve: a decision with its reason, once', async (t) => {
    const { createOrder, notify } = require('../lib/client.js');
    const home = makeHome(t);
    await login(home);
    const order = await createOrder(lebd, {
      card: DEMO_CARD,
      face_amount: 5000,
      channel: 'web',
      payment_method: 'sandbox',
    });
    assert.equal(order.status, 201);
    const paid = await notify(lebd, {
      order_no: order.body.order_no,
      trade_no: `CTL-REVIEW-${crypto.randomInt(1e9)}`,
      amount: order.body.pay_amount - 1,
      status: 'SUCCESS',
    });
    assert.equal(paid.status, 200);
    const listed = await lebctl(['order', 'list', '--status', 'review'], { home });
    assertExit(listed, EXIT.ok, 'order list');
    assert.match(listed.stdout, /^ORDER\s+STATUS\s+CARD\s+PAY/m);
    assert.ok(listed.stdout.includes(order.body.order_no), listed.stdout);
    assert.match(listed.stdout, /review/);

    const orderNo = order.body.order_no;
    assertExit(await lebctl(['order', 'resolve', orderNo, '--credit'], { home }), EXIT.usage, 'no reason');
    assertExit(await lebctl(['order', 'resolve', orderNo, '--reason', 'x'], { home }), EXIT.usage, 'no action');
    assertExit(await lebctl(['order', 'resolve', orderNo, '--credit', '--refund', '--reason', 'x'], { home }),
      EXIT.usage, 'both actions');
    const resolved = await lebctl(['order', 'resolve', orderNo, '--credit', '--reason', 'short by 1 fen, payer known'], { home });
    assertExit(resolved, EXIT.ok, 'order resolve');
    assert.match(resolved.stdout, /succeeded/);
    const again = await lebctl(['order', 'resolve', orderNo, '--refund', '--reason', 'again'], { home });
    assertExit(again, EXIT.refused, 'a second decision');
    assert.match(again.stderr, /\(illegal_transition\)/);
    assertExit(await lebctl(['order', 'resolve', 'LEB20990101T000000R0000000000', '--credit', '--reason', 'x'], { home }),
      EXIT.notFound, 'no such order');
    /* The decision, in the audit log. */
    const audit = await lebctl(['audit', 'list', '--subject', orderNo], { home });
    assertExit(audit, EXIT.ok, 'audit list');
    assert.match(audit.stdout, /^ID\s+AT\s+WHO\s+ACTION\s+SUBJECT\s+REASON/m);
    assert.match(audit.stdout, /admin\s+order\.credit\s+\S+\s+short by 1 fen, payer known/);
    const auditJson = await lebctl(['audit', 'list', '--subject', orderNo, '--json'], { home });
    assert.equal(JSON.parse(auditJson.stdout).entries.length, 1, 'one decision');
    assertExit(await lebctl(['audit', 'list', '--limit', '0'], { home }), EXIT.usage, 'a zero limit');
    assertExit(await lebctl(['order', 'list'], { home }), EXIT.usage, 'no status');
    assertExit(await lebctl(['order', 'list', '--status', 'lost'], { home }), EXIT.refused, 'an unknown status');
  });

  test('ledger check of the demo ledger: balanced, exit 0', async (t) => {
    const home = makeHome(t);
    await login(home);
    const human = await lebctl(['ledger', 'check'], { home });
    assertExit(human, EXIT.ok, 'ledger check');
    assert.match(human.stdout, /^balanced: yes, \d+ transactions, \d+ accounts$/m);
    const json = await lebctl(['ledger', 'check', '--json'], { home });
    assertExit(json, EXIT.ok, 'ledger check --json');
    const check = JSON.parse(json.stdout);
    assert.equal(check.balanced, true);
    assert.deepEqual(check.mismatches, []);
  });

  test('plan create, then plan list shows it', async (t) => {
    const home = makeHome(t);
    await login(home);
    const code = `CTL${crypto.randomInt(100000, 999999)}`;
    const args = ['plan', 'create', '--code', code, '--name', '保号测试', '--currency', 'CNY',
      '--model', 'monthly_fee', '--monthly-fee', '800', '--denominations', '5000,10000,20000',
      '--min', '1000', '--max', '50000', '--step', '100', '--grace-days', '90'];
    const created = await lebctl(args, { home });
    assertExit(created, EXIT.ok, 'plan create');
    assert.ok(created.stdout.includes(code));
    const again = await lebctl(args, { home });
    assertExit(again, EXIT.refused, 'plan create of an existing code');
    assert.match(again.stderr, /\(plan_exists\)/);

    const list = await lebctl(['plan', 'list'], { home });
    assertExit(list, EXIT.ok, 'plan list');
    const lines = list.stdout.trim().split('\n');
    assert.match(lines[0], /^CODE\s+NAME\s+/);
    const row = lines.find((line) => line.startsWith(`${code} `));
    assert.ok(row, `plan list shows ${code}:\n${list.stdout}`);
    assert.ok(row.includes('8.00'), `the monthly fee in yuan: ${row}`);
    assert.ok(lines.some((line) => line.startsWith('KEEP8 ')), 'the demo plan is listed');

    const json = await lebctl(['plan', 'list', '--json'], { home });
    assertExit(json, EXIT.ok, 'plan list --json');
    const plan = JSON.parse(json.stdout).plans.find((item) => item.code === code);
    assert.ok(plan);
    assert.equal(plan.monthly_fee, 800);
    assert.deepEqual(plan.denominations, [5000, 10000, 20000]);
  });

  test('card create, then card show finds it', async (t) => {
    const home = makeHome(t);
    await login(home);
    const [card] = newCards(1);
    const args = ['card', 'create', '--card-no', card.card_no, '--msisdn', card.msisdn,
      '--plan', 'KEEP8'];
    const created = await lebctl([...args, '--status', 'active'], { home });
    assertExit(created, EXIT.ok, 'card create');
    assert.ok(created.stdout.includes(card.card_no));
    const shown = await lebctl(['card', 'show', card.card_no, '--json'], { home });
    assertExit(shown, EXIT.ok, 'card show of the new card');
    assert.equal(JSON.parse(shown.stdout).status, 'active');
    const again = await lebctl(args, { home });
    assertExit(again, EXIT.refused, 'card create of an existing card');
    assert.match(again.stderr, /\(card_exists\)/);
    const [other] = newCards(1);
    const noPlan = await lebctl(['card', 'create', '--card-no', other.card_no, '--msisdn',
      other.msisdn, '--plan', 'NO_SUCH_PLAN'], { home });
    assertExit(noPlan, EXIT.refused, 'card create with an unknown plan');
    assert.match(noPlan.stderr, /\(plan_not_found\)/);
  });

  test('card import of 1200 generated rows, in batches, quietly', async (t) => {
    const home = makeHome(t);
    await login(home);
    const cards = newCards(1200);
    const file = path.join(home, 'cards.csv');
    fs.writeFileSync(file, csvOf(cards));
    const result = await lebctl(['card', 'import', file], { home });
    assertExit(result, EXIT.ok, 'card import');
    assert.match(result.stdout, /^imported 1200 cards in 3 batches$/m);
    assert.ok(!result.stderr.includes('['), `no progress bar off a TTY: ${result.stderr}`);
    const shown = await lebctl(['card', 'show', cards[777].card_no], { home });
    assertExit(shown, EXIT.ok, 'card show of an imported card');
    assert.match(shown.stdout, new RegExp(`^card_no:\\s+${cards[777].card_no}$`, 'm'));
    assert.ok(shown.stdout.includes(cards[777].msisdn));
    const ledger = await lebctl(['ledger', 'check'], { home });
    assertExit(ledger, EXIT.ok, 'ledger check after the import');
  });

  test('card import with a bad check digit on line 7 imports nothing', async (t) => {
    const home = makeHome(t);
    await login(home);
    const cards = newCards(20);
    cards[5] = { ...cards[5], card_no: breakCheckDigit(cards[5].card_no) };
    const file = path.join(home, 'bad.csv');
    fs.writeFileSync(file, csvOf(cards));
    const result = await lebctl(['card', 'import', file], { home });
    assert.notEqual(result.code, EXIT.ok, 'the import fails');
    assertExit(result, EXIT.refused, 'card import of a file with a bad row');
    assert.match(result.stderr, /line 7\b/);
    const shown = await lebctl(['card', 'show', cards[0].card_no], { home });
    assertExit(shown, EXIT.notFound, 'card show of a valid row of the refused file');
  });

  test('a batch lebd refuses is reported by CSV line, and none of it is written', async (t) => {
    const home = makeHome(t);
    await login(home);
    const cards = newCards(6);
    /* Line 5 is the demo card, which exists: lebd refuses the whole batch. */
    cards[3] = { card_no: DEMO_CARD, msisdn: cards[3].msisdn };
    const result = await lebctl(['card', 'import', '-'], { home, input: csvOf(cards) });
    assertExit(result, EXIT.refused, 'card import of a batch with an existing card');
    assert.match(result.stderr, /\(invalid_batch\)/);
    assert.match(result.stderr, /line 5\b.*\(card_exists\)/);
    const shown = await lebctl(['card', 'show', cards[0].card_no], { home });
    assertExit(shown, EXIT.notFound, 'card show of another row of the refused batch');
  });
});
