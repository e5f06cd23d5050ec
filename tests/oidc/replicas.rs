//! Two daemons on one PostgreSQL: the provider's back-channel logout is delivered to A, and
//! B refuses the token issued from that session at once (through the change log).

use super::*;
use common::replica_pair::{second, until};

#[tokio::test]
async fn a_logout_delivered_to_one_replica_stops_the_token_on_the_other() {
    let client = "sg-replicas";
    let a = app_on(Db::Postgres, client, true, |_| {}).await;
    let b = second(&a, Db::Postgres, |_| {}).await;
    idp()
        .account(
            "acct-zoya",
            json!({ "preferred_username": "zoya", "groups": ["support"] }),
        )
        .await;
    let zoya = browser();
    let (s, body) = sign_in(&zoya, &a.base, "idp", "acct-zoya").await;
    assert_eq!(s, 200, "{body}");
    let up = Upstream::start("real-secret").await;
    desk(&a, &up).await;
    let token = token_from_session(&a, &zoya, "zoya").await;
    until(&b, &token, 200).await;

    let sent_at = Instant::now();
    assert_eq!(idp().logout(client, "acct-zoya").await, 1);
    let delivered = sent_at.elapsed();
    let on_b = until(&b, &token, 401).await;
    println!("logout delivered to A in {delivered:?}; token refused on B {on_b:?} after that");
    let (status, code) = b.call(Method::GET, "desk", "x", &token).await;
    assert_eq!((status, code.as_deref()), (401, Some("token_revoked")));
    b.stop().await;
    a.stop().await;
}
