//! The contract every `Table` engine must meet. One suite, run against the
//! SQLite engine (unit tests) and against DynamoDB through moto_server
//! (`tests/`). Each check panics with a message naming the broken rule.
//! `ns` keeps runs apart when they share one table.

use super::*;
use serde_json::json;
use std::sync::Arc;

fn item(v: Value) -> Item {
    match v {
        Value::Object(m) => m,
        _ => panic!("item must be an object"),
    }
}

/// Run every check.
pub async fn run_all(table: Arc<dyn Table>, ns: &str) {
    basic_crud(&*table, ns).await;
    conditional_writes(&*table, ns).await;
    updates_and_counters(&*table, ns).await;
    transactions_are_all_or_nothing(&*table, ns).await;
    queries_and_cursors(&*table, ns).await;
    index_queries(&*table, ns).await;
    ttl_hides_expired(&*table, ns).await;
    exact_values(&*table, ns).await;
    concurrent_conditional_puts_one_wins(table.clone(), ns).await;
    concurrent_counter_adds_are_atomic(table.clone(), ns).await;
    optimistic_version_prevents_lost_updates(table.clone(), ns).await;
    concurrent_transactions_one_wins(table.clone(), ns).await;
}

pub async fn basic_crud(t: &dyn Table, ns: &str) {
    let pk = format!("{ns}#crud");
    let k = Key::new(&pk, "a");
    assert_eq!(t.get(&k).await.unwrap(), None, "missing item reads as None");
    t.put(
        item(json!({"pk": pk, "sk": "a", "name": "x", "n": 1})),
        None,
    )
    .await
    .unwrap();
    let got = t.get(&k).await.unwrap().expect("put item is readable");
    assert_eq!(got["name"], json!("x"));
    t.put(item(json!({"pk": pk, "sk": "a", "other": true})), None)
        .await
        .unwrap();
    let got = t.get(&k).await.unwrap().unwrap();
    assert!(got.get("name").is_none(), "put replaces the whole item");
    let many = t.get_many(&[Key::new(&pk, "zz"), k.clone()]).await.unwrap();
    assert!(
        many[0].is_none() && many[1].is_some(),
        "get_many keeps order"
    );
    let old = t.delete(&k, None).await.unwrap();
    assert!(old.is_some(), "delete returns the old item");
    assert_eq!(t.get(&k).await.unwrap(), None, "deleted item is gone");
    assert_eq!(
        t.delete(&k, None).await.unwrap(),
        None,
        "deleting nothing is fine"
    );
}

pub async fn conditional_writes(t: &dyn Table, ns: &str) {
    let pk = format!("{ns}#cond");
    let it = item(json!({"pk": pk, "sk": "a", "v": 1, "s": "b"}));
    t.put(it.clone(), Some(Cond::NotExists)).await.unwrap();
    let e = t.put(it.clone(), Some(Cond::NotExists)).await.unwrap_err();
    assert!(e.is_condition_failed(), "second NotExists put fails: {e:?}");
    let k = Key::new(&pk, "a");
    // numeric comparison, not lexicographic: 9 < 10
    t.update(
        &k,
        Update::new().set("v", 10),
        Some(Cond::Gt("v".into(), json!(0))),
    )
    .await
    .unwrap();
    assert!(Cond::Gt("v".into(), json!(9)).eval(t.get(&k).await.unwrap().as_ref()));
    let e = t
        .update(
            &k,
            Update::new().set("v", 11),
            Some(Cond::Lt("v".into(), json!(9))),
        )
        .await
        .unwrap_err();
    assert!(
        e.is_condition_failed(),
        "10 < 9 must be false (numeric compare)"
    );
    let e = t.delete(&k, Some(Cond::eq("s", "nope"))).await.unwrap_err();
    assert!(e.is_condition_failed());
    assert!(
        t.get(&k).await.unwrap().is_some(),
        "failed delete deleted nothing"
    );
    let e = t
        .update(
            &Key::new(&pk, "missing"),
            Update::new().set("x", 1),
            Some(Cond::Exists),
        )
        .await
        .unwrap_err();
    assert!(e.is_condition_failed(), "Exists on a missing item fails");
    assert!(
        t.get(&Key::new(&pk, "missing")).await.unwrap().is_none(),
        "and writes nothing"
    );
    // AttrNotExists / Ne / Or / And
    t.update(
        &k,
        Update::new().set("claimed", "me"),
        Some(Cond::And(vec![
            Cond::AttrNotExists("claimed".into()),
            Cond::Or(vec![Cond::eq("s", "b"), Cond::eq("s", "c")]),
            Cond::Ne("s".into(), json!("z")),
        ])),
    )
    .await
    .unwrap();
    let e = t
        .update(
            &k,
            Update::new().set("claimed", "you"),
            Some(Cond::AttrNotExists("claimed".into())),
        )
        .await
        .unwrap_err();
    assert!(e.is_condition_failed(), "AttrNotExists fails once set");
}

