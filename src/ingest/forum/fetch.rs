//! Polite fetching: robots.txt per host, a per-host rate limit and a global concurrency
//! cap, timeouts, retries with exponential back-off and jitter on network errors, 429 and
//! 5xx honouring `Retry-After`, redirects followed only inside `allowed_hosts` (and only to
//! URLs robots.txt allows), and a User-Agent naming walletwatch and a contact URL.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, LOCATION, RETRY_AFTER};
use tokio::sync::{Mutex as AsyncMutex, Semaphore};
use tokio::time::Instant;

use super::archive::{Page, PageKind, PageMeta};
use super::profile::{Profile, host_key};
use super::robots::Robots;

/// The product token robots.txt groups are matched against.
pub const AGENT_TOKEN: &str = "walletwatch";
/// Pages larger than this are refused (not HTML a forum serves).
const MAX_BODY: usize = 20 << 20;
/// Redirects followed for one request, at most (RFC 9309 asks for at least 5).
const MAX_REDIRECTS: usize = 5;

/// Why a URL was not fetched or gave no page.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// robots.txt disallows it.
    Robots,
    /// Its host is not in `allowed_hosts`.
    OffSite,
}

/// The result of fetching one URL.
#[derive(Debug)]
pub enum Fetched {
    /// A final response (any status; retries are spent), to archive.
    Page(Page),
    /// Never requested, and why.
    Refused(Refusal, String),
    /// No response: network errors to the last retry, a redirect off-site, a body too big,
    /// or a `Retry-After` longer than the profile allows.
    Failed(String),
}

/// One host's turn-taking: requests queue on `gate` (fair, first come first served) and
/// hold it until their response has begun (or failed); the next request waits until
/// `next`, set then to the interval after that answer. A request reaches the server before
/// it is answered, so the server sees its requests at least the interval apart, however
/// long a connection's handshake or a slow answer took.
struct HostSlot {
    gate: Arc<AsyncMutex<()>>,
    /// (no request before this, interval between requests)
    state: Mutex<(Instant, Duration)>,
}

/// A host's turn, held while one request is in flight; [`Turn::answered`] ends it.
struct Turn {
    slot: Arc<HostSlot>,
    _gate: tokio::sync::OwnedMutexGuard<()>,
}

impl Turn {
    /// The request was answered (or failed): the host's next request waits the interval
    /// from now, or longer if a `Retry-After` asked for more.
    fn answered(self) {
        let mut state = self.slot.state.lock().expect("never poisoned");
        state.0 = state.0.max(Instant::now() + state.1);
    }
}

/// Requests per host spaced at least `interval` apart, and pushed back by `Retry-After`.
struct Limiter {
    interval: Duration,
    hosts: Mutex<HashMap<String, Arc<HostSlot>>>,
}

impl Limiter {
    fn host(&self, host: &str) -> Arc<HostSlot> {
        let mut hosts = self
            .hosts
            .lock()
            .expect("the limiter lock is never poisoned");
        hosts
            .entry(host.to_string())
            .or_insert_with(|| {
                Arc::new(HostSlot {
                    gate: Arc::new(AsyncMutex::new(())),
                    state: Mutex::new((Instant::now(), self.interval)),
                })
            })
            .clone()
    }

    /// Waits for this host's next turn: no other request to the host in flight, and the
    /// interval passed since the last one was answered.
    async fn wait(&self, host: &str) -> Turn {
        let slot = self.host(host);
        let gate = slot.gate.clone().lock_owned().await;
        loop {
            let next = slot.state.lock().expect("never poisoned").0;
            if Instant::now() >= next {
                break;
            }
            // Re-checked after waking: a Retry-After may have pushed `next` meanwhile.
            tokio::time::sleep_until(next).await;
        }
        Turn { slot, _gate: gate }
    }

    /// Slows a host down to one request per `interval` (robots.txt `Crawl-delay`).
    fn slow_down(&self, host: &str, interval: Duration) {
        let slot = self.host(host);
        let mut state = slot.state.lock().expect("never poisoned");
        state.1 = state.1.max(interval);
    }

    /// No request to `host` before `until` (a `Retry-After`).
    fn defer(&self, host: &str, until: Instant) {
        let slot = self.host(host);
        let mut state = slot.state.lock().expect("never poisoned");
        state.0 = state.0.max(until);
    }
}

