'use strict';
/*
 * client.js - HTTP helpers for the black-box tests: JSON requests, the admin login, signed
 * sandbox notifications, orders, card numbers, the ledger check and polling.
 *
 * api() fails the test on any 5xx answer unless told otherwise: no input may crash or break
 * lebd (DESIGN.md guarantee 4), so a 5xx is always worth a look.
 */

const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const { TIME_SCALE, delay } = require('./lebd');

/* The demo data of API.md. */
const DEMO = {
  active: { card_no: '8986010000000000018', msisdn: '+8613800000001' },
  suspended: { card_no: '8986010000000000026', msisdn: '+8613800000002' },
  recycled: { card_no: '8986010000000000034', msisdn: '+8613800000003' },
  plan: {
    code: 'KEEP8',
    currency: 'CNY',
    denominations: [5000, 10000, 20000],
    min_amount: 1000,
    max_amount: 50000,
  },
};

const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

function describeRequest(method, path) {
  return `${method} ${path.length > 120 ? `${path.slice(0, 120)}...` : path}`;
}

/*
 * api(lebd, method, path, {body, headers, token, raw, allow5xx}) sends one request.
 * "body" is sent as JSON; "raw" (a string or a Buffer) is sent as it is. Either way the
 * content type is application/json unless "headers" says otherwise; a header given as null
 * is not sent (a string body without a content type would get text/plain from fetch, so use
 * a Buffer for "no content type"). Resolves to {status, headers, body, text}: "body" is the
 * parsed JSON, or null when the answer is not JSON.
 */
