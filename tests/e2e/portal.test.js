'use strict';
/*
 * portal.test.js - the cardholder portal (/portal.html) in a real browser (Chromium through
 * playwright-core) against the real lebd: a cardholder logs in with the code the SMS gateway
 * received, sees the card, sees a top-up in the history, turns auto-renewal on and off, reads
 * the page in English, logs out; wrong codes, a number without a card, asking again too soon and
 * a session the server dropped each get their message.
 *
 * lebd runs in --test-mode with a recording stand-in of Kannel's sendsms interface (as in
 * integration/portal.test.js): the code is read where the cardholder reads it, in the SMS text.
 * One lebd serves the whole file; a number gets a new code once a minute and five an hour, so
 * the business clock is moved on before a number is asked a code again (codeWindow()).
 *
 * Run: cd tests && LEBD=../build/lebd node --test e2e/portal.test.js
 * The phone-sized screenshots land in tests/.tmp/ (gitignored) for a person to look at.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const { startLebd } = require('../lib/lebd.js');
const {
  DEMO,
  api,
  assertStatus,
  createOrderOk,
  login,
  notify,
  pollUntil,
  waitForOrderStatus,
} = require('../lib/client.js');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WEB_ROOT = path.join(__dirname, '../../web');
const SHOTS = path.join(__dirname, '../.tmp');
const PHONE = { width: 360, height: 740 };
const NARROW = { width: 320, height: 640 };
const STEP_TIMEOUT_MS = 10000;
const TAP_MIN_PX = 44;

const ACTIVE = DEMO.active; /* 8986010000000000018, +8613800000001, active */
const SUSPENDED = DEMO.suspended; /* 8986010000000000026, +8613800000002, suspended */
const NO_CARD = { typed: '139 0000 0009', msisdn: '+8613900000009' };

/* What the page says after a code request, card or not (portal.js codeSent). */
const CODE_SENT = '验证码已发送，请查看短信';
const SESSION_KEY = 'leb.portal.session';

let lebd;
let gateway;
let admin;
let browser;
let dir;

/* ------------------------------------------------------------------------------------------
 * lebd, the SMS gateway, the browser
 * ---------------------------------------------------------------------------------------- */

