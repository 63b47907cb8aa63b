use super::*;

fn normal(raw: &str) -> Result<String, PathError> {
    NormalPath::parse(raw).map(|p| p.forwarded("", p.segments()))
}

#[test]
fn a_plain_path_is_forwarded_as_it_came() {
    for path in ["/orders", "/orders/1", "/orders/1/", "/", "/a:b@c/x;y=1"] {
        assert_eq!(normal(path).unwrap(), path, "{path}");
    }
}

#[test]
fn dot_segments_and_empty_segments_are_resolved_encoded_or_not() {
    let cases = [
        ("/orders/../billing", "/billing"),
        ("/orders/./1", "/orders/1"),
        ("//orders//1", "/orders/1"),
        ("/orders/%2e%2e/billing", "/billing"),
        ("/orders/%2E%2e/billing/", "/billing/"),
        ("/orders/.%2e/billing", "/billing"),
        ("/orders/1/..", "/orders/"),
        ("/%6Frders/1", "/orders/1"),
        ("/orders/a%20b", "/orders/a%20b"),
        ("/orders/a%2fb%3F", "refused"),
    ];
    for (raw, want) in cases {
        match normal(raw) {
            Ok(got) => assert_eq!(got, want, "{raw}"),
            Err(e) => assert_eq!(want, "refused", "{raw}: {e}"),
        }
    }
}

#[test]
fn escaped_separators_bad_escapes_and_climbing_out_of_the_root_are_refused() {
    for (raw, want) in [
        ("/orders/..%2Fadmin", PathError::Separator),
        ("/orders/%5C..", PathError::Separator),
        ("/orders\\..\\admin", PathError::Separator),
        ("/orders/%00", PathError::Separator),
        ("/orders/%zz", PathError::BadEscape),
        ("/orders/%4", PathError::BadEscape),
        ("/..", PathError::AboveRoot),
        ("/orders/../../x", PathError::AboveRoot),
        ("/%2e%2e/x", PathError::AboveRoot),
        ("orders", PathError::NotAbsolute),
    ] {
        assert_eq!(NormalPath::parse(raw), Err(want), "{raw}");
    }
}

#[test]
fn characters_outside_a_path_segment_are_escaped_upper_case() {
    assert_eq!(normal("/a/%7e%41\"<>").unwrap(), "/a/~A%22%3C%3E");
    assert_eq!(normal("/a/caf%c3%a9").unwrap(), "/a/caf%C3%A9");
}

#[test]
fn a_prefix_takes_whole_segments_only() {
    let orders = Prefix::parse("/orders").unwrap();
    let under = |raw: &str| {
        NormalPath::parse(raw)
            .unwrap()
            .under(&orders)
            .map(<[String]>::len)
    };
    assert_eq!(under("/orders"), Some(0));
    assert_eq!(under("/orders/1/items"), Some(2));
    assert_eq!(under("/orders-archive/1"), None);
    assert_eq!(under("/Orders/1"), None, "segments are case-sensitive");
    assert_eq!(under("/billing/../orders/1"), Some(1));
    assert_eq!(under("/orders/../billing"), None);
}

#[test]
fn prefixes_are_checked_and_overlaps_found() {
    assert_eq!(Prefix::parse("/orders/").unwrap().as_str(), "/orders");
    for bad in [
        "", "/", "orders", "/a//b", "/a/../b", "/a b", "/a%2Fb", "/a?x",
    ] {
        assert!(Prefix::parse(bad).is_err(), "{bad:?}");
    }
    let p = |s| Prefix::parse(s).unwrap();
    assert!(p("/orders").overlaps(&p("/orders/v2")));
    assert!(p("/orders/v2").overlaps(&p("/orders")));
    assert!(!p("/orders").overlaps(&p("/orders-v2")));
    assert!(!p("/orders/v1").overlaps(&p("/orders/v2")));
    assert!(p("/api/orders").overlaps(&Prefix::reserved("/api")));
}
