//! template.yaml against the code: every function has a binary, a sample
//! event and a row (route table or job list); each binary serves its own
//! row; each function's environment and IAM policies grant exactly what its
//! needs (functions/src/manifest.rs) say its code uses.

mod support;

use satsgate::bootstrap::Needs;
use serde_yaml_ng::Value as Yaml;
use std::collections::BTreeSet;
use support::*;

/// Global variables every function gets (Globals.Function.Environment).
fn global_env(t: &Yaml) -> BTreeSet<String> {
    t["Globals"]["Function"]["Environment"]["Variables"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

/// Settings (not adapters) a function may be given on top of its needs.
const SETTINGS: &[&str] = &[
    "WEBSOCKET_URL",
    "PRICE_SOURCES",
    "PRICE_MIN_SOURCES",
    "FIATS",
];

/// The environment variables the adapters of `needs` read.
fn adapter_env(needs: Needs) -> BTreeSet<String> {
    let mut env = BTreeSet::new();
    if needs.queue {
        env.insert("WEBHOOK_QUEUE_URL".to_string());
    }
    if needs.queue_consumer {
        env.insert("WEBHOOK_DLQ_URL".to_string());
    }
    if needs.push {
        env.insert("WEBSOCKET_CALLBACK_URL".to_string());
    }
    env
}

/// What a policy grants, in words the needs compare to.
fn grants(policy: &Yaml) -> Vec<String> {
    let target = |v: &Yaml| -> String {
        if let Some(r) = v["Ref"].as_str() {
            return r.to_string();
        }
        if let Some(seq) = v["Fn::GetAtt"].as_sequence() {
            return seq[0].as_str().unwrap().to_string();
        }
        format!("{v:?}")
    };
    if let Some(m) = policy.as_mapping() {
        if let Some(statements) = policy["Statement"].as_sequence() {
            return statements
                .iter()
                .map(|s| match &s["Action"] {
                    Yaml::String(a) => a.clone(),
                    other => format!("{other:?}"),
                })
                .collect();
        }
        return m
            .iter()
            .map(|(k, v)| {
                let resource = v["TableName"]
                    .as_mapping()
                    .map(|_| target(&v["TableName"]))
                    .or_else(|| v["QueueName"].as_mapping().map(|_| target(&v["QueueName"])))
                    .unwrap_or_default();
                format!("{}:{resource}", k.as_str().unwrap())
            })
            .collect();
    }
    vec![format!("{policy:?}")]
}

fn needed_grants(needs: Needs) -> BTreeSet<String> {
    let mut g = BTreeSet::from(["DynamoDBCrudPolicy:Table".to_string()]);
    if needs.queue_consumer {
        g.insert("SQSPollerPolicy:WebhookQueue".into());
        g.insert("SQSSendMessagePolicy:WebhookDeadLetterQueue".into());
    } else if needs.queue {
        g.insert("SQSSendMessagePolicy:WebhookQueue".into());
    }
    if needs.push {
        g.insert("execute-api:ManageConnections".into());
    }
    g
}

#[test]
fn every_function_has_a_binary_a_sample_and_a_row() {
    let t = template();
    let functions = template_functions(&t);
    let names: Vec<String> = functions.iter().map(|f| f.binary.clone()).collect();
    let declared: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    let in_code: BTreeSet<&str> = satsgate_functions::manifest::all().collect();
    assert_eq!(
        declared, in_code,
        "template.yaml functions vs route table + jobs"
    );
    for f in &functions {
        let bin = format!("{ROOT}/functions/src/bin/{}.rs", f.binary);
        let source: String = std::fs::read_to_string(&bin)
            .unwrap_or_else(|_| panic!("{bin}"))
            .split_whitespace()
            .collect();
        // The binary serves its own row: a route's binary names the row's
        // constant, a job's binary its own name.
        let named_row = satsgate::routes::ROW_NAMES
            .iter()
            .find(|(ident, _)| source.contains(&format!("route_function!({ident});")))
            .map(|(_, function)| *function);
        let named_job = source.contains(&format!("job_function!(\"{}\"", f.binary));
        assert!(
            named_row == Some(f.binary.as_str()) || (named_row.is_none() && named_job),
            "{bin} does not serve `{}` (it names {named_row:?})",
            f.binary
        );
        assert!(
            !samples(&f.binary, &names).is_empty(),
            "{}: no events/{}.json",
            f.binary,
            f.binary
        );
    }
    // Every binary of the crate is a template function.
    for entry in std::fs::read_dir(format!("{ROOT}/functions/src/bin")).unwrap() {
        let file = entry.unwrap().file_name().into_string().unwrap();
        let name = file.trim_end_matches(".rs");
        assert!(
            declared.contains(name),
            "binary {name} is not in template.yaml"
        );
    }
}

#[test]
fn environment_and_policies_grant_exactly_what_each_function_needs() {
    let t = template();
    let globals = global_env(&t);
    for f in template_functions(&t) {
        let needs = satsgate_functions::manifest::needs(&f.binary).unwrap();
        let own: BTreeSet<String> = f.properties["Environment"]["Variables"]
            .as_mapping()
            .map(|m| m.keys().map(|k| k.as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        let adapters: BTreeSet<String> = own
            .iter()
            .filter(|k| !SETTINGS.contains(&k.as_str()) && !globals.contains(*k))
            .cloned()
            .collect();
        assert_eq!(
            adapters,
            adapter_env(needs),
            "{}: environment vs needs {needs:?}",
            f.logical_id
        );
        let granted: BTreeSet<String> = f.properties["Policies"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{}: no Policies", f.logical_id))
            .iter()
            .flat_map(grants)
            .collect();
        assert_eq!(
            granted,
            needed_grants(needs),
            "{}: policies vs needs {needs:?}",
            f.logical_id
        );
    }
}

/// Every function the manifest lists is a route or a job (a misspelt
/// route name would silently get only the table).
#[test]
fn the_manifest_names_only_real_functions() {
    for (name, _) in satsgate_functions::manifest::ROUTE_NEEDS {
        assert!(
            satsgate::routes::route_of(name).is_some(),
            "{name} in ROUTE_NEEDS is not a route"
        );
    }
    for (name, _) in satsgate_functions::manifest::JOBS {
        assert!(
            satsgate::routes::route_of(name).is_none(),
            "{name} is a route and a job"
        );
    }
}

/// The check above fails on a function whose template lost a grant.
#[test]
fn a_missing_grant_is_caught() {
    let needs = Needs {
        queue: true,
        ..Needs::TABLE
    };
    let only_table: BTreeSet<String> = BTreeSet::from(["DynamoDBCrudPolicy:Table".to_string()]);
    assert_ne!(only_table, needed_grants(needs));
    assert_eq!(
        adapter_env(needs),
        BTreeSet::from(["WEBHOOK_QUEUE_URL".to_string()])
    );
}

/// Every function logs into a group with a retention; the alarms watch
/// metrics the code writes; the `Sandbox` parameter sets SANDBOX_CHAIN.
#[test]
fn logs_are_kept_for_a_while_and_alarms_watch_emitted_metrics() {
    let t = template();
    let group = t["Globals"]["Function"]["LoggingConfig"]["LogGroup"]["Ref"]
        .as_str()
        .expect("Globals.Function.LoggingConfig.LogGroup is a Ref");
    let res = &t["Resources"][group];
    assert_eq!(res["Type"].as_str(), Some("AWS::Logs::LogGroup"));
    assert!(!res["Properties"]["RetentionInDays"].is_null());
    for f in template_functions(&t) {
        assert!(
            f.properties["LoggingConfig"].is_null(),
            "{} overrides the log group",
            f.logical_id
        );
    }
    use satsgate::metrics::*;
    let emitted = [
        INVOICES_CREATED,
        PAYMENTS_DETECTED,
        DELIVERIES_FAILED,
        POLLER_ERRORS,
        PRICE_SOURCE_FAILURES,
        PRICES_UPDATED,
    ];
    let mut watched = BTreeSet::new();
    for (name, r) in t["Resources"].as_mapping().unwrap() {
        if r["Type"].as_str() != Some("AWS::CloudWatch::Alarm") {
            continue;
        }
        let p = &r["Properties"];
        if p["Namespace"].as_str() == Some(NAMESPACE) {
            let metric = p["MetricName"].as_str().unwrap();
            assert!(
                emitted.contains(&metric),
                "{name:?} watches {metric}, never written"
            );
            watched.insert(metric.to_string());
        }
        assert!(!p["AlarmActions"].is_null(), "{name:?} notifies the topic");
    }
    assert_eq!(
        watched,
        BTreeSet::from([POLLER_ERRORS.to_string(), PRICES_UPDATED.to_string()])
    );
    assert_eq!(
        t["Globals"]["Function"]["Environment"]["Variables"]["SANDBOX_CHAIN"]["Ref"].as_str(),
        Some("Sandbox")
    );
}
