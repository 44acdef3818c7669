'use strict';
/*
 * pay_qr.test.js - paying with a real provider from the recharge page: the page offers the
 * methods the server takes (WeChat Pay here, against its simulator, and the demo sandbox), and
 * a WeChat Pay order, whose weixin:// link no browser opens, lands on the order page with its
 * QR code to scan; the simulator's payment then turns the page to 充值成功.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const { startLebd } = require('../lib/lebd.js');
const { api, login } = require('../lib/client.js');
const { startWechatSim } = require('../sim/wechatpay');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WEB_ROOT = path.join(__dirname, '../../web');
const SHOTS = path.join(__dirname, '../.tmp');
const STEP_TIMEOUT_MS = 15000;
const ACTIVE_CARD = '8986010000000000018';

let sim;
let lebd;
let token;
let browser;
let keyDir;

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (set CHROMIUM)`);
  fs.mkdirSync(SHOTS, { recursive: true });
  keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'leb-payqr-'));
  sim = await startWechatSim();
  lebd = await startLebd({ args: ['--web-root', WEB_ROOT], env: sim.lebdEnv(keyDir) });
  token = await login(lebd);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
});

after(async () => {
  if (browser) await browser.close();
  if (lebd) await lebd.close();
  if (sim) await sim.close();
  if (keyDir) fs.rmSync(keyDir, { recursive: true, force: true });
});

async function openPhone(t) {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: 'zh-CN' });
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

async function balance() {
  const response = await api(lebd, 'GET', `/api/v1/cards/${ACTIVE_CARD}/balance`, { token });
  assert.equal(response.status, 200, response.text);
  return response.body.balance;
}

test('WeChat Pay from the recharge page: the QR code to scan, then 充值成功', async (t) => {
  const page = await openPhone(t);
  const before_ = await balance();
  await page.goto(`${lebd.url}/?card=${ACTIVE_CARD}`);
  await page.locator('#card-no', { hasText: '0018' }).waitFor();

  /* The methods the server takes, in its order: the configured provider first, chosen. */
  const methods = page.locator('#method-step input[name="payment_method"]');
  assert.deepEqual(await methods.evaluateAll((inputs) => inputs.map((input) => input.value)), ['wechatpay', 'sandbox']);
  assert.equal(await page.locator('#method-step input[value="wechatpay"]').isChecked(), true);
  await page.locator('#method-step label', { hasText: '微信支付' }).waitFor();

  await page.locator('#denominations label', { hasText: /^¥50$/ }).click();
  await page.locator('#pay-button:enabled').click();
  await page.waitForURL(/\/order\.html\?order_no=/);
  const orderNo = new URL(page.url()).searchParams.get('order_no');

  /* The QR code, drawn by lebd, and loaded; no link to a page a browser cannot open. */
  await page.locator('#pay-qr-hint', { hasText: '请用微信扫一扫付款' }).waitFor();
  const image = page.locator('#pay-qr-image');
  assert.equal(await image.getAttribute('src'), `/api/v1/orders/${orderNo}/qr.svg`);
  await page.waitForFunction(() => document.getElementById('pay-qr-image').naturalWidth > 0);
  assert.equal(await page.locator('#pay-qr-link').isHidden(), true, 'weixin:// is not a page');
  await page.screenshot({ path: path.join(SHOTS, 'order-wechat-qr-390x844.png') });

  /* The payer scans and pays; WeChat Pay notifies; the page sees it and drops the QR code. */
  sim.pay(orderNo);
  const answer = await sim.notify(orderNo);
  assert.equal(answer.status, 204);
  await page.locator('#status-title', { hasText: '充值成功' }).waitFor({ timeout: 30000 });
  await page.locator('#pay-qr').waitFor({ state: 'hidden' });
  assert.equal(await balance(), before_ + 5000);
});
