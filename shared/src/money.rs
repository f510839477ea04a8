//! Money: fiat is `Decimal`, bitcoin is `Amount` (satoshis). Never a float.

use bitcoin::Amount;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::Value;

pub const SATS_PER_BTC: i64 = 100_000_000;

/// Parse an amount given as a JSON string or JSON number, exactly.
/// (serde_json runs with `arbitrary_precision`, so numbers keep their digits.)
pub fn decimal_from_json(v: &Value) -> Result<Decimal, String> {
    let text = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return Err("must be a decimal string like \"19.99\" or a number".into()),
    };
    parse_decimal(&text)
}

/// Parse a plain decimal string (`"19.99"`, `"1e-3"` is refused: no exponents).
pub fn parse_decimal(text: &str) -> Result<Decimal, String> {
    if text.is_empty()
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+')
    {
        return Err(format!("`{text}` is not a decimal number"));
    }
    text.parse::<Decimal>()
        .map_err(|_| format!("`{text}` is not a decimal number (at most 28 significant digits)"))
}

/// A BTC decimal (e.g. `0.00031175`) to an exact `Amount`; more than 8
/// decimal places is an error rather than a silent rounding.
pub fn btc_to_amount(btc: Decimal) -> Result<Amount, String> {
    if btc.is_sign_negative() {
        return Err("must not be negative".into());
    }
    let sats = btc * Decimal::from(SATS_PER_BTC);
    if sats.fract() != Decimal::ZERO {
        return Err("BTC amounts have at most 8 decimal places".into());
    }
    sats.to_u64()
        .map(Amount::from_sat)
        .ok_or_else(|| "amount out of range".into())
}

/// `Amount` as a BTC decimal string with 8 places, e.g. `"0.00031175"`.
pub fn amount_to_btc_string(a: Amount) -> String {
    let d = Decimal::from(a.to_sat()) / Decimal::from(SATS_PER_BTC);
    format!("{:.8}", d)
}

/// Fiat price to satoshis at `rate` (fiat per BTC), rounded UP to the next
/// satoshi so the merchant is never short.
pub fn fiat_to_sats(fiat: Decimal, rate: Decimal) -> Result<Amount, String> {
    if rate <= Decimal::ZERO {
        return Err("exchange rate must be positive".into());
    }
    if fiat.is_sign_negative() {
        return Err("amount must not be negative".into());
    }
    let sats = (fiat * Decimal::from(SATS_PER_BTC) / rate)
        .round_dp_with_strategy(0, RoundingStrategy::AwayFromZero);
    sats.to_u64()
        .map(Amount::from_sat)
        .ok_or_else(|| "amount out of range".into())
}

/// Satoshis to fiat at `rate`, rounded half-even to `dp` places (display only).
pub fn sats_to_fiat(a: Amount, rate: Decimal, dp: u32) -> Decimal {
    (Decimal::from(a.to_sat()) * rate / Decimal::from(SATS_PER_BTC))
        .round_dp_with_strategy(dp, RoundingStrategy::MidpointNearestEven)
}

/// Minor units of a fiat currency (JPY has none).
pub fn fiat_decimals(code: &str) -> u32 {
    match code {
        "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "HUF" => 0,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn json_strings_and_numbers_parse_exactly() {
        let v: Value =
            serde_json::from_str(r#"{"a": 19.99, "b": "0.1", "c": 12345678901234567.89}"#).unwrap();
        assert_eq!(decimal_from_json(&v["a"]).unwrap(), d("19.99"));
        assert_eq!(decimal_from_json(&v["b"]).unwrap(), d("0.1"));
        assert_eq!(
            decimal_from_json(&v["c"]).unwrap(),
            d("12345678901234567.89")
        );
        assert!(decimal_from_json(&json!(true)).is_err());
        assert!(decimal_from_json(&json!("abc")).is_err());
        assert!(decimal_from_json(&json!("1e5")).is_err());
    }

    #[test]
    fn fiat_to_sats_rounds_up() {
        // 10 USD at 65000 USD/BTC = 15384.615... sats -> 15385
        assert_eq!(fiat_to_sats(d("10"), d("65000")).unwrap().to_sat(), 15385);
        // exact division stays exact
        assert_eq!(
            fiat_to_sats(d("650"), d("65000")).unwrap().to_sat(),
            1_000_000
        );
        assert!(fiat_to_sats(d("1"), d("0")).is_err());
    }

    #[test]
    fn btc_strings_round_trip() {
        let a = btc_to_amount(d("0.00031175")).unwrap();
        assert_eq!(a.to_sat(), 31175);
        assert_eq!(amount_to_btc_string(a), "0.00031175");
        assert!(btc_to_amount(d("0.000000001")).is_err());
        assert!(btc_to_amount(d("-1")).is_err());
    }

    #[test]
    fn sats_to_fiat_rounds_to_minor_units() {
        assert_eq!(
            sats_to_fiat(Amount::from_sat(15385), d("65000"), 2),
            d("10.00")
        );
        assert_eq!(fiat_decimals("JPY"), 0);
    }
}