pub async fn updates_and_counters(t: &dyn Table, ns: &str) {
    let pk = format!("{ns}#upd");
    let k = Key::new(&pk, "c");
    let after = t
        .update(&k, Update::new().add("n", 5).set("label", "x"), None)
        .await
        .unwrap();
    assert_eq!(
        after["n"].as_i64(),
        Some(5),
        "update on absent item creates it, ADD from 0"
    );
    assert_eq!(after["pk"], json!(pk), "created item carries its key");
    let after = t
        .update(&k, Update::new().add("n", -2).remove("label"), None)
        .await
        .unwrap();
    assert_eq!(after["n"].as_i64(), Some(3), "ADD returns the new value");
    assert!(after.get("label").is_none(), "REMOVE removes");
    let e = t
        .update(&k, Update::new().set("pk", "other"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(e, TableError::Validation(_)),
        "key attributes cannot be updated"
    );
}

pub async fn transactions_are_all_or_nothing(t: &dyn Table, ns: &str) {
    let pk = format!("{ns}#tx");
    t.put(item(json!({"pk": pk, "sk": "exists", "v": 1})), None)
        .await
        .unwrap();
    let ops = vec![
        TxOp::Put {
            item: item(json!({"pk": pk, "sk": "new1"})),
            cond: Some(Cond::NotExists),
        },
        TxOp::Update {
            key: Key::new(&pk, "counter"),
            update: Update::new().add("n", 1),
            cond: None,
        },
        TxOp::Put {
            item: item(json!({"pk": pk, "sk": "exists", "v": 2})),
            cond: Some(Cond::NotExists),
        },
    ];
    let e = t.transact(ops).await.unwrap_err();
    assert_eq!(
        e,
        TableError::ConditionFailed { op: Some(2) },
        "failing op is named"
    );
    assert!(
        t.get(&Key::new(&pk, "new1")).await.unwrap().is_none(),
        "no partial put"
    );
    assert!(
        t.get(&Key::new(&pk, "counter")).await.unwrap().is_none(),
        "no partial update"
    );
    assert_eq!(
        t.get(&Key::new(&pk, "exists")).await.unwrap().unwrap()["v"].as_i64(),
        Some(1)
    );

    // Check op guards a write on another item.
    let e = t
        .transact(vec![
            TxOp::Check {
                key: Key::new(&pk, "exists"),
                cond: Cond::eq("v", 99),
            },
            TxOp::Delete {
                key: Key::new(&pk, "exists"),
                cond: None,
            }
            .clone_with_key(&pk, "other"),
        ])
        .await
        .unwrap_err();
    assert_eq!(e, TableError::ConditionFailed { op: Some(0) });

    t.transact(vec![
        TxOp::Check {
            key: Key::new(&pk, "exists"),
            cond: Cond::eq("v", 1),
        },
        TxOp::Put {
            item: item(json!({"pk": pk, "sk": "new1"})),
            cond: Some(Cond::NotExists),
        },
        TxOp::Update {
            key: Key::new(&pk, "counter"),
            update: Update::new().add("n", 1),
            cond: None,
        },
    ])
    .await
    .unwrap();
    assert!(t.get(&Key::new(&pk, "new1")).await.unwrap().is_some());
    assert_eq!(
        t.get(&Key::new(&pk, "counter")).await.unwrap().unwrap()["n"].as_i64(),
        Some(1)
    );

    let dup = vec![
        TxOp::Put {
            item: item(json!({"pk": pk, "sk": "d"})),
            cond: None,
        },
        TxOp::Delete {
            key: Key::new(&pk, "d"),
            cond: None,
        },
    ];
    assert!(
        matches!(
            t.transact(dup).await.unwrap_err(),
            TableError::Validation(_)
        ),
        "same item twice is refused"
    );
    let many: Vec<TxOp> = (0..26)
        .map(|i| TxOp::Put {
            item: item(json!({"pk": pk, "sk": format!("m{i}")})),
            cond: None,
        })
        .collect();
    assert!(
        matches!(
            t.transact(many).await.unwrap_err(),
            TableError::Validation(_)
        ),
        "26 ops refused"
    );
    assert!(t.get(&Key::new(&pk, "m0")).await.unwrap().is_none());
}

impl TxOp {
    /// Test helper: the same op on another key (used to build Check + write pairs).
    fn clone_with_key(self, pk: &str, sk: &str) -> TxOp {
        match self {
            TxOp::Delete { cond, .. } => TxOp::Delete {
                key: Key::new(pk, sk),
                cond,
            },
            other => other,
        }
    }
}

pub async fn queries_and_cursors(t: &dyn Table, ns: &str) {
    let pk = format!("{ns}#q");
    for i in 0..25 {
        t.put(
            item(json!({"pk": pk, "sk": format!("A#{i:03}"), "i": i})),
            None,
        )
        .await
        .unwrap();
    }
    t.put(item(json!({"pk": pk, "sk": "B#000"})), None)
        .await
        .unwrap();
    let page = t
        .query(
            Query::table(&pk)
                .sk(SortKey::BeginsWith("A#".into()))
                .limit(100),
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 25, "begins_with selects the prefix only");
    assert!(page.next_cursor.is_none(), "no cursor when nothing follows");
    for forward in [true, false] {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = t
                .query(
                    Query::table(&pk)
                        .sk(SortKey::BeginsWith("A#".into()))
                        .forward(forward)
                        .limit(7)
                        .cursor(cursor),
                )
                .await
                .unwrap();
            assert!(page.items.len() <= 7);
            seen.extend(page.items.iter().map(|i| i["i"].as_i64().unwrap()));
            cursor = page.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        let mut expected: Vec<i64> = (0..25).collect();
        if !forward {
            expected.reverse();
        }
        assert_eq!(
            seen, expected,
            "pages cover every item once, in order (forward={forward})"
        );
    }
    let exact = t
        .query(
            Query::table(&pk)
                .sk(SortKey::BeginsWith("A#".into()))
                .limit(25),
        )
        .await
        .unwrap();
    assert!(
        exact.next_cursor.is_none(),
        "a page that ends exactly at the end has no cursor"
    );
    let between = t
        .query(Query::table(&pk).sk(SortKey::Between("A#005".into(), "A#007".into())))
        .await
        .unwrap();
    assert_eq!(between.items.len(), 3, "between is inclusive");
    let lt = t
        .query(Query::table(&pk).sk(SortKey::Lt("A#002".into())))
        .await
        .unwrap();
    assert_eq!(lt.items.len(), 2);
    let ge = t
        .query(Query::table(&pk).sk(SortKey::Ge("A#024".into())))
        .await
        .unwrap();
    assert_eq!(ge.items.len(), 2, "A#024 and B#000");
    let bad = t
        .query(Query::table(&pk).cursor(Some("not-a-cursor".into())))
        .await;
    assert!(
        matches!(bad, Err(TableError::Validation(_))),
        "malformed cursor is a validation error"
    );
}

pub async fn index_queries(t: &dyn Table, ns: &str) {
    let part = format!("{ns}#ix");
    for i in 0..12 {
        // two items share each gsi1sk value so ties must page correctly
        t.put(
            item(json!({"pk": format!("{ns}#ixitem#{i}"), "sk": "X", "gsi1pk": part, "gsi1sk": format!("T#{:02}", i / 2), "i": i})),
            None,
        )
        .await
        .unwrap();
    }
    // sparse: no gsi attributes, never listed
    t.put(
        item(json!({"pk": format!("{ns}#ixitem#none"), "sk": "X"})),
        None,
    )
    .await
    .unwrap();
    for forward in [true, false] {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = t
                .query(
                    Query::index(Index::Gsi1, &part)
                        .forward(forward)
                        .limit(5)
                        .cursor(cursor),
                )
                .await
                .unwrap();
            seen.extend(page.items.iter().map(|i| {
                (
                    i["gsi1sk"].as_str().unwrap().to_string(),
                    i["i"].as_i64().unwrap(),
                )
            }));
            cursor = page.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(
            seen.len(),
            12,
            "every indexed item once (forward={forward})"
        );
        let mut ids: Vec<i64> = seen.iter().map(|s| s.1).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 12, "no duplicates across pages");
        let sks: Vec<&String> = seen.iter().map(|s| &s.0).collect();
        let mut sorted = sks.clone();
        sorted.sort();
        if !forward {
            sorted.reverse();
        }
        assert_eq!(sks, sorted, "ordered by index sort key");
    }
    let some = t
        .query(
            Query::index(Index::Gsi1, &part)
                .sk(SortKey::BeginsWith("T#0".into()))
                .limit(100),
        )
        .await
        .unwrap();
    assert_eq!(some.items.len(), 12);
    // moving an item out of the index (remove attribute) drops it
    t.update(
        &Key::new(format!("{ns}#ixitem#0"), "X"),
        Update::new().remove("gsi1pk"),
        None,
    )
    .await
    .unwrap();
    let after = t
        .query(Query::index(Index::Gsi1, &part).limit(100))
        .await
        .unwrap();
    assert_eq!(
        after.items.len(),
        11,
        "an item without the index key leaves the index"
    );
    let g2 = t.query(Query::index(Index::Gsi2, &part)).await.unwrap();
    assert!(g2.items.is_empty(), "indexes are separate");
}

