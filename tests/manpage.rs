//! The man page retracker(8) is generated from the command line: the committed copy
//! `packaging/retracker.8` (what reviewers read) equals what `retracker manpage` prints (what
//! `packaging/build-deb` packages), and every option and command of `--help` is in it.

use clap::CommandFactory;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_retracker");

fn committed_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/retracker.8")
}

#[test]
fn the_committed_man_page_is_the_generated_one() {
    let generated = retracker::cli::man_page();
    if std::env::var("RETRACKER_BLESS").as_deref() == Ok("1") {
        std::fs::write(committed_path(), &generated).unwrap();
    }
    let committed = std::fs::read_to_string(committed_path()).unwrap();
    assert!(
        committed == generated,
        "packaging/retracker.8 differs from the CLI; run RETRACKER_BLESS=1 cargo test --test manpage"
    );
}

#[test]
fn the_binary_prints_the_same_page() {
    let out = Command::new(BIN).arg("manpage").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        retracker::cli::man_page()
    );
}

/// roff escapes `-` as `\-`; the page read back as plain words.
fn plain(page: &str) -> String {
    page.replace("\\-", "-")
        .replace("\\*(Aq", "'")
        .replace("\\fB", "")
        .replace("\\fI", "")
        .replace("\\fR", "")
}

#[test]
fn every_option_and_command_of_help_is_documented() {
    let page = plain(&retracker::cli::man_page());
    assert!(page.contains("\n.TH retracker 8 "), "{}", &page[..200]);
    let cmd = retracker::cli::Cli::command();
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        if let Some(long) = arg.get_long() {
            assert!(page.contains(&format!("--{long}")), "--{long} missing");
        }
        if let Some(short) = arg.get_short() {
            assert!(page.contains(&format!("-{short}")), "-{short} missing");
        }
        if let Some(help) = arg.get_help() {
            let first_words: String = help.to_string().chars().take(30).collect();
            assert!(page.contains(&first_words), "{first_words:?} missing");
        }
    }
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() != "help" {
            assert!(
                page.contains(&format!("retracker {}", sub.get_name())),
                "{} missing",
                sub.get_name()
            );
        }
    }
    for section in ["FILES", "ENVIRONMENT", "SIGNALS", "EXIT STATUS", "SEE ALSO"] {
        assert!(
            page.contains(&format!(".SH \"{section}\""))
                || page.contains(&format!(".SH {section}")),
            "{section}"
        );
    }
}
