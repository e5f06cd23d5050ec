//! Two daemons on one database: what one does, the other applies within milliseconds —
//! a channel, a token, an offboarding, a group move — through the change log.

mod common;

use std::time::Duration;

use common::Db;
use common::replica_pair::{pair, until};
use common::upstream::Upstream;
use reqwest::Method;
use serde_json::json;

async fn what_one_replica_does_the_other_applies(db: Db) {
    let up = Upstream::start("s").await;
    let (a, b) = pair(db).await;
    a.add_staff("alice", &["support"]).await;
    a.add_channel(
        "desk",
        json!({ "kind": "bearer", "upstream": up.base, "tags": ["support"], "rules": ["GET /** read", "POST /** send"] }),
        "s",
    )
    .await;
    let (_, token) = a.issue("alice", "desk", json!({})).await;
    let took = until(&b, &token, 200).await;
    println!("issued on A -> accepted on B after {took:?}");

    a.offboard("alice").await;
    let took = until(&b, &token, 401).await;
    println!("offboarded on A -> refused on B after {took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    // The token is refused from the first entry B applies (its revocation, or the person's
    // offboarding); the reason settles on the offboarding within the same burst of entries.
    let settled = std::time::Instant::now();
    loop {
        let (status, code) = b.call(Method::GET, "desk", "x", &token).await;
        assert_eq!(status, 401, "accepted again after a refusal");
        if code.as_deref() == Some("staff_not_active") {
            break;
        }
        assert_eq!(code.as_deref(), Some("token_revoked"));
        assert!(
            settled.elapsed() < Duration::from_secs(1),
            "never staff_not_active"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // A move away from the group on A: B's policy view follows.
    a.api(
        Method::POST,
        "/staff/alice/reinstate",
        Some(json!({ "reason": "rehired" })),
    )
    .await;
    a.add_staff("bob", &["support"]).await;
    let (_, bob) = a.issue("bob", "desk", json!({})).await;
    until(&b, &bob, 200).await;
    a.add_staff("bob", &["sales"]).await;
    let took = until(&b, &bob, 403).await;
    println!("moved out of support on A -> refused on B after {took:?}");

    let (s, _) = b.api_as(&a.key, Method::GET, "/staff", None).await;
    assert_eq!(s, 200);
    b.stop().await;
    a.stop().await;
}

both_backends!(what_one_replica_does_the_other_applies);
