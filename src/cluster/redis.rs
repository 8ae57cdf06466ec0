//! The one place that speaks to Redis: the connection (standalone Redis or Valkey through an
//! auto-reconnecting multiplexed connection, the primary a Redis Sentinel names, or a Redis
//! Cluster with slot routing), pipelines with a time limit, and the three Lua scripts.
//!
//! A pipeline to a Redis Cluster must stay within one slot; every key of a swarm shares its
//! hash tag (see `keys`), so the callers build one pipeline per swarm. Against a standalone
//! server those pipelines are sent as one.

use super::status::Status;
use crate::config::ClusterConfig;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{IntoConnectionInfo, RedisConnectionInfo, Value};
use std::sync::Arc;
use std::time::Duration;

pub use redis::{cmd, pipe, Pipeline, Value as Reply};

/// Longest wait for one exchange with Redis; a paused or overloaded Redis is "down" after it,
/// and the node goes on from memory.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// Claims one finished download: `KEYS[1]` the claim, `KEYS[2]` the swarm's completed counts,
/// `ARGV[1]` this node, `ARGV[2]` the claim's lifetime in ms. Returns 1 when this call won (the
/// node's count is raised with it, atomically), 2 when this node had already claimed it (an
/// earlier attempt whose answer was lost: it counts here now), 0 when another node had.
pub const CLAIM: &str = r#"
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
  return 1
elseif v == ARGV[1] then
  return 2
end
return 0
"#;

/// Raises this node's completed count of a swarm to at least `ARGV[2]` (a resync after Redis
/// lost its data: never lowers what a claim already counted). `KEYS[1]` the counts, `ARGV[1]`
/// the node.
pub const RAISE: &str = r#"
local c = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) > c then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 0
"#;

