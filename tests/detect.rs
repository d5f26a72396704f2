//! `walletwatch detect` on realistic generated data with planted patterns: 5,000 real
//! complaints (CFPB narratives and 黑猫投诉 posts from ../shared) spread over 26 weeks as
//! background, plus a phishing campaign, a near-duplicate Chinese wave (half of it in
//! Traditional characters) and a spike.

mod util;

use std::collections::{BTreeMap, HashMap, HashSet};

use util::{Dir, read_csv, shared};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const START: (i32, u32, u32) = (2024, 1, 1); // a Monday
const WEEKS: usize = 26;

fn day(offset: usize) -> String {
    let (y, m, d) = START;
    let start = chrono::NaiveDate::from_ymd_opt(y, m, d).expect("date");
    (start + chrono::Duration::days(offset as i64)).to_string()
}

#[derive(Clone)]
struct Row {
    id: String,
    date: String,
    provider: String,
    text: String,
}

fn narratives() -> Vec<String> {
    let text =
        std::fs::read_to_string(shared("cfpb/narratives_by_product_10k.csv")).expect("narratives");
    let (_, rows) = read_csv(&text);
    rows.into_iter()
        .map(|r| r[0].clone())
        .filter(|t| t.len() >= 200)
        .collect()
}

/// 4,901 English narratives and the 99 Chinese posts, random providers and days.
fn background(rng: &mut Rng, pool: &[String]) -> Vec<Row> {
    let providers = [
        "Cash App", "Cash App", "Cash App", "Cash App", "PayPal", "PayPal", "Zelle", "Zelle",
        "Venmo", "Chime",
    ];
    let mut rows: Vec<Row> = pool[..4901]
        .iter()
        .enumerate()
        .map(|(i, t)| Row {
            id: format!("bg-{i}"),
            date: day(rng.below(WEEKS * 7)),
            provider: providers[rng.below(providers.len())].to_string(),
            text: t.clone(),
        })
        .collect();
    let heimao = std::fs::read_to_string(shared("heimao/heimao_2020_99.ndjson")).expect("heimao");
    for (i, line) in heimao.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        rows.push(Row {
            id: format!("hm-{i}"),
            date: day(rng.below(WEEKS * 7)),
            provider: v["投诉对象"].as_str().unwrap_or("").to_string(),
            text: format!(
                "{}。{}",
                v["投诉标题"].as_str().unwrap_or(""),
                v["投诉详情"].as_str().unwrap_or("")
            ),
        });
    }
    rows
}

/// 40 phishing complaints over weeks 10–12 against PayPal and Venmo, one domain written
/// four ways, texts assembled from varied sentences.
fn phishing(rng: &mut Rng) -> Vec<Row> {
    let forms = [
        "it told me to log in at hxxps://paypal-resolution-center[.]com/verify",
        "the link went to paypal-resolution-center(.)com",
        "The page was PAYPAL-RESOLUTION-CENTER.COM and it looked exactly like the real one",
        "I typed www.paypal-resolution-center[.]com into my browser as the message said",
    ];
    let openers = [
        "I received a text message saying my {b} account had been limited because of suspicious activity, and",
        "An email that looked like it came from {b} said a payment of $499 was pending on my account;",
        "Someone called me claiming to be from {b} support about a refund they owed me and",
        "A message on my phone warned that my {b} wallet would be suspended within 24 hours unless I confirmed my details, so",
        "I got a notice about an unauthorized login to my {b} account from another state and",
    ];
    let middles = [
        "I entered my password and the six digit code that was texted to me.",
        "They asked for my debit card number and security code to confirm my identity.",
        "The site asked me to link my bank account again and I did.",
        "I filled in my name, address, date of birth and password before I realised something was wrong.",
    ];
    let losses = [
        "Within an hour ${a} was sent out of my account to people I do not know.",
        "The next morning I saw ${a} in payments I never made.",
        "Two transfers totalling ${a} went out that same evening.",
        "My balance of ${a} was gone by the time I logged in again.",
    ];
    let endings = [
        "{b} says I authorised the payments and refuses to refund me.",
        "I reported it to {b} right away but nobody has called me back.",
        "The claim was denied and I was told phishing is not covered.",
        "I changed my password but the money is still missing and the case was closed.",
    ];
    (0..40)
        .map(|i| {
            let b = if i % 2 == 0 { "PayPal" } else { "Venmo" };
            let a = 100 + rng.below(1900);
            let text = format!(
                "{} {}. {} {} {}",
                openers[rng.below(openers.len())].replace("{b}", b),
                forms[i % 4],
                middles[rng.below(middles.len())],
                losses[rng.below(losses.len())].replace("{a}", &a.to_string()),
                endings[rng.below(endings.len())].replace("{b}", b),
            );
            Row {
                id: format!("phish-{i}"),
                date: day(9 * 7 + rng.below(21)),
                provider: b.to_string(),
                text,
            }
        })
        .collect()
}

