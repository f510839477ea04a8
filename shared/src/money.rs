//! Money: fiat is `Decimal`, bitcoin is `Amount` (satoshis). Never a float.

use bitcoin::Amount;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::Value;

pub const SATS_PER_BTC: i64 = 100_000_000;
/// The bitcoin supply cap, in BTC: no amount may exceed it.
pub const MAX_BTC: Decimal = Decimal::from_parts(21_000_000, 0, 0, false, 0);
/// The bitcoin supply cap, in satoshis.
pub const MAX_SATS: u64 = 21_000_000 * SATS_PER_BTC as u64;

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
    // `from_str_exact` refuses what `parse` would round (more than 28
    // significant digits): an amount is never changed silently.
    Decimal::from_str_exact(text)
        .map_err(|_| format!("`{text}` is not a decimal number of at most 28 significant digits"))
}

/// Decimal places of a currency: BTC 8, a fiat its ISO 4217 minor units.
pub fn currency_decimals(code: &str) -> u32 {
    if code == "BTC" {
        8
    } else {
        fiat_decimals(code)
    }
}

/// An amount of money in `currency` (BTC or a fiat code), checked: greater
/// than 0, no more decimals than the currency has (trailing zeros aside),
/// and for BTC at most the supply cap. Returns it with at most the
/// currency's decimals (`"10.000"` USD -> `10.00`); never rounds.
pub fn check_amount(amount: Decimal, currency: &str) -> Result<Decimal, String> {
    if amount <= Decimal::ZERO {
        return Err("must be greater than 0".into());
    }
    let dp = currency_decimals(currency);
    if amount.normalize().scale() > dp {
        return Err(format!(
            "{currency} amounts have at most {dp} decimal places"
        ));
    }
    if currency == "BTC" && amount > MAX_BTC {
        return Err(format!(
            "must be at most {MAX_BTC} BTC (all the bitcoin there is)"
        ));
    }
    let mut exact = amount;
    if exact.scale() > dp {
        exact.rescale(dp);
    }
    Ok(exact)
}

/// A BTC decimal (e.g. `0.00031175`) to an exact `Amount`; more than 8
/// decimal places is an error rather than a silent rounding.
pub fn btc_to_amount(btc: Decimal) -> Result<Amount, String> {
    if btc.is_sign_negative() {
        return Err("must not be negative".into());
    }
    if btc > MAX_BTC {
        return Err(format!(
            "must be at most {MAX_BTC} BTC (all the bitcoin there is)"
        ));
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
    let sats = fiat
        .checked_mul(Decimal::from(SATS_PER_BTC))
        .and_then(|x| x.checked_div(rate))
        .map(|x| x.round_dp_with_strategy(0, RoundingStrategy::AwayFromZero))
        .and_then(|x| x.to_u64())
        .filter(|s| *s <= MAX_SATS)
        .ok_or_else(|| {
            format!("is worth more than {MAX_BTC} BTC (all the bitcoin there is) at {rate} per BTC")
        })?;
    Ok(Amount::from_sat(sats))
}

/// Satoshis to fiat at `rate`, rounded half-even to `dp` places (display only).
pub fn sats_to_fiat(a: Amount, rate: Decimal, dp: u32) -> Decimal {
    (Decimal::from(a.to_sat()) * rate / Decimal::from(SATS_PER_BTC))
        .round_dp_with_strategy(dp, RoundingStrategy::MidpointNearestEven)
}

/// Minor units of a fiat currency (ISO 4217: JPY has none, KWD three).
pub fn fiat_decimals(code: &str) -> u32 {
    match code {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
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
    fn over_precise_input_is_refused_not_rounded() {
        for text in [
            "0.000010000000000000000000000009",
            "99999999.999999999999999999999999",
            "10.0000000000000000000000000001",
        ] {
            assert!(parse_decimal(text).is_err(), "{text} must not be rounded");
            assert!(decimal_from_json(&json!(text)).is_err());
            let number: Value = serde_json::from_str(text).unwrap();
            assert!(decimal_from_json(&number).is_err(), "{text} as a number");
        }
        assert_eq!(parse_decimal("0.00001").unwrap(), d("0.00001"));
    }

    #[test]
    fn amounts_are_checked_per_currency() {
        let bad = |a: &str, c: &str| check_amount(d(a), c).unwrap_err();
        assert!(bad("0.000000001", "BTC").contains("8 decimal places"));
        assert!(bad("10.001", "USD").contains("2 decimal places"));
        assert!(bad("1.5", "JPY").contains("0 decimal places"));
        assert!(bad("1.0001", "KWD").contains("3 decimal places"));
        assert!(bad("0", "USD").contains("greater than 0"));
        assert!(bad("-1", "BTC").contains("greater than 0"));
        assert!(bad("21000000.00000001", "BTC").contains("at most 21000000"));
        assert!(bad("1000000000000", "BTC").contains("at most 21000000"));
        assert_eq!(check_amount(d("21000000"), "BTC").unwrap(), d("21000000"));
        let ten = check_amount(d("10.000"), "USD").unwrap();
        assert_eq!(ten.to_string(), "10.00", "trailing zeros only trimmed");
        assert_eq!(check_amount(d("19.9"), "USD").unwrap().to_string(), "19.9");
        assert_eq!(check_amount(d("1500"), "JPY").unwrap(), d("1500"));
        assert!(btc_to_amount(d("21000000.00000001")).is_err());
        // A fiat amount worth more than all the bitcoin there is.
        assert!(fiat_to_sats(d("1000000000000"), d("1")).is_err());
        assert_eq!(
            fiat_to_sats(d("21000000"), d("1")).unwrap().to_sat(),
            MAX_SATS
        );
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