/// Fetches pages for one profile.
pub struct Fetcher {
    client: reqwest::Client,
    profile: Arc<Profile>,
    limiter: Limiter,
    permits: Semaphore,
    robots: AsyncMutex<HashMap<String, Arc<Robots>>>,
    /// Requests sent (robots.txt, retries and redirects included).
    pub requests: std::sync::atomic::AtomicU64,
}

/// The User-Agent walletwatch sends.
pub fn user_agent(contact: &str) -> String {
    format!(
        "walletwatch/{} (complaint research crawler; +{contact})",
        env!("CARGO_PKG_VERSION")
    )
}

/// Parses `Retry-After`: delay-seconds or an HTTP date.
pub fn retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    Some(
        (when.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// The back-off before retry `attempt` (0-based): `base · 2^attempt`, times a random
/// factor in [0.5, 1.5), at most a minute.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let random = std::collections::hash_map::RandomState::new().hash_one(attempt);
    let factor = 0.5 + (random % 10_000) as f64 / 10_000.0;
    base.saturating_mul(1 << attempt.min(16))
        .mul_f64(factor)
        .min(Duration::from_secs(60))
}

fn describe(e: &reqwest::Error) -> String {
    let mut s = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

impl Fetcher {
    /// A fetcher for `profile`, identifying itself with `contact`.
    pub fn new(profile: Arc<Profile>, contact: &str) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .user_agent(user_agent(contact))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(profile.timeout)
            .connect_timeout(profile.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {}", describe(&e)))?;
        Ok(Self {
            client,
            limiter: Limiter {
                interval: Duration::from_secs_f64(1.0 / profile.rate_per_second),
                hosts: Mutex::new(HashMap::new()),
            },
            permits: Semaphore::new(profile.concurrency),
            robots: AsyncMutex::new(HashMap::new()),
            requests: Default::default(),
            profile,
        })
    }

    /// The robots.txt rules of `u`'s host (fetched once per host and run).
    async fn robots_for(&self, u: &url::Url) -> Arc<Robots> {
        let host = host_key(u).unwrap_or_default();
        let mut cache = self.robots.lock().await;
        if let Some(r) = cache.get(&host) {
            return r.clone();
        }
        let mut robots_url = u.clone();
        robots_url.set_path("/robots.txt");
        robots_url.set_query(None);
        let rules = match self.request(&robots_url, None).await {
            Ok((status, _, body)) if status.is_success() => {
                Robots::parse(&String::from_utf8_lossy(&body), AGENT_TOKEN)
            }
            Ok((status, _, _)) if status.is_client_error() => {
                tracing::info!(url = %robots_url, %status, "no robots.txt: every path is allowed");
                Robots::allow_all()
            }
            Ok((status, _, _)) => {
                tracing::warn!(url = %robots_url, %status, "robots.txt unavailable: nothing on this host is fetched (RFC 9309)");
                Robots::disallow_all()
            }
            Err(e) => {
                tracing::warn!(url = %robots_url, error = %e, "robots.txt unreachable: nothing on this host is fetched (RFC 9309)");
                Robots::disallow_all()
            }
        };
        if let Some(d) = rules.crawl_delay {
            self.limiter.slow_down(&host, d);
        }
        let rules = Arc::new(rules);
        cache.insert(host, rules.clone());
        rules
    }

    /// Whether `u` may be fetched: inside `allowed_hosts` and allowed by robots.txt.
    pub async fn check(&self, u: &url::Url) -> Result<(), Refusal> {
        if !self.profile.allows(u) {
            return Err(Refusal::OffSite);
        }
        let path = match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        };
        if self.robots_for(u).await.allowed(&path) {
            Ok(())
        } else {
            Err(Refusal::Robots)
        }
    }

    /// One URL to its final response: retries, back-off and `Retry-After` included.
    /// Redirects are returned as they are (the caller decides whether to follow).
    async fn request(
        &self,
        u: &url::Url,
        accept: Option<&str>,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, Vec<u8>), String> {
        let host = host_key(u).unwrap_or_default();
        let mut attempt = 0;
        loop {
            let outcome = {
                let _permit = self
                    .permits
                    .acquire()
                    .await
                    .expect("the semaphore is never closed");
                let turn = self.limiter.wait(&host).await;
                self.requests
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::debug!(url = %u, attempt, "GET");
                let mut req = self.client.get(u.clone());
                if let Some(a) = accept {
                    req = req.header(reqwest::header::ACCEPT, a);
                }
                let sent = req.send().await;
                turn.answered();
                match sent {
                    Ok(resp) => {
                        let status = resp.status();
                        let headers = resp.headers().clone();
                        if resp.content_length().is_some_and(|l| l > MAX_BODY as u64) {
                            return Err(format!("the page is larger than {} MB", MAX_BODY >> 20));
                        }
                        match resp.bytes().await {
                            Ok(b) if b.len() > MAX_BODY => {
                                return Err(format!(
                                    "the page is larger than {} MB",
                                    MAX_BODY >> 20
                                ));
                            }
                            Ok(b) => Ok((status, headers, b.to_vec())),
                            Err(e) => Err(describe(&e)),
                        }
                    }
                    Err(e) => Err(describe(&e)),
                }
            };
            let (retryable, wait_at_least, why) = match &outcome {
                Ok((status, headers, _))
                    if *status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() =>
                {
                    let after = headers
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| retry_after(v, chrono::Utc::now()));
                    (true, after, format!("HTTP {}", status.as_u16()))
                }
                Ok(_) => (false, None, String::new()),
                Err(e) => (true, None, e.clone()),
            };
            if !retryable || attempt >= self.profile.max_retries {
                if retryable {
                    tracing::warn!(url = %u, attempts = attempt + 1, last = %why, "giving up");
                }
                return outcome;
            }
            if let Some(after) = wait_at_least {
                if after > self.profile.max_retry_after {
                    return Err(format!(
                        "{why} with Retry-After {} s, longer than max_retry_after_seconds ({} s)",
                        after.as_secs(),
                        self.profile.max_retry_after.as_secs()
                    ));
                }
                // The whole host asked for a pause, not only this URL.
                self.limiter.defer(&host, Instant::now() + after);
            }
            let delay =
                backoff(self.profile.retry_base, attempt).max(wait_at_least.unwrap_or_default());
            tracing::info!(url = %u, attempt = attempt + 1, %why, delay_ms = delay.as_millis() as u64, "retrying");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// Fetches `u` as a page of `kind`, checking allowed hosts and robots.txt first and on
    /// every redirect.
    pub async fn fetch(&self, u: &url::Url, kind: PageKind) -> Fetched {
        let mut current = u.clone();
        for _ in 0..=MAX_REDIRECTS {
            match self.check(&current).await {
                Ok(()) => {}
                Err(Refusal::OffSite) if current != *u => {
                    return Fetched::Failed(format!("redirected off-site to {current}"));
                }
                Err(Refusal::Robots) if current != *u => {
                    return Fetched::Failed(format!(
                        "redirected to {current}, which robots.txt disallows"
                    ));
                }
                Err(r) => return Fetched::Refused(r, current.to_string()),
            }
            let (status, headers, body) = match self
                .request(&current, Some("text/html,application/xhtml+xml"))
                .await
            {
                Ok(r) => r,
                Err(e) => return Fetched::Failed(e),
            };
            if status.is_redirection()
                && let Some(next) = headers
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| current.join(l).ok())
            {
                tracing::debug!(from = %current, to = %next, "redirect");
                current = next;
                continue;
            }
            return Fetched::Page(Page {
                meta: PageMeta {
                    url: u.to_string(),
                    kind,
                    status: status.as_u16(),
                    content_type: headers
                        .get(CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string),
                    fetched_at: chrono::Utc::now()
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                },
                body,
            });
        }
        Fetched::Failed(format!("more than {MAX_REDIRECTS} redirects"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-25T08:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            retry_after("Wed, 25 Nov 2026 08:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Wed, 25 Nov 2026 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let base = Duration::from_millis(100);
        for attempt in 0..4 {
            let d = backoff(base, attempt);
            let nominal = base * (1 << attempt);
            assert!(d >= nominal / 2 && d < nominal * 3 / 2, "{attempt}: {d:?}");
        }
        assert_eq!(
            backoff(Duration::from_secs(10), 12),
            Duration::from_secs(60)
        );
    }
}