/// 25 near-duplicates of one Chinese complaint with small edits, weeks 15–16; every second
/// one written in Traditional characters (as in Hong Kong, the same words), which must
/// join the wave all the same.
fn wave(rng: &mut Rng) -> Vec<Row> {
    let simplified = "我在{d}收到自称支付宝客服的电话，说我的{p}额度异常需要关闭，否则会影响个人征信。对方让我下载会议软件开启屏幕共享，\
                然后一步一步指导我把余额宝里的{a}元转到所谓的安全账户。转完之后对方就失联了，我才发现被骗，向支付宝申请冻结对方账户，\
                客服只说会反馈，至今没有任何结果。{e}";
    let traditional = "我在{d}收到自稱支付寶客服的電話，說我的{p}額度異常需要關閉，否則會影響個人徵信。對方讓我下載會議軟件開啟屏幕共享，\
                然後一步一步指導我把餘額寶裡的{a}元轉到所謂的安全賬戶。轉完之後對方就失聯了，我才發現被騙，向支付寶申請凍結對方賬戶，\
                客服只說會反饋，至今沒有任何結果。{e}";
    let products = [
        ["花呗", "借呗", "花呗", "备用金"],
        ["花唄", "借唄", "花唄", "備用金"],
    ];
    let endings = [
        [
            "请支付宝协助追回损失。",
            "希望平台尽快处理。",
            "请求追回被骗资金。",
            "要求支付宝给个说法。",
            "",
        ],
        [
            "請支付寶協助追回損失。",
            "希望平台儘快處理。",
            "請求追回被騙資金。",
            "要求支付寶給個說法。",
            "",
        ],
    ];
    // (then, "I only then found I had been cheated" and its rewording) in each script.
    let edits = [
        ("然后", "我才发现被骗", "我这才意识到被骗了"),
        ("然後", "我才發現被騙", "我這才意識到被騙了"),
    ];
    (0..25)
        .map(|i| {
            let t = i % 2;
            let base = [simplified, traditional][t];
            let mut text = base
                .replace("{d}", &format!("4月{}日", 1 + rng.below(28)))
                .replace("{p}", products[t][rng.below(4)])
                .replace("{a}", &(1000 + rng.below(49000)).to_string())
                .replace("{e}", endings[t][rng.below(5)]);
            let (then, found, reworded) = edits[t];
            if i % 3 == 0 {
                text = text.replace(then, "");
            }
            if i % 4 == 1 {
                text = text.replace(found, reworded);
            }
            Row {
                id: format!("wave-{i}"),
                date: day(14 * 7 + rng.below(14)),
                provider: ["支付宝", "支付寶"][t].to_string(),
                text,
            }
        })
        .collect()
}

