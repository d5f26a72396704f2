//! `ingest forum`: the crawler against a 黑猫投诉-like site served on 127.0.0.1 from the real
//! records in ../shared/data/heimao/, and the shipped profile against the real saved pages.

mod util;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use util::Dir;
use util::heimao_site::{self, Post};
use util::http::{Reply, Server};
use walletwatch::ingest::forum::{parse, profile::Profile};

const CONTACT: &str = "https://example.org/walletwatch-tests";
/// The shipped profile's politeness, sped up for the test (10 requests/s, 100 ms back-off).
const RATE: f64 = 10.0;

/// The shipped heimao profile with a faster rate and back-off.
fn test_profile(dir: &Dir) -> std::path::PathBuf {
    let shipped = std::fs::read_to_string(util::repo("data/sites/heimao.toml")).unwrap();
    let text = shipped
        .replace(
            "rate_per_second = 1.0",
            &format!("rate_per_second = {RATE}"),
        )
        .replace("retry_base_ms = 1000", "retry_base_ms = 100");
    assert_ne!(
        text, shipped,
        "the shipped profile's rate and back-off lines changed"
    );
    dir.write("heimao-test.toml", text)
}

/// The site: three list pages linking 30 real posts (one linked twice, one also under a
/// second URL), a page cut off in its title tag, two posts in a section robots.txt disallows and one
/// link off-site. Post 5 is served as
/// GBK, post 8 answers 429 with `Retry-After: 1` once, post 13 answers 500 twice.
struct Site {
    server: Server,
    posts: Vec<Post>,
}

const GBK_POST: usize = 5;
const RATE_LIMITED_POST: usize = 8;
const FAILING_POST: usize = 13;
const MALFORMED: &str = "/complaint/view/17351099999";
/// The tracking query the live site's list cards add to post links.
const TRACKING: &str = "?sld=1d3d6cfaf9d2ade0cbc839a8ce3deb0c";

/// Post 2's complainant left a phone number in the text (added by the test).
const PHONE_POST: usize = 2;
const PHONE: &str = "13812345678";

fn site() -> Site {
    let mut posts = heimao_site::real_posts();
    posts[PHONE_POST]
        .body
        .push_str(&format!("\n联系电话{PHONE}，请商家尽快处理。"));
    assert!(posts.len() >= 41, "only {} real posts", posts.len());
    let view = |p: &Post| format!("/complaint/view/{}", p.id);
    let p = &posts;
    let entries = |range: std::ops::Range<usize>| -> Vec<(String, &Post)> {
        range.map(|i| (view(&p[i]), &p[i])).collect()
    };
    let mut page2 = entries(12..24);
    page2.push((view(&p[3]), &p[3])); // linked from two list pages
    page2.push((format!("{}{TRACKING}", view(&p[20])), &p[20])); // the same post, another URL
    let mut page3 = entries(24..30);
    page3.push((MALFORMED.to_string(), &p[0]));
    page3.push((format!("/complaint/view/private/{}", p[30].id), &p[30]));
    page3.push((format!("/complaint/view/private/{}", p[31].id), &p[31]));
    page3.push((
        format!("//tousu.sina.com.cn/complaint/view/{}", p[32].id),
        &p[32],
    ));
    let mut routes: HashMap<String, Vec<u8>> = HashMap::new();
    routes.insert(
        "/list".into(),
        heimao_site::list_page(&entries(0..12), Some("/list?page=2")).into_bytes(),
    );
    routes.insert(
        "/list?page=2".into(),
        heimao_site::list_page(&page2, Some("/list?page=3")).into_bytes(),
    );
    routes.insert(
        "/list?page=3".into(),
        heimao_site::list_page(&page3, None).into_bytes(),
    );
    for (i, post) in posts.iter().enumerate().take(32) {
        let page = if i == GBK_POST {
            let html = heimao_site::post_page(post, "gbk");
            let (bytes, _, bad) = encoding_rs::GBK.encode(&html);
            assert!(!bad, "post {i} is not GBK-encodable");
            bytes.into_owned()
        } else {
            heimao_site::post_page(post, "utf-8").into_bytes()
        };
        routes.insert(format!("{}{TRACKING}", view(post)), page.clone());
        routes.insert(view(post), page.clone());
        routes.insert(format!("/complaint/view/private/{}", post.id), page);
    }
    routes.insert(
        MALFORMED.into(),
        heimao_site::truncated_page(&posts[40]).into_bytes(),
    );
    let rate_limited = view(&posts[RATE_LIMITED_POST]);
    let failing = view(&posts[FAILING_POST]);
    let gbk = view(&posts[GBK_POST]);
    let server = Server::start(move |path, before| {
        if path == "/robots.txt" {
            return Reply::html(
                "User-agent: *\nDisallow: /complaint/view/private/\n\nUser-agent: BadBot\nDisallow: /\n",
                "text/plain",
            );
        }
        if path == rate_limited && before == 0 {
            return Reply::status(429, &[("Retry-After", "1")]);
        }
        if path == failing && before < 2 {
            return Reply::status(500, &[]);
        }
        match routes.get(path) {
            Some(body) if path == gbk => Reply::html(body.clone(), "text/html; charset=GBK"),
            Some(body) => Reply::html(body.clone(), "text/html; charset=utf-8"),
            None => Reply::status(404, &[]),
        }
    });
    Site { server, posts }
}

