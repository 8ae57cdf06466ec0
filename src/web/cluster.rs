//! The dashboard's and `/api/stats`' cluster section (`[CLUSTER]`): whether Redis answers, and
//! the nodes as each one last reported itself in Redis (id, last push, peers, lag).

use super::format;
use crate::cluster::status::Figures;
use serde::Serialize;

/// A node is shown as silent when its last push is older than this.
const SILENT_MS: u64 = 10_000;

/// The cluster as the dashboard shows it; its serde form is `/api/stats`' `cluster`.
#[derive(Clone, Debug, Serialize)]
pub struct ClusterOverview {
    /// This node's id.
    pub node: String,
    /// Redis answers this node.
    pub redis_up: bool,
    /// Why it does not; `None` when it does.
    pub redis_error: Option<String>,
    /// Age of the oldest change of this node's last push when Redis confirmed it, ms.
    pub sync_lag_ms: u64,
    /// This node's changes waiting to be pushed.
    pub queued: u64,
    /// Peers on this node.
    pub local_peers: u64,
    /// Peers of every node that pushed lately (a peer announcing to two nodes counts twice).
    pub cluster_peers: u64,
    /// The nodes, by id.
    pub nodes: Vec<NodeRow>,
}

/// One node.
#[derive(Clone, Debug, Serialize)]
pub struct NodeRow {
    /// Its id.
    pub node: String,
    /// This node.
    pub this: bool,
    /// Milliseconds since its last push, by this node's clock.
    pub last_push_ms_ago: u64,
    /// It pushed within the last 10 s.
    pub live: bool,
    /// Its peers.
    pub peers: u64,
    /// Its sync lag, ms.
    pub lag_ms: u64,
    /// Its retracker version.
    pub version: String,
}

/// The section of `f`, with this node's own peer count; `now_ms` is Unix ms.
pub fn overview(f: &Figures, local_peers: u64, now_ms: u64) -> ClusterOverview {
    let nodes: Vec<NodeRow> = f
        .nodes
        .iter()
        .map(|n| {
            let ago = now_ms.saturating_sub(n.pushed_at_ms);
            NodeRow {
                node: n.node.clone(),
                this: n.node == f.node,
                last_push_ms_ago: ago,
                live: ago < SILENT_MS,
                peers: n.peers,
                lag_ms: n.lag_ms,
                version: n.version.clone(),
            }
        })
        .collect();
    ClusterOverview {
        node: f.node.clone(),
        redis_up: f.up,
        redis_error: f.last_error.clone(),
        sync_lag_ms: f.lag_ms,
        queued: f.queued,
        local_peers,
        cluster_peers: nodes
            .iter()
            .filter(|n| n.live && !n.this)
            .map(|n| n.peers)
            .sum::<u64>()
            + local_peers,
        nodes,
    }
}

/// A node row as the page writes it.
pub struct NodeView {
    /// Id, with "(this node)".
    pub node: String,
    /// "1.2 s ago", or "silent 5m" when not live.
    pub last_push: String,
    /// Peers.
    pub peers: String,
    /// "12 ms".
    pub lag: String,
    /// Version.
    pub version: String,
    /// Live.
    pub live: bool,
}

/// The page's rows.
pub fn rows(c: &ClusterOverview) -> Vec<NodeView> {
    c.nodes
        .iter()
        .map(|n| NodeView {
            node: if n.this {
                format!("{} (this node)", n.node)
            } else {
                n.node.clone()
            },
            last_push: if n.live {
                format!("{:.1} s ago", n.last_push_ms_ago as f64 / 1000.0)
            } else {
                format!("silent for {}", format::duration(n.last_push_ms_ago / 1000))
            },
            peers: format::count(n.peers),
            lag: format!("{} ms", n.lag_ms),
            version: n.version.clone(),
            live: n.live,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::status::NodeReport;

    #[test]
    fn cluster_peers_add_the_live_other_nodes_to_this_ones() {
        let report = |node: &str, at: u64, peers| NodeReport {
            node: node.into(),
            pushed_at_ms: at,
            peers,
            lag_ms: 7,
            version: "0.1.0".into(),
            instance: 1,
        };
        let f = Figures {
            node: "a".into(),
            up: true,
            nodes: vec![
                report("a", 99_000, 5),
                report("b", 99_500, 10),
                report("c", 1, 100),
            ],
            ..Default::default()
        };
        let o = overview(&f, 6, 100_000);
        assert_eq!(
            o.cluster_peers, 16,
            "this node's own count, live b, not silent c"
        );
        let r = rows(&o);
        assert_eq!(r[0].node, "a (this node)");
        assert_eq!(r[1].last_push, "0.5 s ago");
        assert!(
            r[2].last_push.starts_with("silent for"),
            "{}",
            r[2].last_push
        );
        assert!(!r[2].live);
    }
}