pub async fn ttl_hides_expired(t: &dyn Table, ns: &str) {
    let pk = format!("{ns}#ttl");
    let past = time::OffsetDateTime::now_utc().unix_timestamp() - 3600;
    let future = past + 7200;
    t.put(item(json!({"pk": pk, "sk": "old", "ttl": past})), None)
        .await
        .unwrap();
    t.put(item(json!({"pk": pk, "sk": "new", "ttl": future})), None)
        .await
        .unwrap();
    assert!(
        t.get(&Key::new(&pk, "old")).await.unwrap().is_none(),
        "expired item is invisible"
    );
    assert!(t.get(&Key::new(&pk, "new")).await.unwrap().is_some());
    let page = t.query(Query::table(&pk)).await.unwrap();
    assert_eq!(page.items.len(), 1, "expired items are not listed");
    t.put(
        item(json!({"pk": pk, "sk": "old", "v": 2})),
        Some(Cond::NotExists),
    )
    .await
    .expect("an expired item counts as absent for conditions");
}

pub async fn exact_values(t: &dyn Table, ns: &str) {
    let pk = format!("{ns}#vals");
    let v: Value = serde_json::from_str(
        r#"{"pk": "PK", "sk": "v", "big": 12345678901234567890.123456789, "neg": -0.00000001,
            "m": {"a": [1, "two", {"b": null}], "t": true}, "e": "", "l": []}"#,
    )
    .unwrap();
    let mut it = item(v);
    it.insert("pk".into(), json!(pk));
    t.put(it.clone(), None).await.unwrap();
    let got = t.get(&Key::new(&pk, "v")).await.unwrap().unwrap();
    assert_eq!(
        got["big"].to_string(),
        "12345678901234567890.123456789",
        "numbers are exact"
    );
    assert_eq!(got["neg"].to_string(), "-0.00000001");
    assert_eq!(got["m"], it["m"], "nested maps and lists round-trip");
    assert_eq!(got["e"], json!(""), "empty strings round-trip");
    assert_eq!(got["l"], json!([]));
}