/// Reads a swarm: for each of its four peer sets (`KEYS[1..4]`) drops the expired listings
/// (score below `ARGV[1]`, now in Unix ms) and returns the count left and up to `ARGV[2]`
/// random members; then the completed counts (`KEYS[5]`, as HGETALL).
pub const READ: &str = r#"
local out = {}
for i = 1, 4 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. ARGV[1])
  out[#out + 1] = redis.call('ZCARD', KEYS[i])
  out[#out + 1] = redis.call('ZRANDMEMBER', KEYS[i], ARGV[2])
end
out[#out + 1] = redis.call('HGETALL', KEYS[5])
return out
"#;

/// A connection to the cluster's Redis.
#[derive(Clone)]
pub enum Redis {
    /// One Redis or Valkey server.
    Single(ConnectionManager),
    /// A Redis Cluster.
    Cluster(ClusterConnection),
    /// The primary that Redis Sentinel names, asked again after any failure (a failover).
    Sentinel(Arc<SentinelLink>),
}

/// The Sentinels and the connection to the primary they named last.
pub struct SentinelLink {
    sentinels: tokio::sync::Mutex<SentinelClient>,
    primary: parking_lot::Mutex<Option<ConnectionManager>>,
}

fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(TIMEOUT))
        .set_response_timeout(Some(TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_secs(1))
}

/// Opens the connection `config` names. A standalone server is connected lazily (the node
/// starts whether Redis answers or not); a Redis Cluster needs one seed node to answer, so the
/// caller retries.
pub async fn connect(config: &ClusterConfig) -> Result<Redis, String> {
    let pw = (!config.redis_password.is_empty()).then_some(config.redis_password.as_str());
    if config.redis_urls.iter().all(|u| {
        u.get(..11)
            .is_some_and(|s| s.eq_ignore_ascii_case("sentinel://"))
    }) {
        return sentinel(config, pw);
    }
    if let [url] = config.redis_urls.as_slice() {
        let mut info = url.as_str().into_connection_info().map_err(clean)?;
        if let Some(pw) = pw.filter(|_| info.redis_settings().password().is_none()) {
            let settings = info.redis_settings().clone().set_password(pw);
            info = info.set_redis_settings(settings);
        }
        let client = redis::Client::open(info).map_err(clean)?;
        let manager =
            ConnectionManager::new_lazy_with_config(client, manager_config()).map_err(clean)?;
        return Ok(Redis::Single(manager));
    }
    let mut builder = ClusterClient::builder(config.redis_urls.iter().map(String::as_str))
        .connection_timeout(TIMEOUT)
        .response_timeout(TIMEOUT)
        .retries(1);
    if let Some(pw) = pw {
        builder = builder.password(pw);
    }
    let client = builder.build().map_err(clean)?;
    let conn = tokio::time::timeout(TIMEOUT * 2, client.get_async_connection())
        .await
        .map_err(|_| "timed out connecting to the Redis Cluster".to_owned())?
        .map_err(clean)?;
    Ok(Redis::Cluster(conn))
}

/// `sentinel://[:password@]host:port/name` URLs: the Sentinels of primary `name`; the primary's
/// password is `redis_password`.
fn sentinel(config: &ClusterConfig, pw: Option<&str>) -> Result<Redis, String> {
    let mut name = String::new();
    let mut addrs = Vec::new();
    for url in &config.redis_urls {
        let rest = &url["sentinel://".len()..];
        let (addr, primary) = rest.split_once('/').unwrap_or((rest, ""));
        name = primary.to_owned();
        addrs.push(format!("redis://{addr}"));
    }
    let mut node = RedisConnectionInfo::default();
    if let Some(pw) = pw {
        node = node.set_password(pw);
    }
    let node = SentinelNodeConnectionInfo::default().set_redis_connection_info(node);
    let client = SentinelClient::build(addrs, name, Some(node), SentinelServerType::Master)
        .map_err(clean)?;
    Ok(Redis::Sentinel(Arc::new(SentinelLink {
        sentinels: tokio::sync::Mutex::new(client),
        primary: parking_lot::Mutex::new(None),
    })))
}

/// Runs `pipes` as one pipeline on a standalone server's connection.
async fn run_single(
    conn: &mut ConnectionManager,
    pipes: &[Pipeline],
    sizes: &[usize],
) -> Result<Vec<Vec<Value>>, String> {
    let mut all = redis::pipe();
    for p in pipes {
        for c in p.cmd_iter() {
            all.add_command(c.clone());
        }
    }
    let mut replies: Vec<Value> = all.query_async(conn).await.map_err(clean)?;
    let mut out = Vec::with_capacity(sizes.len());
    let mut rest = replies.drain(..);
    for n in sizes {
        out.push(rest.by_ref().take(*n).collect());
    }
    Ok(out)
}

/// An error's text without anything the URL carried.
fn clean(e: redis::RedisError) -> String {
    // RedisError's text names the server, never the password; keep it on one line.
    e.to_string().replace('\n', " ")
}

impl Redis {
    /// Runs `pipes` (each within one slot) and returns each one's replies, in order, within
    /// [`TIMEOUT`]. Counts the commands in `status`.
    pub async fn run(
        &mut self,
        pipes: Vec<Pipeline>,
        status: &Status,
    ) -> Result<Vec<Vec<Value>>, String> {
        let sizes: Vec<usize> = pipes.iter().map(|p| p.cmd_iter().count()).collect();
        status.sent(sizes.iter().sum());
        let work = async {
            match self {
                Redis::Single(conn) => run_single(conn, &pipes, &sizes).await,
                Redis::Sentinel(link) => {
                    let current = link.primary.lock().clone();
                    let mut conn = match current {
                        Some(conn) => conn,
                        None => {
                            let client = link
                                .sentinels
                                .lock()
                                .await
                                .async_get_client()
                                .await
                                .map_err(clean)?;
                            let conn =
                                ConnectionManager::new_lazy_with_config(client, manager_config())
                                    .map_err(clean)?;
                            *link.primary.lock() = Some(conn.clone());
                            conn
                        }
                    };
                    let r = run_single(&mut conn, &pipes, &sizes).await;
                    if r.is_err() {
                        // Maybe a failover (the old primary refuses writes, or is gone): ask
                        // the Sentinels again next time.
                        *link.primary.lock() = None;
                    }
                    r
                }
                Redis::Cluster(conn) => {
                    // At most 64 swarms in flight at once: a large batch must not open a burst of
                    // thousands of requests.
                    let mut out = Vec::with_capacity(pipes.len());
                    for chunk in pipes.chunks(64) {
                        let runs = chunk.iter().map(|p| {
                            let mut conn = conn.clone();
                            async move { p.query_async::<Vec<Value>>(&mut conn).await }
                        });
                        for r in futures_util::future::join_all(runs).await {
                            out.push(r.map_err(clean)?);
                        }
                    }
                    Ok(out)
                }
            }
        };
        match tokio::time::timeout(TIMEOUT, work).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "no answer from Redis within {} s",
                TIMEOUT.as_secs()
            )),
        }
    }
}
