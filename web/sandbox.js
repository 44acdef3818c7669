// sandbox.js - the demo payment page lebd serves at /sandbox/pay/{order_no}. "Pay" and "Fail"
// ask lebd to play the payment provider: it signs and sends the notification itself. Then the
// payer goes to the order result page, as after a real provider's page.

import { apiCall, errorText, formatMoney, orderStatusWords, setBilingual } from './common.js';

// Statuses the sandbox may still settle: an expired order can still be paid (a late payment is
// honoured), which the demo is allowed to show.
const PAYABLE = new Set(['pending_payment', 'expired']);

const $ = (id) => document.getElementById(id);
const payButton = $('pay-button');
const failButton = $('fail-button');
const resultLink = $('result-link');
const msg = $('s-msg');
const error = $('s-error');

function readOrderNo() {
  const segments = location.pathname.split('/').filter(Boolean);
  const last = segments.length ? segments[segments.length - 1] : '';
  if (last && last !== 'sandbox.html') {
    try {
      return decodeURIComponent(last);
    } catch {
      return last;
    }
  }
  return new URLSearchParams(location.search).get('order_no') || '';
}

const orderNo = readOrderNo();
const resultUrl = `/order.html?order_no=${encodeURIComponent(orderNo)}`;
resultLink.href = resultUrl;
let busy = false;

function render(order) {
  const money = (v) => formatMoney(v, order.currency || 'CNY');
  $('s-pay').textContent = money(order.pay_amount);
  $('s-no').textContent = order.order_no || orderNo;
  $('s-card').textContent = order.card_no_masked || '—';
  $('s-face').textContent = money(order.face_amount);
  const [zh, en, tone] = orderStatusWords(order.status);
  const status = $('s-status');
  setBilingual(status, zh, en);
  status.className = `badge badge-${tone === 'wait' ? 'warn' : tone}`;

  const payable = PAYABLE.has(order.status);
  payButton.disabled = !payable;
  failButton.disabled = !payable;
  payButton.querySelector('.zh').textContent = `支付 ${money(order.pay_amount)}`;
  payButton.querySelector('.en').textContent = `Pay ${money(order.pay_amount)}`;
  resultLink.hidden = payable;
  if (!payable) {
    setBilingual(msg, '这笔订单已经处理过了，不能再支付。', 'This order has already been settled.');
  } else if (order.status === 'expired') {
    setBilingual(msg, '订单已过期：现在支付将演示“迟到的付款”。', 'The order has expired: paying now demonstrates a late payment.');
  }
}

async function load() {
  if (!orderNo) {
    setBilingual(error, '缺少订单号', 'No order number given');
    return;
  }
  try {
    const { data } = await apiCall('GET', `/api/v1/orders/${encodeURIComponent(orderNo)}`);
    render(data);
  } catch (err) {
    const [zh, en] = errorText(err);
    setBilingual(error, zh, en);
  }
}

async function settle(action) {
  if (busy) return;
  busy = true;
  payButton.disabled = true;
  failButton.disabled = true;
  error.replaceChildren();
  setBilingual(msg, action === 'pay' ? '正在支付…' : '正在模拟失败…', action === 'pay' ? 'Paying…' : 'Failing…');
  try {
    await apiCall('POST', `/sandbox/pay/${encodeURIComponent(orderNo)}`, { body: { action } });
    location.assign(resultUrl);
  } catch (err) {
    busy = false;
    msg.replaceChildren();
    const [zh, en] = errorText(err);
    setBilingual(error, zh, en);
    load();
  }
}

payButton.addEventListener('click', () => settle('pay'));
failButton.addEventListener('click', () => settle('fail'));
window.addEventListener('pageshow', (event) => {
  if (event.persisted) {
    busy = false;
    load();
  }
});
load();