pub async fn concurrent_conditional_puts_one_wins(t: Arc<dyn Table>, ns: &str) {
    let pk = format!("{ns}#race");
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let t = t.clone();
            let pk = pk.clone();
            tokio::spawn(async move {
                t.put(
                    item(json!({"pk": pk, "sk": "one", "winner": i})),
                    Some(Cond::NotExists),
                )
                .await
            })
        })
        .collect();
    let mut wins = 0;
    for r in futures::future::join_all(tasks).await {
        match r.unwrap() {
            Ok(()) => wins += 1,
            Err(e) => assert!(
                e.is_condition_failed() || e == TableError::Busy,
                "unexpected {e:?}"
            ),
        }
    }
    assert_eq!(
        wins, 1,
        "exactly one of 20 concurrent conditional puts wins"
    );
}

pub async fn concurrent_counter_adds_are_atomic(t: Arc<dyn Table>, ns: &str) {
    let k = Key::new(format!("{ns}#ctr"), "n");
    let tasks: Vec<_> = (0..25)
        .map(|_| {
            let t = t.clone();
            let k = k.clone();
            tokio::spawn(async move { t.update(&k, Update::new().add("n", 1), None).await })
        })
        .collect();
    let mut values: Vec<i64> = Vec::new();
    for r in futures::future::join_all(tasks).await {
        values.push(r.unwrap().unwrap()["n"].as_i64().unwrap());
    }
    values.sort();
    assert_eq!(
        values,
        (1..=25).collect::<Vec<_>>(),
        "every add sees a distinct value"
    );
}

