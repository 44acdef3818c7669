// order.js - the order result page, /order.html?order_no=...: polls the order every second, for
// at most two minutes, until its status is one a person can act on, and says it in words.

import { apiCall, errorText, formatMoney, orderStatusWords, setBilingual } from './common.js';

const POLL_INTERVAL_MS = 1000;
const POLL_WINDOW_MS = 120 * 1000;
// Statuses after which there is nothing left to wait for on this page.
const FINAL = new Set(['succeeded', 'failed', 'expired', 'review', 'refunded']);
const ICONS = { ok: '✓', bad: '✕', warn: '!', wait: '…' };

const $ = (id) => document.getElementById(id);
const el = {
  result: $('result'),
  icon: $('status-icon'),
  title: $('status-title'),
  detail: $('status-detail'),
  progress: $('progress'),
  progressBar: $('progress-bar'),
  progressWords: $('progress-words'),
  details: $('order-details'),
  error: $('page-error'),
  refresh: $('refresh-button'),
  qr: $('pay-qr'),
  qrImage: $('pay-qr-image'),
  qrHint: $('pay-qr-hint'),
  qrLink: $('pay-qr-link'),
};

// Which app to scan with, by provider.
const SCAN_WITH = {
  alipay: ['请用支付宝扫一扫付款。', 'Scan with Alipay to pay.'],
  wechatpay: ['请用微信扫一扫付款。', 'Scan with WeChat to pay.'],
  wechatpay_v2: ['请用微信扫一扫付款。', 'Scan with WeChat to pay.'],
  card: ['用手机扫码，在手机上用银行卡付款。', 'Scan with your phone to pay by card there.'],
  sandbox: ['用手机扫码打开演示付款页面。', 'Scan with your phone to open the demo payment page.'],
};

// An unpaid order's payment as a QR code (drawn by lebd), and its page when a browser can open
// it: WeChat Pay's weixin:// links only open from the app's scanner.
function renderPayment(order) {
  const payment = order.status === 'pending_payment' ? order.payment : null;
  el.qr.hidden = !(payment && payment.qr_text);
  if (el.qr.hidden) return;
  const src = `/api/v1/orders/${encodeURIComponent(order.order_no)}/qr.svg`;
  if (el.qrImage.getAttribute('src') !== src) el.qrImage.setAttribute('src', src);
  const [zh, en] = SCAN_WITH[payment.provider] || ['请扫码付款。', 'Scan to pay.'];
  setBilingual(el.qrHint, zh, en);
  const web = /^https?:\/\//i.test(payment.pay_url || '');
  el.qrLink.hidden = !web;
  if (web) el.qrLink.href = payment.pay_url;
}

const orderNo = (new URLSearchParams(location.search).get('order_no') || '').trim();
let shownStatus = null;
let pollStarted = 0;
let pollTimer = 0;
let networkTrouble = false;

function formatTime(text) {
  if (!text) return '';
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return text;
  return date.toLocaleString('zh-CN', { hour12: false });
}

function detailWords(order) {
  const money = (v) => formatMoney(v, order.currency || 'CNY');
  switch (order.status) {
    case 'pending_payment':
      return ['还没有收到付款。如果已经付款，请稍等片刻。', 'No payment received yet. If you have paid, please wait a moment.'];
    case 'paid':
      return ['已收到付款，正在充值到卡上。', 'Payment received; crediting the card.'];
    case 'succeeded': {
      const bonus = Number.isSafeInteger(order.bonus_amount) && order.bonus_amount > 0;
      return [
        `${money(order.face_amount)} 已充值到卡 ${order.card_no_masked || ''}${bonus ? `，另赠 ${money(order.bonus_amount)}` : ''}。`,
        `${money(order.face_amount)} has been credited to card ${order.card_no_masked || ''}${bonus ? `, plus a bonus of ${money(order.bonus_amount)}` : ''}.`,
      ];
    }
    case 'failed':
      return ['付款没有成功，卡上余额没有变化。您可以重新充值。', 'The payment did not go through; the card balance is unchanged. You can try again.'];
    case 'expired':
      return ['订单超时未付款，已关闭。如果您已经付款，钱不会丢失，会自动处理。', 'The order expired unpaid. If you did pay, the money is not lost: it will be handled automatically.'];
    case 'review':
      return ['这笔付款需要人工核对，钱不会丢失。核对后会充值到卡上或原路退回。', 'This payment is being checked by a person; the money is safe. It will be credited or refunded.'];
    case 'refunding':
      return ['这笔付款无法充值到卡上，正在原路退回。', 'This payment cannot be credited; it is being refunded.'];
    case 'refunded':
      return ['款项已原路退回。', 'The payment has been refunded.'];
    default:
      return ['', ''];
  }
}

