//! template.yaml declares exactly the route table, each route's function is
//! built from a binary of that name, and the table matches the engines' schema.

use serde_yaml_ng::Value;
use std::collections::BTreeSet;

fn template() -> Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    serde_yaml_ng::from_str(&text)
        .expect("template.yaml parses as plain YAML (long-form intrinsics)")
}

#[test]
fn template_routes_equal_the_route_table() {
    let t = template();
    let mut declared = BTreeSet::new();
    for (_, res) in t["Resources"].as_mapping().unwrap() {
        if res["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        // `cargo lambda build --lambda-dir target/lambda` puts each
        // binary's `bootstrap` in target/lambda/<binary>/.
        let binary = res["Properties"]["CodeUri"]
            .as_str()
            .and_then(|uri| uri.strip_prefix("target/lambda/"))
            .expect("every function's CodeUri is target/lambda/<binary>/")
            .trim_end_matches('/')
            .to_string();
        let bin_file = format!(
            "{}/../functions/src/bin/{binary}.rs",
            env!("CARGO_MANIFEST_DIR")
        );
        assert!(
            std::path::Path::new(&bin_file).exists(),
            "binary {binary} exists"
        );
        if let Some(events) = res["Properties"]["Events"].as_mapping() {
            for (_, ev) in events {
                if ev["Type"].as_str() == Some("HttpApi") {
                    let p = &ev["Properties"];
                    declared.insert((
                        p["Method"].as_str().unwrap().to_uppercase(),
                        p["Path"].as_str().unwrap().to_string(),
                        binary.clone(),
                    ));
                }
            }
        }
    }
    let mut table: BTreeSet<_> = satsgate::routes::rows()
        .into_iter()
        // The dashboard function serves every /dashboard path.
        .chain(
            satsgate::dashboard::ROUTES
                .iter()
                .map(|(m, p)| (m.to_string(), p.to_string(), "dashboard".to_string())),
        )
        .collect();
    // Plus the CORS preflight route (shared/src/edge.rs).
    table.insert((
        "OPTIONS".to_string(),
        "/{proxy+}".to_string(),
        satsgate::edge::PREFLIGHT_FUNCTION.to_string(),
    ));
    let missing: Vec<_> = table.difference(&declared).collect();
    let extra: Vec<_> = declared.difference(&table).collect();
    assert!(missing.is_empty() && extra.is_empty(), "route table vs template.yaml\n missing in template: {missing:?}\n only in template: {extra:?}");
}

#[test]
fn template_table_has_the_engines_key_schema() {
    let t = template();
    let table = &t["Resources"]["Table"]["Properties"];
    let keys: Vec<&str> = table["KeySchema"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| k["AttributeName"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["pk", "sk"]);
    let gsis: Vec<String> = table["GlobalSecondaryIndexes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|g| {
            let ks: Vec<&str> = g["KeySchema"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|k| k["AttributeName"].as_str().unwrap())
                .collect();
            format!("{}:{}", g["IndexName"].as_str().unwrap(), ks.join(","))
        })
        .collect();
    let expected: Vec<String> = satsgate::table::Index::ALL
        .iter()
        .map(|i| format!("{}:{},{}", i.name(), i.pk_attr(), i.sk_attr()))
        .collect();
    assert_eq!(gsis, expected);
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some(satsgate::table::TTL)
    );
    assert!(table["StreamSpecification"]["StreamViewType"]
        .as_str()
        .is_some());
}

/// An API function never runs longer than the pipeline assumes when it
/// leases an `Idempotency-Key` (`dispatch::MAX_REQUEST_SECS`): otherwise a
/// retry could take over the key of a request that is still running.
#[test]
fn api_function_timeouts_fit_the_idempotency_lease() {
    let t = template();
    let global = t["Globals"]["Function"]["Timeout"].as_i64().unwrap_or(3);
    for (name, res) in t["Resources"].as_mapping().unwrap() {
        let events = res["Properties"]["Events"].as_mapping();
        let is_api = events.is_some_and(|evs| {
            evs.iter()
                .any(|(_, ev)| ev["Type"].as_str() == Some("HttpApi"))
        });
        if !is_api {
            continue;
        }
        let timeout = res["Properties"]["Timeout"].as_i64().unwrap_or(global);
        assert!(
            timeout <= satsgate::dispatch::MAX_REQUEST_SECS,
            "{name:?} has Timeout {timeout} s, over MAX_REQUEST_SECS"
        );
    }
}
