//! The API as a dimension of the exported series: `cutover_api_requests_total{api,auth_method}`
//! (`ApiRequests`) and `cutover_api_refusals_total{api,reason}` (`ApiRefusals`), read from the
//! per-API counts of a [`Snapshot`] ([`super::apis`]).
//!
//! Bounded by the configuration: a request is counted under its route's API, and routes exist
//! only for the configured APIs, so the label values are those names (that carried traffic) ×
//! the two auth methods, plus the reasons each API has refused for. The reasons an API never
//! refused for are left out, in both sinks: a thousand APIs would otherwise cost twelve
//! thousand lines of zeros per scrape.

use std::collections::BTreeMap;

use super::apis::ApiCounts;
use super::defs::{AUTH_FAILURES, AUTH_METHODS, Series};

/// The series of a per-API definition over a snapshot's `per_api`, as (API name, value of the
/// second label, count): by API name, then in label value order. The snapshot wraps them as
/// samples.
pub(super) fn series(
    series: Series,
    per_api: &BTreeMap<String, ApiCounts>,
) -> Vec<(&str, &'static str, u64)> {
    match series {
        Series::ApiRequests => per_api
            .iter()
            .flat_map(|(api, c)| {
                AUTH_METHODS
                    .iter()
                    .zip(&c.requests)
                    .map(move |(method, n)| (api.as_str(), *method, *n))
            })
            .collect(),
        Series::ApiRefusals => per_api
            .iter()
            .flat_map(|(api, c)| {
                AUTH_FAILURES
                    .iter()
                    .zip(&c.refused)
                    .filter(|(_, n)| **n > 0)
                    .map(move |(reason, n)| (api.as_str(), *reason, *n))
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use crate::common::{BUILTIN_API, Route};
    use crate::domain::AuthFailure;
    use crate::metrics::cloudwatch::{Datum, Value, datums};
    use crate::metrics::{Metrics, prometheus};

    /// Photos: one JWT request. Orders: two key requests, one refused by a brownout and one by
    /// the flag.
    fn two_apis() -> Metrics {
        let m = Metrics::default();
        let orders = Route::upstream("orders").label();
        m.api_authenticated(BUILTIN_API, false);
        m.api_authenticated(orders, true);
        m.api_authenticated(orders, true);
        m.api_refused(orders, AuthFailure::Brownout);
        m.api_refused(orders, AuthFailure::KeyPathDisabled);
        m
    }

    fn datum(name: &'static str, api: &str, second: (&'static str, &'static str), n: f64) -> Datum {
        Datum {
            name,
            dimension: ("Api", api.to_string()),
            second: Some(second),
            value: Value::Count(n),
        }
    }

    #[test]
    fn prometheus_shows_each_apis_requests_by_method_and_only_the_reasons_it_refused_for() {
        let text = prometheus::render(&two_apis().snapshot());
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("cutover_api_re"))
            .collect();
        assert_eq!(
            lines,
            [
                "cutover_api_requests_total{api=\"orders\",auth_method=\"jwt\"} 0",
                "cutover_api_requests_total{api=\"orders\",auth_method=\"api_key\"} 2",
                "cutover_api_requests_total{api=\"photos\",auth_method=\"jwt\"} 1",
                "cutover_api_requests_total{api=\"photos\",auth_method=\"api_key\"} 0",
                "cutover_api_refusals_total{api=\"orders\",reason=\"key_path_disabled\"} 1",
                "cutover_api_refusals_total{api=\"orders\",reason=\"brownout\"} 1",
            ],
            "{text}"
        );
        assert!(text.contains("# TYPE cutover_api_refusals_total counter"));
    }

    #[test]
    fn cloudwatch_gets_both_methods_per_api_with_zeros_and_the_refusals_that_happened() {
        let m = two_apis();
        let first = m.snapshot();
        let per_api = |delta: &crate::metrics::snapshot::Snapshot| -> Vec<Datum> {
            datums(delta)
                .into_iter()
                .filter(|d| d.name.starts_with("Api") && d.dimension.0 == "Api")
                .collect()
        };
        let since_start = first.since(&Default::default());
        assert_eq!(
            per_api(&since_start),
            [
                datum("ApiRequests", "orders", ("AuthMethod", "jwt"), 0.0),
                datum("ApiRequests", "orders", ("AuthMethod", "api_key"), 2.0),
                datum("ApiRequests", "photos", ("AuthMethod", "jwt"), 1.0),
                datum("ApiRequests", "photos", ("AuthMethod", "api_key"), 0.0),
                datum(
                    "ApiRefusals",
                    "orders",
                    ("Reason", "key_path_disabled"),
                    1.0
                ),
                datum("ApiRefusals", "orders", ("Reason", "brownout"), 1.0),
            ]
        );
        // An idle interval: every API that carried traffic still says 0 on the key path, and
        // no refusal is invented.
        let idle = m.snapshot().since(&first);
        assert_eq!(
            per_api(&idle),
            [
                datum("ApiRequests", "orders", ("AuthMethod", "jwt"), 0.0),
                datum("ApiRequests", "orders", ("AuthMethod", "api_key"), 0.0),
                datum("ApiRequests", "photos", ("AuthMethod", "jwt"), 0.0),
                datum("ApiRequests", "photos", ("AuthMethod", "api_key"), 0.0),
            ]
        );
    }

    #[test]
    fn a_thousand_apis_stay_within_cloudwatchs_per_call_limits() {
        use crate::metrics::cloudwatch::{MAX_BYTES_PER_CALL, MAX_DATUMS_PER_CALL, batches};
        let m = Metrics::default();
        for i in 0..1_000 {
            let api = Route::upstream(&format!("api-{i:04}")).label();
            m.api_authenticated(api, true);
            m.api_refused(api, AuthFailure::KeysNotAccepted);
        }
        let all = datums(&m.snapshot());
        let per_api = all.iter().filter(|d| d.dimension.0 == "Api").count();
        assert_eq!(per_api, 3_000, "two methods and one reason per API");
        let calls = batches(all.clone());
        assert!(calls.iter().all(|c| c.len() <= MAX_DATUMS_PER_CALL));
        assert!(
            calls.iter().all(|c| {
                c.iter().map(Datum::estimated_bytes).sum::<usize>() < MAX_BYTES_PER_CALL
            })
        );
        assert_eq!(calls.concat(), all);
    }
}
