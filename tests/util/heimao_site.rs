//! A 黑猫投诉-like site built from the real records in ../shared/data/heimao/: the
//! complaints of the saved detail pages (detail_fragments_2020.html, with their ids, dates,
//! amounts and progress, and the full text from heimao_2020_99.ndjson) and of the saved
//! home page's list (homepage_2020.html, with ids, dates and the list's text). Pages are
//! rendered in the site's own markup (`h1.article`, `span.u-date`, `ul.ts-q-list`,
//! `div.ts-d-steplist`, `ul.lists-last`, `a.next`). Used by tests/forum.rs and
//! benches/forum_parse.rs.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use regex::Regex;

/// One real complaint as the site shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    /// 投诉编号.
    pub id: String,
    pub title: String,
    /// The `span.u-date` text: `发布于 2020年10月16日 08:48` (detail pages) or
    /// `发布于 2020年10月13日` (list cards carry only the day).
    pub date_text: String,
    /// 投诉对象.
    pub provider: String,
    /// 投诉问题.
    pub issue: Option<String>,
    /// 投诉要求.
    pub demand: Option<String>,
    /// 涉诉金额 (`100元`).
    pub amount: Option<String>,
    /// 投诉进度.
    pub status: Option<String>,
    /// The complaint's text.
    pub body: String,
}

fn heimao(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/heimao")
        .join(name)
}

fn read(name: &str) -> String {
    let p = heimao(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (../shared/ must sit beside the checkout)",
            p.display()
        )
    })
}

fn unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .trim()
        .to_string()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The real complaints: first the saved detail pages whose full text is in the NDJSON
/// records, then the home page's list cards.
pub fn real_posts() -> Vec<Post> {
    let texts: std::collections::HashMap<String, String> = read("heimao_2020_99.ndjson")
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("ndjson row"))
        .map(|v| {
            (
                v["投诉标题"].as_str().unwrap_or("").trim().to_string(),
                v["投诉详情"].as_str().unwrap_or("").trim().to_string(),
            )
        })
        .collect();
    let mut posts = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let frags = read("detail_fragments_2020.html");
    let h1 = Regex::new(r#"<h1 class="article">([^<]*)</h1>"#).unwrap();
    let u_date = Regex::new(r#"<span class="u-date">([^<]*)</span>"#).unwrap();
    let field = |frag: &str, label: &str| -> Option<String> {
        let re = Regex::new(&format!(r"(?s)<label>{label}：</label>(.*?)</li>")).unwrap();
        let inner = re.captures(frag)?.get(1)?.as_str();
        let text = Regex::new(r"<[^>]+>").unwrap().replace_all(inner, "");
        Some(unescape(&text)).filter(|s| !s.is_empty())
    };
    for frag in frags.split(r#"<div class="ts-d-question">"#).skip(1) {
        let title = unescape(&h1.captures(frag).expect("h1.article")[1]);
        let id = field(frag, "投诉编号").expect("投诉编号");
        let Some(body) = texts.get(&title) else {
            continue;
        };
        if !seen.insert(id.clone()) {
            continue;
        }
        posts.push(Post {
            date_text: u_date.captures(frag).expect("u-date")[1].trim().to_string(),
            provider: field(frag, "投诉对象").expect("投诉对象"),
            issue: field(frag, "投诉问题"),
            demand: field(frag, "投诉要求"),
            amount: field(frag, "涉诉金额"),
            status: field(frag, "投诉进度"),
            body: body.clone(),
            id,
            title,
        });
    }
    let home = read("homepage_2020.html");
    let card = Regex::new(
        r#"(?s)<a href="//tousu\.sina\.com\.cn/complaint/view/(\d+)">\s*<div><span class="name">[^<]*</span><span class="time">(\d{4})-(\d{2})-(\d{2})</span></div>\s*<h1>([^<]*)</h1>\s*<p>([^<]*)</p>(.*?)</a>"#,
    )
    .unwrap();
    let card_field = |rest: &str, label: &str| -> Option<String> {
        let re = Regex::new(&format!(r"<span>\[{label}\]</span>([^<]*)</li>")).unwrap();
        Some(unescape(&re.captures(rest)?[1])).filter(|s| !s.is_empty())
    };
    for c in card.captures_iter(&home) {
        let id = c[1].to_string();
        let (title, body) = (unescape(&c[5]), unescape(&c[6]));
        if !seen.insert(id.clone()) || title.is_empty() || body.is_empty() {
            continue;
        }
        posts.push(Post {
            date_text: format!("发布于 {}年{}月{}日", &c[2], &c[3], &c[4]),
            provider: card_field(&c[7], "投诉对象").expect("投诉对象"),
            issue: None,
            demand: card_field(&c[7], "投诉要求"),
            amount: None,
            status: None,
            body,
            id,
            title,
        });
    }
    posts
}

/// A post page in the site's markup, declaring `charset` in its `<meta>`.
pub fn post_page(p: &Post, charset: &str) -> String {
    let mut list = format!(
        "<li><label>投诉编号：</label> {}</li>\n<li><label>投诉对象：</label>\n<a class=\"c_link\" data-sudaclick=\"complaint_company\" href=\"//tousu.sina.com.cn/company/view/?couid=6244211375\" target=\"_blank\">{}</a>\n</li>\n",
        p.id,
        escape(&p.provider)
    );
    for (label, v) in [
        ("投诉问题", &p.issue),
        ("投诉要求", &p.demand),
        ("涉诉金额", &p.amount),
    ] {
        if let Some(v) = v {
            list.push_str(&format!("<li><label>{label}：</label> {}</li> ", escape(v)));
        }
    }
    if let Some(s) = &p.status {
        list.push_str(&format!(
            "\n<li><label>投诉进度：</label><b>{}</b></li>",
            escape(s)
        ));
    }
    let paragraphs: String = p
        .body
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("<p>{}</p>\n", escape(l.trim())))
        .collect();
    format!(
        r#"<!DOCTYPE html>
<html><head><meta charset="{charset}"><title>{title}_黑猫投诉</title></head>
<body>
<div class="blackcat-hd"><a href="/">黑猫投诉</a></div>
<div class="ts-d-question">
<h1 class="article">{title}</h1>
<div class="ts-q-user clearfix">
<img alt="" class="avatar" src="//n.sinaimg.cn/tech/hmapp/user_default.png"/>
<span class="u-name">匿名</span>
<span class="u-date">{date}</span>
</div>
<ul class="ts-q-list">
{list}
</ul>
</div>
<div class="ts-d-steplist">
<div class="ts-d-item"><span class="u-status">发起投诉</span><span class="u-time">{date}</span>
<div class="ts-d-cont">
{paragraphs}</div></div>
<div class="ts-d-item"><span class="u-status">投诉已分配</span>
<div class="ts-d-cont">黑猫投诉平台已将该投诉分配给商家处理。</div></div>
</div>
</body></html>
"#,
        title = escape(&p.title),
        date = escape(&p.date_text),
    )
}

