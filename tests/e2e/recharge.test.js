'use strict';
/*
 * recharge.test.js - the H5 recharge page in a real browser (Chromium through playwright-core)
 * against the real lebd in demo mode: a person types a card number, picks an amount, pays on
 * the sandbox page and sees the result; a mistyped number never reaches the server; a recycled
 * card offers no payment; a failed payment changes nothing; a double click makes one order.
 *
 * Run: cd tests && LEBD=../build/lebd node --test e2e/
 * The phone-sized screenshots land in tests/.tmp/ (gitignored) for a person to look at.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');

const { startLebd } = require('../lib/lebd.js');
const { api, login } = require('../lib/client.js');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WEB_ROOT = path.join(__dirname, '../../web');
const SHOTS = path.join(__dirname, '../.tmp');
const PHONE = { width: 390, height: 844 };
const STEP_TIMEOUT_MS = 15000;
/* The order page polls every second; crediting is synchronous in the sandbox, so a result
 * within 30 s is generous. */
const RESULT_TIMEOUT_MS = 30000;

const ACTIVE_CARD = '8986010000000000018';
const SUSPENDED_CARD = '8986010000000000026';
const RECYCLED_CARD = '8986010000000000034';
/* As printed on the card back, the way a person copies it. */
const ACTIVE_CARD_TYPED = '8986 0100 0000 0000 018';
/* The same with the last (check) digit changed. */
const MISTYPED_CARD = '8986 0100 0000 0000 017';

