use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

#[test]
fn subscribers_get_messages_in_the_order_they_joined() {
    let mut hub = Hub::new(Limits::default());
    hub.subscribe(3, "news").unwrap();
    hub.subscribe(1, "news").unwrap();
    hub.subscribe(2, "sport").unwrap();
    assert_eq!(hub.publish("news"), [3, 1]);
    assert_eq!(hub.publish("sport"), [2]);
    assert_eq!(hub.publish("nobody"), [] as [Member; 0]);
    assert_eq!(hub.subscribe(1, "news"), Err(HubError::AlreadySubscribed));
    hub.unsubscribe(3, "news").unwrap();
    assert_eq!(hub.publish("news"), [1]);
    assert_eq!(hub.unsubscribe(3, "news"), Err(HubError::NotSubscribed));
    hub.leave(1);
    assert_eq!(hub.list(), [("sport", 1)], "an empty topic is gone");
}

#[test]
fn limits_and_names_are_refused_with_the_reason() {
    let limits = Limits {
        max_topics: 2,
        max_per_member: 2,
        max_name: 8,
    };
    let mut hub = Hub::new(limits);
    hub.subscribe(1, "a").unwrap();
    hub.subscribe(1, "b").unwrap();
    assert_eq!(hub.subscribe(1, "a2"), Err(HubError::TooManyForMember(2)));
    assert_eq!(hub.subscribe(2, "c"), Err(HubError::TooManyTopics(2)));
    assert_eq!(
        hub.topics_of(2).count(),
        0,
        "a refused member holds nothing"
    );
    hub.subscribe(2, "a").unwrap();
    for (name, why) in [
        ("", "empty"),
        ("waytoolong", "too long"),
        ("two word", "no spaces allowed"),
        ("bell\u{7}", "no control characters allowed"),
        ("esc\u{1b}[2J", "no control characters allowed"),
    ] {
        assert_eq!(
            hub.subscribe(3, name),
            Err(HubError::BadName(why)),
            "{name:?}"
        );
    }
    assert_eq!(
        HubError::TooManyForMember(16).to_string(),
        "already subscribed to 16 topics, the limit per connection"
    );
}

#[test]
fn drops_are_counted_and_told_once() {
    let mut hub = Hub::new(Limits::default());
    hub.subscribe(7, "t").unwrap();
    assert_eq!(hub.take_missed(7), None);
    hub.dropped_for(7);
    hub.dropped_for(7);
    assert_eq!(hub.take_missed(7), Some(2));
    assert_eq!(hub.take_missed(7), None);
    assert_eq!(hub.dropped(), 2);
}

#[derive(Clone, Debug)]
enum Op {
    Sub(Member, u8),
    Unsub(Member, u8),
    Leave(Member),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..6u64, 0..5u8).prop_map(|(m, t)| Op::Sub(m, t)),
        (0..6u64, 0..5u8).prop_map(|(m, t)| Op::Unsub(m, t)),
        (0..6u64).prop_map(Op::Leave),
    ]
}

proptest! {
    /// Against a model written the obvious way (each topic a list of members in join
    /// order): the same recipients, in the same order, after any sequence of
    /// subscriptions, unsubscriptions and departures; the limits always hold.
    #[test]
    fn recipients_match_the_model(ops in proptest::collection::vec(op(), 0..80)) {
        let limits = Limits { max_topics: 4, max_per_member: 3, max_name: 8 };
        let mut hub = Hub::new(limits);
        let mut model: BTreeMap<String, Vec<Member>> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Sub(m, t) => {
                    let name = format!("t{t}");
                    let mine = model.values().filter(|v| v.contains(&m)).count();
                    let expect = if model.get(&name).is_some_and(|v| v.contains(&m)) {
                        Err(HubError::AlreadySubscribed)
                    } else if mine >= 3 {
                        Err(HubError::TooManyForMember(3))
                    } else if !model.contains_key(&name) && model.len() >= 4 {
                        Err(HubError::TooManyTopics(4))
                    } else {
                        model.entry(name.clone()).or_default().push(m);
                        Ok(())
                    };
                    prop_assert_eq!(hub.subscribe(m, &name), expect);
                }
                Op::Unsub(m, t) => {
                    let name = format!("t{t}");
                    let expect = match model.get_mut(&name) {
                        Some(v) if v.contains(&m) => {
                            v.retain(|&x| x != m);
                            Ok(())
                        }
                        _ => Err(HubError::NotSubscribed),
                    };
                    model.retain(|_, v| !v.is_empty());
                    prop_assert_eq!(hub.unsubscribe(m, &name), expect);
                }
                Op::Leave(m) => {
                    for v in model.values_mut() {
                        v.retain(|&x| x != m);
                    }
                    model.retain(|_, v| !v.is_empty());
                    hub.leave(m);
                }
            }
            for t in 0..5u8 {
                let name = format!("t{t}");
                let want = model.get(&name).cloned().unwrap_or_default();
                prop_assert_eq!(hub.publish(&name), &want[..]);
            }
            let listed: Vec<(String, usize)> =
                hub.list().into_iter().map(|(t, n)| (t.to_string(), n)).collect();
            let modeled: Vec<(String, usize)> =
                model.iter().map(|(t, v)| (t.clone(), v.len())).collect();
            prop_assert_eq!(listed, modeled);
            prop_assert!(hub.topics.len() <= 4);
            for m in 0..6u64 {
                prop_assert!(hub.topics_of(m).count() <= 3);
            }
        }
    }
}
