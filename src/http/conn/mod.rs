//! What wraps a connection or every request, whatever the surface: `Expect: 100-continue`, the
//! request id, the problem answers of the parser's refusals, and the observe middleware (metrics,
//! the access log, deprecation headers).

pub mod expect;
pub mod observe;
pub mod parser_errors;
pub mod request_id;
