//! Seed 000's shapes for WebSocket messages: invoices, prices and
//! conversions with amounts as JSON numbers and statuses in seed words.
//! Pure functions over the REST JSON shapes, so the same mapping serves
//! replies (REST handler output) and pushes (event data).

use crate::invoice::Status;
use serde_json::{json, Number, Value};
use std::str::FromStr;

/// A decimal string as a JSON number, exact (`"10.00"` -> `10.00`);
/// numbers pass through, anything else is kept as is.
pub fn num(v: &Value) -> Value {
    match v {
        Value::String(s) => Number::from_str(s.trim())
            .map(Value::Number)
            .unwrap_or_else(|_| v.clone()),
        other => other.clone(),
    }
}

/// A REST invoice status as a seed-000 word (`new` -> `unpaid`, ...).
pub fn status_word(state: &Value) -> Value {
    match state.as_str().and_then(Status::parse) {
        Some(s) => Value::String(s.seed_word().to_string()),
        None => state.clone(),
    }
}

/// An invoice (REST shape, `Invoice::to_json`) as WebSocket messages show
/// it: seed 000's `uid`, `amount` (number), `currency`, `status` (seed
/// word), `created_at`/`createdAt`, `updated_at`/`updatedAt`, `uri`
/// (`pay:?r=<payment url>`), `webhook_url`, `redirect_url`, `memo` and
/// `payment_options` (`chain`, `currency`, `amount` and `fee` in BTC as
/// numbers, `outputs: [{address, amount}]`; the network fee is part of the
/// amount asked, so `fee` is 0), plus `id`, `state` (REST status),
/// `address`, `payment_uri`, `crypto_amount_sats`, `expires_at`.
pub fn invoice(rest: &Value) -> Value {
    let uri = rest["payment_url"]
        .as_str()
        .map(|u| Value::String(format!("pay:?r={u}")))
        .unwrap_or(Value::Null);
    let options = match rest["address"].as_str() {
        Some(address) => json!([{
            "chain": "BTC",
            "currency": "BTC",
            "amount": num(&rest["crypto_amount"]),
            "fee": 0,
            "outputs": [{"address": address, "amount": num(&rest["crypto_amount"])}],
        }]),
        None => json!([]),
    };
    json!({
        "uid": rest["id"],
        "id": rest["id"],
        "amount": num(&rest["amount"]),
        "currency": rest["currency"],
        "status": status_word(&rest["status"]),
        "state": rest["status"],
        "uri": uri,
        "created_at": rest["created_at"],
        "createdAt": rest["created_at"],
        "updated_at": rest["updated_at"],
        "updatedAt": rest["updated_at"],
        "webhook_url": rest["webhook_url"],
        "redirect_url": rest["redirect_url"],
        "memo": rest["memo"],
        "address": rest["address"],
        "payment_uri": rest["payment_uri"],
        "crypto_amount_sats": rest["crypto_amount_sats"],
        "expires_at": rest["expires_at"],
        "payment_options": options,
    })
}

/// One price (a `GET /v1/prices` entry) as `list_prices` shows it:
/// `{id, currency, base, value, createdAt, updatedAt, source}`.
pub fn price(entry: &Value) -> Value {
    let base = entry["base"].as_str().unwrap_or("");
    json!({
        "id": format!("price_btc_{}", base.to_ascii_lowercase()),
        "currency": entry["currency"],
        "base": entry["base"],
        "value": num(&entry["value"]),
        "createdAt": entry["updated_at"],
        "updatedAt": entry["updated_at"],
        "source": entry["source"],
    })
}

/// A conversion (`Conversion::to_json`) with its amounts as numbers.
pub fn conversion(rest: &Value) -> Value {
    let mut v = rest.clone();
    for field in ["quote_value", "base_value", "rate"] {
        if let Some(x) = v.get(field) {
            v[field] = num(x);
        }
    }
    v
}

/// A payment (`Payment::to_json`) with `amount` as a number, and its
/// invoice in seed shape.
pub fn payment(rest: &Value, invoice_rest: &Value) -> Value {
    let mut p = rest.clone();
    if let Some(obj) = p.as_object_mut() {
        obj.remove("object");
        if let Some(a) = obj.get("amount").cloned() {
            obj.insert("amount".into(), num(&a));
        }
        obj.insert("invoice".into(), invoice(invoice_rest));
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_become_exact_numbers_and_statuses_seed_words() {
        let rest = json!({"id": "inv_1", "amount": "10.00", "currency": "USD", "status": "paid_partial",
            "created_at": "t", "crypto_amount_sats": 15385});
        let s = invoice(&rest);
        assert_eq!(s["uid"], "inv_1");
        assert!(s["amount"].is_number());
        assert_eq!(s["amount"].to_string(), "10.00");
        assert_eq!(s["status"], "underpaid");
        assert_eq!(s["state"], "paid_partial");
        assert_eq!(status_word(&json!("pending")), "paid");
        assert_eq!(status_word(&json!("completed")), "paid");
        assert_eq!(status_word(&json!("new")), "unpaid");
        let p = price(
            &json!({"currency": "BTC", "base": "USD", "value": "65000.00", "updated_at": "t", "source": "sandbox"}),
        );
        assert_eq!(p["id"], "price_btc_usd");
        assert_eq!(p["value"].as_f64(), Some(65000.0));
        assert_eq!(p["createdAt"], "t");
    }
}