/// Read-modify-write with a version check, 10 writers at once: the final
/// count must be 10. An engine whose conditions are not atomic with the
/// write loses updates here.
pub async fn optimistic_version_prevents_lost_updates(t: Arc<dyn Table>, ns: &str) {
    let k = Key::new(format!("{ns}#occ"), "doc");
    t.put(
        item(json!({"pk": k.pk, "sk": k.sk, "version": 0, "count": 0})),
        None,
    )
    .await
    .unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let t = t.clone();
            let k = k.clone();
            tokio::spawn(async move {
                let mut conflicts = 0;
                loop {
                    let cur = t.get(&k).await.unwrap().unwrap();
                    let v = cur["version"].as_i64().unwrap();
                    let c = cur["count"].as_i64().unwrap();
                    tokio::task::yield_now().await;
                    match t
                        .update(
                            &k,
                            Update::new().set("version", v + 1).set("count", c + 1),
                            Some(Cond::eq("version", v)),
                        )
                        .await
                    {
                        Ok(_) => return conflicts,
                        Err(e) if e.is_condition_failed() || e == TableError::Busy => {
                            conflicts += 1
                        }
                        Err(e) => panic!("{e:?}"),
                    }
                }
            })
        })
        .collect();
    futures::future::join_all(tasks).await;
    let end = t.get(&k).await.unwrap().unwrap();
    assert_eq!(end["count"].as_i64(), Some(10), "no update lost");
    assert_eq!(end["version"].as_i64(), Some(10));
}