fn crawl(dir: &Dir, profile: &Path, site: &Site) -> String {
    dir.ok(&[
        "-q",
        "ingest",
        "forum",
        "--profile",
        profile.to_str().unwrap(),
        "--start-url",
        &site.server.url("/list"),
        "--allowed-host",
        &site.server.host(),
        "--contact",
        CONTACT,
    ])
}

/// The stored heimao complaints by source id, as `export --format ndjson` writes them.
fn stored(dir: &Dir) -> HashMap<String, serde_json::Value> {
    let out = dir.ok(&["-q", "export", "--format", "ndjson", "--source", "heimao"]);
    out.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| (v["source_id"].as_str().unwrap().to_string(), v))
        .collect()
}

/// The UTC day of a `发布于 …` date: a time at +08:00 moves to UTC; a day alone is kept as
/// written (its time is unknown).
fn utc_day(date_text: &str) -> String {
    let s = date_text.trim_start_matches("发布于 ");
    match chrono::NaiveDateTime::parse_from_str(s, "%Y年%m月%d日 %H:%M") {
        Ok(local) => (local - chrono::Duration::hours(8)).date().to_string(),
        Err(_) => chrono::NaiveDate::parse_from_str(s, "%Y年%m月%d日")
            .unwrap()
            .to_string(),
    }
}

