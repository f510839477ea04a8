//! Seed 000 (Anypay): `POST /r`, a payment request paying the merchant's
//! own fixed address, as anypay clients send it: `[{currency, chain?, to:
//! [{address, amount, currency?}]}]` -> `{invoice: {...}}` in the shape of
//! `GET /r/{id}`. The request is an invoice of the key's store with that
//! address (`invoice::fixed`); this face only reads the seed's fields.

use crate::error::{ApiError, FieldErrors};
use crate::handlers::checkout::seed_request;
use crate::handlers::ctx::Ctx;
use crate::handlers::invoices::{create_invoice, NewInvoice};
use crate::http::Response;
use crate::network::Network;
use crate::request::{json_type, Dec, Field, NonEmpty, Text, Unknown};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

/// The only chain and currency a template may name.
const BTC: &str = "BTC";

/// `POST /r` with a store key: the payment request, answered like `GET /r/{id}`.
pub async fn create_request(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let req = PaymentRequest::parse(&cx.req.body, store.network)?;
    let new = NewInvoice {
        amount: Some(req.amount),
        currency: Some(
            req.currency
                .parse()
                .map_err(|e: String| under(ApiError::field("currency", e), &req.output))?,
        ),
        fixed_address: Some(req.address),
        ..NewInvoice::default()
    };
    let inv = create_invoice(cx.app, &store, new, None)
        .await
        .map_err(|e| under(e, &req.output))?;
    Ok(
        Response::ok(seed_request(&inv, cx.now(), &cx.app.config.public_url))
            .with_header("Cache-Control", "no-store"),
    )
}

/// One payment template of a `POST /r` body, as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Template {
    pub currency: Field<Text<16>>,
    pub chain: Field<Text<16>>,
    /// `[{address, amount, currency?}]`, read as [`Output`]s.
    pub to: Field<Value>,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// One output of a payment template, as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Output {
    pub address: Field<NonEmpty<200>>,
    pub amount: Field<Dec>,
    pub currency: Field<NonEmpty<8>>,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// Read a JSON object as `T` (whose fields never fail to deserialize).
fn typed<T: serde::de::DeserializeOwned>(
    map: serde_json::Map<String, Value>,
) -> Result<T, ApiError> {
    serde_json::from_value(Value::Object(map))
        .map_err(|e| ApiError::bad_request(format!("malformed request body: {e}")))
}

/// A `POST /r` body, parsed: the one output it asks to be paid.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentRequest {
    /// The address, checked for the store's network and normalized.
    pub address: String,
    pub amount: Decimal,
    /// `BTC` or a fiat code (priced at the current rate).
    pub currency: String,
    /// The output's field path in the body (`[0].to[0]`), for errors.
    pub output: String,
}