fn ingest(dir: &Dir, name: &str, rows: &[Row]) {
    let lines: Vec<String> = rows
        .iter()
        .map(|r| {
            serde_json::json!({"id": r.id, "date": r.date, "provider": r.provider, "text": r.text})
                .to_string()
        })
        .collect();
    let file = dir.write(name, lines.join("\n") + "\n");
    let mapping = dir.write("posts.toml", util::POSTS_MAPPING);
    let out = dir.ingest_export(&file, &mapping);
    let (read, stored, dups, quarantined) = util::reconciliation(&out);
    assert_eq!(
        (read, stored, dups, quarantined),
        (rows.len() as u64, rows.len() as u64, 0, 0),
        "{out}"
    );
}

fn table(dir: &Dir, name: &str) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(dir.path().join("out").join(format!("{name}.csv")))
        .expect("csv written");
    let (header, rows) = read_csv(&text);
    rows.into_iter()
        .map(|r| header.iter().cloned().zip(r).collect())
        .collect()
}

/// The campaign holding most of `planted`, and its precision and recall.
fn best_campaign(dir: &Dir, planted: &HashSet<String>) -> (String, f64, f64) {
    let mut members: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in table(dir, "campaign_members") {
        members
            .entry(r["campaign_id"].clone())
            .or_default()
            .push(r["complaint_id"].clone());
    }
    let (id, m) = members
        .iter()
        .max_by_key(|(_, m)| m.iter().filter(|c| planted.contains(*c)).count())
        .expect("some campaign");
    let hit = m.iter().filter(|c| planted.contains(*c)).count() as f64;
    (id.clone(), hit / m.len() as f64, hit / planted.len() as f64)
}

#[test]
fn planted_campaign_wave_and_spike_are_found_and_background_raises_no_spike() {
    let pool = narratives();
    assert!(pool.len() > 6000);
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let dir = Dir::new();
    let bg = background(&mut rng, &pool);
    ingest(&dir, "background.ndjson", &bg);
    dir.ok(&["-q", "classify"]);
    dir.ok(&["-q", "detect", "--out", "out"]);
    assert!(
        table(&dir, "spikes").is_empty(),
        "spikes on the background alone: {:?}",
        table(&dir, "spikes")
    );

    // The spike series: Cash App's most common category; plant twice its weekly mean
    // more in week 20, from unused narratives the classifier puts in that category.
    let export = dir.ok(&["-q", "export", "--format", "csv", "--provider", "cash_app"]);
    let (header, rows) = read_csv(&export);
    let cats = header
        .iter()
        .position(|h| h == "categories")
        .expect("categories column");
    let mut per_cat: HashMap<String, usize> = HashMap::new();
    for r in &rows {
        for c in r[cats]
            .split(';')
            .filter(|c| !c.is_empty() && *c != "other")
        {
            *per_cat.entry(c.to_string()).or_default() += 1;
        }
    }
    let (cat, n) = per_cat
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .expect("a category");
    let weekly = n as f64 / WEEKS as f64;
    assert!(
        weekly >= 5.0,
        "baseline of cash_app × {cat} too small for the test: {weekly}"
    );
    let extra = (2.0 * weekly).ceil() as usize;
    let candidates: Vec<String> = pool[4901..]
        .iter()
        .enumerate()
        .map(|(i, t)| serde_json::json!({"id": i, "text": t}).to_string())
        .collect();
    let cand = dir.write("candidates.ndjson", candidates.join("\n") + "\n");
    let classified = dir.ok(&["-q", "classify", "--input", cand.to_str().expect("utf-8")]);
    let spike: Vec<Row> = classified
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .filter(|v| {
            v["categories"]
                .as_array()
                .is_some_and(|a| a.iter().any(|c| c == cat.as_str()))
        })
        .take(extra)
        .enumerate()
        .map(|(k, v)| Row {
            id: format!("spike-{k}"),
            date: day(20 * 7 + k % 7),
            provider: "Cash App".to_string(),
            text: pool[4901 + v["id"].as_u64().expect("id") as usize].clone(),
        })
        .collect();
    assert_eq!(spike.len(), extra);

    let phish = phishing(&mut rng);
    let wave = wave(&mut rng);
    let mut planted = phish.clone();
    planted.extend(wave.clone());
    planted.extend(spike);
    ingest(&dir, "planted.ndjson", &planted);
    dir.ok(&["-q", "classify"]);
    let out = dir.ok(&["detect", "--out", "out"]);
    assert!(out.contains("campaigns"), "{out}");

    let phish_ids: HashSet<String> = phish.iter().map(|r| r.id.clone()).collect();
    let (cid, precision, recall) = best_campaign(&dir, &phish_ids);
    eprintln!(
        "phishing: precision {precision} recall {recall}; spike category {cat}, weekly {weekly:.1}, extra {extra}"
    );
    assert!(
        precision >= 0.95 && recall >= 0.95,
        "phishing campaign: precision {precision}, recall {recall}"
    );
    let campaigns = table(&dir, "campaigns");
    let c = campaigns
        .iter()
        .find(|c| c["campaign_id"] == cid)
        .expect("campaign row");
    assert!(
        c["top_indicators"].contains("domain:paypal-resolution-center.com"),
        "{c:?}"
    );
    assert!(
        c["providers"].contains("paypal") && c["providers"].contains("venmo"),
        "{c:?}"
    );
    assert!(
        c["sample_1"].contains("paypal-resolution-center")
            || c["sample_1"].to_lowercase().contains("paypal"),
        "{c:?}"
    );

    let wave_ids: HashSet<String> = wave.iter().map(|r| r.id.clone()).collect();
    let (wid, precision, recall) = best_campaign(&dir, &wave_ids);
    assert!(
        precision >= 0.95 && recall >= 0.95,
        "wave: precision {precision}, recall {recall}"
    );
    let w = campaigns
        .iter()
        .find(|c| c["campaign_id"] == wid)
        .expect("wave row");
    assert!(w["linked_by"].contains("near-duplicate"), "{w:?}");
    assert!(w["providers"].contains("alipay"), "{w:?}");

    let spikes = table(&dir, "spikes");
    assert!(
        spikes.iter().any(|s| s["provider"] == "cash_app"
            && s["category"] == cat
            && s["week_start"] == day(20 * 7)),
        "no spike for cash_app × {cat} in week 20: {spikes:?}"
    );
    // Campaign ids are stable when nothing changed.
    dir.ok(&["-q", "detect", "-o", "out"]);
    assert!(
        table(&dir, "campaigns")
            .iter()
            .any(|c| c["campaign_id"] == cid)
    );
}