#[test]
fn crawl_stores_every_allowed_post_once_politely_and_replays_offline() {
    let dir = Dir::new();
    let profile = test_profile(&dir);
    let mut site = site();

    // 35 post links: 30 posts, one of them again under a tracking URL (a duplicate), the
    // truncated page, 2 disallowed, 1 off-site.
    let run = dir
        .cmd(&[
            "-v",
            "ingest",
            "forum",
            "--profile",
            profile.to_str().unwrap(),
            "--start-url",
            &site.server.url("/list"),
            "--allowed-host",
            &site.server.host(),
            "--contact",
            CONTACT,
        ])
        .output()
        .unwrap();
    let (out, notes) = (
        String::from_utf8(run.stdout).unwrap(),
        String::from_utf8(run.stderr).unwrap(),
    );
    println!("{out}{notes}");
    assert!(run.status.success(), "{notes}");
    assert_eq!(
        out.trim(),
        "heimao: fetched 35 = stored 30 + duplicates 1 + quarantined 1 + skipped 3"
    );
    assert!(
        notes.contains(
            "39 request(s); skipped: 2 disallowed by robots.txt, 1 off-site, 0 already stored"
        ),
        "{notes}"
    );
    // The log names each disallowed URL.
    for i in [30, 31] {
        let url = site
            .server
            .url(&format!("/complaint/view/private/{}", site.posts[i].id));
        assert!(
            notes
                .lines()
                .any(|l| l.contains("robots.txt disallows it") && l.contains(&url)),
            "no log line for {url}"
        );
    }
    let hits = site.server.hits();

    // robots.txt first, once; the disallowed section never requested.
    assert_eq!(hits[0].path, "/robots.txt");
    assert_eq!(hits.iter().filter(|h| h.path == "/robots.txt").count(), 1);
    assert!(
        !hits
            .iter()
            .any(|h| h.path.starts_with("/complaint/view/private/")),
        "requested a disallowed page: {:?}",
        hits.iter().map(|h| &h.path).collect::<Vec<_>>()
    );
    // Every request names walletwatch and the contact URL.
    for h in &hits {
        assert!(
            h.user_agent.starts_with("walletwatch/") && h.user_agent.contains(CONTACT),
            "User-Agent {:?}",
            h.user_agent
        );
    }
    // Each post fetched once, the 429 one twice and the 500 one three times.
    let count = |path: &str| hits.iter().filter(|h| h.path == path).count();
    for (i, p) in site.posts.iter().enumerate().take(30) {
        let want = match i {
            RATE_LIMITED_POST => 2,
            FAILING_POST => 3,
            _ => 1,
        };
        assert_eq!(
            count(&format!("/complaint/view/{}", p.id)),
            want,
            "post {i}"
        );
    }
    // The retry after the 429 waited for its Retry-After.
    let rl = format!("/complaint/view/{}", site.posts[RATE_LIMITED_POST].id);
    let times: Vec<_> = hits.iter().filter(|h| h.path == rl).map(|h| h.at).collect();
    assert!(
        times[1] - times[0] >= Duration::from_millis(990),
        "retried after {:?}, Retry-After was 1 s",
        times[1] - times[0]
    );
    // Never faster than the profile's rate, as the server sees it: a request leaves the
    // interval after the previous one was answered, so even a first request slowed by its
    // connection's handshake arrives at least the interval before the next.
    let interval = Duration::from_secs_f64(1.0 / RATE);
    for w in hits.windows(2) {
        let gap = w[1].at - w[0].at;
        assert!(
            gap >= interval,
            "{} then {} only {gap:?} apart (limit: one per {interval:?})",
            w[0].path,
            w[1].path
        );
    }

    // Every allowed post stored once, with its title, date, provider and amount.
    let rows = stored(&dir);
    assert_eq!(rows.len(), 30);
    for (i, p) in site.posts.iter().enumerate().take(30) {
        let r = rows
            .get(&p.id)
            .unwrap_or_else(|| panic!("post {i} ({}) not stored", p.id));
        assert_eq!(r["title"], p.title.as_str(), "post {i}");
        assert_eq!(r["received_at"], utc_day(&p.date_text).as_str(), "post {i}");
        assert_eq!(r["provider_raw"], p.provider.as_str(), "post {i}");
        assert_eq!(r["lang"], "zh", "post {i}");
        assert_eq!(
            r["url"],
            site.server
                .url(&format!("/complaint/view/{}", p.id))
                .as_str()
        );
        if p.provider.contains("拼多多") {
            assert_eq!(r["provider"], "pinduoduo", "post {i}");
        }
        if let Some(amount) = &p.amount {
            let yuan: f64 = amount.trim_end_matches('元').parse().unwrap();
            assert_eq!(r["amount"].as_f64(), Some(yuan), "post {i}");
            assert_eq!(r["currency"], "CNY", "post {i}");
        }
        if let Some(status) = &p.status {
            assert_eq!(r["status"], status.as_str(), "post {i}");
        }
    }
    // Personal data is masked as in any export: the phone number is gone, its keyed hash kept.
    let masked = &rows[&site.posts[PHONE_POST].id];
    let text = masked["text"].as_str().unwrap();
    assert!(
        text.contains("联系电话[phone]") && !text.contains(PHONE),
        "{text}"
    );
    assert!(
        masked["pii_hashes"].to_string().contains("phone:"),
        "{masked}"
    );
    // The GBK post reads as Chinese, not mojibake.
    let gbk = &rows[&site.posts[GBK_POST].id];
    let first_line = site.posts[GBK_POST].body.lines().next().unwrap().trim();
    assert!(
        gbk["text"].as_str().unwrap().contains(first_line),
        "{gbk}\nwanted the text to contain {first_line:?}"
    );

    // The truncated page is quarantined with its URL and why.
    let q =
        std::fs::read_to_string(dir.store().join("quarantine/heimao-forum-heimao.ndjson")).unwrap();
    let q: Vec<serde_json::Value> = q
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0]["url"], site.server.url(MALFORMED).as_str());
    assert!(
        q[0]["reason"].as_str().unwrap().contains("h1.article"),
        "{}",
        q[0]
    );

    // A second run fetches the list pages again, and no post page (the tracking URL is
    // known by the post id in it).
    let before = site.server.hits().len();
    let out = crawl(&dir, &profile, &site);
    assert_eq!(
        out.trim(),
        "heimao: fetched 35 = stored 0 + duplicates 0 + quarantined 1 + skipped 34"
    );
    let again: Vec<String> = site.server.hits()[before..]
        .iter()
        .map(|h| h.path.clone())
        .collect();
    assert_eq!(
        again,
        ["/robots.txt", "/list", "/list?page=2", "/list?page=3"]
    );

    // A run killed after archiving pages but before storing them loses nothing: the next
    // run parses the archived posts again instead of fetching them.
    let resumed = Dir::new();
    for sub in ["archive", "keys"] {
        copy_dir(&dir.store().join(sub), &resumed.store().join(sub));
    }
    let before = site.server.hits().len();
    let out = crawl(&resumed, &profile, &site);
    assert_eq!(
        out.trim(),
        "heimao: fetched 35 = stored 30 + duplicates 1 + quarantined 1 + skipped 3"
    );
    assert!(
        site.server.hits()[before..]
            .iter()
            .all(|h| !h.path.starts_with("/complaint/")),
        "post pages fetched again"
    );
    assert_eq!(stored(&resumed), rows);

    // --replay rebuilds the same records from the archive, with the server stopped (here
    // into LZ4-compressed parts).
    site.server.stop();
    let offline = Dir::new();
    for sub in ["archive", "keys"] {
        copy_dir(&dir.store().join(sub), &offline.store().join(sub));
    }
    let out = offline.ok(&[
        "-q",
        "ingest",
        "forum",
        "--profile",
        profile.to_str().unwrap(),
        "--replay",
        "--compression",
        "lz4",
    ]);
    assert_eq!(
        out.trim(),
        "heimao: fetched 32 = stored 30 + duplicates 1 + quarantined 1 + skipped 0"
    );
    assert_eq!(stored(&offline), rows);
    assert_eq!(offline.part_codecs(), "LZ4_RAW");
    // Replaying into the store that has them adds nothing.
    let out = dir.ok(&[
        "-q",
        "ingest",
        "forum",
        "--profile",
        profile.to_str().unwrap(),
        "--replay",
    ]);
    assert_eq!(
        out.trim(),
        "heimao: fetched 32 = stored 0 + duplicates 31 + quarantined 1 + skipped 0"
    );
    // Replaying a store that holds no crawl is an error saying so, not zero posts.
    let empty = Dir::new();
    let err = empty.fails(
        &[
            "ingest",
            "forum",
            "--profile",
            profile.to_str().unwrap(),
            "--replay",
        ],
        1,
    );
    assert!(
        err.contains("no archived post page to replay: crawl first"),
        "{err}"
    );
    // `run --config` takes a forum source too (here a replay, offline).
    let batch = Dir::new();
    copy_dir(&dir.store().join("archive"), &batch.store().join("archive"));
    let config = batch.write(
        "batch.toml",
        format!(
            "store = \"store\"\n[[source]]\nkind = \"forum\"\nprofile = {:?}\nreplay = true\n[report]\nout = \"out\"\n",
            profile.to_str().unwrap()
        ),
    );
    let out = batch.ok_without_store(&["-q", "run", "--config", config.to_str().unwrap()]);
    assert!(
        out.contains(
            "ingest forum heimao: fetched 32 = stored 30 + duplicates 1 + quarantined 1 + skipped 0"
        ),
        "{out}"
    );
    assert!(batch.path().join("out/index.html").exists());
    // And `normalise` rebuilds them from the raw layer like any export.
    let out = dir.ok(&["-q", "normalise"]);
    assert!(out.contains("stored 30"), "{out}");
    assert_eq!(stored(&dir), rows);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn shipped_profile_parses_the_real_saved_pages() {
    let profile = Profile::load(&util::repo("data/sites/heimao.toml")).unwrap();

    // The saved home page: the 39 distinct complaints of its three lists (最新投诉, 最新回复,
    // 已完成; one is in two), all on the site.
    let home = std::fs::read_to_string(util::shared("heimao/homepage_2020.html")).unwrap();
    let base = url::Url::parse("https://tousu.sina.com.cn/").unwrap();
    let list = parse::list_page(&profile, &base, &home);
    assert_eq!(list.posts.len(), 39);
    assert!(list.posts.iter().all(|u| profile.allows(u)));
    assert_eq!(
        list.posts[0].as_str(),
        "https://tousu.sina.com.cn/complaint/view/17351037847"
    );

    // The saved detail pages: every field of the ts-q-list and the 发布于 date.
    let frags = std::fs::read_to_string(util::shared("heimao/detail_fragments_2020.html")).unwrap();
    let mut parsed = Vec::new();
    let id_re = regex::Regex::new(r"投诉编号：</label>\s*(\d+)").unwrap();
    for frag in frags.split(r#"<div class="ts-d-question">"#).skip(1) {
        let html = format!("<div class=\"ts-d-question\">{frag}");
        let id = id_re.captures(&html).unwrap()[1].to_string();
        let url = format!("https://tousu.sina.com.cn/complaint/view/{id}");
        let r = parse::post_page(&profile, &url, &html, 1).unwrap();
        assert_eq!(r.source_id.as_deref(), Some(id.as_str()));
        parsed.push(r);
    }
    assert_eq!(parsed.len(), 22); // 11 pages, each saved twice
    let first = &parsed[0];
    assert_eq!(
        first.title.as_deref(),
        Some("天猫超市购物返卡有效期时间不统一，有误导消费者的嫌疑")
    );
    assert_eq!(
        first.received.as_deref(),
        Some("发布于 2020年10月16日 08:48")
    );
    assert_eq!(first.provider_raw.as_deref(), Some("天猫超市"));
    assert_eq!(first.issue.as_deref(), Some("天猫超市卡"));
    assert_eq!(first.demand.as_deref(), Some("恢复优惠券"));
    assert_eq!(first.amount.as_deref(), Some("100元"));
    assert_eq!(first.status.as_deref(), Some("处理中"));
    assert!(
        parsed
            .iter()
            .all(|r| r.amount.as_deref().is_some_and(|a| a.ends_with('元')))
    );
}

