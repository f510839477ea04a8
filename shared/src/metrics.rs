//! Counts as CloudWatch Embedded Metric Format (EMF) log lines: on Lambda
//! each line on stdout becomes metrics in the `satsgate` namespace (the
//! alarms in template.yaml watch them). Off Lambda (no
//! `AWS_LAMBDA_FUNCTION_NAME`) nothing is written.

use serde_json::{json, Map, Value};

pub const NAMESPACE: &str = "satsgate";

/// Metric names (template.yaml's alarms use the same names).
pub const INVOICES_CREATED: &str = "InvoicesCreated";
pub const PAYMENTS_DETECTED: &str = "PaymentsDetected";
pub const DELIVERIES_FAILED: &str = "DeliveriesFailed";
pub const POLLER_ERRORS: &str = "PollerErrors";
pub const PRICE_SOURCE_FAILURES: &str = "PriceSourceFailures";
pub const PRICES_UPDATED: &str = "PricesUpdated";

/// One EMF line with these counts, without dimensions (one series per
/// metric for the whole stack); `Function` is a property for searching.
pub fn emf_line(counts: &[(&str, u64)], function: &str, timestamp_ms: i64) -> String {
    let mut line = Map::new();
    let names: Vec<Value> = counts
        .iter()
        .map(|(name, _)| json!({"Name": name, "Unit": "Count"}))
        .collect();
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [[]], "Metrics": names}],
        }),
    );
    line.insert("Function".into(), json!(function));
    for (name, n) in counts {
        line.insert((*name).into(), json!(n));
    }
    Value::Object(line).to_string()
}

/// Write the counts as one EMF line to stdout when running on Lambda.
pub fn count(counts: &[(&str, u64)]) {
    if counts.is_empty() {
        return;
    }
    let Some(Some(function)) = FUNCTION.get() else {
        return;
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    println!("{}", emf_line(counts, function, now as i64));
}

/// The Lambda function the counts are of (`Config::function_name`).
static FUNCTION: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

/// Name the Lambda function counts are written for (once per process; no
/// name: counts are not written).
pub fn set_function_name(name: Option<String>) {
    let _ = FUNCTION.set(name);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emf_line_declares_each_count_and_carries_its_value() {
        let line = emf_line(
            &[(INVOICES_CREATED, 1), (POLLER_ERRORS, 3)],
            "fn-x",
            1_700_000_000_123,
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([[]]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "InvoicesCreated", "Unit": "Count"}, {"Name": "PollerErrors", "Unit": "Count"}])
        );
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_123i64);
        assert_eq!(v["InvoicesCreated"], 1);
        assert_eq!(v["PollerErrors"], 3);
        assert_eq!(v["Function"], "fn-x");
        assert!(!line.contains('\n'));
    }
}