impl PaymentRequest {
    /// Parse a body: an array of templates (or one template object), of
    /// which exactly one, for BTC, with exactly one output.
    pub fn parse(body: &[u8], network: Network) -> Result<PaymentRequest, ApiError> {
        let shape = "the body must be an array of payment templates \
                     [{\"currency\": \"BTC\", \"to\": [{\"address\": \"...\", \"amount\": 100.0, \"currency\": \"USD\"}]}]";
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("{shape}; it is not JSON ({e})")))?;
        let (templates, in_array) = match value {
            Value::Array(a) => (a, true),
            one @ Value::Object(_) => (vec![one], false),
            other => {
                return Err(ApiError::bad_request(format!(
                    "{shape}, got {}",
                    json_type(&other)
                )))
            }
        };
        let at = |field: &str| {
            if in_array {
                format!("[0].{field}")
            } else {
                field.to_string()
            }
        };
        let mut errors = FieldErrors::default();
        match templates.len() {
            0 => {
                return Err(ApiError::bad_request(format!(
                    "{shape}, got an empty array"
                )))
            }
            1 => {}
            n => errors.add(
                "[1]",
                format!(
                    "one payment template per request: satsgate takes only BTC, got {n} templates"
                ),
            ),
        }
        let Value::Object(template) = &templates[0] else {
            errors.add(
                "[0]",
                format!(
                    "must be a payment template object, got {}",
                    json_type(&templates[0])
                ),
            );
            return Err(errors.into_error());
        };
        let t: Template = typed(template.clone())?;
        let mut te = FieldErrors::default();
        let currency = t.currency.require("currency", &mut te);
        let chain = t.chain.take("chain", &mut te);
        for (field, v) in [("currency", currency), ("chain", chain)] {
            if let Some(Text(v)) = v {
                if !v.eq_ignore_ascii_case(BTC) {
                    te.add(
                        field,
                        format!("must be BTC: satsgate takes Bitcoin only, got `{v}`"),
                    );
                }
            }
        }
        let output = match t.to.require("to", &mut te) {
            Some(Value::Array(outputs)) if outputs.len() == 1 => outputs.into_iter().next(),
            Some(Value::Array(outputs)) => {
                te.add(
                    "to",
                    format!(
                        "must hold exactly one output {{address, amount, currency}}: a request pays \
                         one address (make one request per address), got {}",
                        outputs.len()
                    ),
                );
                None
            }
            Some(other) => {
                te.add(
                    "to",
                    format!(
                        "must be an array of outputs {{address, amount, currency}}, got {}",
                        json_type(&other)
                    ),
                );
                None
            }
            None => None,
        };
        t.unknown.refuse(&mut te, crate::request::UNKNOWN_FIELD);
        add_under(&mut errors, &at(""), te.finish());
        let output_path = at("to[0]");
        let parsed = match output {
            Some(Value::Object(map)) => {
                let o: Output = typed(map)?;
                let mut oe = FieldErrors::default();
                let address = o
                    .address
                    .require("address", &mut oe)
                    .and_then(|NonEmpty(a)| oe.check("address", check_address(&a, network)));
                let amount = o
                    .amount
                    .require("amount", &mut oe)
                    .and_then(|a| oe.check("amount", a.within(Decimal::ZERO, Decimal::MAX)));
                let currency = o
                    .currency
                    .take("currency", &mut oe)
                    .map_or_else(|| BTC.to_string(), |c| c.0.to_ascii_uppercase());
                o.unknown.refuse(&mut oe, crate::request::UNKNOWN_FIELD);
                add_under(&mut errors, &format!("{output_path}."), oe.finish());
                address
                    .zip(amount)
                    .map(|(address, amount)| (address, amount, currency))
            }
            Some(other) => {
                errors.add(
                    output_path.clone(),
                    format!(
                        "must be an output object {{address, amount, currency}}, got {}",
                        json_type(&other)
                    ),
                );
                None
            }
            None => None,
        };
        errors.finish()?;
        let (address, amount, currency) =
            parsed.ok_or_else(|| ApiError::bad_request(shape.to_string()))?;
        Ok(PaymentRequest {
            address,
            amount,
            currency,
            output: output_path,
        })
    }
}

/// An address valid on `network`, normalized (bech32 in lower case); a
/// clear message otherwise, naming the network it belongs to.
fn check_address(text: &str, network: Network) -> Result<String, String> {
    let unchecked: bitcoin::Address<bitcoin::address::NetworkUnchecked> = text
        .parse()
        .map_err(|e| format!("`{text}` is not a Bitcoin address ({e})"))?;
    if unchecked.is_valid_for_network(network.to_bitcoin()) {
        return Ok(unchecked.assume_checked().to_string());
    }
    let other = Network::ALL
        .into_iter()
        .find(|n| unchecked.is_valid_for_network(n.to_bitcoin()))
        .map_or("another network's".to_string(), |n| format!("a {n}"));
    Err(format!(
        "`{text}` is {other} address, but this store is on {network}"
    ))
}

/// Record the field errors of `result` under `prefix`.
fn add_under(errors: &mut FieldErrors, prefix: &str, result: Result<(), ApiError>) {
    let Err(e) = result else {
        return;
    };
    if e.details.is_empty() {
        errors.add(prefix.trim_end_matches('.'), e.message);
    }
    for (field, messages) in e.details {
        for m in messages {
            errors.add(format!("{prefix}{field}"), m);
        }
    }
}

