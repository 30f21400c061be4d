//! The environment reference: the table of variables rendered as markdown, for the
//! block between `<!-- env-table:begin -->` and `<!-- env-table:end -->` in
//! `harness/guide/environment.md`, which a test keeps equal to it.

use std::fmt::Write;

use super::vars::{Fallback, Kind, Var, VARS};

/// The accepted values of a variable, as the reference shows them.
fn values(var: &Var) -> String {
    match var.kind {
        Kind::Duration => "a duration: `500ms`, `5s`, `2m`".into(),
        Kind::Millis { expected } | Kind::Count { expected, .. } | Kind::Workers { expected } => {
            expected.into()
        }
        // What `1` or `0` does is the variable's help.
        Kind::Flag { .. } => "`0` or `1`".into(),
        Kind::Partition => "`count:M/N` or `hash:M/N`, 1 <= M <= N".into(),
        Kind::Seed => format!("a whole number from 0 to {}", u64::MAX),
        Kind::Path => "a file path".into(),
        Kind::Filter => "tracing-subscriber's `EnvFilter` syntax, e.g. \
             `info,my_crate=debug,my_crate[request]=trace`"
            .into(),
        Kind::Backtrace => "`0`, `1` or `full`".into(),
        Kind::Presence => "any value".into(),
        Kind::Bytes => "a number of bytes".into(),
    }
}

/// The markdown table of every variable: variable, values, default, what it does.
// Only the guide's test renders it; the guide is markdown checked in.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn markdown_table() -> String {
    let mut out =
        String::from("| variable | values | default | what it does |\n|---|---|---|---|\n");
    for var in VARS {
        let default = match var.default {
            Fallback::Value(text) => format!("`{text}`"),
            Fallback::Absent(meaning) => meaning.to_string(),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {default} | {} |",
            var.name,
            values(var),
            var.help
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEGIN: &str = "<!-- env-table:begin -->\n";
    const END: &str = "<!-- env-table:end -->";

    #[test]
    fn cells_hold_no_column_separator() {
        for var in VARS {
            for cell in [var.name, &values(var), var.help] {
                assert!(!cell.contains('|'), "{}: {cell}", var.name);
            }
        }
        assert_eq!(markdown_table().lines().count(), VARS.len() + 2);
    }

    /// `harness/guide/environment.md` shows [`markdown_table`]; `UPDATE_ENV_TABLE=1`
    /// rewrites its block in place.
    #[test]
    fn env_table_in_the_guide_is_up_to_date() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("guide/environment.md");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let (before, rest) = text
            .split_once(BEGIN)
            .unwrap_or_else(|| panic!("{} has no line `{}`", path.display(), BEGIN.trim_end()));
        let (block, after) = rest.split_once(END).unwrap_or_else(|| {
            panic!(
                "{} has no line `{END}` after the begin marker",
                path.display()
            )
        });
        let expected = markdown_table();
        if block == expected {
            return;
        }
        if std::env::var_os("UPDATE_ENV_TABLE").is_some_and(|v| v == "1") {
            std::fs::write(&path, format!("{before}{BEGIN}{expected}{END}{after}"))
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            return;
        }
        panic!(
            "the table of environment variables in {} is not the one harness/src/config/vars.rs \
             describes. It should read:\n\n{BEGIN}{expected}{END}\n\nTo write it there, run\n\n    \
             UPDATE_ENV_TABLE=1 cargo test -p portaltest --lib env_table\n",
            path.display()
        );
    }
}
