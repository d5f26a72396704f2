//! Test harness: runs the real `walletwatch` binary in a fresh folder (after ripgrep's
//! tests/util.rs). Failures print the command, its stdout and stderr.

#![allow(dead_code)]

pub mod heimao_site;
pub mod http;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh working folder with a store inside.
pub struct Dir {
    pub tmp: tempfile::TempDir,
}

/// The shared real data beside the checkout.
pub fn shared(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel);
    assert!(
        p.exists(),
        "missing shared data file {} (../shared/ must sit beside the checkout)",
        p.display()
    );
    p
}

/// Mapping of the NDJSON posts tests generate: `id`, `date` (YYYY-MM-DD), `provider`,
/// `title` (optional), `text`.
pub const POSTS_MAPPING: &str = r#"
source = "posts"
format = "ndjson"
[fields]
id = "id"
date = "date"
provider = "provider"
title = "title"
text = "text"
[dates]
formats = ["%Y-%m-%d"]
"#;

/// A file of the repository.
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

impl Dir {
    pub fn new() -> Self {
        Self {
            tmp: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    pub fn store(&self) -> PathBuf {
        self.path().join("store")
    }

    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path().join(name);
        std::fs::write(&p, bytes).expect("write fixture");
        p
    }

    /// `walletwatch --store <store> ARGS…`, run in this folder.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.cmd_without_store(&["--store", self.store().to_str().expect("utf-8")]);
        c.args(args);
        c
    }

    /// `walletwatch ARGS…`, run in this folder, with no `--store` (for `demo`, and for
    /// `run`, whose config names its store).
    pub fn cmd_without_store(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_walletwatch"));
        c.current_dir(self.path()).args(args);
        c
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        success(self.cmd(args), args)
    }

    /// [`Dir::ok`] with no `--store`.
    pub fn ok_without_store(&self, args: &[&str]) -> String {
        success(self.cmd_without_store(args), args)
    }

    /// `walletwatch -q ingest export FILE --mapping MAPPING`, expecting success; returns stdout
    /// (the reconciliation line).
    pub fn ingest_export(&self, file: &Path, mapping: &Path) -> String {
        self.ok(&Self::export_args(file, mapping))
    }

    /// The same, expecting exit code 1; returns stderr.
    pub fn ingest_export_fails(&self, file: &Path, mapping: &Path) -> String {
        self.fails(&Self::export_args(file, mapping), 1)
    }

