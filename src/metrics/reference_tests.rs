//! `docs/reference.md`'s Metrics table is the contract dashboards, alarms and runbooks are
//! written against: every series of [`DEFS`] has its row there, with its Prometheus name and
//! labels, its CloudWatch name and dimensions, and every reason of `AuthFailures`.

use super::defs::{AUTH_FAILURES, DEFS, second_label};

fn metrics_table() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/reference.md");
    let doc = std::fs::read_to_string(path).expect("docs/reference.md exists");
    doc.lines()
        .skip_while(|l| *l != "## Metrics")
        .take_while(|l| !l.starts_with("## Settings"))
        .filter(|l| l.starts_with("| `cutover_"))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_series_has_its_row_with_its_labels_and_cloudwatch_dimensions() {
    let rows = metrics_table();
    for def in &DEFS {
        let labels = match second_label(def.series) {
            Some((second, _)) => format!("{},{second}", def.label),
            None => def.label.to_string(),
        };
        let prefix = format!("| `{}{{{labels}", def.prometheus);
        let row = rows
            .iter()
            .find(|r| r.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no row starting {prefix} in the reference's Metrics"));
        if let Some(cw) = def.cloudwatch {
            let mut named = format!("`{}` (`{}`", cw.name, cw.dimension);
            if let Some((_, second)) = second_label(def.series) {
                named.push_str(&format!(", `{second}`"));
            }
            assert!(row.contains(&named), "{named} missing in {row}");
        }
    }
}

#[test]
fn every_refusal_reason_is_listed() {
    let rows = metrics_table();
    let row = rows
        .iter()
        .find(|r| r.starts_with("| `cutover_auth_failures_total{reason}`"))
        .expect("the AuthFailures row");
    for reason in AUTH_FAILURES {
        assert!(
            row.contains(&format!("`{reason}`")),
            "{reason} missing in {row}"
        );
    }
}