/// A use-case error about `amount` or `currency`, named as the output's
/// field in the body (`[0].to[0].amount`); other errors as they are.
fn under(e: ApiError, output: &str) -> ApiError {
    if e.details.is_empty() {
        return e;
    }
    let mut errors = FieldErrors::default();
    add_under(&mut errors, &format!("{output}."), Err(e));
    errors.into_error()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<PaymentRequest, ApiError> {
        PaymentRequest::parse(body.as_bytes(), Network::Mainnet)
    }

    fn fields(body: &str) -> Vec<String> {
        parse(body).unwrap_err().details.into_keys().collect()
    }

    #[test]
    fn the_seed_example_parses_exactly() {
        let r = parse(
            r#"[{"currency": "BTC", "to": [{"address": "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh", "amount": 100.0, "currency": "USD"}]}]"#,
        )
        .unwrap();
        assert_eq!(r.address, "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh");
        assert_eq!(r.amount.to_string(), "100.0");
        assert_eq!(r.currency, "USD");
        assert_eq!(r.output, "[0].to[0]");
        // One template object, the amount in BTC by default, upper case normalized.
        let r = parse(r#"{"currency": "btc", "chain": "BTC", "to": [{"address": "BC1QXY2KGDYGJRSQTZQ2N0YRF2493P83KKFJHX0WLH", "amount": "0.001"}]}"#).unwrap();
        assert_eq!(
            (r.address.as_str(), r.currency.as_str(), r.output.as_str()),
            ("bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh", "BTC", "to[0]")
        );
    }

    #[test]
    fn bad_bodies_name_their_fields() {
        assert_eq!(
            fields(
                r#"[{"currency": "BSV", "to": [{"address": "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh", "amount": 1}]}]"#
            ),
            ["[0].currency"]
        );
        assert_eq!(
            fields(
                r#"[{"currency": "BTC", "to": [{"address": "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "amount": 1}]}]"#
            ),
            ["[0].to[0].address"]
        );
        let e = parse(r#"[{"currency": "BTC", "to": [{"address": "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "amount": 1}]}]"#).unwrap_err();
        assert!(
            e.message
                .contains("testnet address, but this store is on mainnet"),
            "{}",
            e.message
        );
        assert_eq!(
            fields(r#"[{"currency": "BTC", "to": [{"address": "nope", "amount": 1}]}]"#),
            ["[0].to[0].address"]
        );
        assert_eq!(
            fields(
                r#"[{"currency": "BTC", "to": [{"address": "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh", "amount": "ten"}]}]"#
            ),
            ["[0].to[0].amount"]
        );
        assert_eq!(
            fields(
                r#"[{"currency": "BTC", "to": [{"address": "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"}]}]"#
            ),
            ["[0].to[0].amount"]
        );
        assert_eq!(fields(r#"[{"currency": "BTC", "to": []}]"#), ["[0].to"]);
        assert_eq!(
            fields(
                r#"[{"to": [{"address": "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh", "amount": 1}], "extra": 1}]"#
            ),
            ["[0].currency", "[0].extra"]
        );
        assert_eq!(
            fields(
                r#"[{"currency": "BTC", "to": [{"address": "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh", "amount": 1}]}, {"currency": "BCH", "to": []}]"#
            ),
            ["[1]"]
        );
        for body in ["[]", "3", "not json"] {
            let e = parse(body).unwrap_err();
            assert_eq!(e.status, 400, "{body}");
            assert!(
                e.message.contains("array of payment templates"),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn use_case_errors_are_named_as_the_output_field() {
        let e = under(
            ApiError::field("amount", "USD amounts have at most 2 decimal places"),
            "[0].to[0]",
        );
        assert_eq!(e.details.keys().collect::<Vec<_>>(), ["[0].to[0].amount"]);
        assert!(e.message.contains("[0].to[0].amount"), "{}", e.message);
        let c = under(ApiError::conflict("held"), "[0].to[0]");
        assert_eq!((c.status, c.message.as_str()), (409, "held"));
    }
}