/* A sendsms stand-in: records every request and answers as Kannel does. */
async function startGateway() {
  const recorded = { requests: [] };
  const server = http.createServer((request, response) => {
    const url = new URL(request.url, 'http://gateway');
    recorded.requests.push({ path: url.pathname, query: Object.fromEntries(url.searchParams) });
    response.writeHead(202, { 'content-type': 'text/plain' }).end('0: Accepted for delivery');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  recorded.server = server;
  recorded.url = `http://127.0.0.1:${server.address().port}/cgi-bin/sendsms`;
  recorded.to = (msisdn) => recorded.requests.filter((request) => request.query.to === msisdn);
  return recorded;
}

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (set CHROMIUM)`);
  fs.mkdirSync(SHOTS, { recursive: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leb-portal-e2e-'));
  const passwordFile = path.join(dir, 'password');
  fs.writeFileSync(passwordFile, 'gateway-secret\n');
  gateway = await startGateway();
  lebd = await startLebd({
    testMode: true,
    args: ['--web-root', WEB_ROOT],
    env: {
      LEB_SMS_SENDSMS_URL: gateway.url,
      LEB_SMS_USERNAME: 'leb',
      LEB_SMS_PASSWORD_FILE: passwordFile,
      LEB_OUTBOX_INTERVAL_S: '1',
      /* Moving the clock must change nothing but the codes' limits. */
      LEB_LIFECYCLE_INTERVAL_S: '86400',
      LEB_ORDERS_EXPIRY_INTERVAL_S: '3600',
      LEB_LIMITS_PORTAL_CODES_PER_CLIENT_PER_HOUR: '1000',
    },
  });
  admin = await login(lebd);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (lebd) await lebd.close();
  if (gateway) await new Promise((resolve) => gateway.server.close(resolve));
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/* A fresh phone-sized tab; JavaScript errors on the page fail the test. Layout shifts that no
 * input caused are summed in window.__cls from the first paint of every page load. */
async function openPhone(t, viewport = PHONE) {
  const context = await browser.newContext({
    viewport,
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: 'zh-CN',
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  await context.addInitScript(() => {
    window.__cls = 0;
    try {
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) if (!entry.hadRecentInput) window.__cls += entry.value;
      }).observe({ type: 'layout-shift', buffered: true });
    } catch {
      window.__cls = -1;
    }
  });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  t.after(async () => {
    await context.close();
    assert.deepEqual(pageErrors, [], 'JavaScript errors on the page');
  });
  return page;
}

/* ------------------------------------------------------------------------------------------
 * Codes and log-in
 * ---------------------------------------------------------------------------------------- */

const codesAsked = new Map(); /* msisdn -> codes asked through codeWindow() */

/* Moves the business clock so that "msisdn" may get a new code now: past the minute since the
 * last one, and past the hour after every fifth. */
async function codeWindow(msisdn) {
  const asked = codesAsked.get(msisdn) || 0;
  if (asked > 0) await advance(asked % 5 === 0 ? 3601 : 61);
  codesAsked.set(msisdn, asked + 1);
}

async function advance(seconds) {
  const response = await api(lebd, 'POST', '/api/v1/admin/clock', {
    body: { advance_s: seconds },
    token: admin,
  });
  assertStatus(response, 200, `advance the clock ${seconds} s`);
}

function isLoginCode(sms) {
  return /验证码|login code/.test(sms.query.text || '');
}

/* The one 6-digit run in an SMS text. */
function codeOf(text) {
  const runs = [...String(text).matchAll(/(?<!\d)(\d{6})(?!\d)/g)].map((match) => match[1]);
  assert.equal(runs.length, 1, `exactly one 6-digit code in the SMS: ${text}`);
  return runs[0];
}

function wrongCode(code, offset) {
  return String((Number(code) + offset) % 1000000).padStart(6, '0');
}

/* The login code SMS that reaches "msisdn" after "before" earlier SMS to it. */
async function smsCode(msisdn, before) {
  const sms = await pollUntil(() => gateway.to(msisdn).slice(before).find(isLoginCode), {
    timeout_ms: 10000,
    what: `the login code SMS to ${msisdn}`,
  });
  return codeOf(sms.query.text);
}

function phoneField(page) {
  return page.getByRole('textbox', { name: '手机号' });
}

function codeField(page) {
  return page.getByRole('textbox', { name: '验证码' });
}

/* Types the number, taps 获取验证码 and waits for the message; resolves to the code the SMS
 * brought. */
async function askCode(page, typed, msisdn) {
  await codeWindow(msisdn);
  const before = gateway.to(msisdn).length;
  await phoneField(page).fill(typed);
  await page.getByRole('button', { name: '获取验证码' }).click();
  await page.locator('#phone-msg', { hasText: CODE_SENT }).waitFor();
  return smsCode(msisdn, before);
}

/* Opens the portal and logs in with the code from the SMS; resolves when the card is shown. */
async function logIn(page, typed = '138 0000 0001', msisdn = ACTIVE.msisdn) {
  await page.goto(`${lebd.url}/portal.html`);
  const code = await askCode(page, typed, msisdn);
  await codeField(page).fill(code);
  await page.getByRole('button', { name: '登录', exact: true }).click();
  await page.locator('#c-balance', { hasText: '¥' }).waitFor();
  return code;
}

async function tokenOf(page) {
  const stored = await page.evaluate((key) => sessionStorage.getItem(key), SESSION_KEY);
  assert.ok(stored, 'the session is kept in sessionStorage');
  return JSON.parse(stored).token;
}

/* ------------------------------------------------------------------------------------------
 * Looking at the page
 * ---------------------------------------------------------------------------------------- */

function yuan(minor) {
  const sign = minor < 0 ? '−' : '';
  const abs = Math.abs(minor);
  return `${sign}¥${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

async function adminCard(number) {
  const response = await api(lebd, 'GET', `/api/v1/cards/${number}/balance`, { token: admin });
  assertStatus(response, 200, `admin view of ${number}`);
  return response.body;
}

async function adminAutoRenew(number) {
  const response = await api(lebd, 'GET', `/api/v1/admin/cards/${number}/auto-renew`, {
    token: admin,
  });
  assertStatus(response, 200, `admin auto-renew of ${number}`);
  return response.body;
}

/* A PNG screenshot is not blank: decoded on a canvas, it has the expected size, many colours
 * and no colour covering nearly all of it. */
async function assertNotBlank(page, png, expected) {
  const scratch = await page.context().newPage();
  const stats = await scratch.evaluate(async (base64) => {
    const image = new Image();
    image.src = `data:image/png;base64,${base64}`;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = image.width;
    canvas.height = image.height;
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    const counts = new Map();
    let samples = 0;
    for (let i = 0; i < data.length; i += 4 * 5) {
      const key = ((data[i] >> 4) << 8) | ((data[i + 1] >> 4) << 4) | (data[i + 2] >> 4);
      counts.set(key, (counts.get(key) || 0) + 1);
      samples++;
    }
    return {
      width: image.width,
      height: image.height,
      colours: counts.size,
      dominant: Math.max(...counts.values()) / samples,
    };
  }, png.toString('base64'));
  await scratch.close();
  assert.equal(stats.width, expected.width, 'screenshot width');
  assert.equal(stats.height, expected.height, 'screenshot height');
  assert.ok(stats.colours >= 8, `a screenshot with content has colours: ${JSON.stringify(stats)}`);
  assert.ok(stats.dominant < 0.85, `no colour covers the screenshot: ${JSON.stringify(stats)}`);
}

/* Nothing sticks out sideways, and every visible control is big enough to tap. */
async function assertFitsAndTappable(page, what) {
  const layout = await page.evaluate((min) => {
    const small = [];
    for (const node of document.querySelectorAll('button, a.btn, input:not([type="radio"]), .method')) {
      const box = node.getBoundingClientRect();
      if (node.offsetParent === null || box.width === 0) continue;
      if (box.height < min || box.width < min) {
        small.push(`${node.id || node.textContent.trim().slice(0, 16)} ${box.width}x${box.height}`);
      }
    }
    return {
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
      small,
    };
  }, TAP_MIN_PX);
  assert.ok(
    layout.scrollWidth <= layout.innerWidth,
    `${what}: no sideways scrolling (${layout.scrollWidth} > ${layout.innerWidth})`,
  );
  assert.deepEqual(layout.small, [], `${what}: tap targets of at least ${TAP_MIN_PX} px`);
}

/* ------------------------------------------------------------------------------------------
 * The tests
 * ---------------------------------------------------------------------------------------- */

test('a cardholder logs in with the code from the SMS and sees the card, balance and plan', async (t) => {
  const page = await openPhone(t);
  await page.goto(`${lebd.url}/portal.html`);
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN', 'Chinese by default');
  await assertFitsAndTappable(page, 'the log-in form at 360 px');
  await page.screenshot({ path: path.join(SHOTS, 'portal-login-360x740.png') });

  /* The number as people write it: country code, spaces and dashes. */
  await logIn(page, '+86 138-0000-0001');
  const card = await adminCard(ACTIVE.card_no);
  await page.locator('#c-balance', { hasText: yuan(card.balance) }).waitFor();
  assert.equal(await page.locator('#c-balance').innerText(), yuan(card.balance));
  assert.match(yuan(card.balance), /\.\d\d$/, 'two decimals');
  assert.equal(await page.locator('#c-card').innerText(), '8986***********0018');
  assert.equal(await page.locator('#c-status').innerText(), '正常使用');
  assert.equal(await page.locator('#c-plan').innerText(), '保号套餐 8 元/月');
  assert.equal(await page.locator('#c-fee').innerText(), '¥8.00 / 月');
  assert.equal(await page.locator('#c-date-label').innerText(), '下次扣月租');
  assert.match(await page.locator('#c-date').innerText(), /^\d{4}-\d{2}-\d{2}$/);
  const topUp = page.getByRole('link', { name: '充值', exact: true });
  assert.equal(await topUp.getAttribute('href'), `/?number=${ACTIVE.msisdn.slice(1)}`, 'the phone, not the card number');
  await page.locator('#ar-state', { hasText: '未开启' }).waitFor();
  await page.locator('#h-orders li', { hasText: '暂无记录' }).waitFor();
  /* Focus lands on the account, for a screen reader to start there. */
  assert.equal(await page.evaluate(() => document.activeElement.id), 'account-title');

  /* The token lives in sessionStorage only; neither it nor the code ever reaches the URL. */
  const token = await tokenOf(page);
  assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing in localStorage');
  assert.equal(new URL(page.url()).search, '', 'nothing in the query string');
  assert.ok(!page.url().includes(token), 'no token in the URL');
  const view = await api(lebd, 'GET', '/api/v1/portal/card', { token });
  assertStatus(view, 200, 'the page token opens the portal API');

  await assertFitsAndTappable(page, 'the account at 360 px');
  const png = await page.screenshot({ path: path.join(SHOTS, 'portal-360x740.png') });
  await assertNotBlank(page, png, { width: PHONE.width * 2, height: PHONE.height * 2 });
  await page.screenshot({ path: path.join(SHOTS, 'portal-360x740-full.png'), fullPage: true });

  await page.setViewportSize(NARROW);
  await assertFitsAndTappable(page, 'the account at 320 px');
  await page.screenshot({ path: path.join(SHOTS, 'portal-320x640.png'), fullPage: true });
});

test('a top-up through the sandbox shows in the balance and the history after a reload', async (t) => {
  const page = await openPhone(t);
  await logIn(page);
  const before = await adminCard(ACTIVE.card_no);
  await page.locator('#c-balance', { hasText: yuan(before.balance) }).waitFor();

  const order = await createOrderOk(lebd, {
    card: ACTIVE.card_no,
    face_amount: 5000,
    channel: 'web',
    payment_method: 'sandbox',
  });
  const paid = await notify(lebd, {
    order_no: order.order_no,
    amount: order.pay_amount,
    status: 'SUCCESS',
  });
  assertStatus(paid, 200, 'sandbox notification');
  await waitForOrderStatus(lebd, order.order_no, 'succeeded');

  /* Still logged in after a reload (sessionStorage), and the page does not jump as it loads. */
  await page.reload();
  await page.locator('#c-balance', { hasText: yuan(before.balance + 5000) }).waitFor();
  const first = page.locator('#h-orders li').first();
  await first.locator('.what', { hasText: '充值 ¥50.00' }).waitFor();
  assert.equal(await first.locator('.badge').innerText(), '充值成功');
  assert.match(await first.innerText(), new RegExp(order.order_no));
  const move = page.locator('#h-moves li').first();
  assert.equal(await move.locator('.what').innerText(), '充值');
  assert.equal(await move.locator('.amount').innerText(), '+¥50.00');
  await page.waitForTimeout(300);
  const cls = await page.evaluate(() => window.__cls);
  assert.ok(cls >= 0 && cls < 0.05, `no layout jump while loading (cumulative shift ${cls})`);

  /* 充值 opens the recharge page with the card filled in; back returns to the portal. */
  await page.getByRole('link', { name: '充值', exact: true }).click();
  await page.waitForURL(/\/\?number=/);
  await page.locator('#card-no', { hasText: '8986***********0018' }).waitFor();
  await page.goBack();
  await page.locator('#c-balance', { hasText: yuan(before.balance + 5000) }).waitFor();
});

test('auto-renewal turns on (keep_fee) and off; 12.3 yuan is sent as 1230 fen; server errors show', async (t) => {
  const page = await openPhone(t);
  await logIn(page);
  await page.locator('#ar-state', { hasText: '未开启' }).waitFor();
  const puts = [];
  page.on('request', (request) => {
    if (request.method() === 'PUT' && request.url().endsWith('/api/v1/portal/auto-renew')) {
      puts.push(request.postDataJSON());
    }
  });
  /* A slow network, so that the second tap of a double tap lands while the first is in flight. */
  await page.route('**/api/v1/portal/auto-renew', async (route) => {
    if (route.request().method() === 'PUT') await new Promise((resolve) => setTimeout(resolve, 300));
    await route.continue();
  });

  assert.equal(await page.getByRole('radio', { name: /每月扣费前自动补足月租/ }).isChecked(), true);
  await page.getByRole('button', { name: '开启自动续费' }).dblclick();
  await page.locator('#ar-state', { hasText: '已开启：每月扣费前自动补足月租' }).waitFor();
  await page.locator('#ar-msg', { hasText: '已保存，自动续费已开启' }).waitFor();
  assert.deepEqual(puts, [{ enabled: true, rule: 'keep_fee' }], 'one request for a double tap');
  let server = await adminAutoRenew(ACTIVE.card_no);
  assert.equal(server.enabled, true);
  assert.equal(server.rule, 'keep_fee');

  /* The threshold rule: amounts typed in yuan go out as integers of fen. */
  await page.getByText('余额低于设定值时自动充值').click();
  await page.getByRole('textbox', { name: '余额低于（元）' }).fill('12.3');
  await page.getByRole('textbox', { name: '每次充值（元）' }).fill('５０');
  await page.locator('#ar-amount-hint', { hasText: '¥10 至 ¥500' }).waitFor();
  await page.getByRole('button', { name: '保存设置' }).click();
  await page.locator('#ar-state', { hasText: '已开启：余额低于 ¥12.30 时自动充值 ¥50.00' }).waitFor();
  assert.deepEqual(puts.at(-1), { enabled: true, rule: 'threshold', amount: 5000, threshold: 1230 });
  server = await adminAutoRenew(ACTIVE.card_no);
  assert.deepEqual(
    { rule: server.rule, amount: server.amount, threshold: server.threshold },
    { rule: 'threshold', amount: 5000, threshold: 1230 },
  );

  /* An amount the plan does not sell: the server refuses, the page says so in its words and the
   * server's; nothing changes. */
  const amountField = page.getByRole('textbox', { name: '每次充值（元）' });
  await amountField.fill('50.5');
  await page.getByRole('button', { name: '保存设置' }).click();
  await page.locator('#ar-msg.msg-error', { hasText: '设置没有保存' }).waitFor();
  assert.match(await page.locator('#ar-msg .msg-detail').innerText(), /plan cannot honour/);
  assert.deepEqual(puts.at(-1), { enabled: true, rule: 'threshold', amount: 5050, threshold: 1230 });
  assert.equal((await adminAutoRenew(ACTIVE.card_no)).amount, 5000, 'nothing changed');
  /* What is not an amount never leaves the page. */
  const sent = puts.length;
  await amountField.fill('12.345');
  await page.getByRole('button', { name: '保存设置' }).click();
  await page.locator('#ar-msg', { hasText: '请输入金额' }).waitFor();
  assert.equal(await amountField.getAttribute('aria-invalid'), 'true');
  assert.equal(puts.length, sent, 'no request for "12.345"');

  await page.getByRole('button', { name: '关闭自动续费' }).click();
  await page.locator('#ar-state', { hasText: '未开启' }).waitFor();
  await page.locator('#ar-msg', { hasText: '自动续费已关闭' }).waitFor();
  assert.deepEqual(puts.at(-1), { enabled: false });
  assert.equal((await adminAutoRenew(ACTIVE.card_no)).enabled, false);
  assert.equal(await page.getByRole('button', { name: '关闭自动续费' }).isVisible(), false);

  /* The yuan parser on its own: text to fen, never through a float. */
  const parsed = await page.evaluate(async () => {
    const { parseYuan } = await import('/portal.js');
    return ['12.3', '0.07', '19.99', '１２．３', '¥8', '8元', '100.', '1.005', '-1', 'abc', ''].map(parseYuan);
  });
  assert.deepEqual(parsed, [1230, 7, 1999, 1230, 800, 800, 10000, null, null, null, null]);
});

test('the language switch saves English on the card and shows the page in English', async (t) => {
  const page = await openPhone(t);
  await logIn(page);
  const languageGroup = page.getByRole('group', { name: /语言/ });
  await languageGroup.getByRole('button', { name: 'English' }).click();
  await page.locator('#lang-msg', { hasText: 'Saved: SMS will be in English too' }).waitFor();
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  await page.getByRole('heading', { name: 'SIM self-service' }).waitFor();
  await page.getByRole('link', { name: 'Top up' }).waitFor();
  await page.getByRole('button', { name: 'Log out' }).waitFor();
  assert.equal(await page.locator('#c-status').innerText(), 'Active');
  assert.equal(await page.locator('#c-fee').innerText(), '¥8.00 / month');
  assert.equal(await page.locator('#ar-state').innerText(), 'Off');
  assert.equal(await page.locator('#h-orders .badge').first().innerText(), 'Recharge succeeded');
  assert.equal(await page.locator('#h-moves .what').first().innerText(), 'Top-up');
  const token = await tokenOf(page);
  const card = await api(lebd, 'GET', '/api/v1/portal/card', { token });
  assert.equal(card.body.language, 'en', 'saved on the card');

  /* The card's own language wins after a reload, even without the page's remembered choice. */
  await page.evaluate(() => sessionStorage.removeItem('leb.portal.lang'));
  await page.reload();
  await page.getByRole('heading', { name: 'SIM self-service' }).waitFor();
  await page.locator('#c-balance', { hasText: '¥' }).waitFor();
  assert.equal(await page.locator('#balance-label').innerText(), 'Balance');

  await page.setViewportSize(NARROW);
  await assertFitsAndTappable(page, 'the account in English at 320 px');
  await page.screenshot({ path: path.join(SHOTS, 'portal-en-320x640.png'), fullPage: true });

  /* And back, from the header's toggle. */
  await page.locator('#lang-toggle').click();
  await page.locator('#lang-msg', { hasText: '已保存：短信也将使用中文' }).waitFor();
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
  assert.equal(
    (await api(lebd, 'GET', '/api/v1/portal/card', { token })).body.language,
    'zh-CN',
  );

  /* Before logging in, the toggle only changes the page. */
  const other = await openPhone(t);
  await other.goto(`${lebd.url}/portal.html`);
  await other.getByRole('button', { name: 'English' }).click();
  await other.getByRole('textbox', { name: 'Phone number' }).waitFor();
  await other.getByRole('button', { name: 'Send code' }).waitFor();
  await other.getByRole('button', { name: 'Log in', exact: true }).waitFor();
});

test('a wrong code says so, five wrong tries ask for a new code, and asking too soon says when', async (t) => {
  const page = await openPhone(t);
  await page.goto(`${lebd.url}/portal.html`);
  const code = await askCode(page, '138 0000 0002', SUSPENDED.msisdn);
  const login = page.getByRole('button', { name: '登录', exact: true });

  await codeField(page).fill('12345');
  await login.click();
  await page.locator('#code-msg', { hasText: '请输入短信里的 6 位数字验证码' }).waitFor();

  for (let attempt = 1; attempt <= 4; attempt++) {
    await codeField(page).fill(wrongCode(code, attempt));
    await login.click();
    await page.locator('#code-msg', { hasText: '验证码错误或已过期' }).waitFor();
    assert.equal(await codeField(page).getAttribute('aria-invalid'), 'true');
    await page.locator('#login-button:enabled').waitFor();
  }
  await codeField(page).fill(wrongCode(code, 5));
  await login.click();
  await page.locator('#code-msg', { hasText: '错误次数过多，请重新获取验证码' }).waitFor();
  /* The right code, too late. */
  await codeField(page).fill(code);
  await login.click();
  await page.locator('#code-msg', { hasText: '错误次数过多，请重新获取验证码' }).waitFor();
  await page.locator('#login-button:enabled').waitFor();
  assert.equal(await page.locator('#account-view').isVisible(), false);

  /* The count-down runs on the button; after a reload the page does not know it, the server
   * does: 429 with Retry-After, in words, and the count-down starts from it. */
  assert.match(await page.locator('#send-button').innerText(), /^重新获取（\d+ 秒）$/);
  assert.equal(await page.locator('#send-button').isDisabled(), true);
  await page.reload();
  await phoneField(page).fill('13800000002');
  await page.getByRole('button', { name: '获取验证码' }).click();
  const message = await page.locator('#phone-msg', { hasText: /^请 \d+ 秒后再试$/ }).innerText();
  const seconds = Number(/(\d+)/.exec(message)[1]);
  assert.ok(seconds >= 1 && seconds <= 60, `Retry-After in seconds: ${message}`);
  assert.equal(await page.locator('#send-button').isDisabled(), true);
  assert.match(await page.locator('#send-button').innerText(), /^重新获取（\d+ 秒）$/);
});

test('a number without a card gets the same code-sent screen; a double tap asks one code', async (t) => {
  const page = await openPhone(t);
  await page.goto(`${lebd.url}/portal.html`);
  const asked = [];
  page.on('request', (request) => {
    if (request.url().endsWith('/api/v1/portal/otp')) asked.push(request.postDataJSON());
  });
  await page.route('**/api/v1/portal/otp', async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    await route.continue();
  });

  /* Not a phone number: said on the page, never sent. */
  await phoneField(page).fill('12345');
  await page.getByRole('button', { name: '获取验证码' }).click();
  await page.locator('#phone-msg', { hasText: '手机号不正确' }).waitFor();
  assert.equal(await phoneField(page).getAttribute('aria-invalid'), 'true');
  assert.equal(asked.length, 0);

  await phoneField(page).fill(NO_CARD.typed);
  await page.getByRole('button', { name: '获取验证码' }).dblclick();
  await page.locator('#phone-msg', { hasText: CODE_SENT }).waitFor();
  assert.equal(await page.locator('#phone-msg').innerText(), CODE_SENT, 'the same words as for a card');
  assert.equal(await page.locator('#phone-msg').getAttribute('class'), 'msg msg-ok');
  assert.equal(await page.locator('#send-button').isDisabled(), true);
  assert.match(await page.locator('#send-button').innerText(), /^重新获取（\d+ 秒）$/);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'code');
  assert.deepEqual(asked, [{ phone: '13900000009' }], 'one request for a double tap');
  const cls = await page.evaluate(() => window.__cls);
  assert.ok(cls >= 0 && cls < 0.01, `the message does not push the form about (shift ${cls})`);

  /* Full-width digits are sent as the server will read them. */
  await phoneField(page).fill('１３９ ００００ ０００８');
  await page.getByRole('button', { name: '获取验证码' }).click();
  await page.locator('#send-button:disabled').waitFor();
  assert.deepEqual(asked.at(-1), { phone: '13900000008' });

  /* Any code for it is just a wrong code. */
  await phoneField(page).fill(NO_CARD.typed);
  await codeField(page).fill('123456');
  await page.getByRole('button', { name: '登录', exact: true }).click();
  await page.locator('#code-msg', { hasText: '验证码错误或已过期' }).waitFor();
  await page.waitForTimeout(1500); /* a dispatcher pass or more */
  assert.equal(gateway.to(NO_CARD.msisdn).length, 0, 'no SMS to a number without a card');
});

test('logging out returns to the log-in form and the old token no longer works', async (t) => {
  const page = await openPhone(t);
  await logIn(page);
  const token = await tokenOf(page);
  await page.getByRole('button', { name: '退出登录' }).click();
  await page.locator('#page-msg', { hasText: '已退出登录' }).waitFor();
  await phoneField(page).waitFor();
  assert.equal(await page.locator('#account-view').isVisible(), false);
  assert.equal(await page.evaluate((key) => sessionStorage.getItem(key), SESSION_KEY), null);
  const refused = await api(lebd, 'GET', '/api/v1/portal/card', { token });
  assert.equal(refused.status, 401, refused.text);
  /* A reload stays logged out, and shows nothing of the card. */
  await page.reload();
  await phoneField(page).waitFor();
  assert.equal(await page.locator('#c-balance').isVisible(), false);
});

test('a session the server no longer knows sends the page back to log-in with 登录已过期', async (t) => {
  const page = await openPhone(t);
  await logIn(page, '138-0000-0002', SUSPENDED.msisdn);
  await page.locator('#c-status', { hasText: '已停机' }).waitFor();
  await page.locator('#c-notice', { hasText: '充值后立即恢复使用' }).waitFor();

  /* The session ends behind the page's back (it expired; it was ended elsewhere). */
  const token = await tokenOf(page);
  const ended = await api(lebd, 'DELETE', '/api/v1/portal/session', { token });
  assert.equal(ended.status, 204, ended.text);
  await page.getByRole('button', { name: '刷新' }).click();
  await page.locator('#page-msg', { hasText: '登录已过期，请重新登录' }).waitFor();
  await phoneField(page).waitFor();
  assert.equal(await page.locator('#account-view').isVisible(), false);
  assert.equal(await page.evaluate((key) => sessionStorage.getItem(key), SESSION_KEY), null);
});