    fn export_args<'a>(file: &'a Path, mapping: &'a Path) -> [&'a str; 6] {
        [
            "-q",
            "ingest",
            "export",
            file.to_str().expect("utf-8 path"),
            "--mapping",
            mapping.to_str().expect("utf-8 path"),
        ]
    }

    /// The store's complaints as exported to CSV, only `columns` of each, rows sorted.
    pub fn exported(&self, columns: &[&str]) -> Vec<Vec<String>> {
        let (header, rows) = read_csv(&self.ok(&["-q", "export", "--format", "csv"]));
        let at: Vec<usize> = columns
            .iter()
            .map(|c| header.iter().position(|h| h == c).expect(c))
            .collect();
        let mut out: Vec<Vec<String>> = rows
            .iter()
            .map(|r| at.iter().map(|&i| r[i].clone()).collect())
            .collect();
        out.sort();
        out
    }

    /// Runs and expects failure with `code`; returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        failure(self.cmd(args), args, code)
    }

    /// [`Dir::fails`] with no `--store`.
    pub fn fails_without_store(&self, args: &[&str], code: i32) -> String {
        failure(self.cmd_without_store(args), args, code)
    }

    /// The Parquet codecs of the store's complaint parts, as DuckDB reads them from the
    /// files (`UNCOMPRESSED`, `LZ4_RAW`, `ZSTD`), space-separated.
    pub fn part_codecs(&self) -> String {
        self.python(
            "import sys, duckdb\n\
             q = f\"SELECT DISTINCT compression FROM parquet_metadata('{sys.argv[1]}/complaints/**/*.parquet')\"\n\
             print(*sorted(r[0] for r in duckdb.connect().execute(q).fetchall()))",
            &[&self.store().display().to_string()],
        )
        .trim()
        .to_string()
    }

    /// Runs `python3 -c CODE ARGS…` in this folder, expecting success; returns stdout.
    pub fn python(&self, code: &str, args: &[&str]) -> String {
        let out = Command::new("python3")
            .current_dir(self.path())
            .arg("-c")
            .arg(code)
            .args(args)
            .output()
            .expect("run python3");
        assert!(
            out.status.success(),
            "python failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }
}

fn success(mut cmd: Command, args: &[&str]) -> String {
    let out = cmd.output().expect("run walletwatch");
    check(&out, true, args);
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

fn failure(mut cmd: Command, args: &[&str], code: i32) -> String {
    let out = cmd.output().expect("run walletwatch");
    check(&out, false, args);

    assert_eq!(
        out.status.code(),
        Some(code),
        "exit code of {args:?}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stderr).expect("utf-8 stderr")
}

fn check(out: &Output, want_success: bool, args: &[&str]) {
    if out.status.success() != want_success {
        panic!(
            "walletwatch {:?} exited with {:?} (wanted success={want_success})\n--- stdout\n{}\n--- stderr\n{}",
            args,
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Parses `read N = stored A + duplicates D + quarantined Q` out of some output.
pub fn reconciliation(out: &str) -> (u64, u64, u64, u64) {
    let line = out
        .lines()
        .find(|l| l.contains("read ") && l.contains(" = stored "))
        .unwrap_or_else(|| panic!("no reconciliation line in:\n{out}"));
    let nums: Vec<u64> = line[line.find("read ").expect("has read")..]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("number"))
        .collect();
    (nums[0], nums[1], nums[2], nums[3])
}

/// Reads a CSV (optionally with BOM) into header + rows.
pub fn read_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    let rows = r
        .records()
        .map(|rec| rec.expect("record").iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// Realistic complaints, each in Chinese and in English, with the category both must get
/// (tests/classify.rs: the rules; tests/bert.rs: `auto`).
pub const TWINS: &[(&str, &str, &str)] = &[
    (
        "fraud",
        "收到短信说我的支付宝账户异常，点开钓鱼链接输入了密码，被骗走3000元。",
        "A text said my PayPal account was locked; I opened the phishing link, typed my password and was scammed out of $3,000.",
    ),
    (
        "fraud",
        "有人冒充客服打电话，说要关闭百万保障，让我把钱转到安全账户。",
        "A man pretending to be Cash App customer service told me to move my money to a safe account.",
    ),
    (
        "fund_security",
        "微信支付把我的零钱冻结了，3万元无法提现已经两个月。",
        "Venmo froze my account and is holding my funds; I cannot withdraw $3,000 for two months.",
    ),
    (
        "account_takeover",
        "我的支付宝账号被盗了，有人在陌生设备上登录并修改了密码。",
        "My PayPal account was hacked: someone logged in from an unknown device and changed my password.",
    ),
    (
        "data_leak",
        "实名认证后我的身份证信息泄露了，有人用我的身份开了账户。",
        "After I verified my identity, my personal information was leaked and someone opened an account in my name.",
    ),
    (
        "failed_transaction",
        "我用微信转账给房东5000元，显示成功但对方一直未到账。",
        "I sent my landlord $500 with Zelle; it shows as sent but it never arrived and is still pending.",
    ),
];

/// The Chinese halves of [`TWINS`] as a writer in Taiwan or Hong Kong would put them, in
/// Traditional characters, in the same order.
pub const TRADITIONAL: [&str; 6] = [
    "收到簡訊說我的支付寶帳戶異常，點開釣魚連結輸入了密碼，被騙走3000元。",
    "有人冒充客服打電話，說要關閉百萬保障，讓我把錢轉到安全帳戶。",
    "微信支付把我的零錢凍結了，3萬元無法提現已經兩個月。",
    "我的支付寶帳號被盜了，有人在陌生裝置上登入並修改了密碼。",
    "實名認證後我的身分證資訊洩露了，有人用我的身分開了帳戶。",
    "我用微信轉帳給房東5000元，顯示成功但對方一直未到帳。",
];