async function api(lebd, method, path, options = {}) {
  const { body, raw, token, allow5xx = false } = options;
  const headers = {};
  let payload;
  if (raw !== undefined) {
    payload = raw;
    headers['content-type'] = 'application/json';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  if (token) headers.authorization = `Bearer ${token}`;
  for (const [name, value] of Object.entries(options.headers || {})) {
    const lower = name.toLowerCase();
    if (value === null || value === undefined) delete headers[lower];
    else headers[lower] = String(value);
  }

  let response;
  try {
    response = await fetch(lebd.url + path, { method, headers, body: payload, redirect: 'manual' });
  } catch (error) {
    const cause = error.cause ? `: ${error.cause.code || error.cause.message}` : '';
    const wrapped = new Error(`${describeRequest(method, path)} failed${cause} (${error.message})`);
    wrapped.cause = error;
    throw wrapped;
  }
  const text = await response.text();
  let parsed = null;
  try {
    parsed = JSON.parse(text);
  } catch (_) {
    parsed = null;
  }
  const result = { status: response.status, headers: response.headers, body: parsed, text };
  if (!allow5xx) {
    assert.ok(
      response.status < 500,
      `${describeRequest(method, path)} answered ${response.status}: ${text.slice(0, 500)}`,
    );
  }
  return result;
}

/* Asserts an error answer: the status and the contract's error code, and a message. */
function assertError(response, status, code, what = '') {
  const label = what ? `${what}: ` : '';
  assert.equal(
    response.status,
    status,
    `${label}expected ${status} ${code}, got ${response.status}: ${response.text.slice(0, 300)}`,
  );
  assert.ok(
    response.body && typeof response.body === 'object' && response.body.error,
    `${label}an error body {"error":{...}} is expected, got: ${response.text.slice(0, 300)}`,
  );
  assert.equal(
    response.body.error.code,
    code,
    `${label}expected ${status} ${code}, got ${response.status} ${response.body.error.code}: ` +
      response.text.slice(0, 300),
  );
  assert.equal(typeof response.body.error.message, 'string', `${label}error message`);
  assert.ok(response.body.error.message.length > 0, `${label}error message is empty`);
}

/* Asserts a 2xx status, with the body in the message when it is not. */
function assertStatus(response, status, what = '') {
  assert.equal(
    response.status,
    status,
    `${what ? `${what}: ` : ''}expected ${status}, got ${response.status}: ` +
      response.text.slice(0, 300),
  );
}

/* Logs in as the demo admin and returns the token. */
async function login(lebd, username = 'admin', password = lebd.adminPassword) {
  const response = await api(lebd, 'POST', '/api/v1/auth/login', {
    body: { username, password },
  });
  assertStatus(response, 200, 'admin login');
  assert.equal(typeof response.body.token, 'string');
  return response.body.token;
}

/* The lowercase hex HMAC-SHA256 of the exact raw body. */
function signSandbox(body, secret) {
  return crypto.createHmac('sha256', secret).update(body).digest('hex');
}

function randomTradeNo() {
  return `T${Date.now()}${crypto.randomBytes(6).toString('hex')}`;
}

/*
 * The raw body of a sandbox notification. Fields given as undefined are left out; "extra"
 * fields are added.
 */
function notifyBody({ order_no, trade_no, amount, status = 'SUCCESS', ...extra }) {
  const body = { order_no, trade_no: trade_no === undefined ? randomTradeNo() : trade_no, amount, status, ...extra };
  for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
  return JSON.stringify(body);
}

/*
 * notify(lebd, {order_no, trade_no, amount, status}, options) posts a sandbox notification
 * to /api/v1/payments/sandbox/notify, signed with options.secret (default lebd's).
 * options.tamper: true changes one byte of the body after signing; a function (raw) => raw
 * changes it as it likes. options.signature: send this header value instead;
 * options.signature === null: send no signature header. options.raw: this exact body.
 */
async function notify(lebd, fields, options = {}) {
  let raw = options.raw !== undefined ? options.raw : notifyBody(fields);
  const secret = options.secret === undefined ? lebd.sandboxSecret : options.secret;
  let signature = signSandbox(raw, secret);
  if (options.tamper === true) raw = tamperOneByte(raw);
  else if (typeof options.tamper === 'function') raw = options.tamper(raw);
  if (options.signature !== undefined) signature = options.signature;
  const headers = { ...(options.headers || {}) };
  if (signature !== null) headers['X-Sandbox-Signature'] = signature;
  return api(lebd, 'POST', '/api/v1/payments/sandbox/notify', {
    raw,
    headers,
    allow5xx: options.allow5xx,
  });
}

/* Changes one byte of a notification body, keeping it valid JSON: the last digit of the
 * amount if there is one, else one character of the order number. */
function tamperOneByte(raw) {
  const amount = /("amount":-?\d*)(\d)/.exec(raw);
  if (amount) {
    const digit = amount[2] === '9' ? '8' : String(Number(amount[2]) + 1);
    const at = amount.index + amount[1].length;
    return raw.slice(0, at) + digit + raw.slice(at + 1);
  }
  const at = raw.indexOf('"order_no":"') + '"order_no":"'.length;
  return raw.slice(0, at) + (raw[at] === 'X' ? 'Y' : 'X') + raw.slice(at + 1);
}

/* POST /api/v1/orders; resolves to the api() response (the caller asserts). */
function createOrder(lebd, fields, idemKey, options = {}) {
  const body = { channel: 'web', payment_method: 'sandbox', ...fields };
  const headers = { ...(options.headers || {}) };
  if (idemKey !== undefined && idemKey !== null) headers['Idempotency-Key'] = idemKey;
  return api(lebd, 'POST', '/api/v1/orders', { body, headers });
}

/* Creates an order and asserts the 201; resolves to the order. */
async function createOrderOk(lebd, fields, idemKey) {
  const response = await createOrder(lebd, fields, idemKey);
  assertStatus(response, 201, `order ${JSON.stringify(fields)}`);
  assert.equal(typeof response.body.order_no, 'string');
  return response.body;
}

function getOrder(lebd, orderNo) {
  return api(lebd, 'GET', `/api/v1/orders/${encodeURIComponent(orderNo)}`);
}

/* The Luhn check digit appended to 18 digits: a valid 19-digit card number. */
function luhnCardNo(prefix18) {
  const digits = String(prefix18);
  assert.match(digits, /^\d{18}$/, 'luhnCardNo takes 18 digits');
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return digits + String((10 - (sum % 10)) % 10);
}

/* GET /api/v1/admin/ledger/check; resolves to the body (asserts the 200). */
async function ledgerCheck(lebd, token) {
  const response = await api(lebd, 'GET', '/api/v1/admin/ledger/check', {
    token: token || (await login(lebd)),
  });
  assertStatus(response, 200, 'ledger check');
  return response.body;
}

async function assertLedgerBalanced(lebd, token) {
  const check = await ledgerCheck(lebd, token);
  assert.equal(check.balanced, true, `ledger not balanced: ${JSON.stringify(check)}`);
  assert.deepEqual(check.mismatches, [], 'ledger mismatches');
  return check;
}

/* GET /api/v1/cards/{number}/balance with a token; resolves to the body (asserts the 200). */
async function getBalance(lebd, number, token) {
  const response = await api(lebd, 'GET', `/api/v1/cards/${encodeURIComponent(number)}/balance`, {
    token,
  });
  assertStatus(response, 200, `balance of ${number}`);
  assert.ok(Number.isSafeInteger(response.body.balance), 'balance is an integer');
  return response.body;
}

/*
 * Polls "check" (an async function returning a value, or undefined/false to go on) every
 * "interval_ms" until it gives something or "timeout_ms" (scaled for sanitized builds)
 * passed; then fails with "what".
 */
async function pollUntil(check, { timeout_ms = 5000, interval_ms = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout_ms * TIME_SCALE;
  let last;
  for (;;) {
    last = await check();
    if (last) return last;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout_ms * TIME_SCALE} ms waiting for ${what}`);
    }
    await delay(interval_ms);
  }
}

/* Polls the order until its status is one of "statuses"; resolves to the order. */
async function waitForOrderStatus(lebd, orderNo, statuses, timeout_ms = 5000) {
  const wanted = Array.isArray(statuses) ? statuses : [statuses];
  let seen = null;
  try {
    return await pollUntil(
      async () => {
        const response = await getOrder(lebd, orderNo);
        assertStatus(response, 200, `GET order ${orderNo}`);
        seen = response.body.status;
        return wanted.includes(seen) ? response.body : null;
      },
      { timeout_ms, what: `order ${orderNo} to be ${wanted.join('|')}` },
    );
  } catch (error) {
    error.message += ` (last status: ${seen})`;
    throw error;
  }
}

/* Runs "worker" over "items" with at most "limit" in flight; resolves to the results in
 * order (each {ok, value} or {ok:false, error}). */
async function mapLimit(items, limit, worker) {
  const results = new Array(items.length);
  let next = 0;
  async function lane() {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = { ok: true, value: await worker(items[index], index) };
      } catch (error) {
        results[index] = { ok: false, error };
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/* The value of one sample of the Prometheus text "text": name and, optionally, labels that
 * must all match. Sums the samples that match; null when none does. */
function metricValue(text, name, labels = {}) {
  let total = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const sampleLabels = {};
    for (const pair of (match[3] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      sampleLabels[pair[1]] = pair[2];
    }
    if (Object.entries(labels).every(([key, value]) => sampleLabels[key] === String(value))) {
      total = (total || 0) + Number(match[4]);
    }
  }
  return total;
}

async function getMetrics(lebd) {
  const response = await api(lebd, 'GET', '/metrics');
  assertStatus(response, 200, 'metrics');
  return response.text;
}

/* Minor units as yuan with two decimals, as lebd's money_format writes them. */
function formatYuan(minor) {
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

module.exports = {
  DEMO,
  RFC3339_UTC,
  api,
  assertError,
  assertStatus,
  login,
  signSandbox,
  notifyBody,
  notify,
  tamperOneByte,
  randomTradeNo,
  createOrder,
  createOrderOk,
  getOrder,
  luhnCardNo,
  ledgerCheck,
  assertLedgerBalanced,
  getBalance,
  pollUntil,
  waitForOrderStatus,
  mapLimit,
  metricValue,
  getMetrics,
  formatYuan,
};