#[test]
fn robots_txt_that_cannot_be_fetched_stops_the_crawl_and_bad_options_are_named() {
    let dir = Dir::new();
    let profile = test_profile(&dir);
    let server = Server::start(|path, _| {
        if path == "/robots.txt" {
            Reply::status(503, &[])
        } else {
            Reply::html(heimao_site::error_page(), "text/html")
        }
    });
    let args = |start: &str, contact: Option<&str>| {
        let mut a = vec![
            "ingest".to_string(),
            "forum".into(),
            "--profile".into(),
            profile.to_str().unwrap().into(),
            "--start-url".into(),
            start.into(),
            "--allowed-host".into(),
            server.host(),
        ];
        if let Some(c) = contact {
            a.extend(["--contact".into(), c.into()]);
        }
        a
    };
    // RFC 9309: an unreachable robots.txt (5xx after retries) means nothing is fetched.
    let a = args(&server.url("/list"), Some(CONTACT));
    let err = dir.fails(&a.iter().map(String::as_str).collect::<Vec<_>>(), 1);
    assert!(err.contains("robots.txt disallows it"), "{err}");
    assert!(server.hits().iter().all(|h| h.path == "/robots.txt"));
    // No contact URL: refused before any request.
    let before = server.hits().len();
    let a = args(&server.url("/list"), None);
    let err = dir.fails(&a.iter().map(String::as_str).collect::<Vec<_>>(), 1);
    assert!(err.contains("--contact"), "{err}");
    assert_eq!(server.hits().len(), before);
    // A start URL that is not a URL.
    let a = args("tousu.sina.com.cn", Some(CONTACT));
    let err = dir.fails(&a.iter().map(String::as_str).collect::<Vec<_>>(), 1);
    assert!(
        err.contains("--start-url") && err.contains("tousu.sina.com.cn"),
        "{err}"
    );
}