function renderOrder(order) {
  const [zh, en, tone] = orderStatusWords(order.status);
  el.result.dataset.tone = tone;
  el.icon.textContent = ICONS[tone] || '…';
  // Touch the live region only when the status changes, so it is announced once.
  if (order.status !== shownStatus) {
    shownStatus = order.status;
    setBilingual(el.title, zh, en);
    document.title = `${zh} · LEB`;
  }
  const [dzh, den] = detailWords(order);
  setBilingual(el.detail, dzh, den);

  const money = (v) => formatMoney(v, order.currency || 'CNY');
  $('o-no').textContent = order.order_no || orderNo;
  $('o-card').textContent = order.card_no_masked || '—';
  $('o-face').textContent = money(order.face_amount);
  $('o-pay').textContent = money(order.pay_amount);
  const bonus = Number.isSafeInteger(order.bonus_amount) && order.bonus_amount > 0;
  $('o-bonus-row').hidden = !bonus;
  $('o-bonus').textContent = bonus ? `+${money(order.bonus_amount)}` : '';
  $('o-created').textContent = formatTime(order.created_at) || '—';
  $('o-paid-row').hidden = !order.paid_at;
  $('o-paid').textContent = formatTime(order.paid_at);
  $('o-credited-row').hidden = !order.credited_at;
  $('o-credited').textContent = formatTime(order.credited_at);
  el.details.hidden = false;
  renderPayment(order);
}

function renderProgress() {
  const waited = Math.min(Math.floor((Date.now() - pollStarted) / 1000), POLL_WINDOW_MS / 1000);
  el.progress.hidden = false;
  el.progressBar.value = waited;
  const trouble = networkTrouble ? '网络不稳定，正在重试… ' : '';
  const troubleEn = networkTrouble ? 'Network trouble, retrying… ' : '';
  setBilingual(
    el.progressWords,
    `${trouble}正在确认结果… 已等待 ${waited} 秒`,
    `${troubleEn}Checking the result… ${waited} s (up to 2 min)`,
  );
}

function stopPolling() {
  clearTimeout(pollTimer);
  el.progress.hidden = true;
}

async function poll() {
  const started = Date.now();
  try {
    const { data } = await apiCall('GET', `/api/v1/orders/${encodeURIComponent(orderNo)}`);
    networkTrouble = false;
    el.error.replaceChildren();
    renderOrder(data);
    if (FINAL.has(data.status)) {
      stopPolling();
      el.refresh.hidden = true;
      return;
    }
  } catch (err) {
    if (err.code === 'order_not_found' || (err.status >= 400 && err.status < 500 && err.status !== 429)) {
      stopPolling();
      const [zh, en] = errorText(err);
      setBilingual(el.title, zh, en);
      el.result.dataset.tone = 'bad';
      el.icon.textContent = ICONS.bad;
      el.detail.replaceChildren();
      return;
    }
    networkTrouble = true; // a network error or 5xx: keep trying within the window
  }
  if (Date.now() - pollStarted >= POLL_WINDOW_MS) {
    stopPolling();
    setBilingual(
      el.error,
      '还没有拿到最终结果。付款到账有时需要几分钟，请稍后点“刷新结果”。',
      'No final result yet. A payment can take a few minutes: press “Check again” later.',
    );
    el.refresh.hidden = false;
    return;
  }
  renderProgress();
  pollTimer = setTimeout(poll, Math.max(0, POLL_INTERVAL_MS - (Date.now() - started)));
}

function startPolling() {
  clearTimeout(pollTimer);
  pollStarted = Date.now();
  el.refresh.hidden = true;
  el.error.replaceChildren();
  renderProgress();
  poll();
}

el.refresh.addEventListener('click', startPolling);

if (!orderNo) {
  setBilingual(el.title, '缺少订单号', 'No order number given');
  el.result.dataset.tone = 'bad';
  el.icon.textContent = ICONS.bad;
} else {
  startPolling();
}
