//! Parse throughput of `ingest forum` on the fixture pages (the real 黑猫投诉 records in the
//! site's markup, as tests/forum.rs serves them): post pages parsed per second with the
//! shipped profile (decode + HTML parse + fields), list pages per second, and the offline
//! `--replay` of an archive (parse + normalise + store) in pages per second.
//!
//!   cargo bench --bench forum_parse [-- PAGES] [--dump DIR]   (default 20,000 post pages)
//!
//! `--dump DIR` also writes the distinct pages (plain and with chrome) to DIR, for the
//! peer in bench/forum_peer.py (parsel, Scrapy's selector library) to parse the same pages.

#[path = "../tests/util/heimao_site.rs"]
mod heimao_site;

use std::time::Instant;

use walletwatch::ingest::forum::archive::{Archive, Page, PageKind, PageMeta};
use walletwatch::ingest::forum::{parse, profile::Profile, replay};
use walletwatch::normalise::providers::Providers;
use walletwatch::store::Store;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pages: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(20_000);
    let dump = args
        .iter()
        .position(|a| a == "--dump")
        .and_then(|i| args.get(i + 1))
        .map(std::path::PathBuf::from);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let profile = Profile::load(&root.join("data/sites/heimao.toml")).expect("profile");
    let posts = heimao_site::real_posts();
    let rendered: Vec<(String, Vec<u8>)> = posts
        .iter()
        .map(|p| {
            (
                format!("https://tousu.sina.com.cn/complaint/view/{}", p.id),
                heimao_site::post_page(p, "utf-8").into_bytes(),
            )
        })
        .collect();
    let bytes: usize = rendered.iter().map(|(_, b)| b.len()).sum::<usize>() / rendered.len();
    println!(
        "{} distinct real posts, {bytes} bytes a page on average; {pages} pages a run",
        posts.len()
    );

    // Post pages: decode + parse + fields.
    let t = Instant::now();
    let mut ok = 0;
    for i in 0..pages {
        let (url, body) = &rendered[i % rendered.len()];
        let (html, _, _) = parse::decode(body, Some("text/html; charset=utf-8"));
        ok += parse::post_page(&profile, url, &html, i as u64).is_ok() as usize;
    }
    let s = t.elapsed().as_secs_f64();
    assert_eq!(ok, pages);
    println!(
        "post pages: {pages} in {s:.2} s = {:.0} pages/s ({:.1} MB/s)",
        pages as f64 / s,
        (pages * bytes) as f64 / s / 1e6
    );

    // The same posts in pages the size of the live site's (~60 KB): the saved home page's
    // markup (navigation, lists, scripts) appended as page chrome.
    let chrome = std::fs::read_to_string(root.join("../shared/data/heimao/homepage_2020.html"))
        .expect("../shared/data/heimao/homepage_2020.html");
    let chrome = chrome
        .split_once("<body")
        .map_or(chrome.as_str(), |(_, b)| b)
        .split_once('>')
        .map_or("", |(_, b)| b)
        .replace("</body>", "")
        .replace("</html>", "");
    let full: Vec<(String, Vec<u8>)> = rendered
        .iter()
        .map(|(u, b)| {
            let page = String::from_utf8(b.clone()).unwrap();
            let page = page.replace("</body>", &format!("{chrome}</body>"));
            (u.clone(), page.into_bytes())
        })
        .collect();
    if let Some(dir) = &dump {
        for (kind, set) in [("plain", &rendered), ("chrome", &full)] {
            let d = dir.join(kind);
            std::fs::create_dir_all(&d).unwrap();
            for (i, (url, body)) in set.iter().enumerate() {
                std::fs::write(d.join(format!("{i:03}.html")), body).unwrap();
                std::fs::write(d.join(format!("{i:03}.url")), url).unwrap();
            }
        }
        println!("pages written to {}", dir.display());
    }
    let full_bytes = full.iter().map(|(_, b)| b.len()).sum::<usize>() / full.len();
    let n_full = pages / 10;
    let t = Instant::now();
    let mut ok = 0;
    for i in 0..n_full {
        let (url, body) = &full[i % full.len()];
        let (html, _, _) = parse::decode(body, Some("text/html; charset=utf-8"));
        ok += parse::post_page(&profile, url, &html, i as u64).is_ok() as usize;
    }
    let s = t.elapsed().as_secs_f64();
    assert_eq!(ok, n_full);
    println!(
        "post pages with the site's chrome ({full_bytes} bytes): {n_full} in {s:.2} s = {:.0} pages/s ({:.1} MB/s)",
        n_full as f64 / s,
        (n_full * full_bytes) as f64 / s / 1e6
    );

    // List pages of 20 posts each.
    let base = url::Url::parse("https://tousu.sina.com.cn/").unwrap();
    let lists: Vec<String> = posts
        .chunks(20)
        .map(|c| {
            let entries: Vec<(String, &heimao_site::Post)> = c
                .iter()
                .map(|p| (format!("/complaint/view/{}", p.id), p))
                .collect();
            heimao_site::list_page(&entries, Some("/list?page=2"))
        })
        .collect();
    let n_lists = pages / 10;
    let t = Instant::now();
    let mut links = 0;
    for i in 0..n_lists {
        links += parse::list_page(&profile, &base, &lists[i % lists.len()])
            .posts
            .len();
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "list pages: {n_lists} in {s:.2} s = {:.0} pages/s ({links} links)",
        n_lists as f64 / s
    );

    // --replay of an archive: parse + normalise + store.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    let archive = Archive::open(store.root(), &profile.name).unwrap();
    for i in 0..pages {
        let p = &posts[i % posts.len()];
        // Distinct ids, so every page is a new complaint.
        let mut post = p.clone();
        post.id = format!("{}{i:06}", &p.id[..5]);
        archive
            .put(&Page {
                meta: PageMeta {
                    url: format!("https://tousu.sina.com.cn/complaint/view/{}", post.id),
                    kind: PageKind::Post,
                    status: 200,
                    content_type: Some("text/html; charset=utf-8".into()),
                    fetched_at: "2026-11-25T00:00:00Z".into(),
                },
                body: heimao_site::post_page(&post, "utf-8").into_bytes(),
            })
            .unwrap();
    }
    let providers = Providers::load(&root.join("data/providers.toml")).expect("providers");
    let t = Instant::now();
    let report = replay(&store, &providers, &profile, &Default::default()).expect("replay");
    let s = t.elapsed().as_secs_f64();
    println!(
        "replay (read archive + parse + normalise + store): {} in {s:.2} s = {:.0} pages/s",
        report.counts,
        pages as f64 / s
    );
    assert_eq!(report.counts.stored as usize, pages);
}