#[test]
fn redirects_stay_on_site_and_max_pages_stops_the_walk() {
    let dir = Dir::new();
    let profile = test_profile(&dir);
    let posts = heimao_site::real_posts();
    let (a, b) = (posts[0].clone(), posts[1].clone());
    let (a_page, b_page) = (
        heimao_site::post_page(&a, "utf-8"),
        heimao_site::post_page(&b, "utf-8"),
    );
    let list = heimao_site::list_page(
        &[
            (format!("/complaint/view/{}", a.id), &a),
            (format!("/complaint/view/{}", b.id), &b),
        ],
        Some("/list?page=2"),
    );
    let (a_id, b_id) = (a.id.clone(), b.id.clone());
    let server = Server::start(move |path, _| {
        let a_path = format!("/complaint/view/{a_id}");
        let b_path = format!("/complaint/view/{b_id}");
        if path == "/robots.txt" {
            Reply::status(404, &[])
        } else if path.starts_with("/list") {
            Reply::html(list.clone(), "text/html; charset=utf-8")
        } else if path == a_path {
            // Moved inside the site: followed.
            Reply::status(301, &[("Location", &format!("/complaint/view/{a_id}/"))])
        } else if path == format!("{a_path}/") {
            Reply::html(a_page.clone(), "text/html; charset=utf-8")
        } else if path == b_path {
            // Moved off-site: not followed.
            Reply::status(
                302,
                &[("Location", "https://tousu.sina.com.cn/complaint/view/1")],
            )
        } else {
            Reply::html(b_page.clone(), "text/html; charset=utf-8")
        }
    });
    let out = dir.ok(&[
        "-q",
        "ingest",
        "forum",
        "--profile",
        profile.to_str().unwrap(),
        "--start-url",
        &server.url("/list"),
        "--allowed-host",
        &server.host(),
        "--contact",
        CONTACT,
        "--max-pages",
        "1",
    ]);
    assert_eq!(
        out.trim(),
        "heimao: fetched 2 = stored 1 + duplicates 0 + quarantined 1 + skipped 0"
    );
    let paths: Vec<String> = server.hits().iter().map(|h| h.path.clone()).collect();
    // robots.txt (404: everything allowed), one list page (max_pages = 1), the two posts
    // and the one redirect inside the site.
    assert_eq!(paths.len(), 5, "{paths:?}");
    assert_eq!(paths.iter().filter(|p| p.starts_with("/list")).count(), 1);
    let q =
        std::fs::read_to_string(dir.store().join("quarantine/heimao-forum-heimao.ndjson")).unwrap();
    assert!(
        q.contains("redirected off-site to https://tousu.sina.com.cn/complaint/view/1"),
        "{q}"
    );
    assert!(
        q.contains(&server.url(&format!("/complaint/view/{}", b.id))),
        "{q}"
    );
    let rows = stored(&dir);
    assert_eq!(rows[&a.id]["title"], a.title.as_str());
}
