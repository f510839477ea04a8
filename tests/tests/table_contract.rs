//! The one `Table` contract (`satsgate::table::contract`) against both
//! engines: the embedded engine in memory, and the DynamoDB engine against
//! moto_server (`SATSGATE_TEST_DYNAMO_ENDPOINT`, started by scripts/test).

use satsgate::table::contract;
use satsgate::table::dynamo::{create_table, DynamoTable};
use satsgate::table::sqlite::SqliteTable;
use satsgate::table::Table;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_engine_meets_the_table_contract() {
    let table = Arc::new(SqliteTable::in_memory());
    assert_eq!(table.engine(), "embedded");
    contract::run_all(table, "mem").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_engine_meets_the_table_contract() {
    let Some(client) = satsgate_e2e::moto_client() else {
        return;
    };
    let name = format!("satsgate-contract-{}", uuid::Uuid::new_v4());
    create_table(&client, &name).await.expect("create table");
    create_table(&client, &name)
        .await
        .expect("create_table is idempotent");
    // for_emulator: moto does not lock or isolate concurrent requests (see
    // DynamoTable::for_emulator); real DynamoDB runs without it.
    let table = Arc::new(DynamoTable::new(client.clone(), &name).for_emulator());
    assert_eq!(table.engine(), "dynamodb");
    contract::run_all(table, "ddb").await;
    client.delete_table().table_name(&name).send().await.ok();
}

/// Corners the contract does not reach but the DynamoDB engine handles
/// with extra machinery (expired items that DynamoDB has not swept yet,
/// odd conditions and updates), checked against both engines so they agree.
async fn engines_agree_on_corners(t: &dyn Table, ns: &str) {
    use satsgate::table::{Cond, Key, Query, TableError, TxOp, Update};
    use serde_json::{json, Value};
    let item = |v: Value| match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    };
    let pk = format!("{ns}#corners");
    let k = |sk: &str| Key::new(&pk, sk);
    let past = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - 60;
    let expired = |sk: &str| {
        item(
            json!({"pk": pk, "sk": sk, "ttl": past, "keep": "old", "n": 5, "claimed": "x", "v": 1}),
        )
    };

    // An update of an expired item starts from an empty item.
    t.put(expired("e1"), None).await.unwrap();
    let after = t
        .update(&k("e1"), Update::new().add("n", 1), None)
        .await
        .unwrap();
    assert_eq!(
        after["n"].as_i64(),
        Some(1),
        "ADD on an expired item starts from 0: {after:?}"
    );
    assert!(
        after.get("keep").is_none() && after.get("ttl").is_none(),
        "no leftovers: {after:?}"
    );
    assert_eq!(t.get(&k("e1")).await.unwrap(), Some(after));

    // Conditions see an expired item as absent.
    t.put(expired("e2"), None).await.unwrap();
    t.update(
        &k("e2"),
        Update::new().set("claimed", "me"),
        Some(Cond::AttrNotExists("claimed".into())),
    )
    .await
    .expect("AttrNotExists holds on an expired item");
    t.put(expired("e3"), None).await.unwrap();
    let e = t
        .update(&k("e3"), Update::new().set("x", 1), Some(Cond::Exists))
        .await
        .unwrap_err();
    assert!(e.is_condition_failed(), "{e:?}");
    assert_eq!(t.get(&k("e3")).await.unwrap(), None);
    let e = t
        .put(item(json!({"pk": pk, "sk": "e3"})), Some(Cond::eq("v", 1)))
        .await
        .unwrap_err();
    assert!(
        e.is_condition_failed(),
        "Eq on an expired item fails: {e:?}"
    );
    t.delete(&k("e3"), Some(Cond::Ne("v".into(), json!(1))))
        .await
        .expect("Ne holds on an expired (absent) item");
    t.put(expired("e4"), None).await.unwrap();
    assert_eq!(
        t.delete(&k("e4"), None).await.unwrap(),
        None,
        "deleting an expired item returns None"
    );

    // Transactions too.
    t.put(expired("e5"), None).await.unwrap();
    t.transact(vec![
        TxOp::Update {
            key: k("e5"),
            update: Update::new().add("n", 1),
            cond: Some(Cond::NotExists),
        },
        TxOp::Put {
            item: item(json!({"pk": pk, "sk": "e6"})),
            cond: Some(Cond::NotExists),
        },
    ])
    .await
    .unwrap();
    let e5 = t.get(&k("e5")).await.unwrap().unwrap();
    assert_eq!(e5["n"].as_i64(), Some(1));
    assert!(
        e5.get("keep").is_none(),
        "transaction update starts from empty: {e5:?}"
    );
    t.put(expired("e7"), None).await.unwrap();
    let e = t
        .transact(vec![
            TxOp::Put {
                item: item(json!({"pk": pk, "sk": "e8"})),
                cond: None,
            },
            TxOp::Check {
                key: k("e7"),
                cond: Cond::Exists,
            },
        ])
        .await
        .unwrap_err();
    assert_eq!(e, TableError::ConditionFailed { op: Some(1) });
    assert_eq!(t.get(&k("e8")).await.unwrap(), None);

    // Paging skips expired items and still knows exactly when more follow.
    let qpk = format!("{ns}#corners-q");
    for i in 0..10 {
        let mut it = item(json!({"pk": qpk, "sk": format!("{i:02}"), "i": i}));
        if i % 2 == 1 {
            it.insert("ttl".into(), json!(past));
        }
        t.put(it, None).await.unwrap();
    }
    let (mut seen, mut cursor, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = t
            .query(Query::table(&qpk).limit(2).cursor(cursor))
            .await
            .unwrap();
        pages += 1;
        seen.extend(page.items.iter().map(|i| i["i"].as_i64().unwrap()));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, vec![0, 2, 4, 6, 8]);
    assert_eq!(pages, 3, "no empty last page");

    // get_many with a key twice.
    let many = t.get_many(&[k("e6"), k("e6"), k("nope")]).await.unwrap();
    assert!(many[0].is_some() && many[1].is_some() && many[2].is_none());
    assert!(t.get_many(&[]).await.unwrap().is_empty());

    // Odd conditions: order on a bool never holds, empty And/Or.
    t.put(item(json!({"pk": pk, "sk": "c", "b": true})), None)
        .await
        .unwrap();
    let e = t
        .put(
            item(json!({"pk": pk, "sk": "c"})),
            Some(Cond::Lt("b".into(), json!(true))),
        )
        .await
        .unwrap_err();
    assert!(e.is_condition_failed(), "{e:?}");
    t.put(
        item(json!({"pk": pk, "sk": "c", "b": true})),
        Some(Cond::And(vec![])),
    )
    .await
    .unwrap();
    let e = t
        .put(item(json!({"pk": pk, "sk": "c"})), Some(Cond::Or(vec![])))
        .await
        .unwrap_err();
    assert!(e.is_condition_failed(), "{e:?}");
    t.put(
        item(json!({"pk": pk, "sk": "c", "b": true})),
        Some(Cond::eq("b", true)),
    )
    .await
    .unwrap();
    t.put(
        item(json!({"pk": pk, "sk": "c", "b": true, "nil": null})),
        Some(Cond::Ne("nil".into(), json!(null))),
    )
    .await
    .unwrap();
    let e = t
        .put(
            item(json!({"pk": pk, "sk": "c"})),
            Some(Cond::Ne("nil".into(), json!(null))),
        )
        .await
        .unwrap_err();
    assert!(e.is_condition_failed(), "{e:?}");
    t.update(
        &k("c"),
        Update::new(),
        Some(Cond::Or(vec![
            Cond::And(vec![Cond::Exists, Cond::eq("b", false)]),
            Cond::AttrExists("nil".into()),
        ])),
    )
    .await
    .unwrap();

    // Updates touching one attribute several times, in the embedded order.
    let after = t
        .update(
            &k("u"),
            Update::new()
                .set("a", 1)
                .set("r", "x")
                .remove("r")
                .add("a", 2)
                .remove("z")
                .add("z", 3)
                .add("c", 1)
                .add("c", 1),
            None,
        )
        .await
        .unwrap();
    assert_eq!(after["a"].as_i64(), Some(3));
    assert_eq!(after["z"].as_i64(), Some(3));
    assert_eq!(after["c"].as_i64(), Some(2));
    assert!(after.get("r").is_none());
    let e = t
        .update(&k("u"), Update::new().set("s", "str").add("s", 1), None)
        .await
        .unwrap_err();
    assert!(matches!(e, TableError::Validation(_)), "{e:?}");
    let e = t
        .update(&k("u"), Update::new().add("s0", 1).set("label", "x"), None)
        .await;
    assert!(e.is_ok());
    t.update(&k("u"), Update::new().set("str", "text"), None)
        .await
        .unwrap();
    let e = t
        .update(&k("u"), Update::new().add("str", 1), None)
        .await
        .unwrap_err();
    assert!(
        matches!(e, TableError::Validation(_)),
        "ADD on a stored string: {e:?}"
    );
    let empty = t.update(&k("fresh"), Update::new(), None).await.unwrap();
    assert_eq!(
        Value::Object(empty),
        json!({"pk": pk, "sk": "fresh"}),
        "an empty update creates the item"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_engine_corners() {
    engines_agree_on_corners(&SqliteTable::in_memory(), "mem").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_engine_corners() {
    let Some(client) = satsgate_e2e::moto_client() else {
        return;
    };
    let name = format!("satsgate-corners-{}", uuid::Uuid::new_v4());
    create_table(&client, &name).await.expect("create table");
    engines_agree_on_corners(
        &DynamoTable::new(client.clone(), &name).for_emulator(),
        "ddb",
    )
    .await;
    client.delete_table().table_name(&name).send().await.ok();
}
