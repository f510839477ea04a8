//! The hosted checkout page: one self-contained HTML document. CSS and JS
//! are inline (allowed by a Content-Security-Policy that pins their
//! SHA-256), the QR is inline SVG rendered here, every merchant-provided
//! string is HTML-escaped, and what the script needs comes as JSON in a
//! `<script type="application/json">` block (with `<`, `>`, `&` escaped).
//! Live status until a final state (completed, expired, cancelled, invalid,
//! refunded, archived): the script subscribes to the invoice over the
//! WebSocket (`subscribe`, type `invoice`) and re-reads `GET /r/{id}` on each
//! `invoice.updated`; without a socket it polls every 3 s (every 30 s with
//! one), and reconnects with backoff. The favicon is an inline data: URL.

use super::{payable, qr};
use crate::clock::{rfc3339, Stamp};
use crate::http::Response;
use crate::invoice::{Invoice, Status};
use crate::money::amount_to_btc_string;
use crate::prices::rates::Currency;
use base64::Engine;
use bitcoin::Amount;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;
use time::OffsetDateTime;

/// Side of the QR on the page, in CSS pixels.
const QR_PX: u32 = 240;

/// Escape text for HTML element content and quoted attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON safe to place inside a `<script type="application/json">` element.
fn script_json(v: &Value) -> String {
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

const STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:flex-start;justify-content:center;background:#f3f4f6;color:#111827;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{width:100%;max-width:420px;margin:24px 12px;background:#fff;border-radius:14px;box-shadow:0 1px 3px rgba(0,0,0,.08),0 8px 24px rgba(0,0,0,.06);overflow:hidden}
header{padding:20px 24px 12px;border-bottom:1px solid #e5e7eb}
.store{font-weight:600;font-size:1.1rem;word-break:break-word}
.order{color:#4b5563;font-size:.95rem;word-break:break-word}
.amount{padding:16px 24px 4px}
.big{font-size:1.6rem;font-weight:700}
.sub{color:#4b5563}
section{padding:8px 24px 20px}
.qr{display:block;margin:8px auto 12px;width:240px;max-width:100%}
.qr svg{display:block;width:100%;height:auto}
.label{font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:#6b7280;margin-top:10px}
.row{display:flex;gap:8px;align-items:center}
code{flex:1;font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f3f4f6;border-radius:6px;padding:8px;word-break:break-all}
button{border:1px solid #d1d5db;background:#fff;border-radius:6px;padding:7px 10px;font:inherit;font-size:.85rem;cursor:pointer;white-space:nowrap}
button:hover{background:#f9fafb}
.wallet{display:block;text-align:center;margin-top:16px;padding:11px;border-radius:8px;background:#f7931a;color:#fff;font-weight:600;text-decoration:none}
.due{margin:4px 0;color:#92400e}
.timer{margin-top:14px;text-align:center;color:#4b5563;font-size:.9rem}
#countdown{font-variant-numeric:tabular-nums;font-weight:600}
.state h1{font-size:1.35rem;margin:12px 0 6px}
.state p{margin:6px 0}
.state.ok h1{color:#047857}
.state.warn h1{color:#b45309}
.state.bad h1{color:#b91c1c}
.state a{color:#1d4ed8}
footer{padding:10px 24px 14px;border-top:1px solid #e5e7eb;color:#9ca3af;font-size:.75rem;overflow-wrap:anywhere}
.offscreen{position:fixed;left:-9999px;top:0}
[hidden]{display:none!important}
"#;

const SCRIPT: &str = r#"
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("sg-data").textContent);
  var skew = Date.parse(data.now) - Date.now();
  var expires = Date.parse(data.expires_at);
  var FINAL = ["completed", "expired", "cancelled", "invalid", "refunded", "archived"];
  var OPEN = ["new", "paid_partial"];
  var shown = data.status;
  var finished = FINAL.indexOf(shown) >= 0;
  var redirecting = false;
  var socket = null, live = false, retry = 1000, pollTimer = null;
  function el(id) { return document.getElementById(id); }
  function showState(kind) {
    var m = data.messages[kind] || data.messages.unknown;
    el("state-title").textContent = m.title;
    el("state-text").textContent = m.text;
    el("state").className = "state " + m.tone;
    el("state").hidden = false;
    el("state").setAttribute("data-status", kind);
    if (el("pay")) el("pay").hidden = true;
    var back = el("return");
    if (back) back.hidden = !(kind === "pending" || kind === "completed");
  }
  function redirectLater() {
    var url = data.redirect_url;
    if (redirecting || !url || !/^https?:\/\//i.test(url)) return;
    redirecting = true;
    el("redirect").hidden = false;
    setTimeout(function () { window.location.assign(url); }, 3000);
  }
  function stop() {
    finished = true;
    if (pollTimer) clearTimeout(pollTimer);
    if (socket) { try { socket.close(); } catch (e) {} }
  }
  function update(inv) {
    // `/r/{id}` shows seed-000 words as `status`; the REST status is `state`.
    var s = inv.state || inv.status;
    if (OPEN.indexOf(s) >= 0) {
      // Still payable: a new amount due (or a payment undone) redraws the page.
      if (OPEN.indexOf(shown) < 0 || inv.amount_due_sats !== data.amount_due_sats) {
        stop();
        window.location.reload();
      }
      return;
    }
    if (s === shown && !el("state").hidden) return;
    shown = s;
    showState(s);
    if (s === "pending" || s === "completed") redirectLater();
    if (FINAL.indexOf(s) >= 0) stop();
  }
  function refresh() {
    if (finished) return Promise.resolve();
    return fetch(data.status_url, { headers: { Accept: "application/json" }, cache: "no-store", credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (b) { if (b && b.invoice) update(b.invoice); })
      .catch(function () {});
  }
  // Polling is the fallback: every 3 s without a live socket, every 30 s with one.
  function poll() {
    pollTimer = null;
    if (finished) return;
    refresh().then(function () {
      if (!finished) pollTimer = setTimeout(poll, live ? 30000 : 3000);
    });
  }
  function wsUrl() {
    if (data.ws_url) return data.ws_url;
    var u = new URL(data.ws_path, window.location.href);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    return u.href;
  }
  function connect() {
    if (finished || !window.WebSocket) return;
    try { socket = new WebSocket(wsUrl()); } catch (e) { return; }
    socket.onopen = function () {
      socket.send(JSON.stringify({ action: "subscribe", type: "invoice", id: data.id }));
    };
    socket.onmessage = function (m) {
      var f;
      try { f = JSON.parse(m.data); } catch (e) { return; }
      if (f.status === "success" && f.message && !live) {
        // Subscribed: catch up on anything that changed before.
        live = true;
        retry = 1000;
        document.documentElement.setAttribute("data-live", "ws");
        refresh();
      } else if (f.type === "invoice.updated" && f.data && f.data.id === data.id) {
        refresh();
      }
    };
    socket.onclose = function () {
      socket = null;
      live = false;
      document.documentElement.setAttribute("data-live", "poll");
      if (finished) return;
      if (!pollTimer) pollTimer = setTimeout(poll, 3000);
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    };
  }
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function tick() {
    if (OPEN.indexOf(shown) < 0 || finished) return;
    var left = Math.floor((expires - (Date.now() + skew)) / 1000);
    if (left <= 0) {
      el("countdown").textContent = "0:00";
      showState("expired"); // stay live: a payment sent in time still counts
      return;
    }
    var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
    el("countdown").textContent = (h ? h + ":" + pad(m) : String(m)) + ":" + pad(s);
    setTimeout(tick, 1000 - ((Date.now() + skew) % 1000));
  }
  function fallbackCopy(text) {
    var t = document.createElement("textarea");
    t.value = text;
    t.setAttribute("readonly", "");
    t.className = "offscreen";
    document.body.appendChild(t);
    t.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(t);
    return ok;
  }
  Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), function (b) {
    var label = b.textContent;
    b.addEventListener("click", function () {
      var text = b.getAttribute("data-copy");
      function done(ok) {
        b.textContent = ok ? "Copied" : "Copy failed";
        setTimeout(function () { b.textContent = label; }, 1500);
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(fallbackCopy(text)); });
      } else {
        done(fallbackCopy(text));
      }
    });
  });
  if (data.open) tick();
  if (shown === "pending" || shown === "completed") redirectLater();
  if (!finished) {
    document.documentElement.setAttribute("data-live", "poll");
    connect();
    pollTimer = setTimeout(poll, 3000);
  }
})();
"#;

/// An inline icon (no request, so no 404 for `/favicon.ico`).
const FAVICON: &str = "<link rel=\"icon\" href=\"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='8' fill='%23f7931a'/%3E%3C/svg%3E\">";

fn csp_hash(s: &str) -> String {
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s.as_bytes()))
    )
}

/// Only the inline style and script above run; fetches and the WebSocket
/// go to this origin (`'self'` covers ws/wss of the same host).
static CSP: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; style-src {}; script-src {}; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'",
        csp_hash(STYLE),
        csp_hash(SCRIPT)
    )
});

/// The policy, allowing also the WebSocket URL when it is elsewhere (AWS:
/// the API Gateway WebSocket API). A URL that could widen the policy (not
/// a plain ws/wss URL) is left out.
fn csp(websocket_url: Option<&str>) -> String {
    let extra = websocket_url.filter(|u| {
        (u.starts_with("wss://") || u.starts_with("ws://"))
            && !u.contains(|c: char| c.is_whitespace() || c == ';' || c == ',' || c == '\'')
    });
    match extra {
        Some(u) => CSP.replace("connect-src 'self'", &format!("connect-src 'self' {u}")),
        None => CSP.clone(),
    }
}

/// An HTML response with the page's security and caching headers.
pub fn html_response(status: u16, html: String, websocket_url: Option<&str>) -> Response {
    Response::raw(status, "text/html; charset=utf-8", html)
        .with_header("Cache-Control", "no-store")
        .with_header("Content-Security-Policy", csp(websocket_url))
        .with_header("X-Content-Type-Options", "nosniff")
        .with_header("Referrer-Policy", "no-referrer")
}

fn document(title: &str, body: &str, script: Option<&str>) -> String {
    let script = script
        .map(|s| format!("<script>{s}</script>"))
        .unwrap_or_default();
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex,nofollow\"><title>{}</title>{FAVICON}<style>{STYLE}</style></head>\
         <body><main>{body}</main>{script}</body></html>\n",
        escape_html(title)
    )
}

/// The 404 page for an unknown invoice.
pub fn not_found() -> String {
    document(
        "Invoice not found",
        "<section class=\"state bad\"><h1>Invoice not found</h1>\
         <p>This payment link is not valid, or the invoice no longer exists.</p>\
         <p>Do not send a payment. Ask the merchant for a new payment link.</p></section>",
        None,
    )
}

/// A page for a server-side failure.
pub fn error(message: &str) -> String {
    document(
        "Checkout unavailable",
        &format!(
            "<section class=\"state bad\"><h1>Checkout unavailable</h1><p>{}</p>\
             <p>Please reload this page in a moment.</p></section>",
            escape_html(message)
        ),
        None,
    )
}

/// Title, text and tone of the panel shown for a status (plain text; the
/// page escapes it, the script sets it as text).
fn message(kind: &str, store: &str) -> (&'static str, String, &'static str) {
    match kind {
        "pending" => ("Paid", "Payment received. It is waiting for confirmation on the Bitcoin network; you can close this page.".into(), "ok"),
        "completed" => ("Payment confirmed", "Payment received and confirmed on the Bitcoin network. Thank you!".into(), "ok"),
        "expired" => (
            "Invoice expired",
            format!("This invoice has expired. Do not send a payment to it; ask {store} for a new one. If you already paid, contact {store}."),
            "warn",
        ),
        "cancelled" => ("Invoice cancelled", format!("{store} cancelled this invoice. Do not send a payment to it."), "warn"),
        "invalid" => (
            "Invoice invalid",
            format!("This invoice was marked invalid, for example because its payment was double-spent. Contact {store}."),
            "bad",
        ),
        "refunded" => ("Payment refunded", format!("{store} refunded the payment for this invoice."), "warn"),
        "archived" => ("Invoice closed", "This invoice is a record of an earlier sale and cannot be paid here.".into(), "warn"),
        _ => ("Invoice unavailable", "This invoice cannot be paid right now.".into(), "warn"),
    }
}

/// The panel kind for an invoice that takes no payment now.
fn closed_kind(inv: &Invoice) -> &'static str {
    match inv.status {
        Status::New | Status::PaidPartial => "expired",
        other => other.as_str(),
    }
}

/// Time left as `m:ss` or `h:mm:ss`.
fn countdown(expires_at: Stamp, now: OffsetDateTime) -> String {
    let left = (expires_at - now).whole_seconds().max(0);
    let (h, m, s) = (left / 3600, (left % 3600) / 60, left % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// The checkout page of an invoice.
pub fn checkout(inv: &Invoice, now: OffsetDateTime, websocket_url: Option<&str>) -> String {
    let store = if inv.store_name.trim().is_empty() {
        "the merchant"
    } else {
        inv.store_name.as_str()
    };
    let heading = if inv.store_name.trim().is_empty() {
        "Checkout"
    } else {
        inv.store_name.as_str()
    };
    let open = payable(inv, now).is_ok();
    let due = inv.due_sats();
    let redirect = inv.redirect_url.as_deref().filter(|u| {
        let l = u.to_ascii_lowercase();
        l.starts_with("https://") || l.starts_with("http://")
    });

    let mut body = String::new();
    body.push_str("<header>");
    body.push_str(&format!(
        "<div class=\"store\">{}</div>",
        escape_html(heading)
    ));
    if let Some(what) = inv
        .order_name
        .as_deref()
        .or(inv.memo.as_deref())
        .filter(|s| !s.is_empty())
    {
        body.push_str(&format!("<div class=\"order\">{}</div>", escape_html(what)));
    }
    body.push_str("</header><div class=\"amount\">");
    if inv.currency == Currency::Btc {
        body.push_str(&format!(
            "<div class=\"big\">{} BTC</div>",
            amount_to_btc_string(inv.crypto_amount_sats)
        ));
    } else {
        body.push_str(&format!(
            "<div class=\"big\">{} {}</div><div class=\"sub\">{} BTC</div>",
            escape_html(&inv.amount.to_string()),
            escape_html(inv.currency.code()),
            amount_to_btc_string(inv.crypto_amount_sats)
        ));
    }
    body.push_str("</div>");

    if open {
        let address = inv.address.as_deref().unwrap_or_default();
        let uri = inv
            .payment_uri()
            .unwrap_or_else(|| format!("bitcoin:{address}"));
        // Drawn at least 3 px per module; CSS scales it to the box.
        let svg = qr::encode(&uri)
            .ok()
            .and_then(|m| Some(qr::svg_element(&m, m.layout(QR_PX.max(m.min_size())).ok()?)))
            .unwrap_or_default();
        body.push_str(&format!(
            "<section id=\"pay\"><a class=\"qr\" href=\"{uri}\" title=\"Open in a Bitcoin wallet\" aria-label=\"QR code of the payment request\">{svg}</a>",
            uri = escape_html(&uri)
        ));
        if inv.paid_sats() > Amount::ZERO {
            body.push_str(&format!(
                "<p class=\"due\">Received {} BTC so far; {} BTC still due.</p>",
                amount_to_btc_string(inv.paid_sats()),
                amount_to_btc_string(due)
            ));
        }
        body.push_str(&format!(
            "<div class=\"label\">Address</div><div class=\"row\"><code id=\"address\">{a}</code>\
             <button type=\"button\" data-copy=\"{a}\">Copy</button></div>\
             <div class=\"label\">Amount</div><div class=\"row\"><code id=\"due\">{d} BTC</code>\
             <button type=\"button\" data-copy=\"{d}\">Copy</button></div>\
             <a class=\"wallet\" href=\"{u}\">Open in wallet</a>\
             <div class=\"timer\">Expires in <time id=\"countdown\" datetime=\"{e}\">{c}</time></div></section>",
            a = escape_html(address),
            d = amount_to_btc_string(due),
            u = escape_html(&uri),
            e = escape_html(&inv.expires_at.to_string()),
            c = countdown(inv.expires_at, now),
        ));
    }

    let kind = if open { "unknown" } else { closed_kind(inv) };
    let (title, text, tone) = message(kind, store);
    body.push_str(&format!(
        "<section id=\"state\" class=\"state {tone}\"{hidden}><h1 id=\"state-title\">{}</h1><p id=\"state-text\">{}</p>\
         <p id=\"redirect\" hidden>Returning to {} in 3 seconds&hellip;</p>",
        escape_html(title),
        escape_html(&text),
        escape_html(store),
        hidden = if open { " hidden" } else { "" },
    ));
    if let Some(url) = redirect {
        let paid = matches!(inv.status, Status::Pending | Status::Completed);
        body.push_str(&format!(
            "<p><a id=\"return\" href=\"{}\"{}>Return to {}</a></p>",
            escape_html(url),
            if paid { "" } else { " hidden" },
            escape_html(store)
        ));
    }
    body.push_str("</section>");
    if open {
        body.push_str("<noscript><section><p>Reload this page to see the payment status.</p></section></noscript>");
    }
    body.push_str(&format!(
        "<footer>Invoice {} &middot; satsgate</footer>",
        escape_html(&inv.id)
    ));

    let mut messages = Map::new();
    // A panel for every status that takes no payment, and for one the page
    // does not know.
    let closed = Status::ALL
        .iter()
        .filter(|s| !matches!(s, Status::New | Status::PaidPartial))
        .map(|s| s.as_str());
    for k in closed.chain(["unknown"]) {
        let (title, text, tone) = message(k, store);
        messages.insert(
            k.into(),
            json!({ "title": title, "text": text, "tone": tone }),
        );
    }
    let data = json!({
        "id": inv.id,
        "status": inv.status,
        "open": open,
        "now": rfc3339(now),
        "expires_at": inv.expires_at,
        "amount_due_sats": due,
        "redirect_url": redirect,
        // Relative, so the page works behind any host or path prefix.
        "status_url": format!("../r/{}", inv.id),
        "ws_path": "../ws",
        "ws_url": websocket_url,
        "messages": messages,
    });
    body.push_str(&format!(
        "<script type=\"application/json\" id=\"sg-data\">{}</script>",
        script_json(&data)
    ));
    document(&format!("Pay {heading}"), &body, Some(SCRIPT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape_html("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(escape_html("Tea & cake"), "Tea &amp; cake");
        assert_eq!(escape_html("plain €"), "plain €");
    }

    #[test]
    fn script_json_cannot_close_the_script_element() {
        let s = script_json(&json!({"name": "</script><script>alert(1)</script>&"}));
        assert!(
            !s.contains('<') && !s.contains('>') && !s.contains('&'),
            "{s}"
        );
        let back: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back["name"], "</script><script>alert(1)</script>&");
    }

    #[test]
    fn csp_pins_the_inline_code() {
        assert!(CSP.contains(&csp_hash(SCRIPT)) && CSP.contains(&csp_hash(STYLE)));
        assert!(!CSP.contains("unsafe-inline"));
        let page = document("t", "", Some(SCRIPT));
        assert!(
            page.contains(&format!("<script>{SCRIPT}</script>")),
            "the hashed text is exactly what is served"
        );
        assert!(page.contains(&format!("<style>{STYLE}</style>")));
    }

    #[test]
    fn csp_allows_only_a_plain_websocket_url_besides_self() {
        assert_eq!(csp(None), *CSP);
        let aws = csp(Some("wss://abc.execute-api.us-east-1.amazonaws.com/prod"));
        assert!(
            aws.contains("connect-src 'self' wss://abc.execute-api.us-east-1.amazonaws.com/prod;"),
            "{aws}"
        );
        for bad in [
            "https://x.example",
            "wss://x; script-src *",
            "wss://x 'unsafe-inline'",
        ] {
            assert_eq!(csp(Some(bad)), *CSP, "{bad}");
        }
    }

    #[test]
    fn every_page_has_an_inline_favicon_and_unbroken_footer_words() {
        for page in [not_found(), error("x"), document("t", "", None)] {
            assert!(
                page.contains("<link rel=\"icon\" href=\"data:image/svg+xml,"),
                "{page}"
            );
        }
        let footer = STYLE.lines().find(|l| l.starts_with("footer{")).unwrap();
        assert!(!footer.contains("break-all") && footer.contains("overflow-wrap:anywhere"));
    }

    #[test]
    fn countdown_formats() {
        let now = crate::clock::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
        let at = |s: &str| Stamp::parse(s).unwrap();
        assert_eq!(countdown(at("2026-01-01T00:15:00.000Z"), now), "15:00");
        assert_eq!(countdown(at("2026-01-01T01:02:03.000Z"), now), "1:02:03");
        assert_eq!(countdown(at("2025-12-31T00:00:00.000Z"), now), "0:00");
    }
}