/// A list page in the site's markup: each post linked by `href`, then a next-page link.
pub fn list_page(entries: &[(String, &Post)], next: Option<&str>) -> String {
    let mut items = String::new();
    for (href, p) in entries {
        let day = p
            .date_text
            .trim_start_matches("发布于 ")
            .replace(['年', '月'], "-")
            .replace('日', "");
        let excerpt: String = p.body.chars().take(60).collect();
        items.push_str(&format!(
            "<li>\n<a href=\"{href}\">\n<div><span class=\"name\">匿名</span><span class=\"time\">{}</span></div>\n<h1>{}</h1>\n<p>{}</p>\n<ul><li><span>[投诉对象]</span>{}</li></ul>\n</a>\n</li>\n",
            escape(day.split(' ').next().unwrap_or("")),
            escape(&p.title),
            escape(&excerpt),
            escape(&p.provider)
        ));
    }
    let next = next
        .map(|n| format!("<div class=\"pages\"><a class=\"next\" href=\"{n}\">下一页</a></div>"))
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>最新投诉_黑猫投诉</title></head>\n<body>\n<ul class=\"lists-last\">\n{items}</ul>\n{next}\n</body></html>\n"
    )
}

/// A page the site answers with 200 but no complaint on it (a soft error page).
pub fn error_page() -> String {
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>黑猫投诉</title></head>\n<body><div class=\"error\"><p>系统繁忙，请稍后再试</p></div></body></html>\n".to_string()
}

/// A post page cut off in the middle of its title tag (a transfer that broke off).
pub fn truncated_page(p: &Post) -> String {
    let page = post_page(p, "utf-8");
    let cut = page
        .find("<h1 class=\"article\">")
        .expect("the page has a title")
        + 8;
    page[..cut].to_string()
}