#[test]
fn detect_needs_a_classified_store_and_exports_carry_indicators() {
    let dir = Dir::new();
    let rows = vec![Row {
        id: "1".into(),
        date: "2024-03-01".into(),
        provider: "PayPal".into(),
        text: "A fake PayPal page at paypal-login-help[.]com took my password and $300.".into(),
    }];
    ingest(&dir, "one.ndjson", &rows);
    let err = dir.fails(&["detect"], 1);
    assert!(err.contains("walletwatch classify"), "{err}");
    dir.ok(&["-q", "classify"]);
    // Settings that cannot mean anything are refused, naming the setting.
    for (args, want) in [
        (["--similarity", "1.5"], "similarity (--similarity"),
        (["--min-size", "1"], "min_size (--min-size"),
        (["--alpha", "0"], "alpha (--alpha"),
    ] {
        let err = dir.fails(&["detect", args[0], args[1]], 1);
        assert!(err.contains(want), "{err}");
    }
    dir.ok(&["-q", "detect"]);
    let (header, rows) = read_csv(&dir.ok(&["-q", "export", "--format", "csv"]));
    let i = header
        .iter()
        .position(|h| h == "indicators")
        .expect("indicators column");
    assert_eq!(rows[0][i], "domain:paypal-login-help.com");
}

