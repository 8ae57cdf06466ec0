//! Scrape over HTTP (BEP 48).

mod common;
use common::*;
use serde_bencode::value::Value;

fn entry(d: &Dict, hash: &[u8]) -> (i64, i64, i64) {
    match d.dict("files").0.get(hash) {
        Some(Value::Dict(e)) => {
            let e = Dict(e.clone());
            (e.int("complete"), e.int("incomplete"), e.int("downloaded"))
        }
        other => panic!("no entry for {hash:?}: {other:?}"),
    }
}

#[tokio::test]
async fn scrape_reports_each_hash_by_its_raw_bytes_and_zeros_for_unknown() {
    let t = Tracker::start(|_| {}).await;
    let a = *b"scrape-hash-number-1";
    let b = [0xffu8; 20];
    let unknown = [0u8; 20];
    t.announce(&query(&a, 1, 1, 0, "")).await;
    t.announce(&query(&a, 2, 2, 5, "&event=started")).await;
    t.announce(&query(&a, 2, 2, 0, "&event=completed")).await;
    t.announce(&query(&b, 3, 3, 5, "")).await;
    let r = t
        .get(&format!(
            "/scrape?info_hash={}&info_hash={}&info_hash={}",
            pct(&a),
            pct(&b),
            pct(&unknown)
        ))
        .await;
    let d = r.dict();
    assert_eq!(d.dict("files").0.len(), 3);
    assert_eq!(entry(&d, &a), (2, 0, 1));
    assert_eq!(entry(&d, &b), (0, 1, 0));
    assert_eq!(entry(&d, &unknown), (0, 0, 0));
    assert_eq!(
        entry(
            &t.get(&format!("/scrape.php?info_hash={}", pct(&a)))
                .await
                .dict(),
            &a
        ),
        (2, 0, 1)
    );
}

#[tokio::test]
async fn scrape_limits_and_full_scrape() {
    let t = Tracker::start(|c| c.tracker.max_scrape_hashes = 3).await;
    let q: String = (0..4u8)
        .map(|i| format!("info_hash={}&", pct(&[i; 20])))
        .collect();
    let reason = t
        .get(&format!("/scrape?{q}"))
        .await
        .dict()
        .str("failure reason")
        .unwrap();
    assert!(reason.contains("too many info_hash"), "{reason}");
    let reason = t.get("/scrape").await.dict().str("failure reason").unwrap();
    assert!(reason.contains("full scrape is disabled"), "{reason}");

    let t = Tracker::start(|c| c.tracker.full_scrape = true).await;
    t.announce(&query(&[1; 20], 1, 1, 0, "")).await;
    t.announce(&query(&[2; 20], 1, 1, 3, "")).await;
    let d = t.get("/scrape").await.dict();
    assert_eq!(d.dict("files").0.len(), 2);
    assert_eq!(entry(&d, &[2; 20]), (0, 1, 0));
}
