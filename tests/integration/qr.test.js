'use strict';
/*
 * qr.test.js - what a payer scans and chooses: GET /api/v1/orders/{order_no}/qr.svg draws the
 * QR code of an unpaid order's payment (WeChat Pay's Native code_url is a weixin:// link only a
 * phone's camera opens), and GET /api/v1/payment-methods lists the methods this server takes.
 * The QR codes are read back with an independent decoder (jsQR), from the SVG's own modules.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const jsQR = require('jsqr');

const { startLebd } = require('../lib/lebd');
const { DEMO, api, assertError, assertStatus, createOrderOk, notify, waitForOrderStatus } = require('../lib/client');
const { startWechatSim } = require('../sim/wechatpay');

let sim;
let lebd;
let keyDir;

before(async () => {
  keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'leb-qr-'));
  sim = await startWechatSim();
  lebd = await startLebd({ env: { ...sim.lebdEnv(keyDir), LEB_PAYMENTS_QUERY_AFTER_S: '86400' } });
});

after(async () => {
  if (lebd) await lebd.close();
  if (sim) await sim.close();
  if (keyDir) fs.rmSync(keyDir, { recursive: true, force: true });
});

/* Reads the SVG's dark modules into pixels (8 a module) and decodes them with jsQR. */
function decodeSvg(svg) {
  const viewBox = /viewBox="0 0 (\d+) (\d+)"/.exec(svg);
  assert.ok(viewBox, 'a viewBox');
  const side = Number(viewBox[1]);
  assert.equal(Number(viewBox[2]), side, 'square');
  const scale = 8;
  const width = side * scale;
  const pixels = new Uint8ClampedArray(width * width * 4).fill(255);
  const modules = [...svg.matchAll(/<rect x="(\d+)" y="(\d+)" width="1" height="1"\/>/g)];
  assert.ok(modules.length > 50, `dark modules: ${modules.length}`);
  for (const [, x, y] of modules) {
    for (let dy = 0; dy < scale; dy++) {
      for (let dx = 0; dx < scale; dx++) {
        const at = ((Number(y) * scale + dy) * width + Number(x) * scale + dx) * 4;
        pixels[at] = pixels[at + 1] = pixels[at + 2] = 0;
      }
    }
  }
  const code = jsQR(pixels, width, width);
  assert.ok(code, 'jsQR reads the code');
  return code.data;
}

async function qrOf(orderNo) {
  const response = await api(lebd, 'GET', `/api/v1/orders/${orderNo}/qr.svg`);
  return response;
}

test('the payment methods this server takes: the configured providers, then the sandbox', async () => {
  const response = await api(lebd, 'GET', '/api/v1/payment-methods');
  assertStatus(response, 200, 'methods');
  assert.deepEqual(response.body, { methods: ['wechatpay', 'sandbox'] });
});

test("a WeChat Pay order's QR code is its code_url, read back by an independent decoder", async () => {
  const order = await createOrderOk(lebd, {
    card: DEMO.active.card_no, face_amount: 5000, channel: 'web', payment_method: 'wechatpay',
  });
  assert.match(order.payment.qr_text, /^weixin:\/\/wxpay\/bizpayurl\?pr=/);
  const response = await qrOf(order.order_no);
  assertStatus(response, 200, 'qr.svg');
  assert.match(response.headers.get('content-type'), /^image\/svg\+xml/);
  assert.equal(decodeSvg(response.text), order.payment.qr_text);
});

test("a sandbox order's QR code opens its pay page; a paid order has none", async () => {
  const order = await createOrderOk(lebd, {
    card: DEMO.active.card_no, face_amount: 5000, channel: 'web', payment_method: 'sandbox',
  });
  const response = await qrOf(order.order_no);
  assertStatus(response, 200, 'qr.svg');
  assert.equal(decodeSvg(response.text), order.payment.qr_text);
  assertStatus(await notify(lebd, { order_no: order.order_no, amount: order.pay_amount }), 200);
  await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  assertError(await qrOf(order.order_no), 404, 'not_found', 'nothing left to pay');
  assertError(await qrOf('LEB20990101T000000R0000000000'), 404, 'order_not_found', 'no such order');
  assertError(await api(lebd, 'POST', `/api/v1/orders/${order.order_no}/qr.svg`), 405, 'method_not_allowed');
});