#[test]
fn hong_kong_and_taiwan_complaints_are_masked_attributed_and_linked_by_a_shared_number() {
    // Three Hong Kong complaints against different wallets, two in Traditional characters
    // (Cantonese) and one in English, the same scammer's number written three ways (a
    // campaign needs three); a Taiwan one with its own number.
    let dir = Dir::new();
    let rows = vec![
        Row {
            id: "hk-1".into(),
            date: "2024-05-02".into(),
            provider: "支付寶香港".into(),
            text: "有個自稱支付寶香港客服嘅人用 +852 6123 4567 打俾我，話我個戶口被凍結，\
                   要我講埋身份證號碼A123456(3)同驗證碼，之後戶口啲錢全部冇咗，客服一直唔處理。"
                .into(),
        },
        Row {
            id: "hk-2".into(),
            date: "2024-05-09".into(),
            provider: "八達通".into(),
            text: "收到 (852) 6123-4567 嘅電話，對方扮八達通職員話我張卡有可疑交易，\
                   叫我喺網上填卡號同密碼，結果被人轉走三千蚊。"
                .into(),
        },
        Row {
            id: "hk-3".into(),
            date: "2024-05-12".into(),
            provider: "PayMe".into(),
            text: "I got a call from +85261234567 saying my PayMe account was locked. They sent \
                   a link and asked for my one-time password, then HK$5,000 was transferred out."
                .into(),
        },
        Row {
            id: "tw-1".into(),
            date: "2024-05-10".into(),
            provider: "街口支付".into(),
            text: "我的帳戶被盜，身分證字號F223456786被拿去申請，客服說會回電到0912-345-678，\
                   但是一直沒有回覆，帳戶裡的錢也還沒退回。"
                .into(),
        },
    ];
    ingest(&dir, "hk_tw.ndjson", &rows);
    dir.ok(&["-q", "classify"]);
    dir.ok(&["-q", "detect", "--out", "out"]);

    let (header, exported) = read_csv(&dir.ok(&["-q", "export", "--format", "csv"]));
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let (id, provider, text) = (col("source_id"), col("provider"), col("text"));
    let by_id: HashMap<&str, &Vec<String>> = exported.iter().map(|r| (r[id].as_str(), r)).collect();
    for (row, want) in [
        ("hk-1", "alipay_hk"),
        ("hk-2", "octopus"),
        ("hk-3", "payme"),
        ("tw-1", "jkopay"),
    ] {
        let r = by_id[row];
        assert_eq!(r[provider], want, "{row}");
        for personal in ["6123", "A123456", "F223456786", "0912"] {
            assert!(
                !r[text].contains(personal),
                "{row} keeps {personal}: {}",
                r[text]
            );
        }
        assert!(r[text].contains("[phone]"), "{row}: {}", r[text]);
    }
    // Amounts in Hong Kong dollars are not counted as US dollars or yuan.
    let (amount, currency) = (col("amount"), col("currency"));
    assert_eq!(
        (
            by_id["hk-3"][amount].as_str(),
            by_id["hk-3"][currency].as_str()
        ),
        ("5000.0", "HKD")
    );
    assert_eq!(
        by_id["hk-2"][currency], "",
        "三千蚊 is written in words: no amount"
    );
    assert!(by_id["hk-1"][text].contains("[id_number]"));
    assert!(by_id["tw-1"][text].contains("[id_number]"));

    // The shared number (stored only as a keyed hash) links the Hong Kong complaints.
    let members = table(&dir, "campaign_members");
    let campaign_of = |sid: &str| {
        members
            .iter()
            .find(|m| m["complaint_id"] == sid)
            .map(|m| m["campaign_id"].clone())
    };
    let hk = campaign_of("hk-1").expect("hk-1 is in a campaign");
    assert_eq!(campaign_of("hk-2"), Some(hk.clone()));
    assert_eq!(campaign_of("hk-3"), Some(hk.clone()));
    assert_ne!(campaign_of("tw-1"), Some(hk.clone()));
    let linked = members
        .iter()
        .find(|m| m["complaint_id"] == "hk-2")
        .map(|m| m["linked_by"].clone())
        .unwrap_or_default();
    assert!(linked.contains("phone:"), "{linked}");
    assert!(!linked.contains("6123"), "{linked}");
}
