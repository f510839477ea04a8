// The satsgate merchant dashboard: a small single-page app over the v1 API,
// reached through /dashboard/api/<v1 path> (the server adds the session from
// the HttpOnly cookie). Every string from the API goes into the page as text
// (textContent), never as HTML.
(function () {
  "use strict";

  var main = document.getElementById("main");
  var flash = document.getElementById("flash");
  var storePick = document.getElementById("store-pick");
  var stores = [];
  var live = null;

  // ---- DOM helpers -------------------------------------------------------

  function h(tag, attrs) {
    var e = document.createElement(tag);
    var a = attrs || {};
    Object.keys(a).forEach(function (k) {
      var v = a[k];
      if (v === undefined || v === null || v === false) return;
      if (k.slice(0, 2) === "on") e.addEventListener(k.slice(2), v);
      else if (k === "text") e.textContent = String(v);
      else if (k === "class") e.className = v;
      else e.setAttribute(k, v === true ? "" : String(v));
    });
    add.apply(null, [e].concat(Array.prototype.slice.call(arguments, 2)));
    return e;
  }
  // Append each further argument (a node, a string, or an array of them).
  function add(parent) {
    for (var i = 1; i < arguments.length; i++) {
      var kid = arguments[i];
      if (kid === undefined || kid === null || kid === false) continue;
      if (Array.isArray(kid)) kid.forEach(function (k) { add(parent, k); });
      else parent.appendChild(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }
  function show() {
    add.apply(null, [clear(main)].concat(Array.prototype.slice.call(arguments)));
  }
  var uid = 0;
  // A labelled field: {name, label, type, value, options, required}.
  function field(f) {
    var id = "f" + (++uid);
    var input;
    if (f.options) {
      input = h("select", { id: id, name: f.name });
      f.options.forEach(function (o) {
        var v = Array.isArray(o) ? o[0] : o, t = Array.isArray(o) ? o[1] : o;
        add(input, h("option", { value: v, selected: String(f.value || "") === v, text: t }));
      });
    } else if (f.type === "textarea") {
      input = h("textarea", { id: id, name: f.name, required: f.required, rows: 3 });
      input.value = f.value || "";
    } else {
      input = h("input", { id: id, name: f.name, type: f.type || "text", required: f.required,
        autocomplete: f.autocomplete || "off", inputmode: f.inputmode, placeholder: f.placeholder });
      input.value = f.value === undefined || f.value === null ? "" : f.value;
    }
    return h("div", { class: "field" }, h("label", { for: id, text: f.label }), input);
  }
  function values(form) {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name) out[el.name] = el.value.trim();
    });
    return out;
  }
  function errorBox(err) {
    var box = h("div", { class: "error", role: "alert" }, err.message);
    var d = err.body && err.body.error && err.body.error.details;
    if (d) {
      var ul = h("ul");
      Object.keys(d).forEach(function (k) {
        (Array.isArray(d[k]) ? d[k] : [d[k]]).forEach(function (m) { add(ul, h("li", { text: k + ": " + m })); });
      });
      add(box, ul);
    }
    return box;
  }
  // A form that calls `submit(values)`; its errors show in the form.
  function form(fields, label, submit, cls) {
    var out = h("div");
    var f = h("form", { class: cls || "fields", novalidate: true },
      fields.map(field), h("div", {}, h("button", { type: "submit", class: "primary", text: label })));
    f.addEventListener("submit", function (ev) {
      ev.preventDefault();
      clear(out);
      Promise.resolve(submit(values(f), out)).catch(function (e) { add(clear(out), errorBox(e)); });
    });
    return h("div", {}, f, out);
  }
  // A button that asks for confirmation in place before running `run`.
  function confirmButton(label, question, run, danger) {
    var wrap = h("span", { class: "actions" });
    function reset() {
      clear(wrap);
      add(wrap, h("button", { type: "button", class: danger ? "danger" : "", text: label, onclick: ask }));
    }
    function ask() {
      clear(wrap);
      var yes = h("button", { type: "button", class: "danger", text: "Yes, " + label.toLowerCase() });
      yes.addEventListener("click", function () {
        yes.disabled = true;
        Promise.resolve(run()).then(reset, function (e) { reset(); note(e); });
      });
      add(wrap, h("span", { text: question }), yes,
        h("button", { type: "button", text: "Back", onclick: reset }));
      yes.focus();
    }
    reset();
    return wrap;
  }
  function note(msg) {
    clear(flash);
    if (!msg) return;
    add(flash, msg instanceof Error ? errorBox(msg) : h("div", { class: "ok", text: msg }));
  }
  function badge(s) { return h("span", { class: "badge " + s, text: s }); }
  function table(headers, rows, wide) {
    return h("table", { class: wide ? "wide" : "" },
      h("thead", {}, h("tr", {}, headers.map(function (t) { return h("th", { scope: "col", text: t }); }))),
      h("tbody", {}, rows.map(function (r) {
        return h("tr", {}, r.map(function (c, i) {
          return h("td", { "data-label": headers[i] }, c === undefined || c === null ? "" : c);
        }));
      })));
  }
  function secretBox(what, value) {
    return h("div", { class: "warn" }, h("p", { text: what + " — shown only once; copy it now:" }),
      h("div", { class: "secret", "data-secret": "1", text: value }));
  }
  function day(ts) { return (ts || "").slice(0, 10); }
  function when(ts) { return (ts || "").replace("T", " ").replace(/\.\d+Z$|Z$/, ""); }

  // ---- API ---------------------------------------------------------------

  function randomKey() {
    var a = new Uint8Array(16);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }
  function request(method, url, body, store) {
    var headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (store) headers["X-Satsgate-Store"] = store;
    if (method === "POST") headers["Idempotency-Key"] = randomKey();
    return fetch(url, {
      method: method, headers: headers, credentials: "same-origin", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      return r.text().then(function (t) {
        var b = null;
        try { b = t ? JSON.parse(t) : null; } catch (e) { b = null; }
        if (!r.ok) {
          var e = new Error(b && b.error ? b.error.message : "HTTP " + r.status);
          e.status = r.status;
          e.body = b;
          if (r.status === 401 && url.indexOf("/dashboard/api/") === 0) { location.hash = "#/login"; }
          throw e;
        }
        return b;
      });
    });
  }
  function api(method, path, body, store) { return request(method, "/dashboard/api" + path, body, store); }
  // A store-level call for the store picked in the header.
  function sapi(method, path, body) { return api(method, path, body, current()); }
  function current() { return storePick.value; }
  function currentStore() {
    return stores.filter(function (s) { return s.id === current(); })[0];
  }
  function qs(o) {
    var p = Object.keys(o).filter(function (k) { return o[k] !== undefined && o[k] !== ""; })
      .map(function (k) { return encodeURIComponent(k) + "=" + encodeURIComponent(o[k]); });
    return p.length ? "?" + p.join("&") : "";
  }
  function loadStores() {
    return api("GET", "/v1/stores?limit=100").then(function (b) {
      stores = b.items;
      var keep = current() || sessionStorage.getItem("sg-store");
      clear(storePick);
      stores.forEach(function (s) {
        add(storePick, h("option", { value: s.id, text: s.name + " (" + s.network + ")" }));
      });
      if (keep && stores.some(function (s) { return s.id === keep; })) storePick.value = keep;
      return stores;
    });
  }
  function pick(id) {
    storePick.value = id;
    sessionStorage.setItem("sg-store", id);
  }
  storePick.addEventListener("change", function () {
    pick(current());
    route();
  });

  // ---- live updates over the WebSocket API ---------------------------------

  // Subscribes to each invoice id shown (no key is needed for an exact
  // id) and calls `onUpdate(id)` on each invoice.updated / payment.received.
  function watch(ids, onUpdate) {
    unwatch();
    if (!window.WebSocket || !ids.length) return;
    var url = document.body.getAttribute("data-ws-url");
    if (!url) {
      var u = new URL("/ws", location.href);
      u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
      url = u.href;
    }
    var sock = new WebSocket(url);
    live = { sock: sock, closed: false };
    var mine = live;
    sock.onopen = function () {
      ids.slice(0, 90).forEach(function (id) {
        sock.send(JSON.stringify({ action: "subscribe", type: "invoice", id: id }));
      });
      document.documentElement.setAttribute("data-live", "ws");
    };
    sock.onmessage = function (m) {
      var f;
      try { f = JSON.parse(m.data); } catch (e) { return; }
      var id = f.data && (f.data.id || f.data.invoice_id || f.data.uid);
      if (f.type && id && ids.indexOf(id) >= 0) onUpdate(id);
    };
    sock.onclose = function () {
      document.documentElement.removeAttribute("data-live");
      if (!mine.closed) setTimeout(function () { if (live === mine) watch(ids, onUpdate); }, 3000);
    };
  }
  function unwatch() {
    if (live) { live.closed = true; try { live.sock.close(); } catch (e) { /* closed */ } live = null; }
    document.documentElement.removeAttribute("data-live");
  }

  // ---- pages ---------------------------------------------------------------

  function loginPage() {
    document.getElementById("nav").hidden = true;
    document.getElementById("session").hidden = true;
    show(h("section", { class: "card login" }, h("h1", { text: "Log in" }),
      h("p", { class: "muted", text: "Use a user of your account (satsgate-local create-user)." }),
      form([
        { name: "username", label: "User name", autocomplete: "username", required: true },
        { name: "password", label: "Password", type: "password", autocomplete: "current-password", required: true }
      ], "Log in", function (v) {
        return request("POST", "/dashboard/login", v).then(function () {
          location.hash = "#/";
          route();
        });
      }, "login-form")));
  }

  function storeTotals(s) {
    return api("GET", "/v1/summary", undefined, s.id).then(function (sum) {
      var fiat = Object.keys(sum.received_fiat || {}).map(function (c) { return sum.received_fiat[c] + " " + c; });
      var counts = Object.keys(sum.counts || {}).filter(function (k) { return sum.counts[k]; }).map(function (k) { return k + " " + sum.counts[k]; });
      return [h("a", { href: "#/invoices", text: s.name, onclick: function () { pick(s.id); } }), sum.received + " BTC",
        fiat.join(", ") || "—", String(sum.invoice_count), counts.join(", ")];
    }, function (e) { return [s.name, e.message, "", "", ""]; });
  }

  function overview() {
    var s = currentStore();
    var chartBox = h("div", { class: "chart", id: "chart" });
    var range = h("select", { id: "chart-days" },
      [7, 30, 90].map(function (d) { return h("option", { value: d, text: "last " + d + " days" }); }));
    range.addEventListener("change", function () { drawChart(chartBox, +range.value); });
    var totals = h("div", {}, h("p", { text: "Loading…" }));
    var latest = h("div");
    show(h("h1", { text: "Overview" }),
      h("section", { class: "card" }, h("h2", { text: "Received per store" }), totals),
      s ? h("section", { class: "card" }, h("h2", { text: "Received per day — " + s.name }),
        h("label", { for: "chart-days", text: "Period" }), range, chartBox) : null,
      s ? h("section", { class: "card" }, h("h2", { text: "Latest invoices" }), latest) : null,
      stores.length ? null : h("p", {}, "No store yet. ", h("a", { href: "#/stores", text: "Create one" })));
    Promise.all(stores.map(storeTotals)).then(function (rows) {
      clear(totals);
      add(totals, table(["Store", "Received BTC", "Received fiat", "Invoices", "By status"], rows, true));
    });
    if (!s) return;
    drawChart(chartBox, 7);
    sapi("GET", "/v1/invoices?limit=10").then(function (b) { add(latest, invoiceTable(b.items)); });
  }

  function drawChart(box, days) {
    var since = new Date(Date.now() - days * 86400000);
    var from = since.toISOString().slice(0, 10);
    var sums = {};
    // Payments come newest first: page back until the period's start.
    function page(cursor, n) {
      return sapi("GET", "/v1/payments" + qs({ limit: 100, cursor: cursor }))
        .then(function (b) {
          var older = false;
          b.items.forEach(function (p) {
            var d = day(p.seen_at);
            if (d < from) { older = true; return; }
            if (p.status === "mempool" || p.status === "confirmed") sums[d] = (sums[d] || 0) + p.amount_sats;
          });
          if (b.next_cursor && !older && n < 20) return page(b.next_cursor, n + 1);
        });
    }
    page(undefined, 0).then(function () {
      var labels = [];
      for (var i = days - 1; i >= 0; i--) labels.push(new Date(Date.now() - i * 86400000).toISOString().slice(0, 10));
      var max = Math.max.apply(null, labels.map(function (d) { return sums[d] || 0; }).concat([1]));
      var W = 600, H = 180, pad = 30, bw = (W - pad) / days;
      var NS = "http://www.w3.org/2000/svg";
      function s(tag, a) {
        var e = document.createElementNS(NS, tag);
        Object.keys(a).forEach(function (k) { if (k === "text") e.textContent = a[k]; else e.setAttribute(k, a[k]); });
        return e;
      }
      var svg = s("svg", { viewBox: "0 0 " + W + " " + (H + 20), role: "img",
        "aria-label": "Satoshis received per day over the last " + days + " days" });
      svg.appendChild(s("line", { x1: pad, y1: H, x2: W, y2: H, class: "axis" }));
      svg.appendChild(s("text", { x: 0, y: 10, text: max + " sat" }));
      labels.forEach(function (d, i) {
        var v = sums[d] || 0, bh = Math.round((v / max) * (H - 20));
        var r = s("rect", { x: pad + i * bw + 1, y: H - bh, width: Math.max(bw - 2, 1), height: bh, class: "bar" });
        r.appendChild(s("title", { text: d + ": " + v + " sat" }));
        svg.appendChild(r);
        if (i === 0 || i === days - 1) svg.appendChild(s("text", { x: pad + i * bw, y: H + 14, text: d }));
      });
      clear(box).appendChild(svg);
      box.setAttribute("data-days", days);
    }, function (e) { add(clear(box), errorBox(e)); });
  }

  // A list of `path` under the current filters (`filters()`), newest
  // first, page by page with the API's cursors; `load(undefined)` starts
  // again at the first page. `after(items)` runs on each page shown.
  function pagedList(box, path, filters, render, after) {
    var cursors = [];
    function load(cursor) {
      if (cursor === undefined) cursors = [];
      var q = Object.assign({}, filters(), { limit: 20, cursor: cursor });
      return sapi("GET", path + qs(q)).then(function (b) {
        clear(box);
        add(box, render(b.items));
        var nav = h("div", { class: "actions" });
        if (cursors.length) add(nav, h("button", { type: "button", text: "Previous page", onclick: function () {
          cursors.pop(); load(cursors[cursors.length - 1]);
        } }));
        if (b.next_cursor) add(nav, h("button", { type: "button", text: "Next page", onclick: function () {
          cursors.push(b.next_cursor); load(b.next_cursor);
        } }));
        add(box, nav);
        if (after) after(b.items);
      }, function (e) { add(clear(box), errorBox(e)); });
    }
    return load;
  }

  function paymentTable(items, withInvoice) {
    if (!items.length) return h("p", { class: "muted", text: "No payment yet." });
    var head = ["Transaction", "Amount (sat)", "Confirmations", "Status", "Seen"];
    return table(withInvoice ? ["Invoice"].concat(head) : head, items.map(function (p) {
      var row = [h("span", { class: "mono", text: p.txid + ":" + p.vout }), String(p.amount_sats),
        String(p.confirmations), h("span", {}, badge(p.status), p.rbf ? " rbf" : ""), when(p.seen_at)];
      return withInvoice ? [p.invoice_id ? h("a", { href: "#/invoice/" + p.invoice_id, class: "mono", text: p.invoice_id }) : ""]
        .concat(row) : row;
    }), true);
  }

  // A store-wide list page: a filter form over `path`, paged; `extra(store,
  // load)` adds sections below it.
  function listPage(title, listId, path, fields, render, extra) {
    var store = currentStore();
    if (!store) { show(h("h1", { text: title }), h("p", { text: "Create a store first." })); return; }
    var filters = {};
    var list = h("div", { id: listId });
    var load = pagedList(list, path, function () { return filters; }, render);
    var filterForm = form(fields, "Filter", function (v) { filters = v; load(undefined); });
    show.apply(null, [h("h1", { text: title + " — " + store.name }),
      h("section", { class: "card" }, h("h2", { text: "Find" }), filterForm, list)].concat(extra ? extra(store, load) : []));
    load(undefined);
  }

  // Every payment the store's invoices received, with a sandbox form that
  // pays any address (regtest stores).
  function paymentsPage() {
    listPage("Payments", "payments-list", "/v1/payments", [
      { name: "status", label: "Status", options: [["", "any"], "mempool", "confirmed", "replaced", "reorged"] },
      { name: "invoice_id", label: "Invoice id" }
    ], function (items) { return paymentTable(items, true); }, function (store, load) {
      if (store.network !== "regtest") return [];
      return [h("section", { class: "card", id: "sandbox-address" }, h("h2", { text: "Sandbox: pay an address" }),
        h("p", { class: "muted", text: "Sends a regtest payment to an address: one of this store's invoice addresses, or any address outside satsgate." }),
        form([{ name: "address", label: "Address", required: true },
          { name: "amount_sats", label: "Amount (sat)", inputmode: "numeric", required: true }],
        "Pay address", function (v) {
          return sapi("POST", "/v1/sandbox/payments", { address: v.address, amount_sats: Number(v.amount_sats) })
            .then(function (r) { note("Payment sent: " + (r.txid || "")); return load(undefined); });
        }))];
    });
  }

  // The store's event log (30 days), each event's payload on request.
  function eventsPage() {
    listPage("Events", "events-list", "/v1/events", [
      { name: "type", label: "Type (e.g. invoice.paid)" },
      { name: "invoice_id", label: "Invoice id" }
    ], function (items) {
      if (!items.length) return h("p", { class: "muted", text: "No events." });
      return table(["Created", "Type", "Invoice", "Payload"], items.map(function (e) {
        var inv = e.data && e.data.invoice;
        return [when(e.created_at), h("b", { class: "event-type", text: e.type }),
          inv && inv.id ? h("a", { href: "#/invoice/" + inv.id, class: "mono", text: inv.id }) : "",
          h("details", {}, h("summary", { text: e.id }), h("pre", { class: "mono response", text: JSON.stringify(e.data, null, 2) }))];
      }), true);
    });
  }

  function invoiceTable(items) {
    if (!items.length) return h("p", { class: "muted", text: "No invoices." });
    return table(["Invoice", "Status", "Amount", "Paid (sat)", "Order", "Created"], items.map(function (i) {
      return [h("a", { href: "#/invoice/" + i.id, class: "mono", text: i.id }),
        h("span", { "data-status-of": i.id }, badge(i.status)), i.amount + " " + i.currency,
        String(i.amount_paid_sats), i.order_id || "", when(i.created_at)];
    }), true);
  }

  function invoices(params) {
    if (!currentStore()) { show(h("h1", { text: "Invoices" }), h("p", { text: "Create a store first." })); return; }
    var filters = params || {};
    var list = h("div");
    var createBox = form([
      { name: "amount", label: "Amount", inputmode: "decimal", required: true },
      { name: "currency", label: "Currency", value: currentStore().default_currency || "BTC" },
      { name: "order_id", label: "Order id (optional)" },
      { name: "memo", label: "Memo (optional)" }
    ], "Create invoice", function (v) {
      var body = { amount: v.amount, currency: v.currency };
      if (v.order_id) body.order_id = v.order_id;
      if (v.memo) body.memo = v.memo;
      return sapi("POST", "/v1/invoices", body).then(function (inv) { location.hash = "#/invoice/" + inv.id; });
    });
    var filterForm = form([
      { name: "status", label: "Status", value: filters.status, options: [["", "any"], "new", "paid_partial", "pending",
        "completed", "expired", "cancelled", "invalid", "archived", "refunded"] },
      { name: "currency", label: "Currency", value: filters.currency },
      { name: "order_id", label: "Order id", value: filters.order_id },
      { name: "created_after", label: "Created after", type: "date", value: filters.created_after },
      { name: "created_before", label: "Created before", type: "date", value: filters.created_before }
    ], "Filter", function (v) { filters = v; load(undefined); });
    var load = pagedList(list, "/v1/invoices", function () { return filters; }, invoiceTable, function (items) {
      watch(items.map(function (i) { return i.id; }), function (id) {
        sapi("GET", "/v1/invoices/" + encodeURIComponent(id)).then(function (inv) {
          var cell = list.querySelector('[data-status-of="' + CSS.escape(id) + '"]');
          if (cell) add(clear(cell), badge(inv.status));
        });
      });
    });
    var importBox = form([
      { name: "order_id", label: "Order id", required: true },
      { name: "amount", label: "Amount", inputmode: "decimal", required: true },
      { name: "currency", label: "Currency", value: currentStore().default_currency || "USD" },
      { name: "crypto_amount", label: "BTC amount (optional)", inputmode: "decimal" },
      { name: "order_name", label: "Order name (optional)" },
      { name: "created_at", label: "Created at (e.g. 2024-05-01 or 2024-05-01 12:00:00)", required: true }
    ], "Import", function (v) {
      var body = {};
      Object.keys(v).forEach(function (k) { if (v[k]) body[k] = v[k]; });
      return sapi("POST", "/v1/invoices/archived", body).then(function (inv) { location.hash = "#/invoice/" + inv.id; });
    });
    var quoteBox = form([
      { name: "amount", label: "Quote amount", inputmode: "decimal", required: true },
      { name: "currency", label: "Quote currency", value: currentStore().default_currency || "USD" }
    ], "Get quote", function (v, out) {
      return sapi("POST", "/v1/quotes", { amount: v.amount, currency: v.currency, crypto_currency: "BTC" }).then(function (q) {
        add(out, h("div", { class: "ok", id: "quote" },
          h("p", { text: q.amount + " " + q.currency + " = " + q.total_crypto_amount + " BTC (rate " + q.rate +
            ", network fee " + q.network_fee + " BTC), held until " + when(q.expires_at) }),
          h("button", { type: "button", class: "primary", text: "Create invoice at this quote", onclick: function () {
            sapi("POST", "/v1/invoices", { quote_id: q.id }).then(function (inv) { location.hash = "#/invoice/" + inv.id; },
              function (e) { add(out, errorBox(e)); });
          } })));
      });
    });
    // Seed 000's POST /r: an invoice paying an address of the merchant's
    // own (one open request per address at a time).
    var fixedBox = form([
      { name: "address", label: "Your address", required: true },
      { name: "amount", label: "Amount", inputmode: "decimal", required: true },
      { name: "currency", label: "Currency", value: currentStore().default_currency || "BTC" }
    ], "Request payment", function (v) {
      var to = { address: v.address, amount: v.amount, currency: v.currency || "BTC" };
      return sapi("POST", "/r", [{ currency: "BTC", to: [to] }]).then(function (r) {
        location.hash = "#/invoice/" + r.invoice.uid;
      });
    });
    show(h("h1", { text: "Invoices — " + currentStore().name }),
      h("section", { class: "card" }, h("h2", { text: "New invoice" }), createBox,
        h("details", {}, h("summary", { text: "Quote a price first (rate held 5 minutes)" }), quoteBox),
        h("details", { id: "fixed-request" }, h("summary", { text: "Request payment to an address of your own (not from the store wallet)" }), fixedBox),
        h("details", {}, h("summary", { text: "Import a past invoice (archived record)" }), importBox)),
      h("section", { class: "card" }, h("h2", { text: "Find" }), filterForm, list));
    load(undefined);
  }

  function invoicePage(id) {
    var store = currentStore();
    var box = h("div", {}, h("p", { text: "Loading…" }));
    show(h("p", {}, h("a", { href: "#/invoices", text: "← Invoices" })), box);
    function reload() {
      var p = "/v1/invoices/" + encodeURIComponent(id);
      return Promise.all([
        sapi("GET", p),
        sapi("GET", "/v1/payments" + qs({ invoice_id: id, limit: 100 })),
        sapi("GET", "/v1/events" + qs({ invoice_id: id, limit: 100 })),
        sapi("GET", p + "/refunds")
      ]).then(function (r) { render(r[0], r[1].items, r[2].items, r[3].items || []); },
        function (e) { add(clear(box), errorBox(e)); });
    }
    function act(label, question, path, bodyFn, danger) {
      return confirmButton(label, question, function () {
        return sapi("POST", "/v1/invoices/" + encodeURIComponent(id) + path, bodyFn())
          .then(function () { note(label + ": done"); return reload(); });
      }, danger);
    }
    function render(inv, payments, events, refunds) {
      clear(box);
      add(box, h("h1", {}, "Invoice ", h("span", { class: "mono", text: inv.id }), " ",
        h("span", { id: "invoice-status", "data-status": inv.status }, badge(inv.status))));
      var kv = h("dl", { class: "kv" });
      [["Amount", inv.amount + " " + inv.currency], ["BTC", inv.crypto_amount + " (" + inv.crypto_amount_sats + " sat)"],
        ["Paid", inv.amount_paid + " BTC"], ["Due", inv.amount_due_sats + " sat"], ["Address", inv.address],
        ["Order", inv.order_id], ["Order name", inv.order_name], ["Memo", inv.memo], ["Buyer", inv.buyer_email],
        ["Flags", (inv.flags || []).join(", ")], ["Created", when(inv.created_at)], ["Expires", when(inv.expires_at)],
        ["Checkout", inv.checkout_url]].forEach(function (r) {
        if (r[1] === undefined || r[1] === null || r[1] === "") return;
        add(kv, [h("dt", { text: r[0] }), h("dd", { class: r[0] === "Address" ? "mono" : "", text: r[1] })]);
      });
      add(box, h("section", { class: "card" }, kv));

      var acts = h("section", { class: "card" }, h("h2", { text: "Actions" }));
      var comment = field({ name: "comment", label: "Comment (for mark and cancel)" });
      add(acts, comment);
      var cval = function () { var v = comment.querySelector("input").value.trim(); return v ? { comment: v } : {}; };
      add(acts, h("div", { class: "actions" },
        act("Mark completed", "Mark this invoice completed?", "/status", function () { return Object.assign({ status: "completed" }, cval()); }),
        act("Mark invalid", "Mark this invoice invalid?", "/status", function () { return Object.assign({ status: "invalid" }, cval()); }, true),
        act("Cancel invoice", "Cancel this invoice?", "/cancel", cval, true),
        act("Accept underpayment", "Accept " + inv.amount_paid_sats + " sat as full payment?", "/accept-underpayment",
          function () { return { accepted_amount_sats: inv.amount_paid_sats }; })));
      add(acts, h("h2", { text: "Record a refund" }), form([
        { name: "address", label: "Refund address", required: true },
        { name: "amount_sats", label: "Amount (sat)", inputmode: "numeric", value: inv.amount_paid_sats }
      ], "Record refund", function (v, out) {
        var ask = confirmButton("Record refund", "Record a refund of " + v.amount_sats + " sat to " + v.address + "?", function () {
          return sapi("POST", "/v1/invoices/" + encodeURIComponent(id) + "/refunds",
            { address: v.address, amount_sats: Number(v.amount_sats) }).then(function () { note("Refund recorded"); return reload(); });
        });
        add(out, ask);
        ask.querySelector("button").click();
      }));
      add(box, acts);

      if (store && store.network === "regtest") add(box, sandbox(inv, payments, reload));

      add(box, h("section", { class: "card" }, h("h2", { text: "Payments" }), paymentTable(payments, false)));
      if (refunds.length) add(box, h("section", { class: "card" }, h("h2", { text: "Refunds" }),
        table(["Address", "Amount (sat)", "Status", "Created"], refunds.map(function (r) {
          return [h("span", { class: "mono", text: r.address }), String(r.amount_sats), badge(r.status), when(r.created_at)];
        }), true)));
      add(box, h("section", { class: "card" }, h("h2", { text: "Timeline" }), events.length ?
        h("ol", { id: "timeline" }, events.slice().reverse().map(function (e) {
          var d = e.data && e.data.invoice;
          return h("li", {}, h("span", { class: "muted", text: when(e.created_at) + " " }), h("b", { text: e.type }),
            d && d.status ? [" → ", badge(d.status)] : null);
        })) : h("p", { class: "muted", text: "No events." })));
      var dl = h("div", {}, "Loading…");
      add(box, h("section", { class: "card", id: "invoice-deliveries" }, h("h2", { text: "Webhook deliveries" }),
        h("button", { type: "button", text: "Refresh deliveries", onclick: function () { invoiceDeliveries(evIds, dl, reload); } }),
        dl,
        h("h2", { text: "Simulate a webhook" }),
        h("p", { class: "muted", text: "Sends the event of a status to your endpoints, marked simulated; the invoice does not change." }),
        form([{ name: "status", label: "Simulated status", options: ["paid_partial", "pending", "completed", "expired", "invalid", "cancelled"] }],
          "Simulate webhook", function (v) {
            return sapi("POST", "/v1/sandbox/simulate-webhook", { invoice_id: inv.id, status: v.status })
              .then(function () { note("Simulated " + v.status + " webhook sent"); });
          })));
      var evIds = events.map(function (e) { return e.id; });
      invoiceDeliveries(evIds, dl, reload);
    }
    watch([id], reload);
    reload();
  }

  // The webhook deliveries of one invoice's events, over every endpoint of
  // the store and the invoice's own webhook_url, each with its attempts.
  function invoiceDeliveries(eventIds, box, again) {
    var ids = {};
    eventIds.forEach(function (e) { ids[e] = true; });
    return sapi("GET", "/v1/webhook-endpoints?limit=100").then(function (b) {
      var eps = b.items.map(function (e) { return e.id; }).concat(["invoice_url"]);
      return Promise.all(eps.map(function (ep) {
        return sapi("GET", "/v1/webhook-endpoints/" + encodeURIComponent(ep) + "/deliveries?limit=100")
          .then(function (d) { return d.items; }, function () { return []; });
      }));
    }).then(function (lists) {
      var mine = [].concat.apply([], lists).filter(function (d) { return ids[d.event_id]; });
      clear(box);
      add(box, mine.length ? deliveryTable(mine, again) : h("p", { class: "muted", text: "No webhook deliveries." }));
    }, function (e) { add(clear(box), errorBox(e)); });
  }

  function deliveryTable(items, again) {
    return table(["Event", "URL", "Status", "Attempts", ""], items.map(function (d) {
      return [h("span", {}, d.event_type, h("br"), h("span", { class: "mono muted", text: d.id })),
        h("span", { class: "mono", text: d.url }),
        h("span", { class: "delivery-status" }, badge(d.status)),
        h("ul", {}, (d.attempts || []).map(function (a) {
          return h("li", { class: "attempt" }, when(a.at) + " — ",
            h("b", { text: a.status_code ? "HTTP " + a.status_code : "no answer" }),
            a.error ? " " + a.error : "", " (" + a.duration_ms + " ms)",
            a.response_body ? h("div", { class: "mono response", text: a.response_body }) : null);
        })),
        confirmButton("Redeliver", "Send this event again?", function () {
          return sapi("POST", "/v1/webhook-deliveries/" + encodeURIComponent(d.id) + "/redeliver", {})
            .then(function () { note("Redelivery queued"); again(); });
        })];
    }), true);
  }

  function sandbox(inv, payments, reload) {
    var sec = h("section", { class: "card", id: "sandbox" }, h("h2", { text: "Sandbox (regtest)" }),
      h("p", { class: "muted", text: "Simulate the chain: no wallet needed." }));
    function run(path, body, msg) {
      return sapi("POST", "/v1/sandbox/" + path, body).then(function () { note(msg); return reload(); });
    }
    add(sec, form([{ name: "amount_sats", label: "Pay (sat)", inputmode: "numeric", value: inv.amount_due_sats || inv.crypto_amount_sats },
      { name: "rbf", label: "Replace-by-fee", options: [["false", "no"], ["true", "yes"]] }],
    "Pay invoice", function (v) {
      return run("payments", { invoice_id: inv.id, amount_sats: Number(v.amount_sats), rbf: v.rbf === "true" }, "Payment sent");
    }));
    add(sec, form([{ name: "count", label: "Blocks to mine", inputmode: "numeric", value: 1 }], "Mine",
      function (v) { return run("blocks", { count: Number(v.count) }, "Mined " + v.count + " block(s)"); }));
    var open = payments.filter(function (p) { return p.status === "mempool"; });
    if (open.length) add(sec, form([{ name: "txid", label: "Transaction to double-spend",
      options: open.map(function (p) { return p.txid; }) }], "Double-spend",
    function (v) { return run("double-spend", { txid: v.txid }, "Double-spent"); }));
    add(sec, form([{ name: "depth", label: "Reorg depth (blocks)", inputmode: "numeric", value: 1 }], "Reorg",
      function (v) { return run("reorg", { depth: Number(v.depth) }, "Reorganised " + v.depth + " block(s)"); }));
    return sec;
  }

  var NETWORKS = ["regtest", "mainnet", "testnet", "signet"];
  var SPEEDS = ["zero_conf", "one_conf", "two_conf", "six_conf"];

  function storesPage() {
    var listBox = h("div");
    var created = h("div");
    show(h("h1", { text: "Stores" }), h("section", { class: "card" }, listBox),
      h("section", { class: "card" }, h("h2", { text: "New store" }), form([
        { name: "name", label: "Name", required: true },
        { name: "network", label: "Network", options: NETWORKS },
        { name: "wallet", label: "Wallet descriptor or xpub/ypub/zpub/tpub/vpub", type: "textarea", required: true },
        { name: "default_currency", label: "Default currency", value: "USD" }
      ], "Create store", function (v) {
        return api("POST", "/v1/stores", v).then(function (b) {
          return loadStores().then(function () {
            pick(b.store.id);
            storesPage();
            note("Store created");
            add(main, h("section", { class: "card", id: "store-created" },
              secretBox("API key of " + b.store.name, b.api_key.key)));
          });
        });
      }), created));
    add(listBox, stores.length ? table(["Store", "Network", "Next address", "Gap", "Warnings", ""], stores.map(function (s) {
      return [s.name, s.network, String(s.next_address_index), String(s.address_gap),
        (s.warnings || []).map(function (w) { return h("div", { class: "warn", text: w.message }); }),
        h("a", { href: "#/store/" + s.id, text: "Settings and keys" })];
    }), true) : h("p", { class: "muted", text: "No store yet." }));
  }

  function storePage(id) {
    var box = h("div", {}, h("p", { text: "Loading…" }));
    show(h("p", {}, h("a", { href: "#/stores", text: "← Stores" })), box);
    Promise.all([api("GET", "/v1/stores/" + encodeURIComponent(id)),
      api("GET", "/v1/stores/" + encodeURIComponent(id) + "/api-keys")]).then(function (r) {
      var s = r[0], keys = r[1].items || [];
      clear(box);
      add(box, h("h1", { text: s.name }));
      add(box, h("section", { class: "card" }, h("dl", { class: "kv" },
        h("dt", { text: "Network" }), h("dd", { text: s.network }),
        h("dt", { text: "Wallet" }), h("dd", { class: "mono", text: s.wallet }),
        h("dt", { text: "Next address index" }), h("dd", { text: String(s.next_address_index) }),
        h("dt", { text: "Address gap" }), h("dd", { text: String(s.address_gap) })),
      (s.warnings || []).map(function (w) { return h("div", { class: "warn", text: w.message }); })));
      add(box, h("section", { class: "card" }, h("h2", { text: "Settings" }), form([
        { name: "name", label: "Name", value: s.name },
        { name: "default_currency", label: "Default currency", value: s.default_currency },
        { name: "speed_policy", label: "Speed policy", value: s.speed_policy, options: SPEEDS },
        { name: "payment_tolerance_percent", label: "Payment tolerance (%)", value: s.payment_tolerance_percent },
        { name: "expiration_minutes", label: "Invoice expiry (minutes)", value: s.expiration_minutes },
        { name: "monitoring_minutes", label: "Monitoring after expiry (minutes)", value: s.monitoring_minutes },
        { name: "api_allowed_ips", label: "API allowlist (IPs/CIDRs, comma-separated)", value: (s.api_allowed_ips || []).join(", ") }
      ], "Save settings", function (v) {
        var body = Object.assign({}, v, {
          expiration_minutes: Number(v.expiration_minutes), monitoring_minutes: Number(v.monitoring_minutes),
          api_allowed_ips: v.api_allowed_ips ? v.api_allowed_ips.split(/[\s,]+/).filter(Boolean) : []
        });
        return api("PATCH", "/v1/stores/" + encodeURIComponent(id), body).then(function () {
          note("Settings saved"); return loadStores();
        });
      })));
      var keyBox = h("section", { class: "card" }, h("h2", { text: "API keys" }));
      add(keyBox, keys.length ? table(["Key", "Label", "Allowed IPs", "Created", ""], keys.map(function (k) {
        return [h("span", { class: "mono", text: k.hint || k.id }), k.label || "", (k.allowed_ips || []).join(", ") || "any",
          when(k.created_at), confirmButton("Revoke", "Revoke this key?", function () {
            return api("DELETE", "/v1/stores/" + encodeURIComponent(id) + "/api-keys/" + encodeURIComponent(k.id))
              .then(function () { note("Key revoked"); storePage(id); });
          }, true)];
      }), true) : h("p", { class: "muted", text: "No API key." }));
      add(keyBox, h("h2", { text: "New API key" }), form([
        { name: "label", label: "Label" },
        { name: "allowed_ips", label: "Allowed IPs/CIDRs (comma-separated, empty: any)" }
      ], "Create key", function (v, out) {
        var body = { label: v.label || undefined, allowed_ips: v.allowed_ips ? v.allowed_ips.split(/[\s,]+/).filter(Boolean) : undefined };
        return api("POST", "/v1/stores/" + encodeURIComponent(id) + "/api-keys", body).then(function (k) {
          storePage(id);
          note("Key created");
          add(flash, secretBox("API key " + (k.label || k.id), k.key));
        });
      }));
      add(box, keyBox);
    }, function (e) { add(clear(box), errorBox(e)); });
  }

  function webhooksPage() {
    if (!currentStore()) { show(h("h1", { text: "Webhooks" }), h("p", { text: "Create a store first." })); return; }
    var listBox = h("div");
    var log = h("section", { class: "card", id: "delivery-log", hidden: true });
    show(h("h1", { text: "Webhooks — " + currentStore().name }), h("section", { class: "card" }, listBox),
      h("section", { class: "card" }, h("h2", { text: "New endpoint" }), form([
        { name: "url", label: "URL", type: "url", required: true },
        { name: "events", label: "Events (comma-separated, empty: all)" },
        { name: "description", label: "Description" }
      ], "Add endpoint", function (v) {
        var body = { url: v.url, description: v.description || undefined,
          events: v.events ? v.events.split(/[\s,]+/).filter(Boolean) : undefined };
        return sapi("POST", "/v1/webhook-endpoints", body).then(function (ep) {
          webhooksPage();
          note("Endpoint added");
          add(flash, secretBox("Signing secret of " + ep.url, ep.secret));
        });
      })), log);
    function deliveries(ep) {
      log.hidden = false;
      clear(log);
      add(log, h("h2", { text: "Deliveries to " + ep.url }), h("button", { type: "button", text: "Refresh", onclick: function () { deliveries(ep); } }));
      var box = h("div", {}, "Loading…");
      add(log, box);
      sapi("GET", "/v1/webhook-endpoints/" + encodeURIComponent(ep.id) + "/deliveries?limit=50").then(function (b) {
        clear(box);
        if (!b.items.length) { add(box, h("p", { class: "muted", text: "No deliveries yet." })); return; }
        add(box, deliveryTable(b.items, function () { deliveries(ep); }));
      }, function (e) { add(clear(box), errorBox(e)); });
    }
    sapi("GET", "/v1/webhook-endpoints?limit=100").then(function (b) {
      if (!b.items.length) { add(listBox, h("p", { class: "muted", text: "No endpoint yet." })); return; }
      b.items.forEach(function (ep) {
        var edit = form([
          { name: "url", label: "URL", value: ep.url },
          { name: "events", label: "Events", value: (ep.events || []).join(", ") },
          { name: "description", label: "Description", value: ep.description }
        ], "Save", function (v) {
          return sapi("PATCH", "/v1/webhook-endpoints/" + encodeURIComponent(ep.id), {
            url: v.url, description: v.description,
            events: v.events ? v.events.split(/[\s,]+/).filter(Boolean) : undefined
          }).then(function () { note("Endpoint saved"); });
        });
        var path = "/v1/webhook-endpoints/" + encodeURIComponent(ep.id);
        add(listBox, h("div", { class: "endpoint card", "data-endpoint": ep.id },
          h("h2", {}, h("span", { class: "mono", text: ep.url })),
          h("div", { class: "actions" },
            h("button", { type: "button", text: "Send test", onclick: function () {
              sapi("POST", path + "/test", {}).then(function (d) {
                note("Test sent: " + d.status); deliveries(ep);
              }, note);
            } }),
            h("button", { type: "button", text: "Delivery log", onclick: function () { deliveries(ep); } }),
            confirmButton("Rotate secret", "Issue a new secret? The old one stops working.", function () {
              return sapi("POST", path + "/rotate-secret", {}).then(function (r) {
                note("Secret rotated"); add(flash, secretBox("New signing secret", r.secret));
              });
            }),
            confirmButton("Delete", "Delete this endpoint?", function () {
              return sapi("DELETE", path).then(function () { webhooksPage(); note("Endpoint deleted"); });
            }, true)),
          h("details", {}, h("summary", { text: "Edit" }), edit)));
      });
    }, function (e) { add(listBox, errorBox(e)); });
  }

  function usersPage() {
    var listBox = h("div", {}, "Loading…");
    show(h("h1", { text: "Users" }),
      h("section", { class: "card" }, h("p", { class: "muted", text: "People who log in to this dashboard, with your account's rights." }), listBox),
      h("section", { class: "card" }, h("h2", { text: "New user" }), form([
        { name: "username", label: "New user name", required: true },
        { name: "password", label: "New user's password (12 characters or more)", type: "password", autocomplete: "new-password", required: true }
      ], "Create user", function (v) {
        return api("POST", "/v1/users", v).then(function () { usersPage(); note("User created"); });
      })));
    api("GET", "/v1/users?limit=100").then(function (b) {
      clear(listBox);
      add(listBox, table(["User", "Created", ""], b.items.map(function (u) {
        return [u.username, when(u.created_at), confirmButton("Delete", "Delete " + u.username + "? Their sessions end.", function () {
          return api("DELETE", "/v1/users/" + encodeURIComponent(u.id)).then(function () { usersPage(); note("User deleted"); });
        }, true)];
      }), true));
    }, function (e) { add(clear(listBox), errorBox(e)); });
  }

  // ---- router ----------------------------------------------------------------

  function route() {
    unwatch();
    var hash = location.hash.replace(/^#/, "") || "/";
    if (hash === "/login") { loginPage(); return; }
    loadStores().then(function () {
      document.getElementById("nav").hidden = false;
      document.getElementById("session").hidden = false;
      var parts = hash.split("/");
      Array.prototype.forEach.call(document.querySelectorAll("#nav a"), function (a) {
        var on = a.getAttribute("href") === "#/" + (parts[1] || "") ||
          (parts[1] === "invoice" && a.getAttribute("href") === "#/invoices") ||
          (parts[1] === "store" && a.getAttribute("href") === "#/stores");
        if (on) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
      });
      switch (parts[1]) {
        case "invoices": invoices(); break;
        case "invoice": invoicePage(decodeURIComponent(parts[2] || "")); break;
        case "payments": paymentsPage(); break;
        case "events": eventsPage(); break;
        case "stores": storesPage(); break;
        case "store": storePage(decodeURIComponent(parts[2] || "")); break;
        case "webhooks": webhooksPage(); break;
        case "users": usersPage(); break;
        default: overview();
      }
    }, function (e) {
      if (e.status === 401) loginPage(); else show(errorBox(e));
    });
  }
  window.addEventListener("hashchange", function () { note(""); route(); main.focus(); });
  document.getElementById("logout").addEventListener("click", function () {
    request("POST", "/dashboard/logout", {}).then(function () {
      stores = [];
      location.hash = "#/login";
    }, note);
  });
  route();
})();
