//! Opaque ids with a type prefix (`inv_`, `store_`, ...). The body is a
//! UUIDv7 in hex, so ids sort by creation time.

/// The prefixes API.md names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Invoice,
    Store,
    Account,
    Webhook,
    Delivery,
    Event,
    Quote,
    Key,
    Payment,
    Refund,
    Request,
    User,
    Session,
}

impl IdKind {
    pub fn prefix(self) -> &'static str {
        match self {
            IdKind::Invoice => "inv_",
            IdKind::Store => "store_",
            IdKind::Account => "acct_",
            IdKind::Webhook => "whk_",
            IdKind::Delivery => "dlv_",
            IdKind::Event => "evt_",
            IdKind::Quote => "quo_",
            IdKind::Key => "key_",
            IdKind::User => "usr_",
            IdKind::Session => "ses_",
            IdKind::Payment => "pay_",
            IdKind::Refund => "ref_",
            IdKind::Request => "req_",
        }
    }
}

/// A new id of that kind.
pub fn new_id(kind: IdKind) -> String {
    format!("{}{}", kind.prefix(), uuid::Uuid::now_v7().simple())
}

/// Whether `s` looks like an id of that kind (prefix + 32 lower-case hex).
pub fn is_id(kind: IdKind, s: &str) -> bool {
    s.strip_prefix(kind.prefix()).is_some_and(|rest| {
        rest.len() == 32
            && rest
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_sort_by_time() {
        let a = new_id(IdKind::Invoice);
        let b = new_id(IdKind::Invoice);
        assert!(a.starts_with("inv_"));
        assert!(is_id(IdKind::Invoice, &a));
        assert!(!is_id(IdKind::Store, &a));
        assert!(a < b, "v7 ids sort by creation");
        assert!(!is_id(IdKind::Invoice, "inv_../../etc"));
    }
}