let lebd;
let browser;
let token;

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (set CHROMIUM)`);
  fs.mkdirSync(SHOTS, { recursive: true });
  lebd = await startLebd({ demo: true, args: ['--web-root', WEB_ROOT] });
  token = await login(lebd);
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
});

/* A fresh phone-sized browser tab; JavaScript errors on the page fail the test. */
async function openPhone(t) {
  const context = await browser.newContext({
    viewport: PHONE,
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: 'zh-CN',
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  t.after(async () => {
    await context.close();
    assert.deepEqual(pageErrors, [], 'JavaScript errors on the page');
  });
  return page;
}

async function balanceOf(cardNo) {
  const response = await api(lebd, 'GET', `/api/v1/cards/${cardNo}/balance`, { token });
  assert.equal(response.status, 200, `balance of ${cardNo}: ${response.text}`);
  assert.ok(Number.isSafeInteger(response.body.balance), 'balance is an integer');
  return response.body.balance;
}

async function publicCard(cardNo) {
  const response = await api(lebd, 'GET', `/api/v1/cards/${cardNo}`);
  assert.equal(response.status, 200, `card ${cardNo}: ${response.text}`);
  return response.body;
}

/* Opens the recharge page and types the number into it, key by key, as a person does. */
async function typeNumber(page, typed) {
  await page.goto(`${lebd.url}/`);
  const field = page.getByRole('textbox', { name: /卡号或手机号/ });
  await field.click();
  await field.pressSequentially(typed, { delay: 15 });
  return field;
}

/* Types the active card and waits until the page shows it. */
async function findCard(page, typed, expected) {
  await typeNumber(page, typed);
  await page.locator('#card-no', { hasText: expected.card_no_masked }).waitFor();
}

/* Picks a denomination tile ("¥100") and waits until the quote enables the pay button. */
async function pickAmount(page, label) {
  await page.locator('#denominations label', { hasText: new RegExp(`^${escapeRegExp(label)}$`) }).click();
  await page.locator('#pay-button:enabled').waitFor();
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function orderNoOf(page) {
  const orderNo = new URL(page.url()).searchParams.get('order_no');
  assert.ok(orderNo, `no order_no in ${page.url()}`);
  return orderNo;
}

test('a person recharges the active card with ¥100 and sees 充值成功', async (t) => {
  const page = await openPhone(t);
  const card = await publicCard(ACTIVE_CARD);
  const before = await balanceOf(ACTIVE_CARD);

  await findCard(page, ACTIVE_CARD_TYPED, card);
  await page.locator('#card-plan', { hasText: card.plan.name }).waitFor();
  await page.locator('#card-msisdn', { hasText: card.msisdn_masked }).waitFor();
  await page.locator('#card-status', { hasText: '正常使用' }).waitFor();
  await page.screenshot({ path: path.join(SHOTS, 'recharge-390x844.png') });

  await pickAmount(page, '¥100');
  await page.locator('#q-pay', { hasText: '¥100' }).waitFor();
  assert.match(await page.locator('#pay-button').innerText(), /¥100/);
  await page.screenshot({ path: path.join(SHOTS, 'recharge-390x844-amount.png') });
  await page.screenshot({ path: path.join(SHOTS, 'recharge-390x844-full.png'), fullPage: true });

  await page.locator('#pay-button').click();
  await page.waitForURL(/\/sandbox\/pay\/[^/?#]+$/);
  await page.getByText('演示环境').waitFor();
  await page.locator('#s-pay', { hasText: '¥100' }).waitFor();
  await page.locator('#s-card', { hasText: card.card_no_masked }).waitFor();
  await page.screenshot({ path: path.join(SHOTS, 'sandbox-390x844.png') });

  await page.locator('#pay-button:enabled').click();
  await page.waitForURL(/\/order\.html\?order_no=/);
  await page.locator('#status-title', { hasText: '充值成功' }).waitFor({ timeout: RESULT_TIMEOUT_MS });
  await page.locator('#o-face', { hasText: '¥100' }).waitFor();
  await page.screenshot({ path: path.join(SHOTS, 'order-390x844.png') });

  const order = await api(lebd, 'GET', `/api/v1/orders/${encodeURIComponent(orderNoOf(page))}`);
  assert.equal(order.status, 200, order.text);
  assert.equal(order.body.status, 'succeeded');
  assert.equal(order.body.face_amount, 10000);

  assert.equal(await balanceOf(ACTIVE_CARD), before + 10000, 'the balance grew by ¥100');
});

test('a mistyped card number is caught on the page and never sent to the server', async (t) => {
  const page = await openPhone(t);
  const cardRequests = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname.startsWith('/api/v1/cards')) cardRequests.push(request.url());
  });

  const field = await typeNumber(page, MISTYPED_CARD);
  await page.getByText('卡号校验位不对，请核对卡背面的号码').waitFor();
  assert.equal(await field.getAttribute('aria-invalid'), 'true');
  /* Asking again (Enter, the look-up button) must not send it either. */
  await field.press('Enter');
  await page.getByRole('button', { name: /查询/ }).click();
  await page.waitForTimeout(1000);
  assert.deepEqual(cardRequests, [], 'no request to /api/v1/cards for a wrong check digit');
  assert.equal(await page.locator('#pay-button').isDisabled(), true);
  assert.equal(await page.locator('#card-info').isVisible(), false);

  /* The listener does see look-ups: correcting the last digit sends one. */
  await field.click();
  await field.press('End');
  await field.press('Backspace');
  const lookup = page.waitForRequest((request) =>
    new URL(request.url()).pathname.startsWith('/api/v1/cards/'),
  );
  await field.press('8');
  await lookup;
  await page.locator('#card-info').waitFor();
});

test('the recycled card shows that it cannot be recharged and offers no payment', async (t) => {
  const page = await openPhone(t);
  const card = await publicCard(RECYCLED_CARD);
  assert.equal(card.status, 'recycled');

  await findCard(page, RECYCLED_CARD, card);
  await page.locator('#card-blocked', { hasText: '不能再充值' }).waitFor();
  await page.locator('#card-status', { hasText: '号码已回收' }).waitFor();
  await page.waitForTimeout(500);

  assert.equal(await page.locator('#amount-step').isVisible(), false, 'no amounts offered');
  assert.equal(await page.locator('#pay-button').isDisabled(), true, 'the pay button is disabled');
  const enabledPayButtons = page.locator('button:visible:enabled', { hasText: /支付|pay/i });
  assert.equal(await enabledPayButtons.count(), 0, 'no enabled pay button on the page');
  await page.screenshot({ path: path.join(SHOTS, 'recycled-390x844.png') });
});

test('the suspended card says it resumes after a recharge and offers the amounts', async (t) => {
  const page = await openPhone(t);
  const card = await publicCard(SUSPENDED_CARD);
  assert.equal(card.status, 'suspended');

  await findCard(page, SUSPENDED_CARD, card);
  await page.locator('#card-status', { hasText: '已停机：充值后立即恢复' }).waitFor();
  await page.locator('#amount-step').waitFor();
  assert.equal(await page.locator('#denominations input[type=radio]').count(), card.denominations.length);
  await pickAmount(page, '¥50');
});

test('a phone number typed with spaces finds its card', async (t) => {
  const page = await openPhone(t);
  const card = await publicCard(ACTIVE_CARD);
  await findCard(page, '138 0000 0001', card);
  await page.locator('#card-msisdn', { hasText: card.msisdn_masked }).waitFor();
});

test('another amount is checked against the card\'s limits before it is quoted', async (t) => {
  const page = await openPhone(t);
  const card = await publicCard(ACTIVE_CARD);
  await findCard(page, ACTIVE_CARD_TYPED, card);
  const other = page.getByRole('textbox', { name: /其他金额/ });
  await other.pressSequentially('5');
  await page.locator('#amount-msg', { hasText: '金额需在 ¥10 至 ¥500 之间' }).waitFor();
  assert.equal(await page.locator('#pay-button').isDisabled(), true);
  await other.fill('');
  await other.pressSequentially('８０'); /* full-width digits, as some keyboards type them */
  await page.locator('#q-pay', { hasText: '¥80' }).waitFor();
  await page.locator('#pay-button:enabled').waitFor();
});

test('the Fail button leads to 支付失败 and leaves the balance alone', async (t) => {
  const page = await openPhone(t);
  const card = await publicCard(ACTIVE_CARD);
  const before = await balanceOf(ACTIVE_CARD);

  await findCard(page, ACTIVE_CARD_TYPED, card);
  await pickAmount(page, '¥50');
  await page.locator('#pay-button').click();
  await page.waitForURL(/\/sandbox\/pay\//);
  await page.locator('#fail-button:enabled').click();
  await page.waitForURL(/\/order\.html\?order_no=/);
  await page.locator('#status-title', { hasText: '支付失败' }).waitFor({ timeout: RESULT_TIMEOUT_MS });

  const order = await api(lebd, 'GET', `/api/v1/orders/${encodeURIComponent(orderNoOf(page))}`);
  assert.equal(order.status, 200, order.text);
  assert.equal(order.body.status, 'failed');
  assert.equal(await balanceOf(ACTIVE_CARD), before, 'a failed payment changes no balance');
});

test('a double click on the pay button creates exactly one order', async (t) => {
  const page = await openPhone(t);
  const card = await publicCard(ACTIVE_CARD);
  const posts = [];
  const created = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && new URL(request.url()).pathname === '/api/v1/orders') {
      posts.push(request.headers()['idempotency-key']);
    }
  });
  page.on('response', (response) => {
    const request = response.request();
    if (request.method() === 'POST' && new URL(response.url()).pathname === '/api/v1/orders') {
      if (response.status() === 201) created.push(response.url());
    }
  });
  /* A slow network, so that the second click lands while the first order is in flight. */
  await page.route('**/api/v1/orders', async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 400));
    await route.continue();
  });

  await findCard(page, ACTIVE_CARD_TYPED, card);
  await pickAmount(page, '¥200');
  await page.locator('#pay-button').dblclick();
  await page.waitForURL(/\/sandbox\/pay\//);
  await page.locator('#s-pay', { hasText: '¥200' }).waitFor();
  await page.waitForTimeout(500);

  assert.equal(created.length, 1, `exactly one POST /api/v1/orders answered 201 (got ${created.length})`);
  assert.equal(posts.length, 1, `the page sent one order request (got ${posts.length})`);
  assert.match(posts[0] || '', /^[0-9a-f-]{36}$/i, 'with an Idempotency-Key');
});