pub async fn concurrent_transactions_one_wins(t: Arc<dyn Table>, ns: &str) {
    let pk = format!("{ns}#txrace");
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let t = t.clone();
            let pk = pk.clone();
            tokio::spawn(async move {
                t.transact(vec![
                    TxOp::Put {
                        item: item(json!({"pk": pk, "sk": "claim", "by": i})),
                        cond: Some(Cond::NotExists),
                    },
                    TxOp::Put {
                        item: item(json!({"pk": pk, "sk": format!("log#{i}")})),
                        cond: None,
                    },
                ])
                .await
            })
        })
        .collect();
    let mut wins = Vec::new();
    for (i, r) in futures::future::join_all(tasks)
        .await
        .into_iter()
        .enumerate()
    {
        match r.unwrap() {
            Ok(()) => wins.push(i),
            Err(e) => assert!(
                e.is_condition_failed() || e == TableError::Busy,
                "unexpected {e:?}"
            ),
        }
    }
    assert_eq!(wins.len(), 1, "exactly one transaction claims the item");
    let logs = t
        .query(Query::table(&pk).sk(SortKey::BeginsWith("log#".into())))
        .await
        .unwrap();
    assert_eq!(logs.items.len(), 1, "losing transactions wrote nothing");
    assert_eq!(logs.items[0]["sk"], json!(format!("log#{}", wins[0])));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::sqlite::SqliteTable;

    /// A broken engine: ignores every condition (and is slow to write, so
    /// concurrent read-modify-writes interleave).
    struct NoConditions(SqliteTable);

    #[async_trait::async_trait]
    impl Table for NoConditions {
        async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
            self.0.get(key).await
        }
        async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, TableError> {
            self.0.get_many(keys).await
        }
        async fn put(&self, item: Item, _cond: Option<Cond>) -> Result<(), TableError> {
            self.0.put(item, None).await
        }
        async fn update(
            &self,
            key: &Key,
            update: Update,
            _cond: Option<Cond>,
        ) -> Result<Item, TableError> {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            self.0.update(key, update, None).await
        }
        async fn delete(&self, key: &Key, _cond: Option<Cond>) -> Result<Option<Item>, TableError> {
            self.0.delete(key, None).await
        }
        async fn query(&self, query: Query) -> Result<Page, TableError> {
            self.0.query(query).await
        }
        async fn transact(&self, ops: Vec<TxOp>) -> Result<(), TableError> {
            let ops = ops
                .into_iter()
                .filter(|op| !matches!(op, TxOp::Check { .. }))
                .map(|op| match op {
                    TxOp::Put { item, .. } => TxOp::Put { item, cond: None },
                    TxOp::Update { key, update, .. } => TxOp::Update {
                        key,
                        update,
                        cond: None,
                    },
                    TxOp::Delete { key, .. } => TxOp::Delete { key, cond: None },
                    check => check,
                })
                .collect();
            self.0.transact(ops).await
        }
        fn engine(&self) -> &'static str {
            "broken: no conditions"
        }
    }

    /// A broken engine: a transaction is its operations one after another,
    /// so a failing condition leaves the earlier writes in place.
    struct NotAtomic(SqliteTable);

    #[async_trait::async_trait]
    impl Table for NotAtomic {
        async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
            self.0.get(key).await
        }
        async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, TableError> {
            self.0.get_many(keys).await
        }
        async fn put(&self, item: Item, cond: Option<Cond>) -> Result<(), TableError> {
            self.0.put(item, cond).await
        }
        async fn update(
            &self,
            key: &Key,
            update: Update,
            cond: Option<Cond>,
        ) -> Result<Item, TableError> {
            self.0.update(key, update, cond).await
        }
        async fn delete(&self, key: &Key, cond: Option<Cond>) -> Result<Option<Item>, TableError> {
            self.0.delete(key, cond).await
        }
        async fn query(&self, query: Query) -> Result<Page, TableError> {
            self.0.query(query).await
        }
        async fn transact(&self, ops: Vec<TxOp>) -> Result<(), TableError> {
            validate_tx(&ops)?;
            for (i, op) in ops.into_iter().enumerate() {
                let failed = |e: TableError| {
                    if e.is_condition_failed() {
                        TableError::ConditionFailed { op: Some(i) }
                    } else {
                        e
                    }
                };
                match op {
                    TxOp::Put { item, cond } => self.0.put(item, cond).await.map_err(failed)?,
                    TxOp::Update { key, update, cond } => self
                        .0
                        .update(&key, update, cond)
                        .await
                        .map(|_| ())
                        .map_err(failed)?,
                    TxOp::Delete { key, cond } => self
                        .0
                        .delete(&key, cond)
                        .await
                        .map(|_| ())
                        .map_err(failed)?,
                    TxOp::Check { key, cond } => {
                        if !cond.eval(self.0.get(&key).await?.as_ref()) {
                            return Err(TableError::ConditionFailed { op: Some(i) });
                        }
                    }
                }
            }
            Ok(())
        }
        fn engine(&self) -> &'static str {
            "broken: not atomic"
        }
    }

    /// Run one contract check in its own task; true if it failed (panicked).
    async fn fails<F>(check: F) -> bool
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        tokio::spawn(check).await.is_err_and(|e| e.is_panic())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_suite_catches_an_engine_that_ignores_conditions() {
        let t: Arc<dyn Table> = Arc::new(NoConditions(SqliteTable::in_memory()));
        let (a, b, c) = (t.clone(), t.clone(), t.clone());
        assert!(fails(async move { conditional_writes(&*a, "nc1").await }).await);
        assert!(fails(async move { concurrent_conditional_puts_one_wins(b, "nc2").await }).await);
        assert!(
            fails(async move { optimistic_version_prevents_lost_updates(c, "nc3").await }).await,
            "the lost-update check must catch an engine whose conditions do not hold"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_suite_catches_an_engine_whose_transactions_are_not_atomic() {
        let t: Arc<dyn Table> = Arc::new(NotAtomic(SqliteTable::in_memory()));
        assert!(fails(async move { transactions_are_all_or_nothing(&*t, "na").await }).await);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite_in_memory_meets_the_contract() {
        run_all(Arc::new(SqliteTable::in_memory()), "mem").await;
    }
    // On disk (and reopened): `table::sqlite::tests`.
}
